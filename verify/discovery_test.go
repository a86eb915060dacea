package verify

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// discoveryServer serves fixed documents by path and counts hits. In a
// document, "{{base}}" stands for the server's URL.
type discoveryServer struct {
	*httptest.Server

	mu   sync.Mutex
	docs map[string]string
	hits map[string]int
}

func newDiscoveryServer(t *testing.T, tls bool, docs map[string]string) *discoveryServer {
	t.Helper()
	s := &discoveryServer{docs: docs, hits: map[string]int{}}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		doc, ok := s.docs[r.URL.Path]
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(strings.ReplaceAll(doc, "{{base}}", s.URL)))
	})
	if tls {
		s.Server = httptest.NewTLSServer(h)
	} else {
		s.Server = httptest.NewServer(h)
	}
	t.Cleanup(s.Close)
	return s
}

func (s *discoveryServer) hitsOf(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

func metadataDoc(issuer, jwksURI string) string {
	b, _ := json.Marshal(map[string]string{
		"issuer":                 issuer,
		"jwks_uri":               jwksURI,
		"introspection_endpoint": "{{base}}/introspect",
		"token_endpoint":         "{{base}}/token",
	})
	return string(b)
}

func TestDiscover(t *testing.T) {
	t.Parallel()
	const (
		as   = "/.well-known/oauth-authorization-server"
		oidc = "/.well-known/openid-configuration"
	)
	tests := map[string]struct {
		issuerPath string            // appended to the server URL
		docs       map[string]string // path → document
		wantJWKS   string            // "" if an error is wanted
		wantErr    string
		wantHits   map[string]int
	}{
		"RFC8414": {
			docs:     map[string]string{as: metadataDoc("{{base}}", "{{base}}/keys"), oidc: metadataDoc("{{base}}", "{{base}}/oidc-keys")},
			wantJWKS: "/keys",
			wantHits: map[string]int{as: 1, oidc: 0},
		},
		"RFC8414PathInsertion": {
			issuerPath: "/tenant1",
			docs:       map[string]string{as + "/tenant1": metadataDoc("{{base}}/tenant1", "{{base}}/tenant1/keys")},
			wantJWKS:   "/tenant1/keys",
			wantHits:   map[string]int{as + "/tenant1": 1, "/tenant1" + oidc: 0},
		},
		"TrailingSlashRemovedBeforeInsertion": {
			issuerPath: "/",
			docs:       map[string]string{as: metadataDoc("{{base}}/", "{{base}}/keys")},
			wantJWKS:   "/keys",
		},
		"OIDCFallback": {
			issuerPath: "/realms/a",
			docs:       map[string]string{"/realms/a" + oidc: metadataDoc("{{base}}/realms/a", "{{base}}/realms/a/certs")},
			wantJWKS:   "/realms/a/certs",
			wantHits:   map[string]int{as + "/realms/a": 1, "/realms/a" + oidc: 1},
		},
		"OIDCTrailingSlash": {
			issuerPath: "/realms/a/",
			docs:       map[string]string{"/realms/a" + oidc: metadataDoc("{{base}}/realms/a/", "{{base}}/certs")},
			wantJWKS:   "/certs",
		},
		"MismatchedRFC8414FallsBackToOIDC": {
			docs: map[string]string{
				as:   metadataDoc("{{base}}/other-tenant", "{{base}}/evil-keys"),
				oidc: metadataDoc("{{base}}", "{{base}}/keys"),
			},
			wantJWKS: "/keys",
		},
		"IssuerMismatch": {
			issuerPath: "/a",
			docs: map[string]string{
				as + "/a":   metadataDoc("{{base}}/b", "{{base}}/keys"),
				"/a" + oidc: metadataDoc("{{base}}/a/", "{{base}}/keys"), // a slash is a different issuer
			},
			wantErr: "names issuer",
		},
		"NotFound": {
			docs:    map[string]string{},
			wantErr: "404",
		},
		"NotJSON": {
			docs:    map[string]string{as: "<html>", oidc: "[1,2]"},
			wantErr: "not a JSON object",
		},
		"HTTPJWKSURIRefused": {
			docs:    map[string]string{as: metadataDoc("{{base}}", "http://keys.example.com/jwks")},
			wantErr: "https is required",
		},
		"Oversized": {
			docs:    map[string]string{as: `{"issuer":"` + strings.Repeat("x", 2<<20) + `"}`},
			wantErr: "larger than",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := newDiscoveryServer(t, true, tc.docs)
			issuer := srv.URL + tc.issuerPath
			md, err := Discover(remoteTestContext(t), srv.Client(), issuer)
			if tc.wantErr != "" {
				var ue *UnavailableError
				if !errors.As(err, &ue) || ue.Op != "discover" || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Discover(%q) error = %v, want an *UnavailableError containing %q", issuer, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Discover(%q) error = %v", issuer, err)
			}
			if md.Issuer != issuer || md.JWKSURI != srv.URL+tc.wantJWKS || md.IntrospectionEndpoint != srv.URL+"/introspect" {
				t.Fatalf("Discover(%q) = %+v, want jwks_uri %s", issuer, md, srv.URL+tc.wantJWKS)
			}
			for path, want := range tc.wantHits {
				if got := srv.hitsOf(path); got != want {
					t.Errorf("GET %s happened %d times, want %d", path, got, want)
				}
			}
		})
	}
}

func TestDiscover_RejectsBadIssuer(t *testing.T) {
	t.Parallel()
	srv := newDiscoveryServer(t, false, map[string]string{
		"/.well-known/oauth-authorization-server": metadataDoc("{{base}}", "{{base}}/keys"),
	})
	for _, issuer := range []string{srv.URL, "https://auth.example.com/?q=1", "https://auth.example.com/#f", "auth.example.com", ""} {
		if _, err := Discover(remoteTestContext(t), nil, issuer); err == nil || !strings.HasPrefix(err.Error(), "verify: discover: ") {
			t.Errorf("Discover(%q) error = %v, want a configuration error", issuer, err)
		}
	}
	if n := srv.hitsOf("/.well-known/oauth-authorization-server"); n != 0 {
		t.Fatalf("Discover over http made %d requests, want 0", n)
	}
}

func TestDiscover_Timeout(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Discover(ctx, srv.Client(), srv.URL)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Discover() error = %v, want ErrUnavailable and a deadline error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Discover() took %v, want about 100ms", d)
	}
}

func TestRemoteKeySet_Issuer(t *testing.T) {
	t.Parallel()
	ctx := remoteTestContext(t)
	clock := newRemoteClock()
	_, pub1 := remoteTestKey(t, "k1")
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub1}})
	const as = "/.well-known/oauth-authorization-server/tenant"
	srv := newDiscoveryServer(t, false, map[string]string{
		as:             metadataDoc("{{base}}/tenant", "{{base}}/tenant/jwks"),
		"/tenant/jwks": string(jwks),
	})
	r, err := NewRemoteKeySet(RemoteKeySetConfig{Issuer: srv.URL + "/tenant", InsecureAllowHTTP: true, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	r.jitter = func(time.Duration) time.Duration { return time.Hour }
	if srv.hitsOf(as) != 0 {
		t.Fatal("NewRemoteKeySet did network I/O")
	}
	remoteWantKID(t, r, ctx, "k1")
	clock.Advance(r.cfg.UnknownKeyCooldown)
	remoteWantErr(t, r, ctx, "other", ErrUnknownKey)
	// Discovery happens once; refetches go straight to the jwks_uri.
	if a, j := srv.hitsOf(as), srv.hitsOf("/tenant/jwks"); a != 1 || j != 2 {
		t.Fatalf("metadata fetched %d times, JWKS %d times; want 1 and 2", a, j)
	}
}

func TestRemoteKeySet_IssuerDiscoveryFails(t *testing.T) {
	t.Parallel()
	ctx := remoteTestContext(t)
	srv := newDiscoveryServer(t, false, map[string]string{
		// The issuer advertises a jwks_uri on a remote host over http.
		"/.well-known/oauth-authorization-server": metadataDoc("{{base}}", "http://keys.example.com/jwks"),
	})
	r, err := NewRemoteKeySet(RemoteKeySetConfig{Issuer: srv.URL, InsecureAllowHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	r.jitter = func(time.Duration) time.Duration { return time.Hour }
	err = remoteWantErr(t, r, ctx, "k1", ErrUnavailable)
	if !strings.Contains(err.Error(), "not loopback") {
		t.Fatalf("Keys() error = %v, want the jwks_uri refused", err)
	}
}
