package verify

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/oauthgate/oauthgate/scopes"
)

// Claims are the verified claims of an access token: the registered claims of
// RFC 7519 and RFC 9068, typed, plus the whole claim set for anything else.
// The same type describes a JWT's payload and an RFC 7662 introspection
// response.
//
// Claims returned by a [Verifier] must not be modified; they may be shared
// between calls that present the same token.
type Claims struct {
	// Issuer is the iss claim.
	Issuer string
	// Subject is the sub claim: the resource owner, or the client for a
	// client-credentials token.
	Subject string
	// Audience is the aud claim; a single string becomes a one-element slice.
	Audience []string
	// Expiry is the exp claim. It is zero only for introspection responses
	// that carry no exp.
	Expiry time.Time
	// NotBefore is the nbf claim, or zero.
	NotBefore time.Time
	// IssuedAt is the iat claim, or zero.
	IssuedAt time.Time
	// ID is the jti claim.
	ID string
	// ClientID is the client_id claim (RFC 9068 §2.2, RFC 7662 §2.2).
	ClientID string
	// Scopes is the scope claim (space-delimited string) or, when that is
	// absent, the scp claim (array of strings).
	Scopes scopes.Set

	// raw is the JSON object the claims were read from.
	raw json.RawMessage
}

// NewClaims returns claims with the given registered values whose raw claim
// set is raw, a JSON object. Verifiers that are not built on this package's
// JWT or introspection support (a lookup in a token table, say) use it; raw
// may be nil.
func NewClaims(c Claims, raw json.RawMessage) *Claims {
	c.raw = slices.Clone(raw)
	return &c
}

// Raw returns a copy of the JSON object the claims were read from: the JWT
// payload or the introspection response. It is a copy because the typed
// claims of a JWT share its memory and verified claims are shared between
// calls: the original must never change.
func (c *Claims) Raw() json.RawMessage { return slices.Clone(c.raw) }

// Decode decodes the raw claim set into v, typically a pointer to a struct
// with json tags for the custom claims an application needs.
func (c *Claims) Decode(v any) error {
	if len(c.raw) == 0 {
		return json.Unmarshal([]byte("{}"), v)
	}
	return json.Unmarshal(c.raw, v)
}

// HasAudience reports whether aud is among the token's audiences.
func (c *Claims) HasAudience(aud string) bool { return slices.Contains(c.Audience, aud) }
