package verify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/verify"
)

func ExampleNewJWT() {
	// The issuer's key; in production the key set is the issuer's JWKS.
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keys, err := verify.NewStaticKeySet(jose.JSONWebKey{Key: priv.Public(), KeyID: "k1"})
	if err != nil {
		panic(err)
	}
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{
		Issuer:    "https://auth.example.com/",
		Audiences: []string{"https://orders.example.com"},
		Now:       func() time.Time { return now },
	})
	if err != nil {
		panic(err)
	}

	// What the authorization server does: an RFC 9068 access token.
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: priv},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "k1"))
	payload, _ := json.Marshal(map[string]any{
		"iss": "https://auth.example.com/", "aud": "https://orders.example.com",
		"sub": "alice", "client_id": "shop", "scope": "orders.read orders.write",
		"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "jti": "t-1",
	})
	jws, _ := signer.Sign(payload)
	token, _ := jws.CompactSerialize()

	claims, err := jwt.Verify(context.Background(), token)
	if err != nil {
		panic(err)
	}
	fmt.Println(claims.Subject(), claims.Scopes(), claims.Scopes().Has("orders.write"))
	// Output: alice orders.read orders.write true
}

// Microsoft Entra ID, multi-tenant: app-only (client credentials) tokens
// carry their permissions in roles, typ is JWT, and each tenant has its
// own issuer over one shared JWKS.
func ExampleJWTConfig_entraID() {
	iss, err := oauthtest.Start(oauthtest.IssuerConfig{InMemory: true}) // stands in for Entra ID
	if err != nil {
		panic(err)
	}
	defer iss.Close()
	keys, _ := verify.NewStaticKeySet(iss.JWKS().Keys...) // the common JWKS
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{
		Issuer:      "https://login.microsoftonline.com/{tenant}/v2.0",
		Tenants:     []string{"72f988bf-86f1-41af-91ab-2d7cd011db47"},
		Audiences:   []string{"6e74172b-be56-4843-9ff4-e66a39bb12e3"},
		Types:       []string{"JWT"},
		Authorities: []verify.ClaimPath{{"scp"}, {"roles"}},
	})
	if err != nil {
		panic(err)
	}
	for _, tenant := range []string{"72f988bf-86f1-41af-91ab-2d7cd011db47", "f8cdef31-a31e-4b4a-93e4-5f571e91255a"} {
		token, _ := iss.MintToken(oauthtest.Token{
			Type:     "JWT",
			Issuer:   "https://login.microsoftonline.com/" + tenant + "/v2.0",
			Audience: []string{"6e74172b-be56-4843-9ff4-e66a39bb12e3"},
			Claims: map[string]any{
				"tid":   tenant,
				"roles": []string{"Orders.ReadAll"},
			},
		})
		claims, err := jwt.Verify(context.Background(), token)
		if err != nil {
			fmt.Println(errors.Is(err, verify.ErrIssuer))
			continue
		}
		fmt.Println(claims.Scopes())
	}
	// Output:
	// Orders.ReadAll
	// true
}

// With AnyTenant every organisation with an account at the provider gets
// tokens the verifier accepts, with the roles its own administrator
// assigns. Claims.Tenant says which tenant the token's issuer named: check
// it against the tenants you serve (in an interceptor.Authorizer, say).
func ExampleClaims_Tenant() {
	iss, err := oauthtest.Start(oauthtest.IssuerConfig{InMemory: true}) // stands in for Entra ID
	if err != nil {
		panic(err)
	}
	defer iss.Close()
	keys, _ := verify.NewStaticKeySet(iss.JWKS().Keys...)
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{
		Issuer:      "https://login.microsoftonline.com/{tenant}/v2.0",
		AnyTenant:   true,
		Audiences:   []string{"6e74172b-be56-4843-9ff4-e66a39bb12e3"},
		Types:       []string{"JWT"},
		Authorities: []verify.ClaimPath{{"roles"}},
	})
	if err != nil {
		panic(err)
	}
	customers := map[string]bool{"72f988bf-86f1-41af-91ab-2d7cd011db47": true} // from your customer store
	for _, tenant := range []string{"72f988bf-86f1-41af-91ab-2d7cd011db47", "f8cdef31-a31e-4b4a-93e4-5f571e91255a"} {
		token, _ := iss.MintToken(oauthtest.Token{
			Type:     "JWT",
			Issuer:   "https://login.microsoftonline.com/" + tenant + "/v2.0",
			Audience: []string{"6e74172b-be56-4843-9ff4-e66a39bb12e3"},
			Claims: map[string]any{
				"tid":   tenant,
				"roles": []string{"Orders.Admin"},
			},
		})
		claims, err := jwt.Verify(context.Background(), token)
		if err != nil {
			panic(err)
		}
		fmt.Println(claims.Tenant(), claims.Scopes(), "customer:", customers[claims.Tenant()])
	}
	// Output:
	// 72f988bf-86f1-41af-91ab-2d7cd011db47 Orders.Admin customer: true
	// f8cdef31-a31e-4b4a-93e4-5f571e91255a Orders.Admin customer: false
}
