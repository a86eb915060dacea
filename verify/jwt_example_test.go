package verify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"

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
