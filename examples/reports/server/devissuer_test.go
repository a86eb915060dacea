package main

import (
	"context"
	"log/slog"
	"net"
	"testing"

	"github.com/oauthgate/oauthgate/examples/reports/reportsv1"
	"github.com/oauthgate/oauthgate/internal/devissuer"
	"github.com/oauthgate/oauthgate/oauthtest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// TestREADMESession runs the README's session with the dev issuer in
// process: the dev issuer, the example server with the flags the dev
// issuer prints, a minted token that is accepted, and calls that are
// denied. Only the ports differ from the README.
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
	cfg, err := parseFlags([]string{"-addr", "127.0.0.1:0", "-issuer", dev.URL, "-audience", devissuer.DefaultAudience, "-insecure-http"}, noEnv)
	if err != nil {
		t.Fatalf("parseFlags() error = %v", err)
	}
	addrs := make(chan net.Addr, 1)
	cfg.onListen = func(a net.Addr) { addrs <- a }
	logs := &syncBuffer{}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- run(runCtx, cfg, slog.New(slog.NewTextHandler(logs, nil))) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("run() = %v", err)
		}
	}()
	var addr net.Addr
	select {
	case addr = <-addrs:
	case err := <-done:
		t.Fatalf("run() returned early: %v", err)
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
	resp, err := client.GetReport(ctx, &reportsv1.GetReportRequest{Id: "r-1"}, oauthtest.Bearer(read))
	if err != nil || resp.GetReport().GetTitle() != "Q1 sales" {
		t.Errorf("GetReport(r-1) with a read:reports token = %v, %v; want Q1 sales", resp, err)
	}
	tests := map[string]struct {
		opts []grpc.CallOption
		want codes.Code
	}{
		"NoToken":   {want: codes.Unauthenticated},
		"NoScope":   {opts: []grpc.CallOption{oauthtest.Bearer(none)}, want: codes.PermissionDenied},
		"BadToken":  {opts: []grpc.CallOption{oauthtest.Bearer(read + "x")}, want: codes.Unauthenticated},
		"OtherUser": {opts: []grpc.CallOption{oauthtest.Bearer(mustToken(t, devAddr, "bob"))}, want: codes.PermissionDenied},
	}
	for name, tc := range tests {
		_, err := client.GetReport(ctx, &reportsv1.GetReportRequest{Id: "r-1"}, tc.opts...)
		if status.Code(err) != tc.want {
			t.Errorf("%s: GetReport(r-1) = %v, want %v", name, err, tc.want)
		}
	}
}

func mustToken(t *testing.T, addr, sub string) string {
	t.Helper()
	tok, err := devissuer.RequestToken(context.Background(), addr, devissuer.TokenRequest{Scopes: []string{"read:reports"}, Subject: sub})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestOneLine checks that start-up errors are logged on one line, each
// prefix once.
func TestOneLine(t *testing.T) {
	t.Parallel()
	const in = "verify: cannot verify token now: fetch JWKS: context deadline exceeded\n" +
		"verify: cannot verify token now: discover: Get \"http://127.0.0.1:8765/a\": refused\n" +
		"Get \"http://127.0.0.1:8765/b\": refused"
	const want = "verify: cannot verify token now: fetch JWKS: context deadline exceeded; " +
		"discover: Get \"http://127.0.0.1:8765/a\": refused; Get \"http://127.0.0.1:8765/b\": refused"
	if got := oneLine(errString(in)); got != want {
		t.Errorf("oneLine() = %q, want %q", got, want)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
