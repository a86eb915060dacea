package dpop_test

import (
	"errors"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/dpop"
	"github.com/oauthgate/oauthgate/oauthtest"
)

// FuzzVerify feeds arbitrary proofs to Verify: it must never panic, must
// answer a jkt or a *ProofError, never both, and must accept only a proof
// whose signature go-jose verified.
func FuzzVerify(f *testing.F) {
	clock := func() time.Time { return testNow }
	key := oauthtest.NewDPoPKey(f, jose.ES256, clock)
	f.Add(key.Proof(f, "POST", testURI, testToken))
	f.Add(key.Proof(f, "POST", testURI, testToken, oauthtest.WithPrivateKeyInProof()))
	f.Add(key.Proof(f, "GET", "https://x/", ""))
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, proof string) {
		v, err := dpop.New(dpop.Config{Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		jkt, err := v.Verify(proof, dpop.Request{Method: "POST", URIs: []string{testURI}, AccessToken: testToken})
		if (jkt == "") == (err == nil) {
			t.Fatalf("Verify() = %q, %v; want exactly one", jkt, err)
		}
		if err != nil && !errors.Is(err, dpop.ErrInvalidProof) {
			t.Fatalf("Verify() error = %v, want ErrInvalidProof", err)
		}
	})
}
