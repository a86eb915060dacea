package ssf

import (
	"sync"
	"time"

	"github.com/oauthgate/oauthgate/verify"
)

// allKinds selects every kind of lookup key.
const allKinds = 1<<kindCount - 1

// A watch is a call (a stream) that ends when an event revokes its token.
type watch struct {
	claims *verify.Claims
	keys   []uint64 // where it is registered in Revocations.watchers
	once   sync.Once
	fn     func()
}

func (w *watch) end() { w.once.Do(w.fn) }

// Watch calls end, once and on another goroutine's stack (the receiver's),
// when an event revokes the token with claims c: an event that refuses
// tokens (SessionRevoked and the others acted upon as it) for c's subject,
// with c issued at or before it, or without iat. If c, with an iat, is
// revoked already, end is called before Watch returns. It calls end at most once, and never after stop
// returns; stop must be called when the call ends, and may be called more
// than once. end must not block: cancel a context, close a channel.
//
// Package interceptor uses it to end the open streams of a revoked
// subject.
func (r *Revocations) Watch(c *verify.Claims, end func()) (stop func()) {
	w := &watch{claims: c, fn: end}
	var keys [kindCount]lookupKey
	n := claimKeys(c, allKinds, &keys)
	r.mu.Lock()
	for _, k := range keys[:n] {
		h := r.hash(k.kind, k.a, k.b)
		set := r.watchers[h]
		if set == nil {
			set = make(map[*watch]struct{})
			r.watchers[h] = set
		}
		set[w] = struct{}{}
		w.keys = append(w.keys, h)
	}
	r.mu.Unlock()
	// An event may have come between the verification and now. A token
	// without iat is left to new events: its verifier decided after the
	// old ones (an introspection asked again), which Lookup cannot tell.
	if !c.IssuedAt().IsZero() {
		if rv := r.Lookup(c); !rv.Revoked.IsZero() && revokes(c, rv.Revoked) {
			w.end()
		}
	}
	return func() {
		r.mu.Lock()
		for _, h := range w.keys {
			if set := r.watchers[h]; set != nil {
				delete(set, w)
				if len(set) == 0 {
					delete(r.watchers, h)
				}
			}
		}
		r.mu.Unlock()
		// Wait for an end in progress, and forbid later ones.
		w.once.Do(func() {})
	}
}

// revokes reports whether a revocation at at refuses the token with claims
// c (verify.Revocation: iat at or before it, or no iat).
func revokes(c *verify.Claims, at time.Time) bool {
	iat := c.IssuedAt()
	return iat.IsZero() || !iat.After(at)
}

// endWatchesLocked appends to ended the watches whose token the revoking
// change for m at at refuses.
func (r *Revocations) endWatchesLocked(m *match, ch *change, ended []*watch) []*watch {
	h := r.hash(m.kind, m.a, m.b)
	for w := range r.watchers[h] {
		var keys [kindCount]lookupKey
		n := claimKeys(w.claims, 1<<m.kind, &keys)
		if n == 0 || !m.matches(keys[0], w.claims) {
			continue
		}
		if revokes(w.claims, ch.at) {
			ended = append(ended, w)
		}
	}
	return ended
}
