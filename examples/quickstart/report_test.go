package main

import (
	"testing"

	"github.com/oauthgate/oauthgate/examples/reports"
	"github.com/oauthgate/oauthgate/examples/reports/reportsv1"
	"github.com/oauthgate/oauthgate/interceptor"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestGetReport(t *testing.T) {
	iss := oauthtest.NewIssuer(t) // an authorization server on 127.0.0.1
	keys, err := verify.NewRemoteKeySet(verify.RemoteKeySetConfig{URL: iss.JWKSURL(), InsecureAllowHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = keys.Close() })
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: iss.URL, Audiences: []string{oauthtest.DefaultAudience}})
	if err != nil {
		t.Fatal(err)
	}
	policy, err := scopes.NewPolicy(scopes.FromFiles(reportsv1.File_examples_reports_v1_reports_proto))
	if err != nil {
		t.Fatal(err)
	}
	gate, err := interceptor.New(jwt, policy)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := reports.NewService(reports.DemoReports()...)
	if err != nil {
		t.Fatal(err)
	}
	conn := oauthtest.ServeGRPC(t, func(s *grpc.Server) {
		reportsv1.RegisterReportServiceServer(s, svc)
		if err := gate.Check(s); err != nil {
			t.Fatal(err)
		}
	}, gate.ServerOptions()...)
	client := reportsv1.NewReportServiceClient(conn)

	tok := iss.Token(t, oauthtest.WithSubject("alice"), oauthtest.WithScopes("read:reports"))
	if _, err := client.GetReport(t.Context(), &reportsv1.GetReportRequest{Id: "r-1"}, oauthtest.Bearer(tok)); err != nil {
		t.Errorf("GetReport() with a read:reports token: %v", err)
	}
	if _, err := client.GetReport(t.Context(), &reportsv1.GetReportRequest{Id: "r-1"}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("GetReport() without a token = %v, want Unauthenticated", err)
	}
}
