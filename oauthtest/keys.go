package oauthtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// A signingKey is one private key with its kid.
type signingKey struct {
	alg  jose.SignatureAlgorithm
	kid  string
	priv crypto.Signer
}

// publishable reports whether alg is an asymmetric algorithm the issuer
// generates keys for and serves in its JWKS.
func publishable(alg jose.SignatureAlgorithm) bool {
	switch alg {
	case jose.ES256, jose.RS256, jose.EdDSA:
		return true
	}
	return false
}

// newSigningKey generates a key for alg, without a kid.
func newSigningKey(alg jose.SignatureAlgorithm) (*signingKey, error) {
	var (
		priv crypto.Signer
		err  error
	)
	switch alg {
	case jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("oauthtest: unsupported algorithm %q; use ES256, RS256, EdDSA or HS256", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("oauthtest: generate %s key: %w", alg, err)
	}
	return &signingKey{alg: alg, priv: priv}, nil
}

// kidFor names the n-th key the issuer generated: readable in test failures
// and stable in example output.
func kidFor(alg jose.SignatureAlgorithm, n int) string {
	return fmt.Sprintf("%s-%d", strings.ToLower(string(alg)), n)
}

// key returns the current key for alg, generating it on first use.
func (iss *Issuer) key(alg jose.SignatureAlgorithm) (*signingKey, error) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	if k, ok := iss.keys[alg]; ok {
		return k, nil
	}
	k, err := newSigningKey(alg)
	if err != nil {
		return nil, err
	}
	iss.serial++
	k.kid = kidFor(alg, iss.serial)
	iss.keys[alg] = k
	return k, nil
}

// hmacKeyLocked returns the HS256 secret, creating it on first use.
func (iss *Issuer) hmacKeyLocked() []byte {
	if iss.hmac == nil {
		iss.hmac = make([]byte, 32)
		_, _ = rand.Read(iss.hmac) // crypto/rand.Read never returns an error (Go 1.24+).
	}
	return iss.hmac
}

// jwksLocked builds the public key set from the current keys, the next
// ones ([Issuer.PublishNextKeys]) and the ones [Issuer.RolloverKeys]
// retired.
func (iss *Issuer) jwksLocked() jose.JSONWebKeySet {
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(iss.keys)+len(iss.next)+len(iss.retired))}
	for _, k := range iss.retired {
		set.Keys = append(set.Keys, publicJWK(k))
	}
	for _, k := range iss.keys {
		set.Keys = append(set.Keys, publicJWK(k))
	}
	for _, k := range iss.next {
		set.Keys = append(set.Keys, publicJWK(k))
	}
	slices.SortFunc(set.Keys, func(a, b jose.JSONWebKey) int { return strings.Compare(a.KeyID, b.KeyID) })
	return set
}

// publicJWK is the published form of k.
func publicJWK(k *signingKey) jose.JSONWebKey {
	return jose.JSONWebKey{
		Key:       k.priv.Public(),
		KeyID:     k.kid,
		Algorithm: string(k.alg),
		Use:       "sig",
	}
}
