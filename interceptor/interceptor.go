package interceptor

import (
	"context"
	"errors"

	"google.golang.org/grpc"

	"github.com/oauthgate/oauthgate/internal/core"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

// An Interceptor enforces a [scopes.Policy] with a [verify.Verifier]. Its
// [Interceptor.Unary] and [Interceptor.Stream] methods are grpc-go server
// interceptors; [Interceptor.AuthFunc] plugs into go-grpc-middleware's auth
// interceptor instead. An Interceptor is safe for concurrent use and holds
// no resources of its own: closing the verifier is the caller's job.
//
// Every decision is made by oauthgate's transport-independent core, the
// same that package connectgate uses for connect-go handlers; the
// Interceptor only reads the call's metadata and peer, and writes the
// status and the www-authenticate metadata.
type Interceptor struct {
	gate *core.Gate
}

// adapter names this package to the core: error prefix and the
// instrumentation scope of its instruments.
var adapter = core.Adapter{Name: "interceptor", Meter: "github.com/oauthgate/oauthgate/interceptor"}

// New returns an Interceptor that verifies tokens with v and enforces p.
// Both are required. It fails on an invalid option: a realm or domain with
// characters a header cannot carry.
func New(v verify.Verifier, p *scopes.Policy, opts ...Option) (*Interceptor, error) {
	g, err := core.New(adapter, v, p, opts...)
	if err != nil {
		return nil, err
	}
	return &Interceptor{gate: g}, nil
}

// Unary is a grpc.UnaryServerInterceptor. It returns Unauthenticated,
// PermissionDenied, Unavailable or, for a verifier that breaks its contract,
// Internal, as the package documentation's table describes, and otherwise
// calls handler with the claims in the context.
func (i *Interceptor) Unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	r := request(ctx, info.FullMethod)
	r.Kind, r.Message = core.KindUnary, req
	actx, _, d := i.gate.Authorize(ctx, &r)
	if d != nil {
		return nil, i.render(ctx, d)
	}
	return handler(actx, req)
}

// AuthFunc authorizes the call in ctx for go-grpc-middleware's auth
// interceptors (auth.UnaryServerInterceptor(gate.AuthFunc)), which may be
// limited to some methods with its selector. It finds the method with
// grpc.Method and returns the context with the claims. Compared with
// [Interceptor.Unary] and [Interceptor.Stream] it cannot pass unary
// requests to the [Authorizer] (Call.Request is nil) and cannot end streams
// at token expiry; and it cannot see the request a method's conditions
// ([WithConditions]) read, so it denies every call to such a method
// (CONDITION_NOT_MET, fail closed).
//
// Security: go-grpc-middleware's auth interceptors do not call AuthFunc for
// a service that implements auth.ServiceAuthFuncOverride
// (AuthFuncOverride(ctx, fullMethodName)): they call that method instead,
// so every method of such a service skips oauthgate entirely (no token is
// read, no rule applied, no claims in the context), and neither the policy
// nor [Interceptor.Check] can see it. Do not implement AuthFuncOverride on
// a service behind this wiring; or install [Interceptor.ServerOptions]
// (Unary and Stream) instead, which run whatever the service implements.
func (i *Interceptor) AuthFunc(ctx context.Context) (context.Context, error) {
	method, ok := grpc.Method(ctx)
	if !ok {
		d := core.NewDenial(core.Internal, ReasonUndeclaredMethod, "method unknown",
			errors.New("interceptor: AuthFunc called outside a gRPC call"))
		i.gate.Record(ctx, "", d)
		return nil, i.render(ctx, d)
	}
	r := request(ctx, method)
	r.Kind = core.KindOpaque
	actx, _, d := i.gate.Authorize(ctx, &r)
	if d != nil {
		return nil, i.render(ctx, d)
	}
	return actx, nil
}
