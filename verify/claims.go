package verify

import (
	"fmt"
	"slices"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/oauthgate/oauthgate/scopeset"
)

// Claims are the verified claims of an access token: the registered claims
// of RFC 7519, RFC 9068 and RFC 7662, typed, plus the whole claim set for
// anything else. The same type describes a JWT's payload, an RFC 7662
// introspection response and the result of [ParseClaims]; all three are
// read by one reader, so they agree on every rule (valid UTF-8; exact,
// case-sensitive names; no duplicate registered claims; NumericDate; aud as
// a string or an array; scope before scp).
//
// Claims are immutable: every accessor returns a value or a copy, so claims
// shared between the calls that present the same token (the verifiers
// cache them) cannot be changed by any of them. A *Claims is safe for
// concurrent use.
type Claims struct {
	issuer    string
	subject   string
	audience  []string
	expiry    time.Time
	notBefore time.Time
	issuedAt  time.Time
	id        string
	clientID  string
	scopes    scopeset.Set
	cnf       Confirmation
	acr       string
	amr       []string
	authTime  time.Time
	tenant    string        // the tenant an issuer template matched; see Tenant
	sid       string        // read only with Revocations; see SessionID
	email     string        // read only with Revocations; see Email
	leeway    time.Duration // the verifier's; see Deadline

	// raw is the JSON object the claims were read from. String claims may
	// be substrings of it.
	raw string
}

// ParseClaims reads a JSON claim set with the same reader the verifiers use
// and returns its claims, for verifiers that are not built on this
// package's JWT or introspection support (a [Func] looking tokens up in a
// table, say) and for tests that fake an authenticated call. It checks the
// syntax and types of the registered claims only: no issuer, audience or
// time check. A claim set that is not a JSON object, repeats a registered
// claim or gives one the wrong type is an error matching [ErrMalformed].
// raw is copied.
func ParseClaims(raw []byte) (*Claims, error) {
	blk := &claimsBlock{}
	c := &blk.c
	r := claimReader{aud: &blk.aud}
	// Read a copy: the claims must be those of c.raw even if the caller
	// changes raw meanwhile.
	if err := r.read(&claimRules{}, slices.Clone(raw), c); err != nil {
		return nil, err
	}
	return c, nil
}

// Issuer returns the iss claim, or "".
func (c *Claims) Issuer() string { return c.issuer }

// Subject returns the sub claim: the resource owner, or the client of a
// client-credentials token. It is "" when absent.
func (c *Claims) Subject() string { return c.subject }

// Audience returns a copy of the aud claim; a single string is a
// one-element slice. Use [Claims.HasAudience] to test for one value
// without a copy.
func (c *Claims) Audience() []string { return slices.Clone(c.audience) }

// HasAudience reports whether aud is among the token's audiences.
func (c *Claims) HasAudience(aud string) bool { return slices.Contains(c.audience, aud) }

// Expiry returns the exp claim in UTC. It is zero only for introspection
// responses and [ParseClaims] claim sets that carry no exp.
func (c *Claims) Expiry() time.Time { return c.expiry }

// NotBefore returns the nbf claim in UTC, or zero.
func (c *Claims) NotBefore() time.Time { return c.notBefore }

// IssuedAt returns the iat claim in UTC, or zero.
func (c *Claims) IssuedAt() time.Time { return c.issuedAt }

// ID returns the jti claim, or "".
func (c *Claims) ID() string { return c.id }

// ClientID returns the client_id claim (RFC 9068 §2.2, RFC 7662 §2.2), or
// "".
func (c *Claims) ClientID() string { return c.clientID }

// Scopes returns the set the proto rules are checked against: the scope
// claim (a space-delimited string, or an array) or, when it is absent, the
// scp claim; or, when the verifier names them (JWTConfig.Authorities,
// IntrospectionConfig.Authorities), the first of those claims present, or
// their union with MergeAuthorities. A [scopeset.Set] is immutable.
func (c *Claims) Scopes() scopeset.Set { return c.scopes }

// ACR returns the acr claim (authentication context class reference,
// OpenID Connect Core §2, RFC 9470), or "".
func (c *Claims) ACR() string { return c.acr }

// AMR returns a copy of the amr claim (authentication methods references,
// RFC 8176), or nil.
func (c *Claims) AMR() []string { return slices.Clone(c.amr) }

// AuthTime returns the auth_time claim in UTC: when the user last
// authenticated (RFC 9470), or zero.
func (c *Claims) AuthTime() time.Time { return c.authTime }

// Tenant returns the tenant of a multi-tenant issuer: when the verifier's
// JWTConfig.Issuer is a template ("https://login.microsoftonline.com/{tenant}/v2.0"
// with Tenants or AnyTenant), the tenant its iss matched, which the
// verifier checked equals the tid claim. It is "" for an exact issuer
// (whatever tid the token carries), for introspection and for
// [ParseClaims]. With AnyTenant, check it against the tenants you serve:
// any tenant's administrator decides the roles and scopes in its tokens.
func (c *Claims) Tenant() string { return c.tenant }

// SessionID returns the sid claim (OpenID Connect Front-Channel Logout
// 1.0 §3, RFC 9068 tokens of providers that name the session), or "". It
// is read only by a verifier configured with Revocations, which matches
// the session subjects of shared signals events against it.
func (c *Claims) SessionID() string { return c.sid }

// Email returns the email claim, or "". It is read only by a verifier
// configured with Revocations, which matches email subjects (RFC 9493
// §3.2.2) against it; it is not a verified identity.
func (c *Claims) Email() string { return c.email }

// Deadline returns the instant from which the verifier that returned c
// rejects its token as expired: exp plus that verifier's leeway (none for
// [ParseClaims]). ok is false when the token has no exp. A stream
// authorized by the token ends at its deadline (package interceptor).
func (c *Claims) Deadline() (deadline time.Time, ok bool) {
	if c.expiry.IsZero() {
		return time.Time{}, false
	}
	return c.expiry.Add(c.leeway), true
}

// Raw returns a copy of the JSON object the claims were read from: the JWT
// payload, the introspection response or the input of [ParseClaims].
func (c *Claims) Raw() []byte {
	if c.raw == "" {
		return nil
	}
	return []byte(c.raw)
}

// Decode decodes the raw claim set into v, typically a pointer to a struct
// with json tags for the custom claims an application needs. It uses the
// JSON decoder that read the typed claims, with the semantics of
// encoding/json/v2 (see docs/dependencies.md): unlike encoding/json it
// matches names exactly (a field tagged "sub" never reads "Sub") and fails
// on any repeated name and on invalid UTF-8, so a decoded value can never
// disagree with the typed accessors. Types with an UnmarshalJSON method
// decode themselves, as with encoding/json.
func (c *Claims) Decode(v any) error {
	raw := c.raw
	if raw == "" {
		raw = "{}"
	}
	if err := json.Unmarshal([]byte(raw), v); err != nil {
		// The decoder's message may quote a value; the error names the type.
		return fmt.Errorf("verify: claims do not decode into %T: a claim has another type, or a name is repeated", v)
	}
	return nil
}
