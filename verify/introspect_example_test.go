package verify_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/verify"
)

func ExampleNewIntrospection() {
	// A stand-in for the authorization server, reached in memory.
	as, err := oauthtest.Start(oauthtest.IssuerConfig{InMemory: true, ClientID: "orders-api", ClientSecret: "s3cret"})
	if err != nil {
		panic(err)
	}
	defer as.Close()
	token, _ := as.MintOpaque(oauthtest.Token{
		Subject:  "alice",
		ClientID: "web",
		Scopes:   []string{"orders.read"},
		Audience: []string{"https://orders.example.com"},
	})

	v, err := verify.NewIntrospection(verify.IntrospectionConfig{
		Endpoint:     as.EndpointURL(oauthtest.EndpointIntrospection),
		ClientID:     "orders-api",
		ClientSecret: "s3cret",
		Audiences:    []string{"https://orders.example.com"},
		HTTPClient:   as.Client(),
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(verify.Secret("s3cret")) // secrets never print

	ctx := context.Background()
	c, err := v.Verify(ctx, token)
	fmt.Println(c.Subject(), c.ClientID(), c.Scopes().Has("orders.read"), err)

	_, err = v.Verify(ctx, "a-token-the-server-never-issued")
	fmt.Println(errors.Is(err, verify.ErrInvalidToken), errors.Is(err, verify.ErrInactive))
	// Output:
	// [REDACTED]
	// alice web true <nil>
	// true true
}

func ExampleFunc() {
	// The service's own table of API keys.
	keys := map[string]string{"k-123": "billing-batch"}
	v := verify.Func(func(_ context.Context, token string) (*verify.Claims, error) {
		owner, ok := keys[token]
		if !ok {
			return nil, nil // unknown: Func turns this into ErrInactive
		}
		return verify.ParseClaims([]byte(`{"sub":"` + owner + `"}`))
	})

	c, err := v.Verify(context.Background(), "k-123")
	fmt.Println(c.Subject(), err)
	_, err = v.Verify(context.Background(), "k-999")
	fmt.Println(errors.Is(err, verify.ErrInactive))
	// Output:
	// billing-batch <nil>
	// true
}

func ExampleByShape() {
	// Stand-ins: in a service these are a *verify.JWT and a
	// *verify.Introspection.
	jwt := verify.Func(func(context.Context, string) (*verify.Claims, error) {
		return verify.ParseClaims([]byte(`{"sub":"checked as a JWT"}`))
	})
	opaque := verify.Func(func(context.Context, string) (*verify.Claims, error) {
		return verify.ParseClaims([]byte(`{"sub":"checked by introspection"}`))
	})
	v, err := verify.ByShape(jwt, opaque)
	if err != nil {
		panic(err)
	}
	for _, token := range []string{
		"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln", // {"alg":"ES256"}.{"sub":"alice"}.sig
		"2YotnFZFEjr1zCsicMWpAA",
	} {
		c, _ := v.Verify(context.Background(), token)
		fmt.Println(c.Subject())
	}
	// Output:
	// checked as a JWT
	// checked by introspection
}
