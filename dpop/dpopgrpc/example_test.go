package dpopgrpc_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"

	"github.com/go-jose/go-jose/v4"
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
	// conn, err := grpc.NewClient(addr,
	// 	grpc.WithTransportCredentials(credentials.NewTLS(tlsConfig)),
	// 	grpc.WithPerRPCCredentials(creds))
	fmt.Println("needs TLS:", creds.RequireTransportSecurity())
	local := dpopgrpc.NewCredentials(signer, tokens, dpopgrpc.AllowInsecure()) // plaintext, e.g. to 127.0.0.1
	fmt.Println("needs TLS:", local.RequireTransportSecurity())
	fmt.Println("thumbprint length:", len(signer.Thumbprint()))
	// Output:
	// needs TLS: true
	// needs TLS: false
	// thumbprint length: 43
}
