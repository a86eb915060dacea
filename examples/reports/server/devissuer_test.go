package main

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/oauthgate/oauthgate/cmd/oauthgate-dev-issuer/devissuer"
	"github.com/oauthgate/oauthgate/examples/reports"
	"github.com/oauthgate/oauthgate/examples/reports/reportsv1"
	"github.com/oauthgate/oauthgate/examples/reports/serve"
	"github.com/oauthgate/oauthgate/oauthtest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

const defaultTestTimeout = 10 * time.Second

// TestREADMESession runs docs/example-server.md's session with the dev issuer in
// process: the dev issuer, the example server with the flags the dev
// issuer prints, a minted token that is accepted, and calls that are
// denied. Only the ports differ from the page.
func TestREADMESession(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	dev, err := devissuer.Start("127.0.0.1:0", devissuer.DefaultAudience)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dev.Close() })

	// go run ./examples/reports/server -issuer http://127.0.0.1:8765 -audience https://reports.example.com -insecure-http
	args := []string{"-addr", "127.0.0.1:0", "-issuer", dev.URL, "-audience", devissuer.DefaultAudience, "-insecure-http"}
	addrs := make(chan net.Addr, 1)
	cmd := serve.Command{OnListen: func(name string, a net.Addr) {
		if name == "grpc" {
			addrs <- a
		}
	}}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan int, 1)
	go func() { done <- cmd.Main(runCtx, args, noEnv, io.Discard) }()
	defer func() {
		stop()
		if code := <-done; code != 0 {
			t.Errorf("Main() = %d, want 0", code)
		}
	}()
	var addr net.Addr
	select {
	case addr = <-addrs:
	case code := <-done:
		done <- code // for the deferred check
		t.Fatalf("Main() returned %d before listening", code)
	}
	conn, err := grpc.NewClient(addr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := reportsv1.NewReportServiceClient(conn)

	// go run ./cmd/oauthgate-dev-issuer token -scope read:reports
	devAddr := dev.URL[len("http://"):]
	read, err := devissuer.RequestToken(ctx, devAddr, devissuer.TokenRequest{Scopes: []string{"read:reports"}})
	if err != nil {
		t.Fatalf("RequestToken() error = %v", err)
	}
	none, err := devissuer.RequestToken(ctx, devAddr, devissuer.TokenRequest{})
	if err != nil {
		t.Fatalf("RequestToken() error = %v", err)
	}
	resp, err := client.GetReport(ctx, &reportsv1.GetReportRequest{Owner: reports.SubjectAlice, Id: "r-1"}, oauthtest.Bearer(read))
	if err != nil || resp.GetReport().GetTitle() != "Q1 sales" {
		t.Errorf("GetReport(alice/r-1) with a read:reports token = %v, %v; want Q1 sales", resp, err)
	}
	aliceR1 := &reportsv1.GetReportRequest{Owner: reports.SubjectAlice, Id: "r-1"}
	tests := map[string]struct {
		req  *reportsv1.GetReportRequest
		opts []grpc.CallOption
		want codes.Code
	}{
		"OtherOwner": {req: &reportsv1.GetReportRequest{Owner: reports.SubjectBob, Id: "r-3"}, opts: []grpc.CallOption{oauthtest.Bearer(read)}, want: codes.PermissionDenied},
		"NoToken":    {req: aliceR1, want: codes.Unauthenticated},
		"NoScope":    {req: aliceR1, opts: []grpc.CallOption{oauthtest.Bearer(none)}, want: codes.PermissionDenied},
		"BadToken":   {req: aliceR1, opts: []grpc.CallOption{oauthtest.Bearer(read + "x")}, want: codes.Unauthenticated},
		"OtherUser":  {req: aliceR1, opts: []grpc.CallOption{oauthtest.Bearer(mustToken(t, devAddr, "bob"))}, want: codes.PermissionDenied},
	}
	for name, tc := range tests {
		_, err := client.GetReport(ctx, tc.req, tc.opts...)
		if status.Code(err) != tc.want {
			t.Errorf("%s: GetReport(%s/%s) = %v, want %v", name, tc.req.GetOwner(), tc.req.GetId(), err, tc.want)
		}
	}
}

func noEnv(string) string { return "" }

func mustToken(t *testing.T, addr, sub string) string {
	t.Helper()
	tok, err := devissuer.RequestToken(context.Background(), addr, devissuer.TokenRequest{Scopes: []string{"read:reports"}, Subject: sub})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
