package dpopgrpc_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"fmt"

	"github.com/go-jose/go-jose/v4"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/oauthgate/oauthgate/dpop"
	"github.com/oauthgate/oauthgate/dpop/dpopgrpc"
)

// A client holds a DPoP key; its access tokens are bound to the key's
// thumbprint (the dpop_jkt it asks the authorization server for), and the
// credentials sign a fresh proof for every call.
func ExampleNewCredentials() {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	signer, err := dpop.NewSigner(key, jose.ES256, nil)
	if err != nil {
		panic(err)
	}
	tokens := func(context.Context) (string, error) { return "a token bound to " + signer.Thumbprint(), nil }

	creds := dpopgrpc.NewCredentials(signer, tokens)
	conn, err := grpc.NewClient("dns:///api.example.com:443",
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})),
		grpc.WithPerRPCCredentials(creds),
		// A call refused with use_dpop_nonce is made again with the
		// server's nonce, which later proofs carry too.
		grpc.WithChainUnaryInterceptor(creds.UnaryClientInterceptor()),
		grpc.WithChainStreamInterceptor(creds.StreamClientInterceptor()))
	if err != nil {
		panic(err)
	}
	defer conn.Close() // no connection is made until the first call
	fmt.Println("needs TLS:", creds.RequireTransportSecurity())
	local := dpopgrpc.NewCredentials(signer, tokens, dpopgrpc.AllowInsecure()) // plaintext, e.g. to 127.0.0.1
	fmt.Println("needs TLS:", local.RequireTransportSecurity())
	fmt.Println("thumbprint length:", len(signer.Thumbprint()))
	// Output:
	// needs TLS: true
	// needs TLS: false
	// thumbprint length: 43
}
