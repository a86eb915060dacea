package reports

import (
	"errors"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/oauthgate/oauthgate/conditions"
	"github.com/oauthgate/oauthgate/examples/reports/reportsv1"
	"github.com/oauthgate/oauthgate/interceptor"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

// PublicServices are the services that [NewServer] registers besides
// ReportService and declares public with [scopes.ForService]: load
// balancers probe health without a token, and reflection only describes
// the API.
func PublicServices() []string {
	return []string{
		healthpb.Health_ServiceDesc.ServiceName,
		"grpc.reflection.v1.ServerReflection",
		"grpc.reflection.v1alpha.ServerReflection",
	}
}

// NewPolicy compiles the rules of reports.proto, plus a public rule for
// each of [PublicServices].
func NewPolicy() (*scopes.Policy, error) {
	opts := []scopes.Option{scopes.FromFiles(reportsv1.File_examples_reports_v1_reports_proto)}
	for _, name := range PublicServices() {
		opts = append(opts, scopes.ForService(name, scopes.Public()))
	}
	return scopes.NewPolicy(opts...)
}

// NewServer returns a grpc.Server that serves the report service, grpc
// health (SERVING) and reflection, all behind an oauthgate interceptor that
// verifies tokens with v and evaluates the conditions of the rules (the
// owner condition of GetReport) with an evaluator from
// [conditions.Compile], installed with
// [interceptor.Interceptor.ServerOptions] for unary and streaming calls. It
// fails if a condition does not compile, and it runs
// [interceptor.Interceptor.Check], so a server never starts with a method
// that has no rule and would deny every call; its tests check with
// oauthtest.CheckWiring that every RPC passes through the interceptor.
//
// The caller serves it and stops it; v stays the caller's to close.
func NewServer(v verify.Verifier, opts ...Option) (*grpc.Server, error) {
	o, policy, gateOpts, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	if len(o.origins) > 0 {
		return nil, errors.New("reports: WithCORS is for NewConnectHandler: browsers cannot call a grpc-go server")
	}
	gate, err := interceptor.New(v, policy, gateOpts...)
	if err != nil {
		return nil, fmt.Errorf("reports: %w", err)
	}
	srv := grpc.NewServer(append(gate.ServerOptions(), o.grpcOptions...)...)
	reportsv1.RegisterReportServiceServer(srv, o.service)
	hs := o.health
	if hs == nil {
		hs = health.NewServer()
	}
	healthpb.RegisterHealthServer(srv, hs)
	reflection.Register(srv)
	if o.meta != nil {
		o.meta.Register(srv)
	}
	if err := gate.Check(srv); err != nil {
		srv.Stop()
		return nil, fmt.Errorf("reports: refusing to serve: %w", err)
	}
	return srv, nil
}

// newOptions applies opts, gives the defaults (the realm "reports", a
// Service seeded with DemoReports) and returns the policy and the options
// of the gate that NewServer and NewConnectHandler build alike: the realm,
// the conditions evaluator of the policy, the logger and the resource
// metadata, then the caller's. An interceptor.Option is a
// connectgate.Option, so both adapters take the same list.
func newOptions(opts []Option) (options, *scopes.Policy, []interceptor.Option, error) {
	o := options{realm: "reports"}
	for _, opt := range opts {
		opt.apply(&o)
	}
	if o.service == nil {
		svc, err := NewService(DemoReports()...)
		if err != nil {
			return options{}, nil, nil, err
		}
		o.service = svc
	}
	policy, err := NewPolicy()
	if err != nil {
		return options{}, nil, nil, fmt.Errorf("reports: policy: %w", err)
	}
	ev, err := conditions.Compile(policy)
	if err != nil {
		return options{}, nil, nil, fmt.Errorf("reports: conditions: %w", err)
	}
	gateOpts := []interceptor.Option{
		interceptor.WithRealm(o.realm),
		interceptor.WithConditions(ev),
	}
	if o.logger != nil {
		gateOpts = append(gateOpts, interceptor.WithLogger(o.logger))
	}
	if o.meta != nil {
		gateOpts = append(gateOpts, interceptor.WithResourceMetadata(o.meta))
	}
	return o, policy, append(gateOpts, o.gateOpts...), nil
}
