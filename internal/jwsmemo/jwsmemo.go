// Package jwsmemo remembers go-jose's parse of JWS protected headers, so
// that tokens and proofs that repeat a header (every access token of one
// issuer key, every DPoP proof of one client key) are not parsed again,
// while go-jose still checks every signature: [Verify] hands go-jose the
// remembered header with the token's own payload and signature
// (JSONWebSignature.DetachedVerify). Package verify uses it for access
// tokens and package dpop for proofs.
//
// A header enters a Memo only after its user has checked it; a Memo never
// holds more than [Slots] headers, and a collision only costs a parse.
package jwsmemo

import (
	"encoding/base64"
	"errors"
	"hash/maphash"
	"strings"
	"sync/atomic"

	"github.com/go-jose/go-jose/v4"
)

// Slots is the number of headers a Memo remembers.
const Slots = 256

// A Memo maps protected header segments (base64url, as in the token) to
// go-jose's parse of them and a value of type T its user derived from the
// checked header. It is safe for concurrent use; the zero value is ready.
type Memo[T any] struct {
	seed  atomic.Pointer[maphash.Seed]
	slots [Slots]atomic.Pointer[Header[T]]
}

// A Header is a remembered protected header.
type Header[T any] struct {
	segment string
	sig     jose.Signature // go-jose's parse; Signature bytes left empty
	// Value is what the Memo's user derived from the checked header.
	Value T
}

// Protected returns the parsed protected header.
func (h *Header[T]) Protected() *jose.Header { return &h.sig.Protected }

func (m *Memo[T]) slot(segment string) *atomic.Pointer[Header[T]] {
	seed := m.seed.Load()
	if seed == nil {
		s := maphash.MakeSeed()
		m.seed.CompareAndSwap(nil, &s)
		seed = m.seed.Load()
	}
	return &m.slots[maphash.String(*seed, segment)%Slots]
}

// Get returns the remembered header of token, a compact JWS, if any.
func (m *Memo[T]) Get(token string) (*Header[T], bool) {
	segment, _, _ := strings.Cut(token, ".")
	if h := m.slot(segment).Load(); h != nil && h.segment == segment {
		return h, true
	}
	return nil, false
}

// Put remembers the header of token, which go-jose parsed into jws, with
// the value derived from it, and returns the entry. The caller must have
// checked the header.
func (m *Memo[T]) Put(token string, jws *jose.JSONWebSignature, value T) *Header[T] {
	segment, _, _ := strings.Cut(token, ".")
	h := &Header[T]{segment: strings.Clone(segment), sig: jws.Signatures[0], Value: value}
	h.sig.Signature = nil
	m.slot(segment).Store(h)
	return h
}

// ErrMalformed reports a payload or signature segment that is not
// base64url.
var ErrMalformed = errors.New("jwsmemo: malformed JWS")

// Verify checks the signature of token, a compact JWS whose header is h,
// with key: go-jose's DetachedVerify over the token's own payload and
// signature. It returns the payload, or ErrMalformed, or go-jose's error.
func Verify[T any](h *Header[T], token string, key any) ([]byte, error) {
	_, rest, _ := strings.Cut(token, ".")
	payloadSeg, sigSeg, _ := strings.Cut(rest, ".")
	payload, err := base64.RawURLEncoding.DecodeString(payloadSeg)
	if err != nil {
		return nil, ErrMalformed
	}
	sig := h.sig // a copy of the template
	if sig.Signature, err = base64.RawURLEncoding.DecodeString(sigSeg); err != nil {
		return nil, ErrMalformed
	}
	if err := (jose.JSONWebSignature{Signatures: []jose.Signature{sig}}).DetachedVerify(payload, key); err != nil {
		return nil, err
	}
	return payload, nil
}
