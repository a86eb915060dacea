package verify

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oauthgate/oauthgate/internal/tokencache"
)

// A Secret is a credential such as an OAuth client secret. Its String,
// GoString, Format, MarshalJSON and LogValue methods all print "[REDACTED]",
// so printing or logging a config never leaks it; string(s) gives the value.
type Secret string

const redactedSecret = "[REDACTED]"

// String returns "[REDACTED]".
func (Secret) String() string { return redactedSecret }

// GoString returns "[REDACTED]", for the %#v verb.
func (Secret) GoString() string { return redactedSecret }

// Format writes "[REDACTED]" whatever the verb and flags.
func (Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redactedSecret) }

// MarshalJSON returns the JSON string "[REDACTED]".
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redactedSecret + `"`), nil }

// LogValue returns "[REDACTED]" for log/slog.
func (Secret) LogValue() slog.Value { return slog.StringValue(redactedSecret) }

// An AuthMethod is how an [Introspection] authenticates to the introspection
// endpoint (RFC 7662 §2.1), named as in the OAuth token endpoint
// authentication method registry (RFC 7591 §2).
type AuthMethod int

const (
	// ClientSecretBasic sends the client ID and secret in an HTTP Basic
	// Authorization header, each form-urlencoded first (RFC 6749 §2.3.1).
	// It is the default.
	ClientSecretBasic AuthMethod = iota
	// ClientSecretPost sends client_id and client_secret in the request body
	// (RFC 6749 §2.3.1).
	ClientSecretPost
)

// String returns the registered name: "client_secret_basic" or
// "client_secret_post".
func (m AuthMethod) String() string {
	switch m {
	case ClientSecretBasic:
		return "client_secret_basic"
	case ClientSecretPost:
		return "client_secret_post"
	}
	return "AuthMethod(" + strconv.Itoa(int(m)) + ")"
}

// Defaults and limits of [IntrospectionConfig].
const (
	defaultIntrospectTimeout     = 5 * time.Second
	defaultIntrospectMaxResponse = 64 << 10
	defaultIntrospectCacheTTL    = 5 * time.Second
	defaultIntrospectNegativeTTL = 1 * time.Second
	defaultIntrospectCacheSize   = 10_000
	maxIntrospectCacheTTL        = time.Hour
	defaultIntrospectLeeway      = 30 * time.Second
	maxIntrospectLeeway          = 5 * time.Minute
	// maxIntrospectToken caps the tokens sent to the endpoint: bigger ones
	// are rejected as [ErrTooLarge] without a request. Even JWTs with long
	// group lists stay well below it.
	maxIntrospectToken = 16 << 10
)

// IntrospectionConfig configures an [Introspection]. It is validated as a
// whole by [NewIntrospection] and must not be modified afterwards.
type IntrospectionConfig struct {
	// Endpoint is the introspection endpoint URL. Required. It must be
	// https, unless InsecureAllowHTTP is set and the host is a loopback
	// address or "localhost". It must not carry user information; use
	// ClientID and ClientSecret. [Discover] finds it in the authorization
	// server's metadata as [Metadata].IntrospectionEndpoint.
	Endpoint string
	// ClientID identifies this resource server to the authorization server.
	// Required.
	ClientID string
	// ClientSecret authenticates ClientID. Required.
	ClientSecret Secret
	// AuthMethod says how the credentials are sent. The zero value is
	// [ClientSecretBasic].
	AuthMethod AuthMethod

	// Issuer, if set, must equal the iss member of every response that
	// carries one. Responses without iss are accepted: the endpoint is
	// trusted to speak for its own issuer.
	Issuer string
	// Audiences are the identifiers of this resource server. Required: if a
	// response carries aud (a string or an array), it must contain at least
	// one of them, else the token is rejected with [ErrAudience]; an empty
	// aud array matches nothing. A response without aud is accepted, since
	// RFC 7662 makes aud optional and the authorization server, which
	// authenticated this client, decides what the client may see as active.
	Audiences []string

	// Authorities lists the response members whose values form
	// [Claims.Scopes], with the rules and precedence of
	// [JWTConfig].Authorities. If empty, it is scope or, when scope is
	// absent, scp.
	Authorities []ClaimPath
	// MergeAuthorities makes the set the union of every present member in
	// Authorities instead of the first. It requires Authorities.
	MergeAuthorities bool

	// HTTPClient sends the requests. If nil, a client with a transport of
	// its own is used. Redirects are never followed, whatever the client's
	// CheckRedirect: a redirect could carry the credentials and the token
	// to another host. The client is copied, not modified. The response
	// must be application/json (RFC 7662 §2.2).
	HTTPClient *http.Client
	// Timeout bounds one introspection request. If zero, 5s is used.
	Timeout time.Duration
	// MaxResponseSize caps the response body in bytes; a bigger body makes
	// the token unverifiable ([ErrUnavailable]). If zero, 64 KiB is used.
	MaxResponseSize int64

	// CacheTTL is how long an active result is reused without asking the
	// endpoint again, never beyond the token's exp. A longer TTL saves
	// requests but delays noticing a revoked token. If zero, 5s is used; a
	// negative value disables caching of active results. At most 1h.
	CacheTTL time.Duration
	// NegativeCacheTTL is how long a rejected token (inactive, wrong
	// audience, ...) is remembered, which protects the endpoint from clients
	// that retry a bad token. If zero, 1s is used; a negative value disables
	// it. At most 1h. Failures to reach the endpoint are never cached.
	NegativeCacheTTL time.Duration
	// CacheSize bounds the number of cached results. If zero, 10 000 is used.
	CacheSize int

	// InsecureAllowHTTP permits an http Endpoint on a loopback host, for
	// tests and sidecars. Credentials and tokens then cross the wire in
	// clear text.
	InsecureAllowHTTP bool

	// Leeway is the clock skew between this server and the authorization
	// server tolerated when re-checking exp and nbf, as for [JWTConfig]. If
	// zero, 30s is used; negative or over 5m is an error. It never extends
	// how long a result is cached: that ends at exp.
	Leeway time.Duration

	// Now returns the current time, for exp and nbf checks and cache expiry.
	// If nil, time.Now is used.
	Now func() time.Time
}

// Introspection is a [Verifier] for opaque access tokens: it asks the
// authorization server's RFC 7662 introspection endpoint about each token.
//
// Results are cached, keyed by a SHA-256 digest of the token (never the token
// itself): active ones for CacheTTL but never beyond exp, rejected ones for
// NegativeCacheTTL, both re-checked against exp and nbf on every hit.
// Concurrent calls for one token share one request. Failures to reach the
// endpoint, non-200 answers (a 401 means this client's credentials are
// wrong, not the token), and malformed or oversized responses yield an
// [*UnavailableError] and are not cached.
//
// An Introspection is safe for concurrent use. It starts no background
// goroutine that outlives a request's Timeout, so it needs no Close.
type Introspection struct {
	endpoint string
	client   *http.Client
	policy   fetchPolicy
	creds    *clientCredentials // a pointer: fmt and slog print its address only
	rules    claimRules
	ttl      time.Duration
	negTTL   time.Duration
	leeway   time.Duration
	now      func() time.Time
	cache    *tokencache.Cache[introspected]
}

// clientCredentials authenticate an [Introspection] to its endpoint. They
// are kept as configured and encoded per request, so that no value derived
// from the secret (a Basic header, a form) sits in a printable field: fmt
// prints unexported fields without calling their String methods.
type clientCredentials struct {
	id     string
	secret Secret
	method AuthMethod
}

// apply adds the credentials to an introspection request: to form for
// ClientSecretPost, or as the returned function, which sets the
// Authorization header, for ClientSecretBasic.
func (c *clientCredentials) apply(form url.Values) func(*http.Request) {
	if c.method == ClientSecretPost {
		form.Set("client_id", c.id)
		form.Set("client_secret", string(c.secret))
		return nil
	}
	return func(r *http.Request) {
		// RFC 6749 §2.3.1: with HTTP Basic, the id and secret are each
		// encoded with application/x-www-form-urlencoded first, so a ':'
		// in the id is unambiguous.
		r.SetBasicAuth(url.QueryEscape(c.id), url.QueryEscape(string(c.secret)))
	}
}

// introspected is a cached introspection result: claims of an accepted
// token, or the *TokenError that rejected it.
type introspected struct {
	claims *Claims
	err    error
}

// NewIntrospection returns an [Introspection] for cfg, or an error naming the
// first invalid field.
func NewIntrospection(cfg IntrospectionConfig) (*Introspection, error) {
	if err := validateIntrospectEndpoint(cfg.Endpoint, cfg.InsecureAllowHTTP); err != nil {
		return nil, err
	}
	switch {
	case cfg.ClientID == "":
		return nil, errors.New("verify: IntrospectionConfig.ClientID is empty; the endpoint requires client authentication (RFC 7662 §2.1)")
	case cfg.ClientSecret == "":
		return nil, errors.New("verify: IntrospectionConfig.ClientSecret is empty; the endpoint requires client authentication (RFC 7662 §2.1)")
	case cfg.AuthMethod != ClientSecretBasic && cfg.AuthMethod != ClientSecretPost:
		return nil, fmt.Errorf("verify: IntrospectionConfig.AuthMethod %v is unknown; use ClientSecretBasic or ClientSecretPost", cfg.AuthMethod)
	case len(cfg.Audiences) == 0:
		return nil, errors.New("verify: IntrospectionConfig.Audiences is empty; a resource server must check aud")
	case slices.Contains(cfg.Audiences, ""):
		return nil, errors.New("verify: IntrospectionConfig.Audiences holds an empty string")
	case cfg.Timeout < 0:
		return nil, errors.New("verify: IntrospectionConfig.Timeout is negative; use 0 for the 5s default")
	case cfg.MaxResponseSize < 0:
		return nil, errors.New("verify: IntrospectionConfig.MaxResponseSize is negative; use 0 for the 64 KiB default")
	case cfg.CacheTTL > maxIntrospectCacheTTL:
		return nil, errors.New("verify: IntrospectionConfig.CacheTTL is over 1h; revoked tokens would stay usable that long")
	case cfg.NegativeCacheTTL > maxIntrospectCacheTTL:
		return nil, errors.New("verify: IntrospectionConfig.NegativeCacheTTL is over 1h")
	case cfg.Leeway < 0 || cfg.Leeway > maxIntrospectLeeway:
		return nil, errors.New("verify: IntrospectionConfig.Leeway must be between 0 (meaning 30s) and 5m")
	case cfg.CacheSize < 0:
		return nil, errors.New("verify: IntrospectionConfig.CacheSize is negative; use 0 for the default of 10000")
	}

	auth, err := compileAuthorities("IntrospectionConfig", cfg.Authorities, cfg.MergeAuthorities)
	if err != nil {
		return nil, err
	}
	i := &Introspection{
		endpoint: cfg.Endpoint,
		policy: fetchPolicy{
			timeout:     cmp.Or(cfg.Timeout, defaultIntrospectTimeout),
			maxSize:     cmp.Or(cfg.MaxResponseSize, defaultIntrospectMaxResponse),
			allowHTTP:   cfg.InsecureAllowHTTP,
			noRedirects: true,
		},
		creds: &clientCredentials{id: cfg.ClientID, secret: cfg.ClientSecret, method: cfg.AuthMethod},
		rules: claimRules{issuer: cfg.Issuer, audiences: slices.Clone(cfg.Audiences),
			introspection: true, auth: auth},
		ttl:    cmp.Or(cfg.CacheTTL, defaultIntrospectCacheTTL),
		negTTL: cmp.Or(cfg.NegativeCacheTTL, defaultIntrospectNegativeTTL),
		leeway: cmp.Or(cfg.Leeway, defaultIntrospectLeeway),
		now:    cfg.Now,
	}
	if i.now == nil {
		i.now = time.Now
	}
	i.client = i.policy.client(cfg.HTTPClient)
	i.cache = tokencache.New[introspected](tokencache.Config{Size: cmp.Or(cfg.CacheSize, defaultIntrospectCacheSize), Now: i.now})
	return i, nil
}

func validateIntrospectEndpoint(endpoint string, allowHTTP bool) error {
	if endpoint == "" {
		return errors.New("verify: IntrospectionConfig.Endpoint is empty")
	}
	if err := checkURL(endpoint, allowHTTP); err != nil {
		return fmt.Errorf("verify: IntrospectionConfig.Endpoint: %w", err)
	}
	u, _ := url.Parse(endpoint) // checked by checkURL
	if u.Fragment != "" {
		return errors.New("verify: IntrospectionConfig.Endpoint has a fragment")
	}
	return nil
}

// Verify introspects token, or answers from the cache, and returns its
// claims. See [Verifier] for the error contract and [Introspection] for
// what is cached.
func (i *Introspection) Verify(ctx context.Context, token string) (*Claims, error) {
	switch {
	case token == "":
		return nil, &TokenError{Reason: ErrMalformed}
	case len(token) > maxIntrospectToken:
		return nil, &TokenError{Reason: ErrTooLarge}
	}
	key := tokencache.DigestKey(token)
	r, ok := i.cache.Get(key)
	if !ok {
		var err error
		r, err = i.cache.Do(ctx, key, func(ctx context.Context) (introspected, time.Duration, error) {
			return i.introspect(ctx, token)
		})
		if err != nil {
			if !errors.Is(err, ErrUnavailable) {
				// The caller's own context ended while it waited.
				err = &UnavailableError{Op: "introspect", Err: err}
			}
			return nil, err
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	// The cache keeps an entry no longer than exp, but check every hit
	// anyway: the claims are what the caller relies on.
	if err := checkTimes(i.now(), r.claims); err != nil {
		return nil, err
	}
	return r.claims, nil
}

// introspect asks the endpoint about token. It returns the result to cache
// and for how long, or an *UnavailableError, which is never cached.
func (i *Introspection) introspect(ctx context.Context, token string) (introspected, time.Duration, error) {
	// RFC 7662 §2.1.
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	body, _, err := fetch(ctx, i.client, i.policy, fetchRequest{
		method: http.MethodPost, url: i.endpoint, form: form, auth: i.creds.apply(form), strictJSON: true,
	})
	if se, ok := errors.AsType[*statusError](err); ok && (se.code == http.StatusUnauthorized || se.code == http.StatusForbidden) {
		// The endpoint rejects this client, not the token.
		err = fmt.Errorf("%w; check the client credentials and AuthMethod", err)
	}
	if err != nil {
		return introspected{}, 0, introspectUnavailable(err)
	}

	now := i.now()
	claims, err := i.parse(body, now)
	if err != nil {
		if !errors.Is(err, ErrInvalidToken) {
			return introspected{}, 0, introspectUnavailable(err)
		}
		return introspected{err: err}, i.negTTL, nil
	}
	ttl := i.ttl
	if !claims.expiry.IsZero() {
		ttl = min(ttl, claims.expiry.Sub(now))
	}
	return introspected{claims: claims}, ttl, nil
}

func introspectUnavailable(err error) error { return &UnavailableError{Op: "introspect", Err: err} }

// parse turns an introspection response into claims, read by the one
// claim reader. It returns a *TokenError for a token the response rejects,
// and a plain error when the response itself is broken.
func (i *Introspection) parse(body []byte, now time.Time) (*Claims, error) {
	blk := &claimsBlock{}
	c := &blk.c
	c.raw, c.leeway = body, i.leeway
	r := claimReader{aud: &blk.aud}
	if err := r.read(&i.rules, body, c); err != nil {
		te, _ := errors.AsType[*TokenError](err)
		if te != nil && te.Claim != "" && te.Claim != "active" {
			return nil, errors.New("response member " + te.Claim + " has the wrong type")
		}
		return nil, errors.New("response is not a JSON object with a boolean active member")
	}
	// RFC 7662 §2.2: active is REQUIRED and a boolean. Without it the
	// server is broken and the token's state unknown.
	switch {
	case !r.has(seenActive):
		return nil, errors.New("response lacks a boolean active member")
	case !r.active:
		return nil, &TokenError{Reason: ErrInactive, Claim: "active"}
	}
	// token_type is that of RFC 6749 §7.1 ("Bearer", or "DPoP" for a
	// DPoP-bound token, RFC 9449 §6.2); some servers put the kind of token
	// there instead, or in token_use (ory Hydra). Anything that is not an
	// access token is refused: a refresh token must not pass as an access
	// token. A DPoP token needs a proof (CheckBinding).
	switch t := r.tokenType; {
	case strings.EqualFold(t, "dpop"):
		c.cnf.DPoP = true
	case t != "" && !strings.EqualFold(t, "bearer") && t != "access_token" &&
		t != "urn:ietf:params:oauth:token-type:access_token":
		return nil, &TokenError{Reason: ErrType, Claim: "token_type"}
	}
	if r.tokenUse != "" && r.tokenUse != "access_token" {
		return nil, &TokenError{Reason: ErrType, Claim: "token_use"}
	}
	if i.rules.issuer != "" && r.has(seenIss) && !r.issuerOK {
		return nil, &TokenError{Reason: ErrIssuer, Claim: "iss"}
	}
	if r.has(seenAud) && !r.audienceOK {
		return nil, &TokenError{Reason: ErrAudience, Claim: "aud"}
	}
	if err := checkTimes(now, c); err != nil {
		return nil, err
	}
	return c, nil
}
