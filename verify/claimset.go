package verify

import (
	"bytes"
	"errors"
	"slices"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/oauthgate/oauthgate/internal/b64url"
	"github.com/oauthgate/oauthgate/internal/numericdate"
	"github.com/oauthgate/oauthgate/scopeset"
)

// maxNumericDate is the latest NumericDate accepted (numericdate.Max).
const maxNumericDate = numericdate.Max

// Bits of claimReader.seen, one per member the reader knows.
const (
	seenIss uint32 = 1 << iota
	seenSub
	seenAud
	seenExp
	seenNbf
	seenIat
	seenJTI
	seenClientID
	seenScope
	seenScp
	seenActive
	seenTokenType
	seenTokenUse
	seenCnf
	// Read only when claimRules.optional asks for them.
	seenTid    // multi-tenant issuers: see tenant.go
	seenNonce  // ID token markers: see JWTConfig.InsecureAcceptIDTokens
	seenAtHash //
	seenCHash  //
	// Step-up authentication (RFC 9470), always read.
	seenACR
	seenAMR
	seenAuthTime
	// Read only for continuous access evaluation (JWTConfig.Revocations):
	// the subjects of shared signals events.
	seenSid
	seenEmail
)

// revocationBits are the claims a verifier reads for its Revocations.
const revocationBits = seenSid | seenEmail

// introspectionBits are the members an introspection response adds.
const introspectionBits = seenActive | seenTokenType | seenTokenUse

// idTokenBits are the claims only OpenID Connect ID tokens carry (OpenID
// Connect Core 1.0 §2, §3.1.3.6, §3.3.2.11).
const idTokenBits = seenNonce | seenAtHash | seenCHash

// claimRules are what a verifier expects of the claims it reads. The zero
// value expects nothing: any issuer, any audience.
type claimRules struct {
	issuer    string   // if set, iss must equal it for issuerOK
	audiences []string // aud must hold one of them for audienceOK
	// introspection also reads active, token_type and token_use (RFC 7662
	// §2.2); in a JWT they are ordinary claims.
	introspection bool
	// parseScope parses a plain scope string; nil means scopeset.Parse.
	parseScope func(string) (scopeset.Set, error)
	// optional are the seen bits of members read only on request (tid,
	// token_use in a JWT, the ID token markers); 0 reads none of them.
	optional uint32
	// auth, if set, are the claims that form Claims.Scopes; nil means
	// scope, else scp.
	auth *authorities
	// tenant, if set, replaces issuer by an issuer template.
	tenant *tenantIssuer
}

// A claimReader decodes a claim set, JWT payload or introspection response,
// into [Claims] in one pass, on the tokens of the JSON decoder that
// [Claims.Decode] uses too (encoding/json/v2's, see docs/dependencies.md):
// the decoder checks syntax, UTF-8 and escapes, and the reader reads the
// registered claims by their exact names (RFC 7519 §10.1.1: names are
// case-sensitive), refuses a repeated member it knows, reads a JSON null as
// an absent member, and leaves the other members to [Claims.Decode]. It is
// the one reader of registered claims in this package.
//
// String values without escapes are not copied: they are substrings of
// Claims.raw, the claim set as a string, which Claims keeps.
type claimReader struct {
	rules      *claimRules
	c          *Claims
	dec        *jsontext.Decoder // during UnmarshalJSONFrom only
	seen       uint32            // members read, null or not: duplicates
	set        uint32            // members read with a non-null value
	issuerOK   bool
	audienceOK bool
	active     bool             // introspection: active is true
	tokenType  string           // introspection: token_type
	tokenUse   string           // introspection: token_use
	scp        scopeset.Set     // scp, used when scope is absent
	scpOK      bool             // scp is a valid scope claim
	aud        *[1]string       // storage for a single audience, allocated with Claims
	extra      int64            // bytes allocated for the claims beyond the claim set
	auth       *authorityReader // configured authority claims, when found
	tid        string           // tid, when optional asks for it
	tenant     string           // the tenant an issuer template matched
}

// A claimsBlock gets Claims and a one-element audience from one allocation.
type claimsBlock struct {
	c   Claims
	aud [1]string
}

// readOptions let a member name repeat in what the reader skips: it
// refuses a repeated member it reads itself (registered claims, the
// configured authority paths), and Claims.Decode, which reads the rest,
// refuses every repetition. Static data.
var readOptions = jsontext.AllowDuplicateNames(true)

// has reports whether member bit was present with a non-null value.
func (r *claimReader) has(bit uint32) bool { return r.set&bit != 0 }

// read decodes the claim set b, a JSON object and nothing else, into c by
// rules, and keeps a copy of b in c.raw.
func (r *claimReader) read(rules *claimRules, b []byte, c *Claims) error {
	r.rules, r.c = rules, c
	c.raw = string(b)
	err := json.Unmarshal(b, r, readOptions)
	r.dec = nil
	if err != nil {
		if te, ok := errors.AsType[*TokenError](err); ok {
			return te
		}
		return malformedClaim("") // not one JSON object
	}
	return r.finish()
}

// UnmarshalJSONFrom reads the claim set, a JSON object, for
// json.Unmarshal (it makes claimReader a json.UnmarshalerFrom).
func (r *claimReader) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	r.dec = dec
	if dec.PeekKind() != '{' {
		return malformedClaim("")
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	optional := r.rules.optionalBits()
	for dec.PeekKind() != '}' {
		name, err := r.name()
		if err != nil {
			return err
		}
		bit := claimBit(name, optional)
		switch {
		case bit != 0:
			err = r.claim(bit)
		case r.rules.auth != nil:
			err = r.authorityOrSkip(r.rules.auth, name)
		default:
			err = r.skip()
		}
		if err != nil {
			return err
		}
	}
	_, err := dec.ReadToken()
	return err
}

// name reads a member name: the bytes of the claim set unless it has
// escapes.
func (r *claimReader) name() ([]byte, error) {
	v, err := r.dec.ReadValue()
	if err != nil {
		return nil, err
	}
	if bytes.IndexByte(v, '\\') < 0 {
		return v[1 : len(v)-1], nil
	}
	return jsontext.AppendUnquote(nil, v)
}

// str reads a string value.
func (r *claimReader) str() (string, bool) {
	v, _, ok := r.text()
	return v, ok
}

// text reads a string value: a substring of c.raw when it has no escapes,
// else a decoded copy (copied is true) counted in r.extra.
func (r *claimReader) text() (v string, copied, ok bool) {
	if r.dec.PeekKind() != '"' {
		return "", false, false
	}
	lit, err := r.dec.ReadValue()
	if err != nil {
		return "", false, false
	}
	if bytes.IndexByte(lit, '\\') < 0 {
		// The decoder checked UTF-8, so the value is the literal's bytes,
		// which end just before the closing quote at the decoder's offset.
		end := int(r.dec.InputOffset()) - 1
		return r.c.raw[end-(len(lit)-2) : end], false, true
	}
	b, err := jsontext.AppendUnquote(nil, lit)
	r.extra += int64(len(b))
	return string(b), true, err == nil
}

// skip reads a value the reader does not keep. ReadValue checks it as
// SkipValue does, and is faster on an object or array held in memory.
func (r *claimReader) skip() error {
	_, err := r.dec.ReadValue()
	return err
}

// authorityOrSkip reads the value of a member that is not a registered
// claim: a configured authority claim, or a value to skip.
func (r *claimReader) authorityOrSkip(a *authorities, name []byte) error {
	if handled, err := r.authority(a, name); handled {
		return err
	}
	return r.skip()
}

// optionalBits returns the seen bits of the optional members to read.
func (rules *claimRules) optionalBits() uint32 {
	if rules.introspection {
		return rules.optional | introspectionBits
	}
	return rules.optional
}

// finish takes scp if scope was absent, or the configured authorities.
func (r *claimReader) finish() error {
	if r.rules.auth != nil {
		return r.finishAuthorities(r.rules.auth, r.c)
	}
	if !r.has(seenScope) && r.has(seenScp) {
		if !r.scpOK {
			return malformedClaim("scp")
		}
		r.c.scopes = r.scp
	}
	return nil
}

// claimBit returns the seen bit of the member named b, or 0 for a member
// the reader does not know.
func claimBit(b []byte, optional uint32) uint32 {
	switch string(b) { // no allocation: the compiler switches on the bytes
	case "iss":
		return seenIss
	case "sub":
		return seenSub
	case "aud":
		return seenAud
	case "exp":
		return seenExp
	case "nbf":
		return seenNbf
	case "iat":
		return seenIat
	case "jti":
		return seenJTI
	case "client_id":
		return seenClientID
	case "scope":
		return seenScope
	case "scp":
		return seenScp
	case "cnf":
		return seenCnf
	case "acr":
		return seenACR
	case "amr":
		return seenAMR
	case "auth_time":
		return seenAuthTime
	}
	if optional == 0 {
		return 0
	}
	var bit uint32
	switch string(b) {
	case "active":
		bit = seenActive
	case "token_type":
		bit = seenTokenType
	case "token_use":
		bit = seenTokenUse
	case "tid":
		bit = seenTid
	case "nonce":
		bit = seenNonce
	case "at_hash":
		bit = seenAtHash
	case "c_hash":
		bit = seenCHash
	case "sid":
		bit = seenSid
	case "email":
		bit = seenEmail
	}
	return bit & optional
}

// claimNames is static data: the name of each seen bit, for errors.
var claimNames = [...]string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id", "scope", "scp", "active", "token_type", "token_use", "cnf",
	"tid", "nonce", "at_hash", "c_hash", "acr", "amr", "auth_time", "sid", "email"}

func claimNameOf(bit uint32) string {
	for i, n := range claimNames {
		if bit == 1<<i {
			return n
		}
	}
	return ""
}

// malformedClaim returns the error for a claim set that is not a JSON object
// (claim "") or a claim of the wrong type. Errors are built only when
// returned: reading a good claim set allocates none.
func malformedClaim(claim string) error { return &TokenError{Reason: ErrMalformed, Claim: claim} }

// claim reads the value of the known member bit.
func (r *claimReader) claim(bit uint32) error {
	dec, c, rules := r.dec, r.c, r.rules
	if r.seen&bit != 0 {
		// RFC 7519 §4: duplicate claim names may be rejected; accepting
		// them would let two readers see two tokens.
		return malformedClaim(claimNameOf(bit))
	}
	r.seen |= bit
	if dec.PeekKind() == 'n' {
		if _, err := dec.ReadToken(); err != nil {
			return malformedClaim(claimNameOf(bit))
		}
		return nil // null: absent
	}
	r.set |= bit
	ok := true
	switch bit {
	case seenIss:
		c.issuer, ok = r.str()
		if rules.tenant != nil {
			r.tenant, r.issuerOK = rules.tenant.match(c.issuer)
		} else {
			r.issuerOK = ok && rules.issuer != "" && c.issuer == rules.issuer
		}
	case seenSub:
		c.subject, ok = r.str()
	case seenJTI:
		c.id, ok = r.str()
	case seenClientID:
		c.clientID, ok = r.str()
	case seenTokenType:
		r.tokenType, ok = r.str()
	case seenTokenUse:
		r.tokenUse, ok = r.str()
	case seenActive:
		kind := dec.PeekKind()
		_, err := dec.ReadToken()
		ok = err == nil && (kind == 't' || kind == 'f')
		r.active = kind == 't'
	case seenAud:
		ok = r.audience()
	case seenExp:
		c.expiry, ok = r.numericDate()
	case seenNbf:
		c.notBefore, ok = r.numericDate()
	case seenIat:
		c.issuedAt, ok = r.numericDate()
	case seenScope:
		var valid bool
		c.scopes, valid, ok = r.scopeClaim(rules.parseScope)
		ok = ok && valid
	case seenScp:
		// Checked only if used: when scope is absent, or as an authority.
		r.scp, r.scpOK, ok = r.scopeClaim(nil)
	case seenCnf:
		ok = r.confirmation()
	case seenTid:
		r.tid, ok = r.str()
	case seenNonce, seenAtHash, seenCHash:
		ok = r.skip() == nil // only their presence matters
	case seenACR:
		c.acr, ok = r.str()
	case seenAMR:
		ok = r.strings(&c.amr)
	case seenAuthTime:
		c.authTime, ok = r.numericDate()
	case seenSid:
		c.sid, ok = r.str()
	case seenEmail:
		c.email, ok = r.str()
	}
	if !ok {
		return malformedClaim(claimNameOf(bit))
	}
	return nil
}

// confirmation reads cnf (RFC 7800 §3.1): an object whose x5t#S256
// (RFC 8705 §3.1) and jkt (RFC 9449 §6.1) members must be SHA-256
// thumbprints in canonical base64url. Any other member, or an empty
// object, marks a binding this package cannot check; the token is then
// refused by CheckBinding, never treated as a bearer token.
func (r *claimReader) confirmation() bool {
	dec, cnf := r.dec, &r.c.cnf
	if dec.PeekKind() != '{' {
		return false
	}
	if _, err := dec.ReadToken(); err != nil {
		return false
	}
	if dec.PeekKind() == '}' {
		cnf.Unknown = true
	}
	var seen [2]bool
	for dec.PeekKind() != '}' {
		name, err := r.name()
		if err != nil {
			return false
		}
		var dst *string
		i := 0
		switch string(name) {
		case "x5t#S256":
			dst = &cnf.X5TS256
		case "jkt":
			dst, i = &cnf.JKT, 1
		default:
			if r.skip() != nil {
				return false
			}
			cnf.Unknown = true
			continue
		}
		if seen[i] {
			return false // a repeated member
		}
		seen[i] = true
		v, ok := r.str()
		if !ok || len(v) != 43 || !b64url.Canonical(v) {
			return false // not a SHA-256 thumbprint
		}
		*dst = v
	}
	_, err := dec.ReadToken()
	return err == nil
}

// numericDate reads an RFC 7519 §2 NumericDate.
func (r *claimReader) numericDate() (time.Time, bool) {
	if r.dec.PeekKind() != '0' {
		return time.Time{}, false
	}
	v, err := r.dec.ReadValue()
	if err != nil {
		return time.Time{}, false
	}
	return parseNumericDate(v)
}

// scopeClaim reads a scope or scp value: a space-delimited string (RFC 9068
// §2.2.3, RFC 7662 §2.2) or, as some servers issue it, an array of scope
// tokens. A string without escapes goes to parse (nil means
// scopeset.Parse). It reads the whole value whatever it holds: valid
// reports whether it is a scope claim, ok whether it is JSON.
func (r *claimReader) scopeClaim(parse func(string) (scopeset.Set, error)) (set scopeset.Set, valid, ok bool) {
	dec := r.dec
	switch dec.PeekKind() {
	case '"':
		v, copied, ok := r.text()
		if !ok {
			return scopeset.Set{}, false, false
		}
		if parse != nil && !copied {
			set, err := parse(v) // a memo: its sets are counted there
			return set, err == nil, true
		}
		set, err := scopeset.Parse(v)
		r.extra += 16 * int64(set.Len())
		return set, err == nil, true
	case '[':
	default:
		return scopeset.Set{}, false, r.skip() == nil
	}
	if _, err := dec.ReadToken(); err != nil {
		return scopeset.Set{}, false, false
	}
	var list []string
	valid = true
	for dec.PeekKind() != ']' {
		if dec.PeekKind() != '"' {
			valid = false
			if r.skip() != nil {
				return scopeset.Set{}, false, false
			}
			continue
		}
		v, ok := r.str()
		if !ok {
			return scopeset.Set{}, false, false
		}
		list = append(list, v)
	}
	if _, err := dec.ReadToken(); err != nil {
		return scopeset.Set{}, false, false
	}
	if !valid {
		return scopeset.Set{}, false, true
	}
	set, err := scopeset.New(list...)
	r.extra += 16 * int64(set.Len())
	return set, err == nil, true
}

// strings reads an array of strings (amr, RFC 8176) into dst, counting the
// new array in r.extra.
func (r *claimReader) strings(dst *[]string) bool {
	*dst = []string{}
	return r.array(func() bool {
		v, ok := r.str()
		*dst = append(*dst, v)
		r.extra += 16
		return ok
	})
}

// array reads a JSON array whose elements each reads; each must read
// exactly one element or fail.
func (r *claimReader) array(each func() bool) bool {
	dec := r.dec
	if dec.PeekKind() != '[' {
		return false
	}
	if _, err := dec.ReadToken(); err != nil {
		return false
	}
	for dec.PeekKind() != ']' {
		if !each() {
			return false
		}
	}
	_, err := dec.ReadToken()
	return err == nil
}

// audience reads aud: a string or an array of strings (RFC 7519 §4.1.3).
func (r *claimReader) audience() bool {
	c, rules := r.c, r.rules
	one := func() bool {
		v, ok := r.str()
		if !ok {
			return false
		}
		if i := slices.Index(rules.audiences, v); i >= 0 {
			v = rules.audiences[i] // the configured string, not a view
			r.audienceOK = true
		}
		if len(c.audience) == cap(c.audience) {
			r.extra += 16 * int64(len(c.audience)+1) // append's new array, roughly
		}
		c.audience = append(c.audience, v)
		return true
	}
	// Audience starts in the one-element array allocated with Claims; a
	// second element moves it to the heap.
	c.audience = r.aud[:0:1]
	if r.dec.PeekKind() == '"' {
		return one()
	}
	return r.array(one)
}
