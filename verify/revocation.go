package verify

import (
	"sync/atomic"
	"time"
)

// Revocations tell a verifier about events that ended or changed the
// sessions, credentials or accounts of token subjects after their tokens
// were issued: continuous access evaluation. Package ssf keeps them from
// the Shared Signals events (CAEP, RISC) of identity providers; set it in
// [JWTConfig].Revocations or [IntrospectionConfig].Revocations.
//
// A verifier calls Lookup after it has the claims of a token, whether from
// its cache or not, on every verification. Lookup must not block, must be
// safe for concurrent use and should cost a few tens of nanoseconds and no
// allocation when no event concerns the token: it is on every call's path.
// If the Revocations also has a method Generation() uint64 that returns a
// number changing whenever it stores an event (after the event is visible
// to Lookup), a JWT verifier skips Lookup on a cache hit whose last Lookup,
// at the same generation, found nothing.
type Revocations interface {
	// Lookup returns the times of the latest events that concern the
	// token with claims c, or the zero Revocation.
	Lookup(c *Claims) Revocation
}

// A generational Revocations also says when nothing changed: Generation
// returns a number that changes whenever it stores an event, after the
// event is visible to Lookup. A verifier then skips Lookup for a cached
// verification whose last Lookup found nothing at the same generation.
// *ssf.Revocations is one.
type generational interface {
	Generation() uint64
}

// A revocationMemo remembers, for one cached verification, the generation
// (plus one; zero is none) at which Lookup last found nothing. It is
// shared by the copies of the cache entry.
type revocationMemo struct{ clean atomic.Uint64 }

// A Revocation is what a [Revocations] knows of one token's subject: the
// time of the latest event of each kind, zero for none. A verifier applies
// it as follows (the ssf package documents which event sets which field).
//
//   - Revoked: a token issued at or before it (iat ≤ Revoked) is refused
//     with [ErrRevoked], from the cache or not. A JWT without iat is
//     refused too, since nothing tells it was issued later; an introspected
//     token without iat is introspected again if its answer is not newer
//     than the event, and the authorization server's new answer decides.
//   - Changed: a verification made at or before it is stale: the verifier
//     drops it from its cache and verifies the token afresh (a JWT's
//     signature is checked again and its claims, which are in the token,
//     stay the same; an introspected token is introspected again, past the
//     shared cache).
//   - Assurance: like Changed; then, for a JWT issued at or before it, the
//     claims that say how the user authenticated (acr, amr, auth_time) are
//     dropped from the typed claims returned ([Claims.ACR], [Claims.AMR],
//     [Claims.AuthTime]; [Claims.Raw] and [Claims.Decode] still show the
//     token's), so that a method that requires step-up authentication
//     answers with the step-up challenge while other methods still accept
//     the token. An introspected token keeps what the authorization
//     server's fresh answer says.
type Revocation struct {
	// Revoked is the time of the latest event that revoked the subject's
	// session, credentials or account.
	Revoked time.Time
	// Changed is the time of the latest event that changed the claims of
	// the subject's tokens.
	Changed time.Time
	// Assurance is the time of the latest change of the subject's
	// authentication assurance.
	Assurance time.Time
}

// IsZero reports whether r holds no event.
func (r Revocation) IsZero() bool {
	return r.Revoked.IsZero() && r.Changed.IsZero() && r.Assurance.IsZero()
}

// A revocationVerdict is what a Revocation means for one verification.
type revocationVerdict int

const (
	revocationNone    revocationVerdict = iota // nothing to do
	revocationStale                            // verify afresh
	revocationRevoked                          // refuse with ErrRevoked
	revocationStepUp                           // drop the step-up claims
)

// verdict applies r to claims c verified at at. fresh says that c was just
// obtained from the token or the authorization server, so that a stale
// verdict is not asked for twice; jwt says the claims come from the token
// itself (their iat is the only time that tells them from newer ones).
func (r *Revocation) verdict(c *Claims, at time.Time, fresh, jwt bool) revocationVerdict {
	if !r.Revoked.IsZero() {
		switch {
		case !c.issuedAt.IsZero() && !c.issuedAt.After(r.Revoked):
			return revocationRevoked
		case c.issuedAt.IsZero() && jwt:
			return revocationRevoked
		case c.issuedAt.IsZero() && !fresh && !at.After(r.Revoked):
			return revocationStale
		}
	}
	if !fresh && (!at.After(r.Changed) || !at.After(r.Assurance)) {
		return revocationStale
	}
	if jwt && !r.Assurance.IsZero() && (c.issuedAt.IsZero() || !c.issuedAt.After(r.Assurance)) && c.steppedUp() {
		return revocationStepUp
	}
	return revocationNone
}

// steppedUp reports whether c says anything about how the user
// authenticated.
func (c *Claims) steppedUp() bool { return c.acr != "" || c.amr != nil || !c.authTime.IsZero() }

// withoutStepUp returns a copy of c without acr, amr and auth_time.
func (c *Claims) withoutStepUp() *Claims {
	cp := *c
	cp.acr, cp.amr, cp.authTime = "", nil, time.Time{}
	return &cp
}
