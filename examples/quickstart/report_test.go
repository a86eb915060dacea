package main

import (
	"testing"

	"github.com/oauthgate/oauthgate/examples/reports/reportsv1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/verify"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// forReports makes tokens the way auth.example.com issues them for this API.
var forReports = []oauthtest.Token{
	{
		Issuer:   "https://auth.example.com/",
		Audience: []string{"https://reports.example.com"},
	},
}

func TestServer(t *testing.T) {
	iss := oauthtest.NewIssuer(t) // an authorization server on 127.0.0.1, standing in for auth.example.com
	keys, err := verify.NewStaticKeySet(iss.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	policy, err := newPolicy()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := newServer(keys, policy) // the server main serves
	if err != nil {
		t.Fatal(err)
	}

	// Calls every RPC, unary and streaming, without a token and with a token
	// lacking its scopes, and fails naming each one that gets past oauthgate.
	oauthtest.CheckWiring(t, srv, policy, iss, forReports...)

	client := reportsv1.NewReportServiceClient(oauthtest.ServeGRPC(t, srv))
	tok := iss.Token(t, append(forReports, oauthtest.Token{Subject: "alice", Scopes: []string{"read:reports"}})...)
	if _, err := client.GetReport(t.Context(), &reportsv1.GetReportRequest{Owner: "alice", Id: "r-1"}, oauthtest.Bearer(tok)); err != nil {
		t.Errorf("GetReport() with a read:reports token: %v", err)
	}
	if _, err := client.GetReport(t.Context(), &reportsv1.GetReportRequest{Owner: "alice", Id: "r-1"}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("GetReport() without a token = %v, want Unauthenticated", err)
	}
	if _, err := client.GetReport(t.Context(), &reportsv1.GetReportRequest{Owner: "bob", Id: "r-3"}, oauthtest.Bearer(tok)); status.Code(err) != codes.PermissionDenied {
		t.Errorf("GetReport() of bob's report with alice's token = %v, want PermissionDenied", err) // the owner condition
	}
}
