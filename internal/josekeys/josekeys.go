// Package josekeys holds oauthgate's one rule for which JWS algorithms a
// signature may use and which key fits which algorithm: the asymmetric
// algorithms of RFC 7518 §3 and RFC 8037, RSA keys of 2048 bits or more,
// and each elliptic curve with its one algorithm. Package verify applies
// it to access tokens and package dpop to proofs.
package josekeys

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
	"slices"

	"github.com/go-jose/go-jose/v4"
)

// MinRSABits is the smallest RSA modulus accepted for verification
// (RFC 7518 §3.3, §3.5).
const MinRSABits = 2048

// asymmetric is static data: the only JWS algorithms a resource server may
// accept. HMAC would need the signer's secret; "none" is no signature.
var asymmetric = [...]jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512,
	jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512,
	jose.EdDSA,
}

// Allowlist returns configured, sorted and without duplicates, or every
// asymmetric algorithm when it is empty. An algorithm that is not
// asymmetric (HMAC, "none", unknown) is an error naming it, for the caller
// to prefix with its field.
func Allowlist(configured []jose.SignatureAlgorithm) ([]jose.SignatureAlgorithm, error) {
	algs := slices.Clone(configured)
	if len(algs) == 0 {
		algs = slices.Clone(asymmetric[:])
	}
	for _, a := range algs {
		if !slices.Contains(asymmetric[:], a) {
			return nil, fmt.Errorf("contains %q; only asymmetric algorithms (RS*, PS*, ES*, EdDSA) are allowed", string(a))
		}
	}
	slices.Sort(algs)
	return slices.Compact(algs), nil
}

// Fits reports whether k may verify a signature made with alg: the JWK's
// own alg, if any, must be alg (RFC 7517 §4.4), it must not be an
// encryption key, and its key type and curve must be those alg is defined
// for (RFC 7518 §3, RFC 8037 §3.1). This stops algorithm confusion
// whatever a key set or a proof holds.
func Fits(k *jose.JSONWebKey, alg jose.SignatureAlgorithm) bool {
	if k.Algorithm != "" && k.Algorithm != string(alg) || k.Use == "enc" {
		return false
	}
	switch key := k.Key.(type) {
	case *rsa.PublicKey:
		switch alg {
		case jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512:
			return key.N != nil && key.N.BitLen() >= MinRSABits
		}
	case *ecdsa.PublicKey:
		return CurveAlgorithm(key) == alg
	case ed25519.PublicKey:
		return alg == jose.EdDSA
	}
	return false
}

// CurveAlgorithm returns the one JWS algorithm defined for the key's curve
// (RFC 7518 §3.4), or "" for curves JWS does not use.
func CurveAlgorithm(k *ecdsa.PublicKey) jose.SignatureAlgorithm {
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
