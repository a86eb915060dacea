package main

import (
	"bytes"
	"context"
	"errors"
	"google.golang.org/grpc/credentials/oauth"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/oauthgate/oauthgate/examples/reports"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/verify"
)

const defaultTestTimeout = 10 * time.Second

func TestParseFlags(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		args      []string
		env       string
		wantErr   string
		wantToken string
	}{
		"Defaults":          {args: nil, wantToken: ""},
		"TokenFlag":         {args: []string{"-token", "t1"}, env: "t2", wantToken: "t1"},
		"TokenEnv":          {args: nil, env: "t2", wantToken: "t2"},
		"InsecureLoopback":  {args: []string{"-insecure", "-addr", "[::1]:1"}},
		"InsecureLocalhost": {args: []string{"-insecure", "-addr", "localhost:1"}},
		"InsecureRemote":    {args: []string{"-insecure", "-addr", "reports.example.com:443"}, wantErr: "loopback"},
		"BadAddr":           {args: []string{"-addr", "nowhere"}, wantErr: "host:port"},
		"ExtraArgument":     {args: []string{"extra"}, wantErr: "unexpected argument"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg, err := parseFlags(tc.args, func(string) string { return tc.env })
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("parseFlags(%q) error = %v", tc.args, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("parseFlags(%q) error = %v, want one containing %q", tc.args, err, tc.wantErr)
			case err == nil && cfg.token != tc.wantToken:
				t.Errorf("parseFlags(%q) token = %q, want %q", tc.args, cfg.token, tc.wantToken)
			}
		})
	}
}

// TestRun calls a real report service on 127.0.0.1.
func TestRun(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	addr := serve(t, iss)
	alice := iss.Token(t, oauthtest.Token{Subject: reports.SubjectAlice, Scopes: []string{reports.ScopeRead}})
	tests := map[string]struct {
		token   string
		owner   string
		id      string
		wantErr error
		want    []string
	}{
		"Owner": {token: alice, owner: reports.SubjectAlice, id: "r-1", want: []string{
			"GetServerInfo: oauthgate-reports v1",
			`GetReport alice/r-1: "Q1 sales" by alice: Up 4% on Q4.`,
		}},
		"NoToken": {owner: reports.SubjectAlice, id: "r-1", wantErr: errCallFailed, want: []string{
			"GetServerInfo: oauthgate-reports v1",
			"GetReport alice/r-1: Unauthenticated (MISSING_TOKEN): an access token is required",
			`  www-authenticate: Bearer realm="reports"`,
		}},
		"NotOwner": {token: alice, owner: reports.SubjectBob, id: "r-3", wantErr: errCallFailed, want: []string{
			"GetServerInfo: oauthgate-reports v1",
			"GetReport bob/r-3: PermissionDenied (CONDITION_NOT_MET condition=owner): the call does not meet a condition of the method",
		}},
		"OtherOwnersID": {token: alice, owner: reports.SubjectAlice, id: "r-3", wantErr: errCallFailed, want: []string{
			"GetServerInfo: oauthgate-reports v1",
			"GetReport alice/r-3: NotFound: no such report",
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
			defer cancel()
			var out bytes.Buffer
			err := run(ctx, config{addr: addr, token: tc.token, owner: tc.owner, id: tc.id, insecure: true}, &out)
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("run() error = %v, want %v", err, tc.wantErr)
			}
			if got, want := out.String(), strings.Join(tc.want, "\n")+"\n"; got != want {
				t.Errorf("run() printed\n%s\nwant\n%s", got, want)
			}
			if tc.token != "" && strings.Contains(out.String(), tc.token) {
				t.Error("run() printed the token")
			}
		})
	}
}

// TestRun_RefusesPlaintextToken checks that without -insecure the token is
// never sent over a plaintext connection: the TLS handshake with a
// plaintext server fails first.
func TestRun_RefusesPlaintextToken(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	addr := serve(t, iss)
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, config{addr: addr, token: "t", owner: reports.SubjectAlice, id: "r-1"}, &out)
	if !errors.Is(err, errCallFailed) || !strings.Contains(out.String(), "GetReport alice/r-1: Unavailable") {
		t.Errorf("run() over TLS to a plaintext server = %v, printed %q; want Unavailable", err, out.String())
	}
}

// serve runs the report service on 127.0.0.1 and returns its address.
func serve(t *testing.T, iss *oauthtest.Issuer) string {
	t.Helper()
	keys, err := verify.NewStaticKeySet(iss.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: iss.URL, Audiences: []string{oauthtest.DefaultAudience}})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := reports.NewServer(jwt)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Stop()
		if err := <-served; err != nil {
			t.Errorf("Serve() error = %v", err)
		}
	})
	return lis.Addr().String()
}

func TestPerRPC(t *testing.T) {
	// Over TLS: grpc-go's oauth.TokenSource, which only sends the token on a
	// connection with privacy and integrity.
	if creds, ok := perRPC("tok-123", false).(oauth.TokenSource); !ok || !creds.RequireTransportSecurity() {
		t.Errorf("perRPC(tls) = %T, want an oauth.TokenSource requiring transport security", creds)
	} else if tok, err := creds.Token(); err != nil || tok.AccessToken != "tok-123" {
		t.Errorf("perRPC(tls) token = %v, %v", tok, err)
	}
	// Loopback plaintext.
	creds := perRPC("tok-123", true)
	md, err := creds.GetRequestMetadata(context.Background())
	if err != nil || md["authorization"] != "Bearer tok-123" || creds.RequireTransportSecurity() {
		t.Errorf("perRPC(insecure) = %v, %v, security %v; want authorization: Bearer tok-123 without TLS", md, err, creds.RequireTransportSecurity())
	}
}
