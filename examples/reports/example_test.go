package reports_test

import (
	"context"
	"fmt"
	"net"

	"github.com/oauthgate/oauthgate/examples/reports"
	"github.com/oauthgate/oauthgate/examples/reports/reportsv1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/verify"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// NewServer wires policy, interceptor, owner condition, health and
// reflection; the caller brings a verifier and serves it.
func ExampleNewServer() {
	iss, _ := oauthtest.Start()
	defer iss.Close()
	keys, _ := verify.NewStaticKeySet(iss.JWKS().Keys...)
	jwt, _ := verify.NewJWT(keys, verify.JWTConfig{Issuer: iss.URL, Audiences: []string{oauthtest.DefaultAudience}})

	srv, err := reports.NewServer(jwt)
	if err != nil {
		fmt.Println(err)
		return
	}
	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	conn, _ := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	defer conn.Close()
	client := reportsv1.NewReportServiceClient(conn)
	bob, _ := iss.MintToken(oauthtest.Token{Subject: reports.SubjectBob, Scopes: []string{reports.ScopeRead}})
	for _, req := range []*reportsv1.GetReportRequest{
		{Owner: reports.SubjectBob, Id: "r-3"},
		{Owner: reports.SubjectAlice, Id: "r-1"},
	} {
		resp, err := client.GetReport(context.Background(), req, oauthtest.Bearer(bob))
		fmt.Println(req.GetOwner()+"/"+req.GetId(), resp.GetReport().GetTitle(), status.Code(err))
	}
	// Output:
	// bob/r-3 Salaries OK
	// alice/r-1  PermissionDenied
}
