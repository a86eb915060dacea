package verify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/metric"
)

// Defaults of [RemoteKeySetConfig].
const (
	defaultRemoteTimeout      = 5 * time.Second
	defaultMaxResponseSize    = 1 << 20
	defaultMinRefresh         = time.Minute
	defaultMaxRefresh         = time.Hour
	defaultUnknownKeyCooldown = 30 * time.Second
	defaultMaxStale           = 24 * time.Hour
	// maxBackoffBase is the first retry delay after a failed fetch while
	// there is no usable set (at most MinRefresh); with one, the first is
	// MinRefresh. It doubles per consecutive failure up to backoffCeiling.
	maxBackoffBase = time.Second
)

// RemoteKeySetConfig configures a [RemoteKeySet]. Exactly one of URL,
// Issuer and Transmitter must be set. It must not be modified after it is passed to
// [NewRemoteKeySet].
type RemoteKeySetConfig struct {
	// URL is the jwks_uri of the authorization server. It must be an https
	// URL (see InsecureAllowHTTP).
	URL string
	// Issuer, as an alternative to URL, is the issuer identifier (an https
	// URL) whose jwks_uri is found with [Discover] on the first fetch. The
	// discovered jwks_uri is kept for the life of the key set.
	Issuer string
	// Transmitter, as another alternative, is the issuer of a Shared
	// Signals transmitter (an https URL), whose jwks_uri, the keys that
	// sign its Security Event Tokens, is found in its transmitter
	// configuration metadata (/.well-known/ssf-configuration, SSF 1.0
	// §7.2) on the first fetch, as for Issuer. Package ssf uses it.
	Transmitter string
	// HTTPClient makes the requests. If nil, a client with the Timeout
	// below is used; http.DefaultClient, which has no timeout, never is.
	// Whatever the client, a redirect to a URL the policy forbids (see
	// InsecureAllowHTTP) is refused, and a response must have a JSON
	// content type (application/json or a +json type such as
	// application/jwk-set+json). The client is copied, not modified.
	HTTPClient *http.Client
	// Timeout bounds each HTTP request (each discovery request and the
	// JWKS request separately). The default is 5s.
	Timeout time.Duration
	// MaxResponseSize caps the body of each response; a larger body is a
	// failed fetch. The default, and the largest value allowed, is 1 MiB.
	MaxResponseSize int64
	// MinRefresh and MaxRefresh clamp the lifetime the server announces with
	// Cache-Control max-age or Expires (RFC 9111 §5.2.2.1, §5.3). A response
	// with neither, or with no-store or no-cache, gets MaxRefresh or
	// MinRefresh respectively. The set is refreshed in the background at a
	// random point between 80% and 95% of the lifetime after a regular
	// refresh, and between 25% and 95% after any other fetch (see
	// [RemoteKeySet], "Load on the authorization server"). After a failed
	// fetch, the retry delay doubles from 1s up to MinRefresh while there
	// is no usable set, and from MinRefresh up to the set's lifetime (at
	// most a quarter of the time left until MaxStale, at least MinRefresh)
	// while there is one. The defaults are 1m and 1h.
	MinRefresh, MaxRefresh time.Duration
	// UnknownKeyCooldown is the minimum time between two fetches caused by
	// Keys calls: a kid missing from the set, or no usable set at all. It
	// bounds the load that tokens with made-up kids can put on the
	// authorization server to one request per cooldown. While such tokens
	// arrive faster than that, each successful fetch they cause is
	// followed by a cooldown drawn at random between UnknownKeyCooldown
	// and 2 × UnknownKeyCooldown, so that the replicas of a fleet do not
	// fetch in step. The default is 30s.
	UnknownKeyCooldown time.Duration
	// MaxStale is how long after it was fetched a key set is still served
	// while refreshes fail (stale-if-error). After that, Keys fails with
	// [ErrUnavailable]. It must be at least MaxRefresh. The default, 24h,
	// rides out a long authorization server outage (tokens keep being
	// verified with the keys that signed them) yet bounds how long keys
	// the server may have withdrawn stay trusted while it is unreachable.
	MaxStale time.Duration
	// InsecureAllowHTTP permits http:// URLs (URL, Issuer and discovered
	// jwks_uri) whose host is "localhost" or a loopback IP address, for
	// tests and local development. Other hosts always need https.
	InsecureAllowHTTP bool
	// Now returns the current time. If nil, time.Now is used.
	Now func() time.Time
	// MeterProvider receives the key set's OpenTelemetry metrics (see
	// docs/observability.md). If nil, otel.GetMeterProvider is
	// used, which records nothing until an SDK is installed.
	MeterProvider metric.MeterProvider
}

// NewRemoteKeySet validates cfg and returns a key set for it. It does no
// network I/O: the first fetch happens on the first call to Keys or
// [RemoteKeySet.WaitReady]. The caller must call [RemoteKeySet.Close].
func NewRemoteKeySet(cfg RemoteKeySetConfig) (*RemoteKeySet, error) {
	switch set := btoi(cfg.URL != "") + btoi(cfg.Issuer != "") + btoi(cfg.Transmitter != ""); {
	case set == 0:
		return nil, errors.New("verify: RemoteKeySetConfig needs URL (the jwks_uri) or Issuer (to discover it)")
	case set > 1 && cfg.Transmitter != "":
		return nil, errors.New("verify: RemoteKeySetConfig has Transmitter and URL or Issuer; set exactly one")
	case set > 1:
		return nil, errors.New("verify: RemoteKeySetConfig has both URL and Issuer; set exactly one")
	case cfg.Transmitter != "":
		if err := checkIssuerURL(cfg.Transmitter, cfg.InsecureAllowHTTP); err != nil {
			return nil, fmt.Errorf("verify: RemoteKeySetConfig.Transmitter: %w", err)
		}
	case cfg.URL != "":
		if err := checkURL(cfg.URL, cfg.InsecureAllowHTTP); err != nil {
			return nil, fmt.Errorf("verify: RemoteKeySetConfig.URL: %w", err)
		}
	default:
		if err := checkIssuerURL(cfg.Issuer, cfg.InsecureAllowHTTP); err != nil {
			return nil, fmt.Errorf("verify: RemoteKeySetConfig.Issuer: %w", err)
		}
	}
	for _, d := range [...]struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"Timeout", &cfg.Timeout, defaultRemoteTimeout},
		{"MinRefresh", &cfg.MinRefresh, defaultMinRefresh},
		{"MaxRefresh", &cfg.MaxRefresh, defaultMaxRefresh},
		{"UnknownKeyCooldown", &cfg.UnknownKeyCooldown, defaultUnknownKeyCooldown},
		{"MaxStale", &cfg.MaxStale, defaultMaxStale},
	} {
		if *d.v < 0 {
			return nil, fmt.Errorf("verify: RemoteKeySetConfig.%s is negative; use 0 for the default", d.name)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if cfg.MinRefresh > cfg.MaxRefresh {
		return nil, fmt.Errorf("verify: RemoteKeySetConfig.MinRefresh (%s) exceeds MaxRefresh (%s)", cfg.MinRefresh, cfg.MaxRefresh)
	}
	if cfg.MaxStale < cfg.MaxRefresh {
		return nil, fmt.Errorf("verify: RemoteKeySetConfig.MaxStale (%s) is shorter than MaxRefresh (%s); a set would expire before its refresh", cfg.MaxStale, cfg.MaxRefresh)
	}
	switch {
	case cfg.MaxResponseSize < 0:
		return nil, errors.New("verify: RemoteKeySetConfig.MaxResponseSize is negative; use 0 for the default")
	case cfg.MaxResponseSize == 0:
		cfg.MaxResponseSize = defaultMaxResponseSize
	case cfg.MaxResponseSize > maxJWKSSize:
		return nil, fmt.Errorf("verify: RemoteKeySetConfig.MaxResponseSize exceeds the limit of %d bytes", maxJWKSSize)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	policy := fetchPolicy{timeout: cfg.Timeout, maxSize: cfg.MaxResponseSize, allowHTTP: cfg.InsecureAllowHTTP}
	ctx, cancel := context.WithCancel(context.Background())
	r := &RemoteKeySet{
		cfg:           cfg,
		client:        policy.client(cfg.HTTPClient),
		policy:        policy,
		ctx:           ctx,
		cancel:        cancel,
		kick:          make(chan struct{}, 1),
		ready:         make(chan struct{}),
		jwksURL:       cfg.URL,
		jitter:        fullJitter,
		between:       randBetween,
		floodCooldown: spreadCooldown,
	}
	if err := r.instrument(); err != nil {
		cancel()
		return nil, err
	}
	return r, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
