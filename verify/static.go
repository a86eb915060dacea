package verify

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/internal/josekeys"
)

// maxJWKSSize caps a JWKS document read by [LoadJWKS] or parsed by
// parseKeyIndex. Real key sets are a few KiB.
const maxJWKSSize = 1 << 20

// errNoUsableKeys is returned by newKeyIndex when nothing is left after
// filtering: a verifier built on such a set could never accept a token.
var errNoUsableKeys = errors.New("verify: JWKS holds no usable signature verification key (RSA ≥ 2048 bits, EC P-256/384/521 or Ed25519, use \"sig\")")

// A keyIndex is an immutable snapshot of verification keys, indexed by kid.
//
// It is shared by [StaticKeySet] and the remote JWKS key set: build one with
// newKeyIndex (from keys) or parseKeyIndex (from a JWKS document), publish it
// (for instance through an atomic.Pointer), and answer KeySet.Keys with
// lookup. It is never modified after construction, so concurrent readers
// need no lock.
type keyIndex struct {
	// byKID maps each kid to its keys; several keys may share a kid (for
	// example one per algorithm). Keys without a kid are only in all.
	byKID map[string][]jose.JSONWebKey
	// all holds every usable key, in document order.
	all []jose.JSONWebKey
}

// newKeyIndex builds the immutable index used by every KeySet in this
// package (the static set here, the remote JWKS set in remote.go). It keeps
// only keys fit to verify signatures:
//
//   - keys with use "enc" are dropped (RFC 7517 §4.2);
//   - symmetric (oct) keys are dropped: an HMAC secret published in a key
//     set would let anyone who can read it mint tokens;
//   - private keys are reduced to their public half;
//   - keys that go-jose does not consider valid, RSA keys under 2048 bits and
//     key types other than RSA, EC (P-256, P-384, P-521) and Ed25519 are
//     dropped.
//
// It returns errNoUsableKeys if no key is left. Filtered keys are copies;
// the caller's slice is not modified.
func newKeyIndex(keys []jose.JSONWebKey) (keyIndex, error) {
	idx := keyIndex{byKID: make(map[string][]jose.JSONWebKey, len(keys))}
	for i := range keys {
		k, ok := usableKey(&keys[i])
		if !ok {
			continue
		}
		idx.all = append(idx.all, k)
		if k.KeyID != "" {
			idx.byKID[k.KeyID] = append(idx.byKID[k.KeyID], k)
		}
	}
	if len(idx.all) == 0 {
		return keyIndex{}, errNoUsableKeys
	}
	return idx, nil
}

// usableKey returns the public verification key of k, or false if k must
// not be used to verify signatures.
func usableKey(k *jose.JSONWebKey) (jose.JSONWebKey, bool) {
	if k.Use == "enc" {
		return jose.JSONWebKey{}, false
	}
	if _, symmetric := k.Key.([]byte); symmetric || !k.Valid() {
		return jose.JSONWebKey{}, false
	}
	pub := k.Public()
	if !pub.Valid() {
		return jose.JSONWebKey{}, false
	}
	switch key := pub.Key.(type) {
	case *rsa.PublicKey:
		if key.N.BitLen() < josekeys.MinRSABits {
			return jose.JSONWebKey{}, false
		}
	case *ecdsa.PublicKey:
		if josekeys.CurveAlgorithm(key) == "" {
			return jose.JSONWebKey{}, false
		}
	case ed25519.PublicKey:
	default:
		return jose.JSONWebKey{}, false
	}
	return pub, true
}

// parseKeyIndex parses a JWKS document (RFC 7517 §5) and indexes its usable
// keys with newKeyIndex. A member of "keys" that go-jose cannot parse (an
// unknown kty, say) is skipped, as RFC 7517 §5 asks, rather than failing the
// whole set; a document that is not a JSON object with a "keys" array fails.
func parseKeyIndex(data []byte) (keyIndex, error) {
	if len(data) > maxJWKSSize {
		return keyIndex{}, fmt.Errorf("verify: JWKS document is larger than %d bytes", maxJWKSSize)
	}
	var doc struct {
		Keys *[]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return keyIndex{}, errors.New("verify: JWKS document is not a JSON object with a keys array")
	}
	if doc.Keys == nil {
		return keyIndex{}, errors.New("verify: JWKS document has no keys member")
	}
	keys := make([]jose.JSONWebKey, 0, len(*doc.Keys))
	for _, raw := range *doc.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			continue // RFC 7517 §5: ignore keys that cannot be understood.
		}
		keys = append(keys, k)
	}
	return newKeyIndex(keys)
}

// lookup implements KeySet.Keys: kid "" returns every key, an unknown kid a
// *TokenError with reason ErrUnknownKey. The result is shared and must not
// be modified.
func (x keyIndex) lookup(kid string) ([]jose.JSONWebKey, error) {
	if kid == "" {
		return x.all, nil
	}
	if keys, ok := x.byKID[kid]; ok {
		return keys, nil
	}
	return nil, &TokenError{Reason: ErrUnknownKey, Claim: "kid"}
}

// A StaticKeySet is a [KeySet] that never changes: for tests, for air-gapped
// deployments, and for keys distributed with the application. It holds only
// public keys fit to verify signatures (see [NewStaticKeySet]).
//
// A StaticKeySet is immutable and safe for concurrent use.
type StaticKeySet struct {
	idx keyIndex
}

// NewStaticKeySet returns a key set holding the verification keys among
// keys. Keys for encryption (use "enc"), symmetric keys, invalid keys, RSA
// keys under 2048 bits and key types other than RSA, EC and Ed25519 are
// dropped; private keys are reduced to their public half. It fails if no key
// is left.
func NewStaticKeySet(keys ...jose.JSONWebKey) (*StaticKeySet, error) {
	idx, err := newKeyIndex(keys)
	if err != nil {
		return nil, err
	}
	return &StaticKeySet{idx: idx}, nil
}

// ParseJWKS returns a key set holding the usable keys of a JWKS document
// (RFC 7517 §5), filtered as by [NewStaticKeySet]. Members of the keys array
// that cannot be parsed, such as keys of an unknown type, are ignored.
func ParseJWKS(data []byte) (*StaticKeySet, error) {
	idx, err := parseKeyIndex(data)
	if err != nil {
		return nil, err
	}
	return &StaticKeySet{idx: idx}, nil
}

// LoadJWKS reads a JWKS document from the file at path and parses it with
// [ParseJWKS]. Files over 1 MiB are rejected.
func LoadJWKS(path string) (*StaticKeySet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("verify: load JWKS: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxJWKSSize+1))
	if err != nil {
		return nil, fmt.Errorf("verify: load JWKS: %w", err)
	}
	ks, err := ParseJWKS(data)
	if err != nil {
		// ParseJWKS's errors are fixed strings; nothing to unwrap.
		return nil, fmt.Errorf("verify: load JWKS %s: %s", path, trimPrefix(err.Error()))
	}
	return ks, nil
}

// Keys returns the keys whose kid is kid, or every key if kid is "". An
// unknown kid yields a [*TokenError] with reason [ErrUnknownKey]. The
// returned slice is shared and must not be modified.
func (s *StaticKeySet) Keys(_ context.Context, kid string) ([]jose.JSONWebKey, error) {
	return s.idx.lookup(kid)
}
