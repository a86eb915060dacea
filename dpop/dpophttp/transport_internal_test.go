package dpophttp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/dpop"
)

// TestTransport_OriginsBounded: servers cannot grow a Transport's nonce
// memory beyond maxOrigins, and the origin just set is always kept.
func TestTransport_OriginsBounded(t *testing.T) {
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := dpop.NewSigner(key, jose.ES256, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTransport(signer, func(context.Context) (string, error) { return "t", nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 * maxOrigins {
		origin := fmt.Sprintf("https://api-%d.example.com", i)
		if err := tr.SetNonce(origin, "n"); err != nil {
			t.Fatal(err)
		}
		if tr.nonce(origin) != "n" {
			t.Fatalf("the nonce of %s, just set, is gone", origin)
		}
		if n := len(tr.nonces); n > maxOrigins {
			t.Fatalf("the Transport holds nonces for %d origins, want at most %d", n, maxOrigins)
		}
	}
}
