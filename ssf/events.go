package ssf

import (
	"time"

	"github.com/oauthgate/oauthgate/verify"
)

// Event types acted upon (CAEP 1.0 §3, RISC 1.0 §2). Events of other types
// are accepted and ignored.
const (
	// SessionRevoked (CAEP): the subject's session ended. Tokens of the
	// subject issued at or before the event are refused with
	// verify.ErrRevoked and its streams end.
	SessionRevoked = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
	// CredentialChange (CAEP): a credential of the subject was created,
	// changed, revoked or deleted. Acted upon as SessionRevoked: the user
	// signs in again with the credentials now valid.
	CredentialChange = "https://schemas.openid.net/secevent/caep/event-type/credential-change"
	// TokenClaimsChange (CAEP): claims of the subject's tokens changed.
	// Cached verifications of the subject made at or before the event are
	// dropped, so the next call verifies afresh (introspection then asks
	// the authorization server; a JWT carries its claims, so only its
	// signature is checked again).
	TokenClaimsChange = "https://schemas.openid.net/secevent/caep/event-type/token-claims-change"
	// AssuranceLevelChange (CAEP): the authentication assurance of the
	// subject changed. Cached verifications are dropped as for
	// TokenClaimsChange, and JWTs issued at or before the event lose their
	// acr, amr and auth_time, so methods requiring step-up authentication
	// answer with the step-up challenge (see verify.Revocation).
	AssuranceLevelChange = "https://schemas.openid.net/secevent/caep/event-type/assurance-level-change"
	// AccountDisabled (RISC): acted upon as SessionRevoked.
	AccountDisabled = "https://schemas.openid.net/secevent/risc/event-type/account-disabled"
	// AccountPurged (RISC): acted upon as SessionRevoked.
	AccountPurged = "https://schemas.openid.net/secevent/risc/event-type/account-purged"
	// SessionsRevoked (RISC): acted upon as SessionRevoked.
	SessionsRevoked = "https://schemas.openid.net/secevent/risc/event-type/sessions-revoked"
)

// An effect is what an event does to its subject's tokens.
type effect int

const (
	effectNone      effect = iota // accepted, ignored
	effectRevoke                  // verify.Revocation.Revoked
	effectChange                  // verify.Revocation.Changed
	effectAssurance               // verify.Revocation.Assurance
)

// effectOf returns what events of type typ do.
func effectOf(typ string) effect {
	switch typ {
	case SessionRevoked, CredentialChange, AccountDisabled, AccountPurged, SessionsRevoked:
		return effectRevoke
	case TokenClaimsChange:
		return effectChange
	case AssuranceLevelChange:
		return effectAssurance
	}
	return effectNone
}

// A change is one event's effect on one subject.
type change struct {
	m      match
	at     time.Time // when the event happened
	effect effect
}

// apply records the change in rv.
func (ch *change) apply(rv *verify.Revocation) {
	switch ch.effect {
	case effectRevoke:
		rv.Revoked = later(rv.Revoked, ch.at)
	case effectChange:
		rv.Changed = later(rv.Changed, ch.at)
	case effectAssurance:
		rv.Assurance = later(rv.Assurance, ch.at)
	}
}
