package readiness_test

import (
	"context"
	"fmt"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/readiness"
	"github.com/oauthgate/oauthgate/verify"
)

// An introspection verifier is ready once its endpoint has answered. A
// probe at start-up fails fast on a wrong endpoint or credentials and
// makes the first status SERVING; without it, the Watcher's own first
// probe does that a moment later.
func ExampleWatch_introspection() {
	// A stand-in for the authorization server, reached in memory.
	as, err := oauthtest.Start(oauthtest.IssuerConfig{InMemory: true, ClientID: "orders-api", ClientSecret: "s3cret"})
	if err != nil {
		panic(err)
	}
	defer as.Close()
	intro, err := verify.NewIntrospection(verify.IntrospectionConfig{
		Endpoint:     as.EndpointURL(oauthtest.EndpointIntrospection),
		ClientID:     "orders-api",
		ClientSecret: "s3cret",
		Audiences:    []string{"https://orders.example.com"},
		HTTPClient:   as.Client(),
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	fmt.Println("ready before a request:", intro.Ready())
	if err := intro.Probe(ctx); err != nil {
		panic(err) // the endpoint or the credentials are wrong
	}
	fmt.Println("ready after a probe:", intro.Ready())

	hs := health.NewServer() // registered on the gRPC server, public in the policy
	w, err := readiness.Watch(readiness.Config{Health: hs, Sources: []readiness.Source{intro}})
	if err != nil {
		panic(err)
	}
	defer w.Close()
	resp, _ := hs.Check(ctx, &healthpb.HealthCheckRequest{})
	fmt.Println(resp.GetStatus())
	// Output:
	// ready before a request: false
	// ready after a probe: true
	// SERVING
}
