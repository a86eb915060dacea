package verify

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/oauthgate/oauthgate/internal/tokencache"
)

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
	// SharedCache, if set, is a second-level cache that the replicas of a
	// service share (package redisstore keeps it in Redis): on a miss of
	// its own cache, an Introspection looks there, and only then asks the
	// endpoint, which then gets one request per token per CacheTTL from
	// the whole fleet (see [IntrospectionCache]). A revocation one replica
	// learns of is seen by all, each at the end of its cached result's
	// CacheTTL. A shared cache that fails or is slow never rejects a
	// token: the Introspection asks the endpoint instead. If nil, each
	// Introspection has its own cache only.
	SharedCache IntrospectionCache

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
	// Revocations, if set, are consulted on every verification, cache hits
	// included, as with [JWTConfig].Revocations; an answer made stale by an
	// event is replaced by a new introspection, past the shared cache. With
	// them the sid and email members are read too. If nil, there is no
	// such check.
	Revocations Revocations
	// MeterProvider receives the verifier's OpenTelemetry metrics (see
	// docs/observability.md): the verification duration
	// (oauthgate.verification.duration with oauthgate.verifier
	// "introspection") and, only when it is set, the introspection cache's
	// and requests' (oauthgate.cache.* with oauthgate.cache
	// "introspection", and oauthgate.introspection.*), which stay
	// registered for the life of the provider. If nil, the duration goes to
	// the global provider (otel.GetMeterProvider) and nothing else is
	// recorded.
	MeterProvider metric.MeterProvider
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

		answering: new(atomic.Bool),
	}
	if cfg.Revocations != nil {
		i.revocations = cfg.Revocations
		i.rules.optional |= revocationBits
	}
	if i.now == nil {
		i.now = time.Now
	}
	i.client = i.policy.client(cfg.HTTPClient)
	if cfg.SharedCache != nil {
		i.shared = newSharedCache(cfg.SharedCache, cfg.Endpoint, cfg.ClientID, i.policy.timeout)
	}
	i.cache = tokencache.New[introspected](tokencache.Config{Size: cmp.Or(cfg.CacheSize, defaultIntrospectCacheSize), Now: i.now})
	if cfg.MeterProvider != nil {
		var err error
		if i.metrics, err = newCacheMetrics(cfg.MeterProvider, "IntrospectionConfig.MeterProvider", "introspection", i.cache); err != nil {
			return nil, err
		}
		if i.requests, err = newRequestMetrics(cfg.MeterProvider); err != nil {
			return nil, err
		}
	}

	if i.timing, err = newVerifyTiming(cfg.MeterProvider, "IntrospectionConfig.MeterProvider", "introspection"); err != nil {
		return nil, err
	}
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
