package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/oauthgate/oauthgate/cmd/oauthgate-dev-issuer/devissuer"
	"github.com/oauthgate/oauthgate/verify"
)

const defaultTestTimeout = 10 * time.Second

// TestServeAndToken starts serve on a free port, mints a token with the
// token command, and verifies it the way a resource server would: by
// discovery from the printed issuer URL.
func TestServeAndToken(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	serveCtx, stop := context.WithCancel(ctx)
	ready := make(chan *devissuer.Server, 1)
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- serve(serveCtx, []string{"-addr", "127.0.0.1:0"}, &out, func(s *devissuer.Server) { ready <- s })
	}()
	var s *devissuer.Server
	select {
	case s = <-ready:
	case err := <-done:
		t.Fatalf("serve() = %v", err)
	}
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("serve() = %v, want nil", err)
		}
	}()
	for _, want := range []string{"issuer: " + s.URL, "-issuer " + s.URL + " -audience " + devissuer.DefaultAudience + " -insecure-http", "token -addr "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("serve printed:\n%s\nwant it to contain %q", out.String(), want)
		}
	}

	var stdout, stderr bytes.Buffer
	addr := strings.TrimPrefix(s.URL, "http://")
	if code := run(ctx, []string{"token", "-addr", addr, "-scope", "read:reports admin", "-sub", "bob"}, &stdout, &stderr); code != 0 {
		t.Fatalf("token exit status = %d, stderr %q", code, stderr.String())
	}
	tok := strings.TrimSpace(stdout.String())

	keys, err := verify.NewRemoteKeySet(verify.RemoteKeySetConfig{Issuer: s.URL, InsecureAllowHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Close()
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: s.URL, Audiences: []string{devissuer.DefaultAudience}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := jwt.Verify(ctx, tok)
	if err != nil {
		t.Fatalf("Verify(minted token) error = %v", err)
	}
	if c.Subject() != "bob" || !c.Scopes().Has("admin") || !c.Scopes().Has("read:reports") {
		t.Errorf("claims = %+v, want sub bob with read:reports and admin", c)
	}

	for name, args := range map[string][]string{
		"TTLTooLong": {"token", "-addr", addr, "-ttl", "48h"},
		"NoIssuer":   {"token", "-addr", "127.0.0.1:1"},
	} {
		stdout.Reset()
		stderr.Reset()
		if code := run(ctx, args, &stdout, &stderr); code != 1 || stdout.Len() != 0 || strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 {
			t.Errorf("%s: exit status %d, stdout %q, stderr %q; want 1, nothing, one line", name, code, stdout.String(), stderr.String())
		}
	}
}

func TestRun_Usage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := map[string]struct {
		args []string
		want int
	}{
		"None":           {nil, 2},
		"Unknown":        {[]string{"mint"}, 2},
		"Help":           {[]string{"-h"}, 0},
		"BadFlag":        {[]string{"token", "-scopes", "x"}, 2},
		"NotLoopback":    {[]string{"serve", "-addr", "0.0.0.0:0"}, 1},
		"ExtraArgument":  {[]string{"serve", "now"}, 2},
		"MalformedAddr":  {[]string{"serve", "-addr", "8765"}, 1},
		"TokenExtraArgs": {[]string{"token", "read:reports"}, 2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			if got := run(ctx, tc.args, &stdout, &stderr); got != tc.want {
				t.Errorf("run(%q) = %d, want %d (stderr %q)", tc.args, got, tc.want, stderr.String())
			}
		})
	}
}
