package dpop_test

import (
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
func ExampleVerifier_Verify() {
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
	jkt, err := v.Verify(proof, req)
	fmt.Println(jkt == signer.Thumbprint(), err)
	_, err = v.Verify(proof, req)
	fmt.Println(errors.Is(err, dpop.ErrReplayed))
	// Output:
	// true <nil>
	// true
}
