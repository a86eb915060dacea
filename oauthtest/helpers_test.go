package oauthtest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/oauthtest"
)

// defaultTestTimeout bounds every network call a test makes.
const defaultTestTimeout = 10 * time.Second

// allAlgs are the algorithms tokens are parsed with in tests.
var allAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA, jose.HS256}

// getJSON fetches url with client and decodes the JSON body into v,
// returning the status code.
func getJSON(t *testing.T, client *http.Client, url string, v any) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: decode body: %v", url, err)
		}
	}
	return resp.StatusCode
}

// fetchJWKS fetches the issuer's JWKS over HTTP.
func fetchJWKS(t *testing.T, iss *oauthtest.Issuer) jose.JSONWebKeySet {
	t.Helper()
	var set jose.JSONWebKeySet
	if code := getJSON(t, iss.Client(), iss.EndpointURL(oauthtest.EndpointJWKS), &set); code != http.StatusOK {
		t.Fatalf("GET jwks status = %d, want 200", code)
	}
	return set
}

// parsed is a token whose signature was checked against a key set.
type parsed struct {
	header jose.Header
	claims map[string]any
}

// verifyToken checks tok's signature with go-jose against the key named by
// its kid in set and returns its header and claims.
func verifyToken(t *testing.T, tok string, set jose.JSONWebKeySet) (parsed, error) {
	t.Helper()
	jws, err := jose.ParseSignedCompact(tok, allAlgs)
	if err != nil {
		t.Fatalf("ParseSignedCompact() error = %v", err)
	}
	h := jws.Signatures[0].Protected
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		return parsed{header: h}, errNoKey
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		return parsed{header: h}, err
	}
	var claims map[string]any
	dec := json.NewDecoder(strings.NewReader(string(payload)))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		t.Fatalf("decode claims: %v", err)
	}
	return parsed{header: h, claims: claims}, nil
}

type testError string

func (e testError) Error() string { return string(e) }

const errNoKey = testError("no key with this kid in the JWKS")

// introspect posts token to the issuer's introspection endpoint with
// client_secret_basic and decodes the answer.
func introspect(t *testing.T, iss *oauthtest.Issuer, token string) map[string]any {
	t.Helper()
	resp := postIntrospect(t, iss, url.Values{"token": {token}}, func(r *http.Request) {
		r.SetBasicAuth(iss.ClientID, iss.ClientSecret)
	})
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("introspect status = %d, want 200", resp.StatusCode)
	}
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("decode introspection: %v", err)
	}
	return out
}

// postIntrospect posts form to the introspection endpoint after edit has
// adjusted the request. The caller closes the body.
func postIntrospect(t *testing.T, iss *oauthtest.Issuer, form url.Values, edit func(*http.Request)) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, iss.EndpointURL(oauthtest.EndpointIntrospection), strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if edit != nil {
		edit(req)
	}
	resp, err := iss.Client().Do(req)
	if err != nil {
		t.Fatalf("POST introspect: %v", err)
	}
	return resp
}
