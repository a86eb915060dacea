package verify_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/verify"
)

func ExampleNewRemoteKeySet() {
	// A stand-in for the authorization server's jwks_uri.
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	jwks := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: pub, KeyID: "2026-01", Algorithm: "EdDSA", Use: "sig"}}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "max-age=3600")
		_ = json.NewEncoder(w).Encode(jwks)
	}))
	defer srv.Close()

	keys, err := verify.NewRemoteKeySet(verify.RemoteKeySetConfig{
		URL:               srv.URL,
		InsecureAllowHTTP: true, // loopback test server only; real URLs are https
	})
	if err != nil {
		log.Fatal(err)
	}
	defer keys.Close()
	// Optional: fail at start-up if the key set cannot be fetched.
	if err := keys.WaitReady(context.Background()); err != nil {
		log.Fatal(err)
	}
	// Usually the key set is handed to verify.NewJWT, which calls Keys.
	found, err := keys.Keys(context.Background(), "2026-01")
	fmt.Println(len(found), found[0].Algorithm, err)
	_, err = keys.Keys(context.Background(), "no-such-kid")
	fmt.Println(errors.Is(err, verify.ErrUnknownKey), errors.Is(err, verify.ErrInvalidToken))
	// Output:
	// 1 EdDSA <nil>
	// true true
}
