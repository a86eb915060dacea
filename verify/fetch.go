package verify

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/oauthgate/oauthgate/internal/oauthhttp"
)

// A fetchPolicy is the limits of this package's requests (discovery, the
// JWKS, introspection) under the module's one HTTP policy, package
// oauthhttp: the URL rule, redirects, timeout, body cap and JSON content
// type.
type fetchPolicy struct {
	timeout     time.Duration
	maxSize     int64
	allowHTTP   bool
	noRedirects bool
}

// tracerName is the instrumentation scope of verify's client spans.
const tracerName = "github.com/oauthgate/oauthgate/verify"

func (p fetchPolicy) shared() oauthhttp.Policy {
	return oauthhttp.Policy{Timeout: p.timeout, MaxSize: p.maxSize, AllowHTTP: p.allowHTTP,
		NoRedirects: p.noRedirects, Tracer: tracerName}
}

// client returns the client the policy's requests use (see
// oauthhttp.Policy.Client).
func (p fetchPolicy) client(c *http.Client) *http.Client { return p.shared().Client(c) }

// fetch makes the request r with client under p (see oauthhttp.Do).
func fetch(ctx context.Context, client *http.Client, p fetchPolicy, r oauthhttp.Request) ([]byte, http.Header, error) {
	return oauthhttp.Do(ctx, client, p.shared(), r)
}

// A statusError is a non-200 answer (see oauthhttp.StatusError).
type statusError = oauthhttp.StatusError

// checkURL is the URL rule (see oauthhttp.CheckURL).
func checkURL(raw string, allowHTTP bool) error { return oauthhttp.CheckURL(raw, allowHTTP) }

// isLoopback reports whether host names this machine.
func isLoopback(host string) bool { return oauthhttp.IsLoopback(host) }

// isJSON reports whether ct names JSON (see oauthhttp.IsJSON).
func isJSON(ct string, strict bool) bool { return oauthhttp.IsJSON(ct, strict) }

// cacheLifetime returns the freshness lifetime of a response that remains,
// for a private cache that received it now (RFC 9111 §4.2): max-age wins
// over Expires minus Date; the Age the response already has is deducted
// from either (RFC 9111 §4.2.3, §5.1); an unqualified no-store or no-cache
// means zero whatever the order of the directives and header lines
// (RFC 9111 §5.2.2.4, §5.2.2.5). The result is never negative. ok is false
// if the response says nothing about its lifetime.
func cacheLifetime(h http.Header, now time.Time) (ttl time.Duration, ok bool) {
	var (
		maxAge    time.Duration
		hasMaxAge bool
		zero      bool
	)
	for _, line := range h.Values("Cache-Control") {
		for dir := range strings.SplitSeq(line, ",") {
			name, val, hasVal := strings.Cut(strings.TrimSpace(dir), "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "no-store":
				zero = true
			case "no-cache":
				// With field names (no-cache="Set-Cookie") it only
				// restricts those fields (RFC 9111 §5.2.2.4).
				zero = zero || !hasVal
			case "max-age":
				if hasMaxAge {
					continue // RFC 9111 §4.2.1: use the first occurrence
				}
				hasMaxAge = true
				// An invalid max-age means stale (RFC 9111 §4.2.1).
				maxAge = parseDeltaSeconds(strings.Trim(val, `"`))
			}
		}
	}
	if zero {
		return 0, true
	}
	// RFC 9111 §5.1: an Age that is not a delta-seconds value is ignored.
	age := max(parseDeltaSeconds(h.Get("Age")), 0)
	if hasMaxAge {
		return max(maxAge-age, 0), true
	}
	if e := h.Get("Expires"); e != "" {
		exp, err := http.ParseTime(e)
		if err != nil {
			return 0, true // RFC 9111 §5.3: an invalid Expires is in the past
		}
		// RFC 9111 §4.2.1: Expires minus Date, so clock skew between us
		// and the server does not matter.
		base := now
		if d, err := http.ParseTime(h.Get("Date")); err == nil {
			base = d
		}
		return max(exp.Sub(base)-age, 0), true
	}
	return 0, false
}

// parseDeltaSeconds parses delta-seconds (RFC 9111 §1.2.2): digits only.
// It returns -1 for an invalid value, and caps values past 2^31 seconds
// as that section allows, so durations never overflow.
func parseDeltaSeconds(s string) time.Duration {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return -1
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > 1<<31 {
		n = 1 << 31
	}
	return time.Duration(n) * time.Second
}
