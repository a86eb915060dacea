package verify

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"

	"github.com/go-jose/go-jose/v4"
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

// keyFits reports whether k may verify a signature made with alg: the JWK's
// own alg, if any, must be alg (RFC 7517 §4.4), and its key type and curve
// must be those alg is defined for (RFC 7518 §3, RFC 8037 §3.1). This stops
// algorithm confusion whatever the key set holds.
func keyFits(k *jose.JSONWebKey, alg jose.SignatureAlgorithm) bool {
	if k.Algorithm != "" && k.Algorithm != string(alg) {
		return false
	}
	if k.Use == "enc" {
		return false
	}
	switch key := k.Key.(type) {
	case *rsa.PublicKey:
		switch alg {
		case jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512:
			return key.N != nil && key.N.BitLen() >= minRSABits
		}
	case *ecdsa.PublicKey:
		return curveAlgorithm(key) == alg
	case ed25519.PublicKey:
		return alg == jose.EdDSA
	}
	return false
}

// curveAlgorithm returns the one JWS algorithm defined for the key's curve
// (RFC 7518 §3.4), or "" for curves JWS does not use.
func curveAlgorithm(k *ecdsa.PublicKey) jose.SignatureAlgorithm {
	switch k.Curve {
	case elliptic.P256():
		return jose.ES256
	case elliptic.P384():
		return jose.ES384
	case elliptic.P521():
		return jose.ES512
	}
	return ""
}
