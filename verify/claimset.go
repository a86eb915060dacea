package verify

import (
	"math"
	"slices"
	"strconv"
	"time"
	"unsafe"

	"github.com/oauthgate/oauthgate/internal/b64url"
	"github.com/oauthgate/oauthgate/internal/jsonscan"
	"github.com/oauthgate/oauthgate/scopeset"
)

// maxNumericDate is 9999-12-31T23:59:59Z; later dates are not dates a
// token can honestly carry and would overflow time arithmetic.
const maxNumericDate = 253402300799

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
)

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
// into [Claims] in one pass without reflection or maps: it is the one reader
// of registered claims in this package. It matches names exactly (RFC 7519
// §10.1.1: names are case-sensitive), rejects a repeated member it knows,
// reads a JSON null as an absent member, and leaves the other members to
// [Claims.Decode].
//
// Plain string values (printable ASCII, no escapes) are not copied: they
// are views of the claim set, which Claims keeps and nobody modifies.
type claimReader struct {
	s          jsonscan.Scanner
	seen       uint32 // members read, null or not: duplicates
	set        uint32 // members read with a non-null value
	issuerOK   bool
	audienceOK bool
	active     bool             // introspection: active is true
	tokenType  string           // introspection: token_type
	tokenUse   string           // introspection: token_use
	scp        []byte           // raw scp value, used when scope is absent
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

// has reports whether member bit was present with a non-null value.
func (r *claimReader) has(bit uint32) bool { return r.set&bit != 0 }

// view returns b[start:end] of the claim set as a string without copying.
func (r *claimReader) view(start, end int) string {
	if end <= start {
		return ""
	}
	// The claim set is immutable once read: see claimReader.
	return unsafe.String(&r.s.Bytes()[start], end-start)
}

// str reads a string value: a view when it is plain, else a decoded copy
// counted in r.extra.
func (r *claimReader) str() (string, bool) {
	start, end, plain, ok := r.s.Str()
	switch {
	case !ok:
		return "", false
	case plain:
		return r.view(start, end), true
	}
	v := jsonscan.Unquote(r.s.Bytes()[start-1 : end+1])
	r.extra += int64(len(v))
	return v, true
}

// read decodes the claim set b, a JSON object and nothing else, into c.
func (r *claimReader) read(rules *claimRules, b []byte, c *Claims) error {
	r.s = jsonscan.New(b)
	s := &r.s
	s.SkipWS()
	if !s.Consume('{') {
		return malformedClaim("")
	}
	s.SkipWS()
	if !s.Consume('}') {
		if err := r.members(rules, c); err != nil {
			return err
		}
	}
	s.SkipWS()
	if !s.AtEnd() {
		return malformedClaim("")
	}
	return r.finish(rules, c)
}

// members reads the members of the object up to and including its '}'.
func (r *claimReader) members(rules *claimRules, c *Claims) error {
	s := &r.s
	for {
		start, end, plain, ok := s.Str()
		if !ok {
			return malformedClaim("")
		}
		name := s.Bytes()[start:end]
		if !plain {
			name = []byte(jsonscan.Unquote(s.Bytes()[start-1 : end+1]))
		}
		bit := claimBit(name, rules.optionalBits())
		s.SkipWS()
		if !s.Consume(':') {
			return malformedClaim("")
		}
		s.SkipWS()
		switch {
		case bit != 0:
			if err := r.claim(rules, bit, c); err != nil {
				return err
			}
		case rules.auth != nil:
			if err := r.authorityOrSkip(rules.auth, name); err != nil {
				return err
			}
		case !s.Value(1):
			return malformedClaim("")
		}
		s.SkipWS()
		if !s.Consume(',') {
			if !s.Consume('}') {
				return malformedClaim("")
			}
			return nil
		}
		s.SkipWS()
	}
}

// authorityOrSkip reads the value of a member that is not a registered
// claim: a configured authority claim, or a value to skip.
func (r *claimReader) authorityOrSkip(a *authorities, name []byte) error {
	if handled, err := r.authority(a, name); handled {
		return err
	}
	if !r.s.Value(1) {
		return malformedClaim("")
	}
	return nil
}

// optionalBits returns the seen bits of the optional members to read.
func (rules *claimRules) optionalBits() uint32 {
	if rules.introspection {
		return rules.optional | introspectionBits
	}
	return rules.optional
}

// finish reads scp if scope was absent, or the configured authorities.
func (r *claimReader) finish(rules *claimRules, c *Claims) error {
	if rules.auth != nil {
		return r.finishAuthorities(rules.auth, c)
	}
	if !r.has(seenScope) && r.has(seenScp) {
		if err := c.scopes.UnmarshalJSON(r.scp); err != nil {
			return malformedClaim("scp")
		}
		r.extra += int64(len(r.scp)) + 16*int64(c.scopes.Len())
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
	}
	return bit & optional
}

// claimNames is static data: the name of each seen bit, for errors.
var claimNames = [...]string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id", "scope", "scp", "active", "token_type", "token_use", "cnf",
	"tid", "nonce", "at_hash", "c_hash", "acr", "amr", "auth_time"}

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

// claim reads the value of the known member bit at the scanner's position.
func (r *claimReader) claim(rules *claimRules, bit uint32, c *Claims) error {
	s := &r.s
	if r.seen&bit != 0 {
		// RFC 7519 §4: duplicate claim names may be rejected; accepting
		// them would let two readers see two tokens.
		return malformedClaim(claimNameOf(bit))
	}
	r.seen |= bit
	if s.Peek() == 'n' {
		if !s.Value(1) {
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
		switch {
		case s.Peek() == 't' && s.Value(1):
			r.active = true
		case s.Peek() == 'f' && s.Value(1):
		default:
			ok = false
		}
	case seenAud:
		ok = r.audience(rules, c)
	case seenExp:
		c.expiry, ok = r.numericDate()
	case seenNbf:
		c.notBefore, ok = r.numericDate()
	case seenIat:
		c.issuedAt, ok = r.numericDate()
	case seenScope:
		ok = r.scope(rules, c)
	case seenScp:
		start := s.Pos()
		ok = s.Value(1)
		r.scp = s.Bytes()[start:s.Pos()]
	case seenCnf:
		ok = r.confirmation(c)
	case seenTid:
		r.tid, ok = r.str()
	case seenNonce, seenAtHash, seenCHash:
		ok = s.Value(1) // only their presence matters
	case seenACR:
		c.acr, ok = r.str()
	case seenAMR:
		ok = r.strings(&c.amr)
	case seenAuthTime:
		c.authTime, ok = r.numericDate()
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
func (r *claimReader) confirmation(c *Claims) bool {
	s := &r.s
	if !s.Consume('{') {
		return false
	}
	s.SkipWS()
	if s.Consume('}') {
		c.cnf.Unknown = true
		return true
	}
	var seen [2]bool
	for {
		start, end, plain, ok := s.Str()
		if !ok {
			return false
		}
		name := string(s.Bytes()[start:end]) // a short name; compared, not kept
		if !plain {
			name = jsonscan.Unquote(s.Bytes()[start-1 : end+1])
		}
		s.SkipWS()
		if !s.Consume(':') {
			return false
		}
		s.SkipWS()
		var dst *string
		switch name {
		case "x5t#S256":
			dst = &c.cnf.X5TS256
		case "jkt":
			dst = &c.cnf.JKT
		}
		if dst != nil {
			i := 0
			if dst == &c.cnf.JKT {
				i = 1
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
		} else {
			if !s.Value(2) {
				return false
			}
			c.cnf.Unknown = true
		}
		s.SkipWS()
		if !s.Consume(',') {
			return s.Consume('}')
		}
		s.SkipWS()
	}
}

// numericDate reads an RFC 7519 §2 NumericDate.
func (r *claimReader) numericDate() (time.Time, bool) {
	start := r.s.Pos()
	if r.s.Peek() == '-' || !r.s.Num() {
		return time.Time{}, false
	}
	return parseNumericDate(r.s.Bytes()[start:r.s.Pos()])
}

// scope reads the scope claim: a space-delimited string (RFC 9068 §2.2.3,
// RFC 7662 §2.2) or, as some servers issue it, an array of strings.
func (r *claimReader) scope(rules *claimRules, c *Claims) bool {
	s := &r.s
	start := s.Pos()
	if s.Peek() == '"' {
		// Fast path for the RFC 9068 form, a plain string.
		if vs, ve, plain, ok := s.Str(); ok && plain {
			parse := rules.parseScope
			if parse == nil {
				parse = scopeset.Parse
			}
			set, err := parse(r.view(vs, ve))
			c.scopes = set
			return err == nil
		}
		s.Reset(start)
	}
	if !s.Value(1) {
		return false
	}
	if err := c.scopes.UnmarshalJSON(s.Bytes()[start:s.Pos()]); err != nil {
		return false
	}
	r.extra += int64(s.Pos()-start) + 16*int64(c.scopes.Len())
	return true
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

// array reads a JSON array whose elements each reads; each must consume
// exactly one element.
func (r *claimReader) array(each func() bool) bool {
	s := &r.s
	if !s.Consume('[') {
		return false
	}
	s.SkipWS()
	if s.Consume(']') {
		return true
	}
	for {
		if !each() {
			return false
		}
		s.SkipWS()
		if !s.Consume(',') {
			return s.Consume(']')
		}
		s.SkipWS()
	}
}

// audience reads aud: a string or an array of strings (RFC 7519 §4.1.3).
func (r *claimReader) audience(rules *claimRules, c *Claims) bool {
	s := &r.s
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
	if s.Peek() == '"' {
		return one()
	}
	return r.array(one)
}

// parseNumericDate converts a JSON number (RFC 7519 §2 NumericDate: seconds
// since the epoch, possibly fractional) to a time in UTC. Negative values
// and values past the year 9999 are refused.
func parseNumericDate(b []byte) (time.Time, bool) {
	if len(b) == 0 || b[0] == '-' {
		return time.Time{}, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return parseFractionalDate(b)
		}
		n = n*10 + int64(c-'0')
		if n > maxNumericDate {
			return time.Time{}, false
		}
	}
	return time.Unix(n, 0).UTC(), true
}

// parseFractionalDate is parseNumericDate's slow path, for 1.5 and 1e9.
func parseFractionalDate(b []byte) (time.Time, bool) {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return time.Time{}, false
	}
	sec := math.Floor(f)
	nsec := math.Round((f - sec) * 1e9)
	return time.Unix(int64(sec), int64(nsec)).UTC(), true
}

// checkTimes is the one time rule of this package, applied by every
// verifier on every call, cached or not: the token has expired from exp
// plus leeway on (RFC 7519 §4.1.4), is not valid before nbf minus leeway
// (§4.1.5), and must not be issued, nor its user authenticated (auth_time),
// after now plus leeway. Absent claims are not checked; whether exp is
// required is the caller's rule.
func checkTimes(now time.Time, c *Claims) error {
	if !c.expiry.IsZero() && !now.Before(c.expiry.Add(c.leeway)) {
		return &TokenError{Reason: ErrExpired, Claim: "exp"}
	}
	if !c.notBefore.IsZero() && c.notBefore.After(now.Add(c.leeway)) {
		return &TokenError{Reason: ErrNotYetValid, Claim: "nbf"}
	}
	if !c.issuedAt.IsZero() && c.issuedAt.After(now.Add(c.leeway)) {
		return &TokenError{Reason: ErrIssuedInFuture, Claim: "iat"}
	}
	// RFC 9470 §4: auth_time is when the user authenticated. One in the
	// future is no honest value and would meet every max_age for as long
	// as the token lives.
	if !c.authTime.IsZero() && c.authTime.After(now.Add(c.leeway)) {
		return &TokenError{Reason: ErrIssuedInFuture, Claim: "auth_time"}
	}
	return nil
}
