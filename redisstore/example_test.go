package redisstore_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/valkey-io/valkey-go"

	"github.com/oauthgate/oauthgate/dpop"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/redisstore"
	"github.com/oauthgate/oauthgate/verify"
)

// Two replicas share one Redis: a DPoP proof accepted by one is a replay
// at the other, and their introspection caches ask the authorization
// server once between them.
func ExampleNew() {
	client, err := valkey.NewClient(valkey.ClientOption{InitAddress: []string{shared.Addr}}) // yours: TLS, ACL user, cluster
	if err != nil {
		panic(err)
	}
	defer client.Close()
	store, err := redisstore.New(client, redisstore.Config{
		Secret: []byte("32 or more random bytes, the same for every replica"),
		Prefix: "example:",
		// The default is 50 ms; this example also runs under the race
		// detector on busy machines.
		Timeout: time.Second,
	})
	if err != nil {
		panic(err)
	}
	as, _ := oauthtest.Start(oauthtest.IssuerConfig{InMemory: true})
	defer as.Close()
	token, _ := as.MintOpaque(oauthtest.Token{Scopes: []string{"orders.read"}})

	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, _ := dpop.NewSigner(key, jose.ES256, nil)
	proof, _ := signer.Proof("POST", "https://api.example.com/orders.v1.Orders/Get", token, "")
	req := dpop.Request{Method: "POST", URIs: []string{"https://api.example.com/orders.v1.Orders/Get"}, AccessToken: token}
	ctx := context.Background()
	for replica := range 2 {
		proofs, _ := dpop.New(dpop.Config{ReplayStore: store})
		p, _ := proofs.Check(proof, req)
		err := proofs.Record(ctx, p) // after the token is verified and bound, as the interceptor does
		fmt.Println("replica", replica+1, "proof replayed:", errors.Is(err, dpop.ErrReplayed))

		intro, _ := verify.NewIntrospection(verify.IntrospectionConfig{
			Endpoint: as.EndpointURL(oauthtest.EndpointIntrospection), ClientID: as.ClientID, ClientSecret: verify.Secret(as.ClientSecret),
			Audiences: []string{oauthtest.DefaultAudience}, HTTPClient: as.Client(), SharedCache: store,
		})
		_, err = intro.Verify(ctx, token)
		fmt.Println("replica", replica+1, "token:", err, "introspection requests:", as.Requests(oauthtest.EndpointIntrospection))
	}
	// Output:
	// replica 1 proof replayed: false
	// replica 1 token: <nil> introspection requests: 1
	// replica 2 proof replayed: true
	// replica 2 token: <nil> introspection requests: 1
}
