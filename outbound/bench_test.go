package outbound_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/metadata"

	"github.com/oauthgate/oauthgate/interceptor"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/outbound"
	"github.com/oauthgate/oauthgate/verify"
)

// BenchmarkCredentials_GetRequestMetadata: the cost a call pays when a
// token is held: a lock and a clock read for client credentials, plus the
// keyed hash of the incoming token and a cache hit for an exchange.
func BenchmarkCredentials_GetRequestMetadata(b *testing.B) {
	iss := oauthtest.NewIssuer(b, oauthtest.IssuerConfig{InMemory: true,
		Clients: []oauthtest.Client{{ID: ordersID, Secret: ordersSecret}}})
	cfg := outbound.Config{Issuer: iss.URL, HTTPClient: iss.Client(), Target: "127.0.0.1:8443",
		Client: outbound.ClientSecretBasic(ordersID, ordersSecret), Resource: []string{paymentsURI}}
	self, err := outbound.ClientCredentials(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(self.Close)
	exchange, err := outbound.Exchange(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(exchange.Close)
	user := iss.Token(b, oauthtest.Token{Subject: "alice"})
	claims, err := verify.ParseClaims([]byte(`{"sub":"alice"}`))
	if err != nil {
		b.Fatal(err)
	}
	ctx := interceptor.NewContext(metadata.NewIncomingContext(context.Background(),
		metadata.Pairs("authorization", "Bearer "+user)), claims)
	for name, c := range map[string]*outbound.Credentials{"ClientCredentials": self, "Exchange": exchange} {
		b.Run(name, func(b *testing.B) {
			if _, err := c.GetRequestMetadata(ctx, "https://127.0.0.1:8443/svc"); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := c.GetRequestMetadata(ctx, "https://127.0.0.1:8443/svc"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
