package verify

import (
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"go.opentelemetry.io/otel/metric"

	"github.com/oauthgate/oauthgate/internal/josekeys"
)

const (
	// defaultLeeway is the clock skew tolerated when JWTConfig.Leeway is 0.
	defaultLeeway = 30 * time.Second
	// maxLeeway bounds JWTConfig.Leeway: more would keep expired tokens
	// alive for longer than most access tokens live.
	maxLeeway = 5 * time.Minute
	// defaultMaxTokenSize is the size cap when JWTConfig.MaxTokenSize is 0.
	defaultMaxTokenSize = 8 << 10
)

// JWTConfig configures a [JWT] verifier. Issuer and Audiences are required
// (Audiences may be replaced by the explicit ClientIDAudience); every other
// field has a secure default. A JWTConfig must not be modified
// after it is passed to [NewJWT] (NewJWT copies what it needs, so later
// changes have no effect).
type JWTConfig struct {
	// Issuer is the exact iss value the authorization server puts in its
	// access tokens (RFC 9068 §4). It is compared byte for byte: a trailing
	// slash matters. Required. With Tenants or AnyTenant it is a template
	// holding "{tenant}" once, in the URL path.
	Issuer string
	// Audiences are the aud values that identify this resource server; a
	// token's aud must contain at least one of them (RFC 9068 §4).
	// Required, unless ClientIDAudience is set; no element may be empty.
	Audiences []string
	// Algorithms is the allowlist of JWS algorithms. If empty, RS256, RS384,
	// RS512, PS256, PS384, PS512, ES256, ES384, ES512 and EdDSA are
	// accepted. HMAC (HS256, HS384, HS512), "none" and unknown algorithms are
	// rejected by NewJWT.
	Algorithms []jose.SignatureAlgorithm
	// AcceptUntyped also accepts tokens whose typ header is "JWT" (any
	// case, with or without "application/") or absent. By default only
	// "at+jwt" and "application/at+jwt" (case-insensitive) are accepted, so
	// that an ID token or another JWT from the same issuer cannot be
	// replayed as an access token (RFC 9068 §2.1, §4; RFC 8725 §3.11).
	// Enable it only for issuers that do not implement RFC 9068. It is
	// shorthand for Types {"at+jwt", "JWT", ""}; setting both is an error.
	AcceptUntyped bool
	// Types is the allowlist of typ header values accepted, for issuers
	// that do not implement RFC 9068 (see "Tokens from identity providers"
	// in docs/verifying.md). Values compare as media types: case-insensitively,
	// with or without "application/". The empty string accepts a token
	// without typ. If Types is empty, only "at+jwt" is accepted (or what
	// AcceptUntyped says). A type other than at+jwt also makes the verifier
	// refuse tokens carrying the claims only OpenID Connect ID tokens carry
	// (nonce, at_hash, c_hash), since such types do not tell ID tokens from
	// access tokens; see InsecureAcceptIDTokens.
	Types []string
	// InsecureAcceptIDTokens accepts OpenID Connect ID tokens as access
	// tokens: the ID-token claims above are no longer refused, nor is
	// token_use "id" (Amazon Cognito's ID tokens), which is refused
	// otherwise whatever Types and Audiences say; and the Google issuers (https://accounts.google.com, accounts.google.com),
	// which sign only ID tokens, are allowed. An ID token says who a user
	// or service account is to the client it was issued to; it grants
	// nothing, and with Google any service account can obtain one for any
	// aud. Use it only for service-to-service calls where aud is this
	// service's own URL and the proto rules name the callers (Authorities
	// {{"email"}}). It requires a Types entry other than at+jwt.
	InsecureAcceptIDTokens bool

	// Authorities lists the claims whose values form [Claims.Scopes], the
	// set the proto rules are checked against. If empty, it is the scope
	// claim or, when scope is absent, scp. Each listed claim is a top-level
	// claim or a path into nested objects ({"realm_access", "roles"});
	// scope and scp hold a space-delimited string or an array, every other
	// claim an array of strings or one string, which is never split. Each
	// value must be an RFC 6749 scope token. A present claim of another
	// type, a repeated member on a listed path, or a value that is not a
	// scope token makes the token malformed, whether or not the claim is
	// used. The first listed claim that is present (not null) gives the set;
	// with MergeAuthorities the set is the union of all present ones. A path
	// may not start at a registered claim other than scope and scp. At most
	// 16 paths.
	Authorities []ClaimPath
	// MergeAuthorities makes the set the union of every present claim in
	// Authorities instead of the first. It requires Authorities.
	MergeAuthorities bool

	// ClientIDAudience, if set, is the named alternative to aud for
	// providers whose access tokens carry none and name the recipient by
	// client_id (Amazon Cognito). See [ClientIDAudience]. A token that
	// carries aud is still checked against Audiences, which may then be
	// empty: a token with aud is then always refused.
	ClientIDAudience *ClientIDAudience

	// Tenants makes Issuer a template for a multi-tenant provider: an
	// Issuer holding "{tenant}" in its path, such as
	// "https://login.microsoftonline.com/{tenant}/v2.0", accepts the iss of
	// each listed tenant, and the token's tid claim must equal the tenant in
	// its iss. Keys come from the one KeySet, shared by all tenants. A
	// template requires Tenants or AnyTenant; an exact Issuer allows
	// neither.
	Tenants []string
	// AnyTenant accepts every tenant of an Issuer template (still with tid
	// equal to the tenant in iss): any organisation with an account at the
	// provider can then obtain tokens this verifier accepts, with the roles
	// and scopes its own administrator grants, so check [Claims.Tenant]
	// against the tenants you serve (in an interceptor Authorizer, say)
	// before trusting them. It excludes Tenants.
	AnyTenant bool
	// Leeway is the clock skew tolerated when checking exp, nbf and iat.
	// If Leeway is 0, 30 seconds is used (a leeway of exactly zero cannot be
	// expressed; 1ns is the closest). A negative leeway or one over 5
	// minutes is rejected by NewJWT.
	Leeway time.Duration
	// MaxTokenSize is the largest token, in bytes, that is parsed at all;
	// larger tokens are rejected with [ErrTooLarge] before any decoding. If
	// MaxTokenSize is 0, 8 KiB is used. Negative values are rejected by
	// NewJWT.
	MaxTokenSize int
	// Now returns the current time. If Now is nil, time.Now is used.
	Now func() time.Time
	// Revocations, if set, are consulted on every verification, cache hits
	// included, for events that ended or changed the token's subject after
	// it was issued (see [Revocation] for what each does); package ssf
	// keeps them from an identity provider's Shared Signals events. With
	// them the verifier also reads the sid and email claims, which a
	// duplicate then makes malformed. If nil, there is no such check.
	Revocations Revocations

	// DisableCache turns the verified-token cache off, so that every call
	// checks a signature. By default a token string that verified is
	// remembered: presented again, byte for byte, it skips the signature
	// check, but its exp, nbf and iat are checked again on every call and its
	// signing key must still be in the key set (same kid, same key). Only
	// successful verifications are cached.
	DisableCache bool
	// CacheSize bounds the number of cached tokens. If CacheSize is 0,
	// 10 000 is used. Negative values are rejected by NewJWT.
	CacheSize int
	// CacheMaxBytes bounds the memory the cache holds, counting each
	// entry's token, payload and a fixed overhead of 1024 bytes. If
	// CacheMaxBytes is 0, 16 MiB is used. The bound is split over up to 16
	// shards; a token too large for its shard's part is not cached.
	// Negative values are rejected by NewJWT.
	CacheMaxBytes int64
	// CacheMaxTTL is the longest a token stays cached; an entry also ends at
	// the token's exp. If CacheMaxTTL is 0, 5 minutes is used. Negative
	// values are rejected by NewJWT.
	CacheMaxTTL time.Duration
	// MeterProvider receives the verifier's OpenTelemetry metrics (see
	// docs/observability.md): the verification duration
	// (oauthgate.verification.duration with oauthgate.verifier "jwt") and,
	// only when it is set, the verified-token cache's (oauthgate.cache.*
	// with oauthgate.cache "jwt"), which stay registered for the life of
	// the provider. If nil, the duration goes to the global provider
	// (otel.GetMeterProvider) and no cache metrics are recorded.
	MeterProvider metric.MeterProvider
}

// A ClientIDAudience identifies this resource server by the client_id
// claim of tokens that carry no aud, as Amazon Cognito's access tokens do
// (their client_id is the app client). It is set in
// [JWTConfig].ClientIDAudience; aud is never just skipped.
type ClientIDAudience struct {
	// ClientIDs are the accepted client_id values of a token without aud.
	// Required; no element may be empty.
	ClientIDs []string
	// TokenUse is the value every token's token_use claim must have, with
	// or without aud: "access" for Cognito, whose ID tokens say "id" and
	// carry the client as aud. Required; "id" requires
	// InsecureAcceptIDTokens.
	TokenUse string
}

// NewJWT returns a verifier for JWT access tokens signed with keys from
// keys. It validates cfg as a whole and returns an error naming the field
// at fault; see [JWTConfig] for the requirements and defaults.
func NewJWT(keys KeySet, cfg JWTConfig) (*JWT, error) {
	if keys == nil {
		return nil, errors.New("verify: NewJWT needs a KeySet; use NewStaticKeySet or a remote JWKS key set")
	}
	if s, ok := keys.(*StaticKeySet); ok && s == nil {
		return nil, errors.New("verify: NewJWT was given a nil *StaticKeySet")
	}
	if cfg.Issuer == "" {
		return nil, errors.New("verify: JWTConfig.Issuer is empty; set it to the exact iss value of your authorization server's access tokens")
	}
	if len(cfg.Audiences) == 0 && cfg.ClientIDAudience == nil {
		return nil, errors.New("verify: JWTConfig.Audiences is empty; a resource server must check aud (RFC 9068 §4), or name its client in JWTConfig.ClientIDAudience when the provider issues no aud")
	}
	for i, aud := range cfg.Audiences {
		if aud == "" {
			return nil, fmt.Errorf("verify: JWTConfig.Audiences[%d] is empty; list the identifiers of this API", i)
		}
	}
	algs, err := josekeys.Allowlist(cfg.Algorithms)
	if err != nil {
		return nil, fmt.Errorf("verify: JWTConfig.Algorithms %w", err)
	}
	leeway := cfg.Leeway
	switch {
	case leeway < 0:
		return nil, fmt.Errorf("verify: JWTConfig.Leeway is negative (%v); use 0 for the 30s default", leeway)
	case leeway > maxLeeway:
		return nil, fmt.Errorf("verify: JWTConfig.Leeway %v is over the %v limit", leeway, maxLeeway)
	case leeway == 0:
		leeway = defaultLeeway
	}
	size := cfg.MaxTokenSize
	switch {
	case size < 0:
		return nil, fmt.Errorf("verify: JWTConfig.MaxTokenSize is negative (%d); use 0 for the 8 KiB default", size)
	case size == 0:
		size = defaultMaxTokenSize
	}
	switch {
	case cfg.CacheSize < 0:
		return nil, fmt.Errorf("verify: JWTConfig.CacheSize is negative (%d); use 0 for the default of 10000 or set DisableCache", cfg.CacheSize)
	case cfg.CacheMaxBytes < 0:
		return nil, fmt.Errorf("verify: JWTConfig.CacheMaxBytes is negative (%d); use 0 for the 16 MiB default or set DisableCache", cfg.CacheMaxBytes)
	case cfg.CacheMaxTTL < 0:
		return nil, fmt.Errorf("verify: JWTConfig.CacheMaxTTL is negative (%v); use 0 for the 5m default or set DisableCache", cfg.CacheMaxTTL)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	types, err := jwtTypes(&cfg)
	if err != nil {
		return nil, err
	}
	cidAud, err := checkClientIDAudience(cfg.ClientIDAudience, cfg.InsecureAcceptIDTokens)
	if err != nil {
		return nil, err
	}
	auth, err := compileAuthorities("JWTConfig", cfg.Authorities, cfg.MergeAuthorities)
	if err != nil {
		return nil, err
	}
	tenant, err := newTenantIssuer(&cfg)
	if err != nil {
		return nil, err
	}
	j := &JWT{
		keys:           keys,
		algorithms:     algs,
		types:          types,
		clientIDAud:    cidAud,
		acceptIDTokens: cfg.InsecureAcceptIDTokens,
		leeway:         leeway,
		maxTokenSize:   size,
		now:            now,
		cache:          newJWTCache(cfg, now),
		scopes:         scopeMemo{seed: maphash.MakeSeed()},
	}
	if j.cache != nil && cfg.MeterProvider != nil {
		if j.cache.metrics, err = newCacheMetrics(cfg.MeterProvider, "JWTConfig.MeterProvider", "jwt", j.cache.tokens); err != nil {
			return nil, err
		}
	}
	if j.timing, err = newVerifyTiming(cfg.MeterProvider, "JWTConfig.MeterProvider", "jwt"); err != nil {
		return nil, err
	}
	j.rules = claimRules{issuer: cfg.Issuer, audiences: slices.Clone(cfg.Audiences), parseScope: j.scopes.parse,
		auth: auth, tenant: tenant}
	if tenant != nil {
		j.rules.optional |= seenTid
	}
	if cfg.Revocations != nil {
		j.revocations = cfg.Revocations
		j.generation, _ = cfg.Revocations.(generational)
		j.rules.optional |= revocationBits
	}
	// token_use is always read: "id" marks an ID token (checkTokenKind).
	j.rules.optional |= seenTokenUse
	if !cfg.InsecureAcceptIDTokens && !slices.Equal(types, defaultTypes[:]) {
		j.rules.optional |= idTokenBits
	}
	return j, nil
}

// jwtTypes returns the typ allowlist cfg asks for, normalised: lower case,
// without "application/", the empty string for an absent typ.
func jwtTypes(cfg *JWTConfig) ([]string, error) {
	var types []string
	switch {
	case len(cfg.Types) > 0 && cfg.AcceptUntyped:
		return nil, errors.New("verify: JWTConfig.Types and JWTConfig.AcceptUntyped are both set; list the accepted typ values in Types only")
	case cfg.AcceptUntyped:
		types = []string{"at+jwt", "jwt", ""}
	case len(cfg.Types) == 0:
		types = slices.Clone(defaultTypes[:])
	}
	for i, t := range cfg.Types {
		const prefix = "application/"
		if len(t) > len(prefix) && strings.EqualFold(t[:len(prefix)], prefix) {
			t = t[len(prefix):]
		}
		for k := 0; k < len(t); k++ {
			if c := t[k]; c <= ' ' || c > '~' || c == ',' || c == ';' || c == '"' {
				return nil, fmt.Errorf("verify: JWTConfig.Types[%d] is not a media type; write it as in the typ header, e.g. \"at+jwt\" or \"JWT\"", i)
			}
		}
		if t = strings.ToLower(t); !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	onlyAT := slices.Equal(types, defaultTypes[:])
	switch {
	case cfg.InsecureAcceptIDTokens && onlyAT:
		return nil, errors.New("verify: JWTConfig.InsecureAcceptIDTokens is set but JWTConfig.Types accepts only at+jwt, which ID tokens never carry; add the ID tokens' typ (\"JWT\") to Types")
	case !cfg.InsecureAcceptIDTokens && slices.Contains(googleIssuers[:], cfg.Issuer):
		return nil, errors.New("verify: JWTConfig.Issuer is Google's, which signs only ID tokens; set JWTConfig.InsecureAcceptIDTokens to accept them, after reading its documentation")
	}
	return types, nil
}

// checkClientIDAudience validates JWTConfig.ClientIDAudience and returns a
// copy, or nil. idTokens is JWTConfig.InsecureAcceptIDTokens.
func checkClientIDAudience(a *ClientIDAudience, idTokens bool) (*ClientIDAudience, error) {
	if a == nil {
		return nil, nil
	}
	switch {
	case len(a.ClientIDs) == 0:
		return nil, errors.New("verify: JWTConfig.ClientIDAudience.ClientIDs is empty; list the app clients whose tokens this API accepts")
	case slices.Contains(a.ClientIDs, ""):
		return nil, errors.New("verify: JWTConfig.ClientIDAudience.ClientIDs holds an empty string")
	case a.TokenUse == "":
		return nil, errors.New("verify: JWTConfig.ClientIDAudience.TokenUse is empty; set the token_use of access tokens (\"access\" for Amazon Cognito)")
	case a.TokenUse == idTokenUse && !idTokens:
		return nil, errors.New("verify: JWTConfig.ClientIDAudience.TokenUse is \"id\", which marks ID tokens; set it to the token_use of access tokens (\"access\" for Amazon Cognito)")
	}
	return &ClientIDAudience{ClientIDs: slices.Clone(a.ClientIDs), TokenUse: a.TokenUse}, nil
}

// defaultTypes is static data: the typ values accepted by default.
var defaultTypes = [...]string{"at+jwt"}

// idTokenUse is the token_use value of Amazon Cognito's ID tokens, refused
// unless JWTConfig.InsecureAcceptIDTokens is set.
const idTokenUse = "id"

// googleIssuers is static data: issuers that sign only OpenID Connect ID
// tokens, accepted only with JWTConfig.InsecureAcceptIDTokens.
var googleIssuers = [...]string{"https://accounts.google.com", "accounts.google.com"}
