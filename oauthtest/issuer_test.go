package oauthtest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/oauthtest"
)

func TestIssuer_URLs(t *testing.T) {
	t.Parallel()
	for name, o := range map[string][]oauthtest.IssuerConfig{"HTTP": nil, "TLS": {{TLS: true}}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			iss := oauthtest.NewIssuer(t, o...)
			scheme := "http://127.0.0.1:"
			if name == "TLS" {
				scheme = "https://127.0.0.1:"
			}
			if !strings.HasPrefix(iss.URL, scheme) || strings.HasSuffix(iss.URL, "/") {
				t.Errorf("URL = %q, want prefix %q and no trailing slash", iss.URL, scheme)
			}
			if got, want := iss.EndpointURL(oauthtest.EndpointJWKS), iss.URL+"/jwks.json"; got != want {
				t.Errorf("EndpointURL(EndpointJWKS) = %q, want %q", got, want)
			}
			if got, want := iss.EndpointURL(oauthtest.EndpointIntrospection), iss.URL+"/introspect"; got != want {
				t.Errorf("EndpointURL(EndpointIntrospection) = %q, want %q", got, want)
			}
			if set := fetchJWKS(t, iss); len(set.Keys) != 1 || set.Keys[0].Algorithm != "ES256" {
				t.Errorf("JWKS = %d keys, want one ES256 key before any token is minted", len(set.Keys))
			}
		})
	}
}

func TestIssuer_Metadata(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			var doc map[string]any
			if code := getJSON(t, iss.Client(), iss.URL+path, &doc); code != http.StatusOK {
				t.Fatalf("GET %s status = %d, want 200", path, code)
			}
			want := map[string]string{
				"issuer":                 iss.URL,
				"jwks_uri":               iss.EndpointURL(oauthtest.EndpointJWKS),
				"introspection_endpoint": iss.EndpointURL(oauthtest.EndpointIntrospection),
			}
			for k, w := range want {
				if doc[k] != w {
					t.Errorf("%s = %v, want %q", k, doc[k], w)
				}
			}
			methods := fmt.Sprint(doc["introspection_endpoint_auth_methods_supported"])
			if methods != "[client_secret_basic client_secret_post]" {
				t.Errorf("introspection_endpoint_auth_methods_supported = %s", methods)
			}
		})
	}
}

func TestIssuerConfig_Metadata(t *testing.T) {
	t.Parallel()
	// Several configs merge, Metadata by name.
	iss := oauthtest.NewIssuer(t,
		oauthtest.IssuerConfig{Metadata: map[string]any{"issuer": "https://other.example", "jwks_uri": "x"}},
		oauthtest.IssuerConfig{Metadata: map[string]any{"introspection_endpoint": nil, "jwks_uri": nil}},
		oauthtest.IssuerConfig{Metadata: map[string]any{"jwks_uri": nil}},
	)
	var doc map[string]any
	getJSON(t, iss.Client(), iss.URL+"/.well-known/openid-configuration", &doc)
	if doc["issuer"] != "https://other.example" {
		t.Errorf("issuer = %v, want https://other.example", doc["issuer"])
	}
	if v, ok := doc["introspection_endpoint"]; ok {
		t.Errorf("introspection_endpoint = %v, want absent", v)
	}
	if v, ok := doc["jwks_uri"]; ok {
		t.Errorf("jwks_uri = %v, want absent", v)
	}
	if doc["response_types_supported"] == nil {
		t.Errorf("response_types_supported absent, want the issuer's own value")
	}
}

func TestIssuerConfig_Merge(t *testing.T) {
	t.Parallel()
	now := fixedNow
	iss := oauthtest.NewIssuer(t,
		oauthtest.IssuerConfig{InMemory: true, Audience: []string{"a"}, ClientID: "rs", ClientSecret: "s1"},
		oauthtest.IssuerConfig{Now: func() time.Time { return now }, ClientSecret: "s2", Algorithm: jose.EdDSA},
		oauthtest.IssuerConfig{},
	)
	if !strings.HasSuffix(iss.URL, ".oauthtest.invalid") {
		t.Errorf("URL = %q, want an in-memory issuer", iss.URL)
	}
	if iss.ClientID != "rs" || iss.ClientSecret != "s2" {
		t.Errorf("ClientID, ClientSecret = %q, %q; want rs, s2", iss.ClientID, iss.ClientSecret)
	}
	header, claims := decode(t, iss.Token(t))
	if header["alg"] != "EdDSA" || claims["aud"] != "a" || claims["iat"] != num(now.Unix()) {
		t.Errorf("token alg %v, aud %v, iat %v; want EdDSA, a, %d", header["alg"], claims["aud"], claims["iat"], now.Unix())
	}
}

func TestIssuer_DefaultAudience(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		opts []oauthtest.IssuerConfig
		want any
	}{
		"One":  {opts: []oauthtest.IssuerConfig{{Audience: []string{"https://orders"}}}, want: "https://orders"},
		"Two":  {opts: []oauthtest.IssuerConfig{{Audience: []string{"a", "b"}}}, want: "[a b]"},
		"None": {opts: []oauthtest.IssuerConfig{{Audience: []string{}}}, want: nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			iss := oauthtest.NewIssuer(t, tc.opts...)
			_, claims := decode(t, iss.Token(t))
			got := claims["aud"]
			if _, ok := got.([]any); ok {
				got = fmt.Sprint(got)
			}
			if got != tc.want {
				t.Errorf("aud = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestIssuer_RotateKeys(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	oldES := iss.Token(t)
	oldEd := iss.Token(t, oauthtest.Token{Algorithm: jose.EdDSA})
	before := fetchJWKS(t, iss)

	iss.RotateKeys()

	after := fetchJWKS(t, iss)
	if len(after.Keys) != 2 {
		t.Fatalf("JWKS after rotation has %d keys, want 2", len(after.Keys))
	}
	for _, k := range before.Keys {
		if len(after.Key(k.KeyID)) != 0 {
			t.Errorf("old kid %q still in JWKS after RotateKeys", k.KeyID)
		}
	}
	for name, tok := range map[string]string{"ES256": oldES, "EdDSA": oldEd} {
		if _, err := verifyToken(t, tok, after); !errors.Is(err, errNoKey) {
			t.Errorf("verify(old %s token) error = %v, want %v", name, err, errNoKey)
		}
	}
	if _, err := verifyToken(t, iss.Token(t), after); err != nil {
		t.Errorf("verify(new token) error = %v, want nil", err)
	}
}

func TestIssuer_PublishNextKeys(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	oldTok := iss.Token(t)
	old := fetchJWKS(t, iss).Keys[0].KeyID

	iss.PublishNextKeys()
	iss.PublishNextKeys() // a second call changes nothing
	pre := fetchJWKS(t, iss)
	if len(pre.Keys) != 2 || len(pre.Key(old)) != 1 {
		t.Fatalf("JWKS after PublishNextKeys = %d keys, want the current and the next", len(pre.Keys))
	}
	next := pre.Keys[1].KeyID
	// The current key keeps signing; both verify against the JWKS.
	for name, tok := range map[string]string{"old token": oldTok, "new token": iss.Token(t)} {
		if _, err := verifyToken(t, tok, pre); err != nil {
			t.Errorf("verify(%s) before RotateKeys error = %v, want nil", name, err)
		}
	}

	iss.RotateKeys() // promotes the published key
	after := fetchJWKS(t, iss)
	if len(after.Keys) != 1 || after.Keys[0].KeyID != next {
		t.Fatalf("JWKS after RotateKeys = %v, want only the pre-published %q", kidsOf(after), next)
	}
	if _, err := verifyToken(t, iss.Token(t), pre); err != nil {
		t.Errorf("verify(token after RotateKeys) against the pre-published set error = %v, want nil", err)
	}
}

func kidsOf(set jose.JSONWebKeySet) []string {
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.KeyID)
	}
	return out
}

func TestIssuer_RolloverKeys(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	old := iss.Token(t)

	iss.RolloverKeys()

	rolled := fetchJWKS(t, iss)
	if len(rolled.Keys) != 2 {
		t.Fatalf("JWKS after RolloverKeys has %d keys, want 2 (old and new)", len(rolled.Keys))
	}
	for name, tok := range map[string]string{"old": old, "new": iss.Token(t)} {
		if _, err := verifyToken(t, tok, rolled); err != nil {
			t.Errorf("verify(%s token) after RolloverKeys error = %v, want nil", name, err)
		}
	}

	iss.RotateKeys()

	rotated := fetchJWKS(t, iss)
	if len(rotated.Keys) != 1 {
		t.Fatalf("JWKS after RotateKeys has %d keys, want 1", len(rotated.Keys))
	}
	if _, err := verifyToken(t, old, rotated); !errors.Is(err, errNoKey) {
		t.Errorf("verify(old token) after RotateKeys error = %v, want %v", err, errNoKey)
	}
}

// fakeTB records Fatalf instead of stopping the goroutine.
type fakeTB struct {
	testing.TB
	fatal    string
	cleanups int
}

func (f *fakeTB) Helper()                           {}
func (f *fakeTB) Cleanup(func())                    { f.cleanups++ }
func (f *fakeTB) Fatalf(format string, args ...any) { f.fatal = fmt.Sprintf(format, args...) }

func TestNewIssuer_SetupErrorFailsTest(t *testing.T) {
	t.Parallel()
	for _, alg := range []jose.SignatureAlgorithm{jose.HS256, jose.PS256} {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			tb := &fakeTB{TB: t}
			if iss := oauthtest.NewIssuer(tb, oauthtest.IssuerConfig{Algorithm: alg}); iss != nil {
				t.Errorf("NewIssuer(IssuerConfig{Algorithm: %q}) = %v, want nil", alg, iss)
			}
			if !strings.Contains(tb.fatal, "oauthtest: unsupported IssuerConfig.Algorithm") {
				t.Errorf("Fatalf message = %q, want it to name the bad algorithm", tb.fatal)
			}
			if tb.cleanups != 0 {
				t.Errorf("Cleanup called %d times after a failed setup, want 0", tb.cleanups)
			}
			if _, err := oauthtest.Start(oauthtest.IssuerConfig{Algorithm: alg}); err == nil {
				t.Errorf("Start(IssuerConfig{Algorithm: %q}) error = nil, want an error", alg)
			}
		})
	}
}

func TestStart_Close(t *testing.T) {
	t.Parallel()
	iss, err := oauthtest.Start()
	if err != nil {
		t.Fatalf("Start() error = %v", err)
	}
	client := iss.Client()
	fetchJWKS(t, iss)
	iss.Close()
	iss.Close() // idempotent

	ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, iss.EndpointURL(oauthtest.EndpointJWKS), nil)
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
		t.Error("GET jwks after Close succeeded, want a connection error")
	}
}
