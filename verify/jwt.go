package verify

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/internal/jwsmemo"
	"github.com/oauthgate/oauthgate/internal/mediatype"
)

// A JWT verifies JWT access tokens (RFC 9068) signed by an issuer whose
// keys are in a [KeySet]. It implements [Verifier].
//
// A token is accepted only if it is a compact JWS with exactly one signature
// by an allowed algorithm and a key from the key set that fits that
// algorithm; its typ is in the Types allowlist (at+jwt by default); it
// carries no crit header and is not a nested JWT; its iss is the configured
// issuer (or, for an issuer template, that of a configured tenant, named
// again by tid); its aud holds a configured audience (or, only when aud is
// absent and ClientIDAudience is set, its client_id is a configured client);
// exp is present and, like nbf and iat, consistent with the clock. Keys
// named by the token itself (jwk, jku, x5u, x5c) are never used.
//
// # Identity providers
//
// Tokens from providers that bend RFC 9068 are accepted by naming each
// deviation in the [JWTConfig]: Types for their typ, Authorities for where
// their permissions are (Entra ID roles, Auth0 permissions, Keycloak
// realm_access.roles), ClientIDAudience for tokens without aud (Amazon
// Cognito), Tenants or AnyTenant for multi-tenant issuers (Entra ID), and
// InsecureAcceptIDTokens for ID tokens used as bearer tokens. docs/verifying.md's
// "Tokens from identity providers" has a tested recipe per provider.
//
// # Verified-token cache
//
// Unless JWTConfig.DisableCache is set, a JWT remembers the token strings it
// accepted, bounded in entries and bytes, each until the earlier of its exp
// and CacheMaxTTL. A later call with the identical string returns the same
// *Claims without checking the signature again, after checking the time
// claims against the clock and that the key that verified it is still in the
// key set under its kid; a key that left the set drops the entry and the
// token is verified afresh. Rejections are never cached. Entries are found
// by a seeded hash/maphash of the token and confirmed by comparing the
// whole token, so a hit never returns another token's claims; the cache
// therefore holds verified tokens in memory while they are cached.
//
// The registered claims iss, aud, exp, nbf, iat, sub, jti and client_id,
// the scope claim (or scp, when scope is absent) or the configured
// Authorities, token_use, and, when the configuration needs them, tid,
// nonce, at_hash and c_hash are read case-sensitively; a duplicate of any
// of them makes the token malformed. Other claims are available through
// [Claims.Decode].
//
// A JWT is safe for concurrent use.
type JWT struct {
	keys           KeySet
	rules          claimRules
	algorithms     []jose.SignatureAlgorithm
	types          []string // accepted typ values: lower case, no application/
	clientIDAud    *ClientIDAudience
	acceptIDTokens bool // JWTConfig.InsecureAcceptIDTokens
	leeway         time.Duration
	maxTokenSize   int
	now            func() time.Time
	cache          *jwtCache    // nil when disabled
	revocations    Revocations  // nil: no continuous access evaluation
	generation     generational // revocations, if it is one; else nil
	timing         *verifyTiming
	headers        jwsmemo.Memo[struct{}]
	scopes         scopeMemo
}

var _ Verifier = (*JWT)(nil)

// Issuer returns the issuer the verifier accepts, JWTConfig.Issuer: for a
// multi-tenant verifier, the template holding {tenant}.
func (j *JWT) Issuer() string { return j.rules.issuer }

// Verify checks token and returns its claims.
//
// Checks run cheapest first and no claim is read before the signature is
// verified: size, structure, header (alg, typ, crit, cty), key selection
// and signature, then claims. A bad token yields a [*TokenError] matching
// [ErrInvalidToken] and its reason. Errors from the key set that match
// [ErrUnavailable] (and any other error it returns, apart from a
// [*TokenError]) are returned unchanged. When the key set offers no key that
// fits the token's alg (by type, curve or the JWK's own alg), the reason is
// [ErrAlgorithm]; when fitting keys exist but none verifies the signature,
// it is [ErrSignature].
//
// With the cache on (see [JWT]), a token that verified before is answered
// from the cache after the checks that can change with time: its key is
// still in the key set and exp, nbf and iat still hold.
func (j *JWT) Verify(ctx context.Context, token string) (*Claims, error) {
	start, timed := j.timing.begin(ctx)
	c, hit, err := j.verifyCacheHit(ctx, token)
	j.timing.end(ctx, start, timed, hit, err)
	return c, err
}

// verifyCacheHit is Verify that also reports whether the answer came from
// the verified-token cache, for the verification duration.
func (j *JWT) verifyCacheHit(ctx context.Context, token string) (c *Claims, hit bool, err error) {
	if len(token) > j.maxTokenSize {
		return nil, false, &TokenError{Reason: ErrTooLarge}
	}
	if j.cache != nil {
		return j.verifyCached(ctx, token)
	}
	c, _, err = j.verify(ctx, token)
	if err == nil && j.revocations != nil {
		c, err = j.revoked(c)
	}
	return c, false, err
}

// revoked applies the Revocations to the claims of a token verified just
// now (see Revocation).
func (j *JWT) revoked(c *Claims) (*Claims, error) {
	r := j.revocations.Lookup(c)
	if r.IsZero() {
		return c, nil
	}
	switch r.verdict(c, time.Time{}, true, true) {
	case revocationRevoked:
		return nil, &TokenError{Reason: ErrRevoked, Claim: "iat"}
	case revocationStepUp:
		return c.withoutStepUp(), nil
	}
	return c, nil
}

// verify checks token without the cache and returns its claims and, for the
// cache, how it was verified.
func (j *JWT) verify(ctx context.Context, token string) (*Claims, jwtCached, error) {
	var none jwtCached
	if _, _, _, err := splitCompact(token); err != nil {
		return nil, none, err
	}
	head, err := j.header(token)
	if err != nil {
		return nil, none, err
	}
	h := head.Protected()
	alg := jose.SignatureAlgorithm(h.Algorithm)

	keys, err := j.keys.Keys(ctx, h.KeyID)
	if err != nil {
		return nil, none, err
	}
	if len(keys) == 0 {
		return nil, none, &TokenError{Reason: ErrUnknownKey, Claim: "kid"}
	}
	var payload []byte
	var key any
	fits := false
	for i := range keys {
		k := &keys[i]
		if !keyFits(k, alg) {
			continue
		}
		fits = true
		// RFC 8725 §3.1: the key, not the token, decides what verifies it;
		// h.JSONWebKey (an embedded jwk) is never used. go-jose checks the
		// signature over this token's own payload.
		if p, err := jwsmemo.Verify(head, token, k.Key); err == nil {
			payload, key = p, k.Key
			break
		}
	}
	switch {
	case !fits:
		return nil, none, &TokenError{Reason: ErrAlgorithm, Claim: "alg"}
	case payload == nil:
		return nil, none, &TokenError{Reason: ErrSignature}
	}

	// One allocation for the claims and a single audience; string claims
	// are substrings of the payload's copy in c.raw (see claimReader).
	blk := &claimsBlock{}
	c := &blk.c
	c.leeway = j.leeway
	r := claimReader{aud: &blk.aud}
	if err := r.read(&j.rules, payload, c); err != nil {
		return nil, none, err
	}
	if err := j.checkClaims(&r, c); err != nil {
		return nil, none, err
	}
	return c, jwtCached{claims: c, kid: h.KeyID, alg: alg, key: key, extra: r.extra}, nil
}

// checkClaims applies the claim rules of RFC 9068 §4 to claims read by r.
func (j *JWT) checkClaims(r *claimReader, c *Claims) error {
	switch {
	case !r.has(seenIss):
		return &TokenError{Reason: ErrMissingClaim, Claim: "iss"}
	case !r.issuerOK:
		return &TokenError{Reason: ErrIssuer, Claim: "iss"}
	}
	if j.rules.tenant != nil {
		if err := checkTenant(r); err != nil {
			return err
		}
		c.tenant = r.tenant
	}
	if !r.has(seenExp) {
		return &TokenError{Reason: ErrMissingClaim, Claim: "exp"}
	}
	if err := checkTimes(j.now(), c); err != nil {
		return err
	}
	if err := j.checkTokenKind(r); err != nil {
		return err
	}
	switch {
	case r.has(seenAud) && !r.audienceOK:
		return &TokenError{Reason: ErrAudience, Claim: "aud"}
	case r.has(seenAud):
		return nil
	case j.clientIDAud == nil:
		return &TokenError{Reason: ErrMissingClaim, Claim: "aud"}
	case c.clientID == "":
		return &TokenError{Reason: ErrMissingClaim, Claim: "client_id"}
	case !slices.Contains(j.clientIDAud.ClientIDs, c.clientID):
		return &TokenError{Reason: ErrAudience, Claim: "client_id"}
	}
	return nil
}

// checkTokenKind refuses what is not an access token by its claims: an
// ID token's own claims when the typ allowlist cannot tell, token_use "id"
// unless ID tokens are accepted, and a token_use other than
// ClientIDAudience.TokenUse.
func (j *JWT) checkTokenKind(r *claimReader) error {
	if marks := r.set & j.rules.optional & idTokenBits; marks != 0 {
		return &TokenError{Reason: ErrType, Claim: claimNameOf(marks & -marks)}
	}
	// Amazon Cognito marks its ID tokens with token_use "id" and gives them
	// the app client as aud: with that client in Audiences (instead of
	// ClientIDAudience) and an untyped Types, nothing else would tell one
	// from an access token. The mark is refused whatever the configuration.
	if r.tokenUse == idTokenUse && !j.acceptIDTokens {
		return &TokenError{Reason: ErrType, Claim: "token_use"}
	}
	if j.clientIDAud != nil {
		switch {
		case !r.has(seenTokenUse):
			return &TokenError{Reason: ErrMissingClaim, Claim: "token_use"}
		case r.tokenUse != j.clientIDAud.TokenUse:
			return &TokenError{Reason: ErrType, Claim: "token_use"}
		}
	}
	return nil
}

// header returns the parsed and checked protected header of token: from
// the memo (tokens of one issuer key share their header, whose parse is a
// sixth of a verification) or parsed by go-jose and checked now. Only a
// header that passed checkHeader is remembered.
func (j *JWT) header(token string) (*jwsmemo.Header[struct{}], error) {
	if h, ok := j.headers.Get(token); ok {
		return h, nil
	}
	jws, err := jose.ParseSignedCompact(token, j.algorithms)
	if err != nil {
		if _, ok := errors.AsType[*jose.ErrUnexpectedSignatureAlgorithm](err); ok {
			return nil, &TokenError{Reason: ErrAlgorithm, Claim: "alg"}
		}
		// go-jose's message may quote header values; it is dropped.
		return nil, &TokenError{Reason: ErrMalformed}
	}
	if len(jws.Signatures) != 1 {
		return nil, &TokenError{Reason: ErrUnsupported}
	}
	// A compact JWS has only a protected header, so every value here is
	// covered by the signature once it verifies.
	if err := j.checkHeader(&jws.Signatures[0].Protected); err != nil {
		return nil, err
	}
	return j.headers.Put(token, jws, struct{}{}), nil
}

// checkHeader applies the header rules that do not depend on the key.
func (j *JWT) checkHeader(h *jose.Header) error {
	var typ, cty any
	hasTyp, hasCty := false, false
	for name, v := range h.ExtraHeaders {
		switch name {
		case "crit":
			// RFC 7515 §4.1.11: a recipient must reject critical extensions
			// it does not understand, and this verifier understands none.
			return &TokenError{Reason: ErrUnsupported, Claim: "crit"}
		case "b64":
			// RFC 7797 §7: unencoded payloads are not for JWTs.
			return &TokenError{Reason: ErrUnsupported, Claim: "b64"}
		case jose.HeaderType:
			typ, hasTyp = v, true
		case jose.HeaderContentType:
			cty, hasCty = v, true
		}
	}
	if hasCty {
		// RFC 7519 §5.2: cty "JWT" marks a nested token, which would be
		// verified by a different key and is refused.
		s, ok := cty.(string)
		if !ok || mediaTypeIs(s, "jwt") {
			return &TokenError{Reason: ErrUnsupported, Claim: "cty"}
		}
	}
	if !hasTyp {
		if slices.Contains(j.types, "") {
			return nil
		}
		return &TokenError{Reason: ErrType, Claim: "typ"}
	}
	// RFC 9068 §2.1: at+jwt, unless Types says otherwise.
	if s, ok := typ.(string); ok && s != "" {
		for _, t := range j.types {
			if mediaTypeIs(s, t) {
				return nil
			}
		}
	}
	return &TokenError{Reason: ErrType, Claim: "typ"}
}

// mediaTypeIs reports whether the typ or cty value v names the media type
// application/want (package mediatype, shared with package ssf).
func mediaTypeIs(v, want string) bool { return mediatype.Is(v, want) }
