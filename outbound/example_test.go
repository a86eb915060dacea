package outbound_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"google.golang.org/grpc/metadata"

	"github.com/oauthgate/oauthgate/interceptor"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/outbound"
	"github.com/oauthgate/oauthgate/verify"
)

// The orders service calls payments as itself, then on behalf of alice,
// whose call it is serving. Real code passes the credentials to
// grpc.WithPerRPCCredentials; the example prints the tokens' claims.
func Example() {
	iss, err := oauthtest.Start(oauthtest.IssuerConfig{InMemory: true,
		Clients: []oauthtest.Client{{ID: "orders", Secret: "orders-secret"}}})
	if err != nil {
		log.Fatal(err)
	}
	defer iss.Close()
	cfg := outbound.Config{
		Issuer: iss.URL, HTTPClient: iss.Client(),
		Client:   outbound.ClientSecretBasic("orders", "orders-secret"),
		Resource: []string{"https://payments.example.com"},
		Scopes:   []string{"payments.charge"},
	}
	self, err := outbound.ClientCredentials(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer self.Close()
	onBehalf, err := outbound.Exchange(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer onBehalf.Close()

	// In a handler, ctx is the call's context; here it is made by hand.
	user, _ := iss.MintToken(oauthtest.Token{Subject: "alice", Audience: []string{"https://orders.example.com"}})
	claims, _ := verify.ParseClaims([]byte(`{"sub":"alice"}`))
	ctx := interceptor.NewContext(metadata.NewIncomingContext(context.Background(),
		metadata.Pairs("authorization", "Bearer "+user)), claims)

	for _, c := range []*outbound.Credentials{self, onBehalf} {
		tok, err := c.Token(ctx)
		if err != nil {
			log.Fatal(err)
		}
		parsed, _ := jwt.ParseSigned(tok.AccessToken, []jose.SignatureAlgorithm{jose.ES256})
		var got struct {
			Sub   string `json:"sub"`
			Aud   string `json:"aud"`
			Scope string `json:"scope"`
			Act   *struct {
				Sub string `json:"sub"`
			} `json:"act"`
		}
		if err := parsed.UnsafeClaimsWithoutVerification(&got); err != nil {
			log.Fatal(err)
		}
		fmt.Println(tok.TokenType, got.Sub, got.Aud, got.Scope, got.Act)
	}
	// Output:
	// Bearer orders https://payments.example.com payments.charge <nil>
	// Bearer alice https://payments.example.com payments.charge &{orders}
}

// An HTTP client (a connect-go client's, here a plain one) sends the
// service's token to payments through the credentials' Transport.
func ExampleCredentials_Transport() {
	iss, err := oauthtest.Start(oauthtest.IssuerConfig{InMemory: true,
		Clients: []oauthtest.Client{{ID: "orders", Secret: "orders-secret"}}})
	if err != nil {
		log.Fatal(err)
	}
	defer iss.Close()
	creds, err := outbound.ClientCredentials(outbound.Config{
		Issuer: iss.URL, HTTPClient: iss.Client(),
		Client:   outbound.ClientSecretBasic("orders", "orders-secret"),
		Resource: []string{"https://payments.example.com"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer creds.Close()

	payments := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		fmt.Println("payments got a token, scheme", scheme)
	}))
	defer payments.Close()

	client := &http.Client{Transport: creds.Transport(nil)} // nil: http.DefaultTransport
	if resp, err := client.Get(payments.URL + "/charges"); err == nil {
		resp.Body.Close()
	}
	_, err = client.Get("http://payments.example.com/charges") // cleartext, not loopback
	fmt.Println(err)
	// Output:
	// payments got a token, scheme Bearer
	// Get "http://payments.example.com/charges": internal: outbound: refusing to send a token without transport security to a non-loopback host
}
