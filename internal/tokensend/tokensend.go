// Package tokensend decides whether an outgoing HTTP request may carry an
// access token: the one rule of the module's HTTP client transports
// (package dpophttp and outbound's Credentials.Transport), so that they
// cannot drift apart. A token goes over https, or over http to a loopback
// host, and never to another origin than the request a redirect follows.
package tokensend

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/oauthgate/oauthgate/internal/loopback"
)

// A Verdict says whether a request may carry a token, and if not why.
type Verdict int

// The verdicts of [Check].
const (
	// Allowed: the request may carry the token.
	Allowed Verdict = iota
	// NotHTTP: the request has no URL, or its scheme is neither http nor
	// https.
	NotHTTP
	// Cleartext: the request goes over http to a host that is not a
	// loopback host.
	Cleartext
	// OtherOrigin: the request follows a redirect (req.Response is set by
	// http.Client) to another origin than the first request of the chain.
	// http.Client drops an Authorization header it copies to another
	// domain; a transport that adds the token itself must refuse instead,
	// or a server could send the client's token anywhere.
	OtherOrigin
)

// maxRedirects bounds the walk back along a redirect chain; http.Client
// stops at 10.
const maxRedirects = 32

// Check returns whether req may carry a token. allowCleartext lets it go
// over http to any host (for tests only).
func Check(req *http.Request, allowCleartext bool) Verdict {
	if req.URL == nil {
		return NotHTTP
	}
	switch strings.ToLower(req.URL.Scheme) {
	case "https":
	case "http":
		// The connection goes to URL.Host, whatever Host header is sent.
		if !allowCleartext && !loopback.Is(req.URL.Hostname()) {
			return Cleartext
		}
	default:
		return NotHTTP
	}
	first := req
	for i := 0; first.Response != nil && first.Response.Request != nil && i < maxRedirects; i++ {
		first = first.Response.Request
	}
	if first != req && (first.URL == nil || origin(first.URL) != origin(req.URL)) {
		return OtherOrigin
	}
	return Allowed
}

// origin returns u's scheme, host and port (the scheme's default if none)
// in lower case (RFC 6454 §4).
func origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	return scheme + "://" + strings.ToLower(u.Hostname()) + ":" + port
}
