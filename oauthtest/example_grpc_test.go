package oauthtest_test

import (
	"context"
	"fmt"
	"log"
	"testing"

	"github.com/oauthgate/oauthgate/conditions"
	"github.com/oauthgate/oauthgate/examples/reports/reportsv1"
	"github.com/oauthgate/oauthgate/interceptor"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// ServeGRPC runs a protected service in memory for one test. In a test,
// pass its t; this example has none, so it passes exampleTB.
func ExampleServeGRPC() {
	t := &exampleTB{}
	defer t.cleanup()

	iss := oauthtest.NewIssuer(t)
	keys, err := verify.NewRemoteKeySet(verify.RemoteKeySetConfig{URL: iss.EndpointURL(oauthtest.EndpointJWKS), InsecureAllowHTTP: true})
	if err != nil {
		log.Fatal(err)
	}
	t.Cleanup(func() { _ = keys.Close() })
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: iss.URL, Audiences: []string{oauthtest.DefaultAudience}})
	if err != nil {
		log.Fatal(err)
	}
	policy, err := scopes.NewPolicy(scopes.FromFiles(reportsv1.File_examples_reports_v1_reports_proto))
	if err != nil {
		log.Fatal(err)
	}
	ev, err := conditions.Compile(policy) // GetReport's owner condition
	if err != nil {
		log.Fatal(err)
	}
	gate, err := interceptor.New(jwt, policy, interceptor.WithConditions(ev))
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer(gate.ServerOptions()...)
	reportsv1.RegisterReportServiceServer(srv, reports{})
	conn := oauthtest.ServeGRPC(t, srv)
	client := reportsv1.NewReportServiceClient(conn)

	ctx := context.Background()
	tok := iss.Token(t, oauthtest.Token{Scopes: []string{"read:reports"}, Subject: "alice"})
	resp, err := client.GetReport(ctx, &reportsv1.GetReportRequest{Owner: "alice", Id: "r-1"}, oauthtest.Bearer(tok))
	fmt.Println(resp.GetReport().GetTitle(), status.Code(err))
	_, err = client.GetReport(ctx, &reportsv1.GetReportRequest{Owner: "alice", Id: "r-1"})
	fmt.Println(status.Code(err))
	// Output:
	// Q1 sales OK
	// Unauthenticated
}

// reports answers every GetReport with the same report.
type reports struct {
	reportsv1.UnimplementedReportServiceServer
}

func (reports) GetReport(context.Context, *reportsv1.GetReportRequest) (*reportsv1.GetReportResponse, error) {
	return &reportsv1.GetReportResponse{Report: &reportsv1.Report{Id: "r-1", Title: "Q1 sales"}}, nil
}

// exampleTB stands in for the *testing.T of a test, which examples do not
// have: it runs cleanups when the example ends and exits on a fatal error.
// Only the methods below are implemented.
type exampleTB struct {
	testing.TB
	cleanups []func()
}

func (*exampleTB) Helper() {}

func (e *exampleTB) Cleanup(f func()) { e.cleanups = append(e.cleanups, f) }

func (*exampleTB) Fatalf(format string, args ...any) { log.Fatalf(format, args...) }

func (*exampleTB) Errorf(format string, args ...any) { log.Printf(format, args...) }

func (e *exampleTB) cleanup() {
	for i := len(e.cleanups) - 1; i >= 0; i-- {
		e.cleanups[i]()
	}
}
