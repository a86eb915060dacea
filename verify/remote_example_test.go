package verify_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/verify"
)

func ExampleNewRemoteKeySet() {
	// A stand-in for the authorization server, reached in memory.
	as, err := oauthtest.Start(oauthtest.IssuerConfig{InMemory: true, Algorithm: jose.EdDSA})
	if err != nil {
		log.Fatal(err)
	}
	defer as.Close()
	as.SetHeader(oauthtest.EndpointJWKS, "Cache-Control", "max-age=3600")
	kid := as.JWKS().Keys[0].KeyID

	keys, err := verify.NewRemoteKeySet(verify.RemoteKeySetConfig{
		URL:        as.EndpointURL(oauthtest.EndpointJWKS),
		HTTPClient: as.Client(), // in memory; real servers need none
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
	found, err := keys.Keys(context.Background(), kid)
	fmt.Println(len(found), found[0].Algorithm, err)
	_, err = keys.Keys(context.Background(), "no-such-kid")
	fmt.Println(errors.Is(err, verify.ErrUnknownKey), errors.Is(err, verify.ErrInvalidToken))
	// Output:
	// 1 EdDSA <nil>
	// true true
}
