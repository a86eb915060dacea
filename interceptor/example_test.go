package interceptor_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/oauthgate/oauthgate/conditions"
	"github.com/oauthgate/oauthgate/examples/reports/reportsv1"
	"github.com/oauthgate/oauthgate/interceptor"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

// reportServer is a minimal ReportService: GetReport answers with the
// caller's subject, read with [interceptor.FromContext].
type reportServer struct {
	reportsv1.UnimplementedReportServiceServer
}

func (reportServer) GetReport(ctx context.Context, req *reportsv1.GetReportRequest) (*reportsv1.GetReportResponse, error) {
	claims, ok := interceptor.FromContext(ctx)
	if !ok { // only a public method has no claims; GetReport is not one
		return nil, status.Error(codes.Internal, "no verified caller")
	}
	return &reportsv1.GetReportResponse{Report: &reportsv1.Report{Id: req.GetId(), Owner: claims.Subject()}}, nil
}

// A server whose rules come from the (oauthgate.v1.method) options of
// reports.proto, with tokens minted by an in-process issuer. GetReport's
// rule has a condition (only the owner or an admin reads a report), so the
// interceptor needs the policy's compiled conditions.
func ExampleNew() {
	iss, err := oauthtest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer iss.Close()
	keys, err := verify.NewStaticKeySet(iss.JWKS().Keys...)
	if err != nil {
		log.Fatal(err)
	}
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: iss.URL, Audiences: []string{oauthtest.DefaultAudience}})
	if err != nil {
		log.Fatal(err)
	}
	policy, err := scopes.NewPolicy(scopes.FromFiles(reportsv1.File_examples_reports_v1_reports_proto))
	if err != nil {
		log.Fatal(err)
	}
	ev, err := conditions.Compile(policy)
	if err != nil {
		log.Fatal(err)
	}
	gate, err := interceptor.New(jwt, policy, interceptor.WithRealm("reports"), interceptor.WithConditions(ev))
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer(gate.ServerOptions()...)
	reportsv1.RegisterReportServiceServer(srv, reportServer{})
	if err := gate.Check(srv); err != nil {
		log.Fatal(err)
	}
	client, stop := serve(srv)
	defer stop()

	for _, scope := range []string{"openid", "read:reports"} {
		tok, err := iss.MintToken(oauthtest.Token{Scopes: []string{scope}, Subject: "alice"})
		if err != nil {
			log.Fatal(err)
		}
		resp, err := client.GetReport(context.Background(), &reportsv1.GetReportRequest{Owner: "alice", Id: "r-1"}, oauthtest.Bearer(tok))
		if err != nil {
			info := status.Convert(err).Details()[0].(*errdetails.ErrorInfo)
			fmt.Println(scope+":", status.Code(err), info.GetReason(), info.GetMetadata()["scope"])
			continue
		}
		fmt.Println(scope+":", resp.GetReport().GetOwner())
	}
	// Output:
	// openid: PermissionDenied INSUFFICIENT_SCOPE read:reports
	// read:reports: alice
}

// A handler learns who called from the verified claims in its context.
func ExampleFromContext() {
	iss, err := oauthtest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer iss.Close()
	gate := newGate(iss)
	srv := grpc.NewServer(gate.ServerOptions()...)
	reportsv1.RegisterReportServiceServer(srv, reportServer{}) // GetReport calls FromContext
	client, stop := serve(srv)
	defer stop()

	tok, err := iss.MintToken(oauthtest.Token{Scopes: []string{"read:reports"}, Subject: "bob"})
	if err != nil {
		log.Fatal(err)
	}
	resp, err := client.GetReport(context.Background(), &reportsv1.GetReportRequest{Owner: "bob", Id: "r-3"}, oauthtest.Bearer(tok))
	fmt.Println(resp.GetReport().GetOwner(), err)

	_, ok := interceptor.FromContext(context.Background())
	fmt.Println("outside a call:", ok)
	// Output:
	// bob <nil>
	// outside a call: false
}

// Check refuses a server on which a registered method has no rule: here
// grpc health, which the policy does not declare, so every health check
// would be denied. Declare it with scopes.ForService(...,
// scopes.Public()).
func ExampleInterceptor_Check() {
	iss, err := oauthtest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer iss.Close()
	gate := newGate(iss)

	srv := grpc.NewServer(gate.ServerOptions()...)
	reportsv1.RegisterReportServiceServer(srv, reportServer{})
	healthpb.RegisterHealthServer(srv, health.NewServer())
	err = gate.Check(srv)
	var uncovered *scopes.CoverageError
	if errors.As(err, &uncovered) {
		fmt.Println(uncovered.Methods)
	}
	// Output:
	// [/grpc.health.v1.Health/Check /grpc.health.v1.Health/List /grpc.health.v1.Health/Watch]
}

// newGate protects reports.proto with tokens from iss, as in [ExampleNew].
func newGate(iss *oauthtest.Issuer) *interceptor.Interceptor {
	keys, err := verify.NewStaticKeySet(iss.JWKS().Keys...)
	if err != nil {
		log.Fatal(err)
	}
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: iss.URL, Audiences: []string{oauthtest.DefaultAudience}})
	if err != nil {
		log.Fatal(err)
	}
	policy, err := scopes.NewPolicy(scopes.FromFiles(reportsv1.File_examples_reports_v1_reports_proto))
	if err != nil {
		log.Fatal(err)
	}
	ev, err := conditions.Compile(policy)
	if err != nil {
		log.Fatal(err)
	}
	gate, err := interceptor.New(jwt, policy, interceptor.WithConditions(ev))
	if err != nil {
		log.Fatal(err)
	}
	return gate
}

// serve serves srv on 127.0.0.1 and returns a client and a function that
// stops both.
func serve(srv *grpc.Server) (reportsv1.ReportServiceClient, func()) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(lis) //nolint:errcheck // ends with Stop
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	return reportsv1.NewReportServiceClient(conn), func() {
		_ = conn.Close()
		srv.Stop()
	}
}
