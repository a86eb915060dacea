package dpop

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// A Signer makes DPoP proofs with a client's private key: the client side
// of RFC 9449 §4. Each proof has a fresh random jti and the current time as
// iat. A Signer is safe for concurrent use.
type Signer struct {
	signer jose.Signer
	pub    crypto.PublicKey
	jkt    string
	now    func() time.Time
}

// NewSigner returns a Signer for key, an *ecdsa.PrivateKey,
// ed25519.PrivateKey or *rsa.PrivateKey, signing with alg. now may be nil
// for time.Now.
func NewSigner(key crypto.Signer, alg jose.SignatureAlgorithm, now func() time.Time) (*Signer, error) {
	pub := jose.JSONWebKey{Key: key.Public()}
	if !pub.Valid() || !keyFits(&pub, alg) {
		return nil, fmt.Errorf("dpop: NewSigner: key does not fit algorithm %s", alg)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key},
		(&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
	if err != nil {
		return nil, fmt.Errorf("dpop: NewSigner: %w", err)
	}
	thumb, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, errors.New("dpop: NewSigner: cannot compute the key thumbprint")
	}
	if now == nil {
		now = time.Now
	}
	return &Signer{signer: s, pub: key.Public(), jkt: base64.RawURLEncoding.EncodeToString(thumb), now: now}, nil
}

// PublicKey returns the signer's public key.
func (s *Signer) PublicKey() crypto.PublicKey { return s.pub }

// Thumbprint returns the JWK SHA-256 thumbprint of the signer's public key:
// the cnf.jkt of tokens bound to it, and the dpop_jkt of an authorization
// request (RFC 9449 §10).
func (s *Signer) Thumbprint() string { return s.jkt }

// Proof returns a proof for a request with method and uri, carrying the
// hash of accessToken (omitted when "") and nonce (omitted when "").
func (s *Signer) Proof(method, uri, accessToken, nonce string) (string, error) {
	jti := make([]byte, 16)
	_, _ = rand.Read(jti) // crypto/rand.Read never fails (Go 1.24+)
	claims := map[string]any{
		"jti": base64.RawURLEncoding.EncodeToString(jti),
		"htm": method,
		"htu": uri,
		"iat": s.now().Unix(),
	}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		claims["ath"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	obj, err := s.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("dpop: signing a proof: %w", err)
	}
	return obj.CompactSerialize()
}
