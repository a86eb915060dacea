package verify

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/oauthgate/oauthgate/oauthtest"
)

func TestDiscover(t *testing.T) {
	t.Parallel()
	const (
		as   = oauthtest.EndpointOAuthMetadata
		oidc = oauthtest.EndpointOpenIDConfiguration
		js   = "application/json"
	)
	doc := func(issuer string) string {
		return `{"issuer":"` + issuer + `","jwks_uri":"https://keys.example.com/jwks"}`
	}
	tests := map[string]struct {
		opts     []oauthtest.IssuerConfig
		faults   func(iss *oauthtest.Issuer) map[oauthtest.Endpoint]oauthtest.Fault
		wantJWKS string // "" when the issuer's own jwks_uri is wanted
		wantErr  string // "" for success
		wantHits map[oauthtest.Endpoint]int
	}{
		"RFC8414": {
			wantHits: map[oauthtest.Endpoint]int{as: 1, oidc: 0},
		},
		"RFC8414PathInsertion": {
			opts:     []oauthtest.IssuerConfig{{Path: "/tenant1"}},
			wantHits: map[oauthtest.Endpoint]int{as: 1, oidc: 0},
		},
		"TrailingSlashRemovedBeforeInsertion": {
			opts:     []oauthtest.IssuerConfig{{Path: "/"}},
			wantHits: map[oauthtest.Endpoint]int{as: 1, oidc: 0},
		},
		"OIDCFallback": {
			opts: []oauthtest.IssuerConfig{{Path: "/realms/a"}},
			faults: func(*oauthtest.Issuer) map[oauthtest.Endpoint]oauthtest.Fault {
				return map[oauthtest.Endpoint]oauthtest.Fault{as: {Status: http.StatusNotFound}}
			},
			wantHits: map[oauthtest.Endpoint]int{as: 1, oidc: 1},
		},
		"OIDCTrailingSlash": {
			opts: []oauthtest.IssuerConfig{{Path: "/realms/a/"}},
			faults: func(*oauthtest.Issuer) map[oauthtest.Endpoint]oauthtest.Fault {
				return map[oauthtest.Endpoint]oauthtest.Fault{as: {Status: http.StatusNotFound}}
			},
		},
		"MismatchedRFC8414FallsBackToOIDC": {
			faults: func(iss *oauthtest.Issuer) map[oauthtest.Endpoint]oauthtest.Fault {
				return map[oauthtest.Endpoint]oauthtest.Fault{as: {Status: http.StatusOK, ContentType: js, Body: doc(iss.URL + "/other-tenant")}}
			},
			wantHits: map[oauthtest.Endpoint]int{as: 1, oidc: 1},
		},
		"IssuerMismatch": {
			opts: []oauthtest.IssuerConfig{{Path: "/a"}},
			faults: func(iss *oauthtest.Issuer) map[oauthtest.Endpoint]oauthtest.Fault {
				return map[oauthtest.Endpoint]oauthtest.Fault{
					as:   {Status: http.StatusOK, ContentType: js, Body: doc(strings.TrimSuffix(iss.URL, "/a") + "/b")},
					oidc: {Status: http.StatusOK, ContentType: js, Body: doc(iss.URL + "/")}, // a slash is a different issuer
				}
			},
			wantErr: "names issuer",
		},
		"NotFound": {
			faults: func(*oauthtest.Issuer) map[oauthtest.Endpoint]oauthtest.Fault {
				return map[oauthtest.Endpoint]oauthtest.Fault{as: {Status: 404}, oidc: {Status: 404}}
			},
			wantErr: "404",
		},
		"NotJSON": {
			faults: func(*oauthtest.Issuer) map[oauthtest.Endpoint]oauthtest.Fault {
				return map[oauthtest.Endpoint]oauthtest.Fault{as: {Garbage: true}, oidc: {Status: http.StatusOK, ContentType: js, Body: "[1,2]"}}
			},
			wantErr: "not a JSON object",
		},
		"NotJSONContentType": {
			faults: func(iss *oauthtest.Issuer) map[oauthtest.Endpoint]oauthtest.Fault {
				f := oauthtest.Fault{Status: http.StatusOK, ContentType: "text/html", Body: doc(iss.URL)}
				return map[oauthtest.Endpoint]oauthtest.Fault{as: f, oidc: f}
			},
			wantErr: "not JSON",
		},
		"HTTPJWKSURIRefused": {
			opts:    []oauthtest.IssuerConfig{{Metadata: map[string]any{"jwks_uri": "http://keys.example.com/jwks"}}},
			wantErr: "https is required",
		},
		"Oversized": {
			faults: func(*oauthtest.Issuer) map[oauthtest.Endpoint]oauthtest.Fault {
				return map[oauthtest.Endpoint]oauthtest.Fault{as: {Huge: true}, oidc: {Huge: true}}
			},
			wantErr: "larger than",
		},
		"RedirectToHTTPRefused": {
			faults: func(*oauthtest.Issuer) map[oauthtest.Endpoint]oauthtest.Fault {
				f := oauthtest.Fault{Location: "http://127.0.0.1:1/.well-known/oauth-authorization-server"}
				return map[oauthtest.Endpoint]oauthtest.Fault{as: f, oidc: f}
			},
			wantErr: "redirect refused",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// In memory, the issuer's URL is https: Discover has no http
			// opt-in.
			iss := oauthtest.NewIssuer(t, append([]oauthtest.IssuerConfig{{InMemory: true}}, tc.opts...)...)
			if tc.faults != nil {
				for e, f := range tc.faults(iss) {
					iss.SetFault(e, f)
				}
			}
			md, err := Discover(remoteTestContext(t), iss.Client(), iss.URL)
			if tc.wantErr != "" {
				var ue *UnavailableError
				if !errors.As(err, &ue) || ue.Op != "discover" || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Discover(%q) error = %v, want an *UnavailableError containing %q", iss.URL, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Discover(%q) error = %v", iss.URL, err)
			}
			if md.Issuer != iss.URL || md.JWKSURI != iss.EndpointURL(oauthtest.EndpointJWKS) || md.IntrospectionEndpoint != iss.EndpointURL(oauthtest.EndpointIntrospection) {
				t.Fatalf("Discover(%q) = %+v, want the issuer's metadata", iss.URL, md)
			}
			for e, want := range tc.wantHits {
				if got := iss.Requests(e); got != want {
					t.Errorf("GET %v happened %d times, want %d", e, got, want)
				}
			}
		})
	}
}

func TestDiscover_RejectsBadIssuer(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t) // http on 127.0.0.1: refused without an opt-in
	for _, issuer := range []string{iss.URL, "https://auth.example.com/?q=1", "https://auth.example.com/#f", "auth.example.com", "", "https://u:pw@auth.example.com"} {
		_, err := Discover(remoteTestContext(t), nil, issuer)
		if err == nil || !strings.HasPrefix(err.Error(), "verify: discover: ") {
			t.Errorf("Discover(%q) error = %v, want a configuration error", issuer, err)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("Discover(%q) error = %q quotes a password", issuer, err)
		}
	}
	if n := iss.Requests(oauthtest.EndpointOAuthMetadata); n != 0 {
		t.Fatalf("Discover over http made %d requests, want 0", n)
	}
}

func TestDiscover_Timeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{InMemory: true})
		iss.SetFault(oauthtest.EndpointOAuthMetadata, oauthtest.Fault{Delay: time.Hour})
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := Discover(ctx, iss.Client(), iss.URL)
		if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Discover() error = %v, want ErrUnavailable and a deadline error", err)
		}
		if d := time.Since(start); d != 100*time.Millisecond {
			t.Fatalf("Discover() took %v, want its 100ms deadline", d)
		}
		// The deadline ended the first attempt; the second was not made.
		if n := iss.Requests(oauthtest.EndpointOpenIDConfiguration); n != 0 {
			t.Errorf("Discover() made %d requests after its deadline, want 0", n)
		}
	})
}

func TestRemoteKeySet_Issuer(t *testing.T) {
	t.Parallel()
	ctx := remoteTestContext(t)
	clock := oauthtest.NewClock(remoteStart)
	iss := newRemoteIssuer(t, oauthtest.IssuerConfig{Path: "/tenant"})
	r := newTestRemote(t, iss, RemoteKeySetConfig{Issuer: iss.URL, Now: clock.Now})
	if n := iss.Requests(oauthtest.EndpointOAuthMetadata); n != 0 {
		t.Fatal("NewRemoteKeySet did network I/O")
	}
	remoteWantKID(t, r, ctx, kids(iss)[0])
	clock.Advance(r.cfg.UnknownKeyCooldown)
	remoteWantErr(t, r, ctx, "other", ErrUnknownKey)
	// Discovery happens once; refetches go straight to the jwks_uri.
	if a, j := iss.Requests(oauthtest.EndpointOAuthMetadata), iss.Requests(oauthtest.EndpointJWKS); a != 1 || j != 2 {
		t.Fatalf("metadata fetched %d times, JWKS %d times; want 1 and 2", a, j)
	}
}

func TestRemoteKeySet_IssuerDiscoveryFails(t *testing.T) {
	t.Parallel()
	ctx := remoteTestContext(t)
	// The issuer advertises a jwks_uri on a remote host over http.
	iss := newRemoteIssuer(t, oauthtest.IssuerConfig{Metadata: map[string]any{"jwks_uri": "http://keys.example.com/jwks"}})
	r := newTestRemote(t, iss, RemoteKeySetConfig{Issuer: iss.URL})
	err := remoteWantErr(t, r, ctx, "k1", ErrUnavailable)
	if !strings.Contains(err.Error(), "not loopback") {
		t.Fatalf("Keys() error = %v, want the jwks_uri refused", err)
	}
}
