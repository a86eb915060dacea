package oauthtest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/oauthgate/oauthgate/oauthtest"
)

// Start runs an issuer outside a test; in a test, call
// oauthtest.NewIssuer(t) instead, which stops it when the test ends.
func ExampleStart() {
	iss, err := oauthtest.Start()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer iss.Close()

	resp, err := iss.Client().Get(iss.URL + "/.well-known/oauth-authorization-server")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var meta struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&meta)
	fmt.Println(meta.Issuer == iss.URL, meta.JWKSURI == iss.EndpointURL(oauthtest.EndpointJWKS))
	// Output: true true
}

// MintToken is Issuer.Token for programs without a testing.TB. This example
// checks the token the way a resource server does: signature against the
// served JWKS, then claims.
func ExampleIssuer_MintToken() {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	iss, err := oauthtest.Start(oauthtest.IssuerConfig{Now: func() time.Time { return now }})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer iss.Close()
	tok, _ := iss.MintToken(oauthtest.Token{Scopes: []string{"orders.read", "orders.write"}, Subject: "alice"})

	resp, err := iss.Client().Get(iss.EndpointURL(oauthtest.EndpointJWKS))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var keys jose.JSONWebKeySet
	_ = json.NewDecoder(resp.Body).Decode(&keys)

	parsed, _ := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
	h := parsed.Headers[0]
	var std jwt.Claims
	var extra struct {
		Scope    string `json:"scope"`
		ClientID string `json:"client_id"`
	}
	if err := parsed.Claims(keys.Key(h.KeyID)[0], &std, &extra); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("header:", h.Algorithm, h.ExtraHeaders["typ"], h.KeyID)
	fmt.Println("sub:", std.Subject, "aud:", std.Audience, "client_id:", extra.ClientID)
	fmt.Println("scope:", extra.Scope)
	fmt.Println("lifetime:", std.Expiry.Time().Sub(std.IssuedAt.Time()), "iss is URL:", std.Issuer == iss.URL)
	// Output:
	// header: ES256 at+jwt es256-1
	// sub: alice aud: [https://api.example.com] client_id: client-1
	// scope: orders.read orders.write
	// lifetime: 5m0s iss is URL: true
}

// An opaque token is resolved by RFC 7662 introspection, authenticated with
// the issuer's client credentials.
func ExampleIssuer_MintOpaque() {
	iss, err := oauthtest.Start()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer iss.Close()
	tok, _ := iss.MintOpaque(oauthtest.Token{Scopes: []string{"orders.read"}})

	ask := func() string {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, iss.EndpointURL(oauthtest.EndpointIntrospection),
			strings.NewReader(url.Values{"token": {tok}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(iss.ClientID, iss.ClientSecret)
		resp, err := iss.Client().Do(req)
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		var r struct {
			Active bool   `json:"active"`
			Scope  string `json:"scope"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&r)
		return fmt.Sprintf("active=%v scope=%q", r.Active, r.Scope)
	}
	fmt.Println(ask())
	iss.Revoke(tok)
	fmt.Println(ask())
	// Output:
	// active=true scope="orders.read"
	// active=false scope=""
}

// Faults switch at run time, per endpoint.
func ExampleIssuer_SetFault() {
	iss, err := oauthtest.Start()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer iss.Close()

	get := func() {
		resp, err := iss.Client().Get(iss.EndpointURL(oauthtest.EndpointJWKS))
		if err != nil {
			fmt.Println("transport error")
			return
		}
		resp.Body.Close()
		fmt.Println(resp.Status)
	}
	iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{Status: http.StatusServiceUnavailable})
	get()
	iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{Down: true})
	get()
	iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{})
	get()
	fmt.Println("requests:", iss.Requests(oauthtest.EndpointJWKS) >= 3)
	// Output:
	// 503 Service Unavailable
	// transport error
	// 200 OK
	// requests: true
}
