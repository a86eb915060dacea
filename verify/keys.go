package verify

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/internal/josekeys"
)

// sameKey reports whether a and b are the same public key. Pointer
// equality is the fast path; Equal covers a key set refresh, which parses
// new objects for the same keys.
func sameKey(a, b any) bool {
	switch x := a.(type) {
	case *rsa.PublicKey:
		y, ok := b.(*rsa.PublicKey)
		return ok && (x == y || x.Equal(y))
	case *ecdsa.PublicKey:
		y, ok := b.(*ecdsa.PublicKey)
		return ok && (x == y || x.Equal(y))
	case ed25519.PublicKey:
		y, ok := b.(ed25519.PublicKey)
		return ok && bytes.Equal(x, y)
	}
	return false
}

// keyFits reports whether k may verify a signature made with alg; see
// josekeys.Fits, the rule verify shares with dpop.
func keyFits(k *jose.JSONWebKey, alg jose.SignatureAlgorithm) bool { return josekeys.Fits(k, alg) }
