package dpop_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/dpop"
)

// A client signs a proof for one request; the server checks it against the
// request it came with and learns the key's thumbprint, which a
// DPoP-bound token's cnf.jkt must equal. A proof is good once.
func ExampleVerifier_Check() {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, err := dpop.NewSigner(key, jose.ES256, nil)
	if err != nil {
		panic(err)
	}
	const uri = "https://api.example.com/reports.v1.ReportService/GetReport"
	proof, err := signer.Proof("POST", uri, "the-access-token", "")
	if err != nil {
		panic(err)
	}

	v, err := dpop.New(dpop.Config{})
	if err != nil {
		panic(err)
	}
	req := dpop.Request{Method: "POST", URIs: []string{uri}, AccessToken: "the-access-token"}
	p, err := v.Check(proof, req)
	fmt.Println(p.Thumbprint() == signer.Thumbprint(), err)
	// The server verifies the access token, and that its cnf.jkt is
	// p.Thumbprint(), before it records the proof: only then is the proof
	// accepted, once.
	fmt.Println(v.Record(context.Background(), p))
	fmt.Println(errors.Is(v.Record(context.Background(), p), dpop.ErrReplayed))
	// Output:
	// true <nil>
	// <nil>
	// true
}
