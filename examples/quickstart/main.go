// Command quickstart is docs/wiring.md's complete server, compiled and tested: a
// report service protected by oauthgate, with recovery from
// go-grpc-middleware, grpc health declared public, and the start-up check
// (report_test.go checks the wiring).
package main

import (
	"log"
	"net"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/oauthgate/oauthgate/conditions"
	"github.com/oauthgate/oauthgate/examples/reports"
	"github.com/oauthgate/oauthgate/examples/reports/reportsv1"
	"github.com/oauthgate/oauthgate/interceptor"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func main() {
	keys, err := verify.NewRemoteKeySet(verify.RemoteKeySetConfig{
		Issuer: "https://auth.example.com/", // discovery finds jwks_uri; no network until first use
	})
	if err != nil {
		log.Fatal(err)
	}
	policy, err := newPolicy()
	if err != nil {
		log.Fatal(err)
	}
	srv, err := newServer(keys, policy)
	if err != nil {
		log.Fatal(err) // names every method without a rule
	}
	lis, err := net.Listen("tcp", "127.0.0.1:50051")
	if err != nil {
		log.Fatal(err)
	}
	defer keys.Close()
	log.Print(srv.Serve(lis))
}

// newPolicy returns the rule of every RPC the server serves.
func newPolicy() (*scopes.Policy, error) {
	return scopes.NewPolicy(
		// protoc-gen-go names a file's descriptor File_<path with _ for / and .>:
		// examples/reports/v1/reports.proto → File_examples_reports_v1_reports_proto.
		scopes.FromFiles(reportsv1.File_examples_reports_v1_reports_proto),          // reads (oauthgate.v1.method)
		scopes.ForService(healthpb.Health_ServiceDesc.ServiceName, scopes.Public()), // explicit, never implicit
	)
}

// newServer builds the protected server; the tests call it too.
func newServer(keys verify.KeySet, policy *scopes.Policy) (*grpc.Server, error) {
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{
		Issuer:    "https://auth.example.com/",
		Audiences: []string{"https://reports.example.com"},
	})
	if err != nil {
		return nil, err
	}
	ev, err := conditions.Compile(policy) // the rules' CEL conditions: GetReport's owner
	if err != nil {
		return nil, err
	}
	gate, err := interceptor.New(jwt, policy, interceptor.WithRealm("reports"), interceptor.WithConditions(ev))
	if err != nil {
		return nil, err
	}
	opts := []grpc.ServerOption{ // interceptors in options before the gate's run before it
		grpc.ChainUnaryInterceptor(recovery.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(recovery.StreamServerInterceptor()),
	}
	srv := grpc.NewServer(append(opts, gate.ServerOptions()...)...) // unary AND streaming calls
	// Your implementation goes here; this one is the example's.
	svc, err := reports.NewService(reports.DemoReports()...)
	if err != nil {
		return nil, err
	}
	reportsv1.RegisterReportServiceServer(srv, svc)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	if err := gate.Check(srv); err != nil { // every RPC has a rule; the tests check the wiring
		return nil, err
	}
	return srv, nil
}
