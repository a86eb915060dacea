package oauthtest_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/oauthgate/oauthgate/oauthtest"
)

// tokenRequest posts form to the issuer's token endpoint, with Basic
// credentials if id is set and the given headers, and returns the status
// and the JSON answer.
func tokenRequest(t *testing.T, iss *oauthtest.Issuer, id, secret string, form url.Values, header http.Header) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, iss.EndpointURL(oauthtest.EndpointToken), strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	resp, err := iss.Client().Do(req)
	if err != nil {
		t.Fatalf("POST token endpoint: %v", err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("token endpoint answer is not JSON: %v", err)
	}
	return resp.StatusCode, body, resp.Header
}

// payload returns the claims of a token the issuer minted.
func payload(t *testing.T, tok any) map[string]any {
	t.Helper()
	s, _ := tok.(string)
	parsed, err := jwt.ParseSigned(s, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("access_token is not a JWT: %v", err)
	}
	var c map[string]any
	if err := parsed.UnsafeClaimsWithoutVerification(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestIssuer_TokenEndpoint(t *testing.T) {
	t.Parallel()
	clock := oauthtest.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{Now: clock.Now, InMemory: true, Clients: []oauthtest.Client{
		{ID: "svc", Secret: "svc-secret"},
		{ID: "jwt-client", PublicKey: key.Public()},
	}})
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	assertion := func(c jwt.Claims) string {
		tok, err := jwt.Signed(signer).Claims(c).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := jwt.Claims{Issuer: "jwt-client", Subject: "jwt-client", Audience: jwt.Audience{iss.URL}, ID: "j1",
		Expiry: jwt.NewNumericDate(clock.Now().Add(time.Minute))}
	with := func(f func(*jwt.Claims)) jwt.Claims {
		c := good
		f(&c)
		return c
	}
	jwtForm := func(c jwt.Claims) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_assertion": {assertion(c)},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}}
	}
	cc := url.Values{"grant_type": {"client_credentials"}, "scope": {"a b"}, "resource": {"https://rs.example"}}
	user := iss.Token(t, oauthtest.Token{Subject: "alice", Scopes: []string{"x"},
		Claims: map[string]any{"act": map[string]any{"sub": "edge"}}})
	exchange := func(subject string, extra url.Values) url.Values {
		f := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"}, "subject_token": {subject},
			"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"}, "audience": {"payments"}}
		for k, v := range extra {
			f[k] = v
		}
		return f
	}
	tests := map[string]struct {
		id, secret string
		form       url.Values
		wantStatus int
		wantError  string
		wantClaims map[string]any // of the token, when 200
	}{
		"ClientSecretBasic": {id: "svc", secret: "svc-secret", form: cc, wantStatus: 200,
			wantClaims: map[string]any{"sub": "svc", "client_id": "svc", "aud": "https://rs.example", "scope": "a b"}},
		"WrongSecret":       {id: "svc", secret: "nope", form: cc, wantStatus: 401, wantError: "invalid_client"},
		"UnknownClient":     {id: "who", secret: "svc-secret", form: cc, wantStatus: 401, wantError: "invalid_client"},
		"NoAuthentication":  {form: cc, wantStatus: 401, wantError: "invalid_client"},
		"TwoMethods":        {id: "svc", secret: "svc-secret", form: jwtForm(good), wantStatus: 401, wantError: "invalid_client"},
		"SecretPost":        {form: url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"}, "client_secret": {"svc-secret"}}, wantStatus: 401, wantError: "invalid_client"},
		"PrivateKeyJWT":     {form: jwtForm(good), wantStatus: 200, wantClaims: map[string]any{"sub": "jwt-client"}},
		"AssertionReplayed": {form: jwtForm(good), wantStatus: 401, wantError: "invalid_client"}, // after PrivateKeyJWT: runs in order below
		"AssertionEndpointAud": {form: jwtForm(with(func(c *jwt.Claims) { c.ID, c.Audience = "j2", jwt.Audience{iss.EndpointURL(oauthtest.EndpointToken)} })),
			wantStatus: 200},
		"AssertionWrongAud":  {form: jwtForm(with(func(c *jwt.Claims) { c.ID, c.Audience = "j3", jwt.Audience{"https://other"} })), wantStatus: 401, wantError: "invalid_client"},
		"AssertionExpired":   {form: jwtForm(with(func(c *jwt.Claims) { c.ID, c.Expiry = "j4", jwt.NewNumericDate(clock.Now()) })), wantStatus: 401, wantError: "invalid_client"},
		"AssertionLongLived": {form: jwtForm(with(func(c *jwt.Claims) { c.ID, c.Expiry = "j5", jwt.NewNumericDate(clock.Now().Add(time.Hour)) })), wantStatus: 401, wantError: "invalid_client"},
		"AssertionNoJTI":     {form: jwtForm(with(func(c *jwt.Claims) { c.ID = "" })), wantStatus: 401, wantError: "invalid_client"},
		"AssertionSubOther":  {form: jwtForm(with(func(c *jwt.Claims) { c.ID, c.Subject = "j6", "svc" })), wantStatus: 401, wantError: "invalid_client"},
		"UnsupportedGrant":   {id: "svc", secret: "svc-secret", form: url.Values{"grant_type": {"password"}}, wantStatus: 400, wantError: "unsupported_grant_type"},
		"BadResource":        {id: "svc", secret: "svc-secret", form: url.Values{"grant_type": {"client_credentials"}, "resource": {"rs"}}, wantStatus: 400, wantError: "invalid_target"},
		"Exchange": {id: "svc", secret: "svc-secret", form: exchange(user, nil), wantStatus: 200, wantClaims: map[string]any{
			"sub": "alice", "client_id": "svc", "aud": "payments", "scope": "x",
			"act": map[string]any{"sub": "svc", "act": map[string]any{"sub": "edge"}}}},
		"ExchangeUnknownSubject": {id: "svc", secret: "svc-secret", form: exchange("nope", nil), wantStatus: 400, wantError: "invalid_grant"},
		"ExchangeNoSubjectType":  {id: "svc", secret: "svc-secret", form: exchange(user, url.Values{"subject_token_type": {""}}), wantStatus: 400, wantError: "invalid_request"},
		"ExchangeBadRequested":   {id: "svc", secret: "svc-secret", form: exchange(user, url.Values{"requested_token_type": {"urn:x"}}), wantStatus: 400, wantError: "invalid_request"},
		"ExchangeActorToken": {id: "svc", secret: "svc-secret", form: exchange(user, url.Values{
			"actor_token": {iss.Token(t, oauthtest.Token{Subject: "robot"})}, "actor_token_type": {"urn:ietf:params:oauth:token-type:access_token"}}),
			wantStatus: 200, wantClaims: map[string]any{"act": map[string]any{"sub": "robot", "act": map[string]any{"sub": "edge"}}}},
	}
	// In order: the replay case needs the first assertion to be used.
	for _, name := range []string{"ClientSecretBasic", "WrongSecret", "UnknownClient", "NoAuthentication", "TwoMethods", "SecretPost",
		"PrivateKeyJWT", "AssertionReplayed", "AssertionEndpointAud", "AssertionWrongAud", "AssertionExpired", "AssertionLongLived",
		"AssertionNoJTI", "AssertionSubOther", "UnsupportedGrant", "BadResource", "Exchange", "ExchangeUnknownSubject",
		"ExchangeNoSubjectType", "ExchangeBadRequested", "ExchangeActorToken"} {
		tc := tests[name]
		t.Run(name, func(t *testing.T) {
			code, body, header := tokenRequest(t, iss, tc.id, tc.secret, tc.form, nil)
			if code != tc.wantStatus || tc.wantError != "" && body["error"] != tc.wantError {
				t.Fatalf("token request = %d %v, want %d %q", code, body["error"], tc.wantStatus, tc.wantError)
			}
			if header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store (RFC 6749 §5.1)", header.Get("Cache-Control"))
			}
			if code != 200 {
				return
			}
			if body["token_type"] != "Bearer" || body["expires_in"] != float64(oauthtest.DefaultLifetime/time.Second) {
				t.Errorf("answer = %v, want a Bearer token for %v", body, oauthtest.DefaultLifetime)
			}
			claims := payload(t, body["access_token"])
			for k, want := range tc.wantClaims {
				if got, _ := json.Marshal(claims[k]); string(got) != mustJSON(t, want) {
					t.Errorf("claim %s = %s, want %s", k, got, mustJSON(t, want))
				}
			}
		})
	}
	if _, ok := tests["unlisted"]; ok || len(tests) != 21 {
		t.Fatalf("every case must be in the ordered list: %d cases", len(tests))
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestIssuer_TokenEndpointDPoP: a proof binds the token (token_type DPoP,
// cnf.jkt); with DPoPNonce, a proof without the nonce gets use_dpop_nonce
// and the nonce, and the retry succeeds; a broken proof is refused.
func TestIssuer_TokenEndpointDPoP(t *testing.T) {
	t.Parallel()
	for _, nonce := range []bool{false, true} {
		iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{InMemory: true, DPoPNonce: nonce,
			Clients: []oauthtest.Client{{ID: "svc", Secret: "svc-secret"}}})
		key := oauthtest.NewDPoPKey(t, jose.ES256, nil)
		form := url.Values{"grant_type": {"client_credentials"}}
		ep := iss.EndpointURL(oauthtest.EndpointToken)
		proof := func(n string) http.Header {
			p, err := key.Signer(t).Proof(http.MethodPost, ep, "", n)
			if err != nil {
				t.Fatal(err)
			}
			return http.Header{"Dpop": {p}}
		}
		code, body, header := tokenRequest(t, iss, "svc", "svc-secret", form, proof(""))
		if nonce {
			if code != 400 || body["error"] != "use_dpop_nonce" || header.Get("DPoP-Nonce") == "" {
				t.Fatalf("without the nonce: %d %v, nonce %q; want 400 use_dpop_nonce and a nonce", code, body["error"], header.Get("DPoP-Nonce"))
			}
			code, body, _ = tokenRequest(t, iss, "svc", "svc-secret", form, proof(header.Get("DPoP-Nonce")))
		}
		if code != 200 || body["token_type"] != "DPoP" {
			t.Fatalf("nonce %v: token request = %d %v, want a DPoP token", nonce, code, body)
		}
		cnf, _ := payload(t, body["access_token"])["cnf"].(map[string]any)
		if cnf["jkt"] != key.Thumbprint() {
			t.Errorf("cnf = %v, want jkt %s", cnf, key.Thumbprint())
		}
		bad := key.Proof(t, http.MethodPost, "https://elsewhere.example/token", "")
		code, body, _ = tokenRequest(t, iss, "svc", "svc-secret", form, http.Header{"Dpop": {bad}})
		if code != 400 || body["error"] != "invalid_dpop_proof" && body["error"] != "use_dpop_nonce" {
			t.Errorf("proof for another URI: %d %v, want 400 invalid_dpop_proof", code, body["error"])
		}
	}
}

// TestIssuer_TokenEndpointMetadata: the metadata names the token endpoint
// and what it supports.
func TestIssuer_TokenEndpointMetadata(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	resp, err := iss.Client().Get(iss.EndpointURL(oauthtest.EndpointOAuthMetadata))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var md map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&md); err != nil {
		t.Fatal(err)
	}
	if md["token_endpoint"] != iss.EndpointURL(oauthtest.EndpointToken) || md["tls_client_certificate_bound_access_tokens"] != true {
		t.Errorf("metadata = %v, want token_endpoint %s and certificate-bound tokens", md, iss.EndpointURL(oauthtest.EndpointToken))
	}
}
