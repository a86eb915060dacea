package oauthtest_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/grpc"

	oauthgatetestv1 "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
)

func TestClock(t *testing.T) {
	t.Parallel()
	start := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	c := oauthtest.NewClock(start)
	if got := c.Now(); !got.Equal(start) || got.Location() != time.UTC {
		t.Fatalf("Now() = %v, want %v", got, start)
	}
	if got := c.Advance(time.Hour); !got.Equal(start.Add(time.Hour)) || !c.Now().Equal(got) {
		t.Fatalf("Advance(1h) = %v, Now() = %v, want %v", got, c.Now(), start.Add(time.Hour))
	}
	c.Advance(-2 * time.Hour)
	if got := c.Now(); !got.Equal(start.Add(-time.Hour)) {
		t.Fatalf("after Advance(-2h), Now() = %v, want %v", got, start.Add(-time.Hour))
	}
	later := start.AddDate(1, 0, 0)
	c.Advance(later.Sub(c.Now()))
	if got := c.Now(); !got.Equal(later) {
		t.Fatalf("after Advance to %v, Now() = %v", later, got)
	}
	// Concurrent use, checked by -race.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				c.Advance(time.Second)
				_ = c.Now()
			}
		})
	}
	wg.Wait()
	if got := c.Now(); !got.Equal(later.Add(400 * time.Second)) {
		t.Fatalf("after 400 concurrent Advance(1s), Now() = %v, want %v", got, later.Add(400*time.Second))
	}
	// The issuer mints with it.
	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{Now: c.Now, InMemory: true})
	claims := introspect(t, iss, iss.OpaqueToken(t))
	if exp, _ := claims["exp"].(float64); int64(exp) != c.Now().Add(oauthtest.DefaultLifetime).Unix() {
		t.Errorf("exp = %v, want the clock's time plus DefaultLifetime", claims["exp"])
	}
}

func TestWithInMemory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{InMemory: true, TLS: true})
		u, err := url.Parse(iss.URL)
		if err != nil || u.Scheme != "https" || !strings.HasSuffix(u.Host, ".oauthtest.invalid") {
			t.Fatalf("URL = %q, want https://….oauthtest.invalid", iss.URL)
		}
		if other := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{InMemory: true}); other.URL == iss.URL {
			t.Errorf("two in-memory issuers share the URL %q", iss.URL)
		}
		set := fetchJWKS(t, iss)
		if len(set.Keys) != 1 {
			t.Fatalf("JWKS has %d keys, want 1", len(set.Keys))
		}
		tok := iss.Token(t)
		if _, err := verifyToken(t, tok, set); err != nil {
			t.Fatalf("token does not verify against the in-memory JWKS: %v", err)
		}
		if got := introspect(t, iss, tok); got["active"] != true {
			t.Fatalf("introspection = %v, want active", got)
		}
		if n := iss.Requests(oauthtest.EndpointJWKS); n != 1 {
			t.Errorf("Requests(JWKS) = %d, want 1", n)
		}
		// A slow endpoint makes the fake clock, not the test, wait.
		iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{Delay: 5 * time.Second})
		start := time.Now()
		fetchJWKS(t, iss)
		if d := time.Since(start); d != 5*time.Second {
			t.Errorf("Fault{Delay: 5s} answered after %v of fake time, want 5s", d)
		}
		// The client's deadline ends the wait with the context's error.
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, iss.EndpointURL(oauthtest.EndpointJWKS), nil)
		if _, err := iss.Client().Do(req); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Do() past its deadline error = %v, want DeadlineExceeded", err)
		}
		// A dropped connection is a transport error, never a response.
		iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{Down: true})
		if resp, err := iss.Client().Get(iss.EndpointURL(oauthtest.EndpointJWKS)); err == nil {
			resp.Body.Close()
			t.Errorf("Fault{Down: true}: Get() = %d, want an error", resp.StatusCode)
		}
	})
}

func TestIssuer_ClientTransport(t *testing.T) {
	t.Parallel()
	// The in-memory Transport can be wrapped.
	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{InMemory: true})
	var requests atomic.Int32
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		requests.Add(1)
		return iss.Client().Transport.RoundTrip(r)
	})}
	set := fetchJWKS(t, iss)
	var memSet struct{ Keys []any }
	if code := getJSON(t, client, iss.EndpointURL(oauthtest.EndpointJWKS), &memSet); code != http.StatusOK || len(memSet.Keys) != len(set.Keys) {
		t.Fatalf("in-memory GET jwks = %d with %d keys, want 200 with %d", code, len(memSet.Keys), len(set.Keys))
	}
	// The request's body is read by the handler and closed.
	form := url.Values{"token": {"x"}}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, iss.EndpointURL(oauthtest.EndpointIntrospection), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(iss.ClientID, iss.ClientSecret)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"active":false`) || resp.Request != req {
		t.Fatalf("in-memory POST introspect = %d %s", resp.StatusCode, body)
	}
	if got := requests.Load(); got != 2 {
		t.Errorf("wrapped Transport saw %d requests, want 2", got)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestWithIssuerPath(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"/tenant1", "/realms/a/"} {
		t.Run(p, func(t *testing.T) {
			t.Parallel()
			iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{Path: p})
			if !strings.HasSuffix(iss.URL, p) {
				t.Fatalf("URL = %q, want it to end in %q", iss.URL, p)
			}
			trimmed := strings.TrimSuffix(p, "/")
			base := strings.TrimSuffix(iss.URL, p)
			want := map[oauthtest.Endpoint]string{
				oauthtest.EndpointJWKS:                base + trimmed + "/jwks.json",
				oauthtest.EndpointOAuthMetadata:       base + "/.well-known/oauth-authorization-server" + trimmed,
				oauthtest.EndpointOpenIDConfiguration: base + trimmed + "/.well-known/openid-configuration",
				oauthtest.EndpointIntrospection:       base + trimmed + "/introspect",
			}
			for e, u := range want {
				if got := iss.EndpointURL(e); got != u {
					t.Errorf("EndpointURL(%v) = %q, want %q", e, got, u)
				}
			}
			for _, e := range []oauthtest.Endpoint{oauthtest.EndpointOAuthMetadata, oauthtest.EndpointOpenIDConfiguration} {
				var md struct {
					Issuer  string `json:"issuer"`
					JWKSURI string `json:"jwks_uri"`
				}
				if code := getJSON(t, iss.Client(), iss.EndpointURL(e), &md); code != http.StatusOK || md.Issuer != iss.URL || md.JWKSURI != iss.EndpointURL(oauthtest.EndpointJWKS) {
					t.Errorf("GET %v = %d %+v, want the issuer's metadata", e, code, md)
				}
			}
			fetchJWKS(t, iss)
			if got := iss.EndpointURL(oauthtest.Endpoint("/nope")); got != "" {
				t.Errorf("EndpointURL(unknown) = %q, want empty", got)
			}
		})
	}
	for _, bad := range []string{"tenant", "/a/../b", "/a//b", "/a?x=1", "/a%2Fb"} {
		if _, err := oauthtest.Start(oauthtest.IssuerConfig{Path: bad}); err == nil {
			t.Errorf("Start(IssuerConfig{Path: %q}) error = nil, want an error", bad)
		}
	}
}

func TestServeGRPCTCP(t *testing.T) {
	t.Parallel()
	srv := grpc.NewServer()
	oauthgatetestv1.RegisterLibraryServiceServer(srv, library{})
	conn := oauthtest.ServeGRPCTCP(t, srv)
	if !strings.HasPrefix(conn.Target(), "passthrough:///127.0.0.1:") {
		t.Errorf("Target() = %q, want a 127.0.0.1 address", conn.Target())
	}
	ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
	defer cancel()
	resp, err := oauthgatetestv1.NewLibraryServiceClient(conn).GetBook(ctx, &oauthgatetestv1.GetBookRequest{}, oauthtest.Bearer("tok"))
	if err != nil || resp.GetName() != "Bearer tok" {
		t.Fatalf("GetBook() over TCP = %v, %v, want the bearer token echoed", resp, err)
	}
}
