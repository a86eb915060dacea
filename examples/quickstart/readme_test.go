package main

import (
	"context"
	"net"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/oauthgate/oauthgate/examples/reports/reportsv1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/verify"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// TestREADME checks that the README shows these files exactly: each
// "<!-- compiled: path -->" marker is followed by a code block holding the
// whole file, so the README's quickstart and test compile as written.
func TestREADME(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)<!-- compiled: (\\S+) -->\n```go\n(.*?)```\n").FindAllSubmatch(readme, -1)
	want := map[string]bool{"examples/quickstart/main.go": false, "examples/quickstart/report_test.go": false}
	for _, b := range blocks {
		path := string(b[1])
		if _, ok := want[path]; !ok {
			t.Errorf("README shows %s, which this test does not know", path)
			continue
		}
		want[path] = true
		file, err := os.ReadFile("../../" + path)
		if err != nil {
			t.Fatal(err)
		}
		if string(file) != string(b[2]) {
			t.Errorf("README's copy of %s differs from the file; paste the file into the README", path)
		}
	}
	for path, found := range want {
		if !found {
			t.Errorf("README lacks the marked copy of %s", path)
		}
	}
}

// TestNewServer serves the quickstart's server with keys from an
// in-process issuer standing in for auth.example.com.
func TestNewServer(t *testing.T) {
	iss := oauthtest.NewIssuer(t)
	keys, err := verify.NewStaticKeySet(iss.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := newServer(keys)
	if err != nil {
		t.Fatalf("newServer() error = %v", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok := iss.Token(t, oauthtest.WithIssuer("https://auth.example.com/"), oauthtest.WithAudience("https://reports.example.com"),
		oauthtest.WithSubject("alice"), oauthtest.WithScopes("read:reports"))
	if _, err := reportsv1.NewReportServiceClient(conn).GetReport(ctx, &reportsv1.GetReportRequest{Id: "r-1"}, oauthtest.Bearer(tok)); err != nil {
		t.Errorf("GetReport() error = %v", err)
	}
}
