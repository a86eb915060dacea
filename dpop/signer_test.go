package dpop_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/dpop"
)

// TestSigner: a Signer's proofs pass a Verifier for exactly the request,
// token and nonce they were made for, each proof once.
func TestSigner(t *testing.T) {
	t.Parallel()
	clock := func() time.Time { return testNow }
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := dpop.NewSigner(key, jose.ES256, clock)
	if err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, func(c *dpop.Config) { c.NoncePeriod = time.Minute })
	nonce := v.Nonce()
	req := dpop.Request{Method: "POST", URIs: []string{testURI}, AccessToken: testToken}
	sign := func(method, uri, token, nonce string) string {
		p, err := s.Proof(method, uri, token, nonce)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if jkt, err := accept(v, sign("POST", testURI, testToken, nonce), req); err != nil || jkt != s.Thumbprint() {
		t.Fatalf("accept(signed proof) = %q, %v; want %q", jkt, err, s.Thumbprint())
	}
	for name, tc := range map[string]struct {
		proof string
		want  error
	}{
		"NoNonce":     {sign("POST", testURI, testToken, ""), dpop.ErrNonce},
		"OtherNonce":  {sign("POST", testURI, testToken, "other"), dpop.ErrNonce},
		"NoToken":     {sign("POST", testURI, "", nonce), dpop.ErrMissingClaim},
		"OtherToken":  {sign("POST", testURI, "another", nonce), dpop.ErrTokenHash},
		"OtherMethod": {sign("GET", testURI, testToken, nonce), dpop.ErrMethod},
		"OtherURI":    {sign("POST", "https://api.example.com/x", testToken, nonce), dpop.ErrURI},
	} {
		if _, err := accept(v, tc.proof, req); !errors.Is(err, tc.want) {
			t.Errorf("%s: accept() = %v, want %v", name, err, tc.want)
		}
	}
	// Every proof has a jti of its own.
	a, b := sign("POST", testURI, testToken, nonce), sign("POST", testURI, testToken, nonce)
	if _, err := accept(v, a, req); err != nil {
		t.Fatal(err)
	}
	if _, err := accept(v, b, req); err != nil {
		t.Fatalf("a second proof for the same request = %v, want its own jti", err)
	}
	if _, err := dpop.NewSigner(key, jose.HS256, clock); err == nil {
		t.Error("NewSigner(HS256) succeeded")
	}
}
