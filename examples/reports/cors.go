package reports

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/oauthgate/oauthgate/connectgate"
)

// The CORS lists of a connect-go server behind oauthgate, as
// docs/connect.md ("Browsers and CORS") gives them: connect-go's own (those
// of connectrpc.com/cors, which this example does without) plus
// oauthgate's part, from connectgate.CORSAllowedHeaders (the credentials
// scripts send) and connectgate.CORSExposedHeaders (the challenges scripts
// must read).
const (
	// corsMethods: Connect unary calls are POST, or GET for side-effect
	// free methods; gRPC-Web is POST.
	corsMethods = "GET, POST"
	// corsProtocolHeaders are the request headers of the Connect and
	// gRPC-Web protocols.
	corsProtocolHeaders = "Content-Type, Connect-Protocol-Version, Connect-Timeout-Ms, Grpc-Timeout, X-Grpc-Web, X-User-Agent"
	// corsProtocolExposed are the response headers gRPC-Web reads its
	// status from.
	corsProtocolExposed = "Grpc-Status, Grpc-Message, Grpc-Status-Details-Bin"
	// corsMaxAge lets browsers cache a preflight answer for two hours
	// (Chromium's own cap).
	corsMaxAge = "7200"
)

// cors lets scripts of the allowed origins call next. It answers every
// preflight request itself, so that they never reach oauthgate (which
// would let them through anyway) nor the connect-go handlers (which would
// refuse the method); an origin it does not allow gets no CORS header, and
// the browser keeps the answer from the script.
type cors struct {
	origins map[string]bool
	next    http.Handler
	// allowed and exposed are the values of Access-Control-Allow-Headers
	// and Access-Control-Expose-Headers.
	allowed, exposed string
}

// newCORS returns a cors for the validated origins.
func newCORS(origins map[string]bool, next http.Handler) *cors {
	return &cors{
		origins: origins,
		next:    next,
		allowed: strings.Join(connectgate.CORSAllowedHeaders(), ", ") + ", " + corsProtocolHeaders,
		exposed: strings.Join(connectgate.CORSExposedHeaders(), ", ") + ", " + corsProtocolExposed,
	}
}

func (c *cors) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Add("Vary", "Origin")
	origin := r.Header["Origin"]
	allowed := len(origin) == 1 && c.origins[origin[0]]
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		h.Add("Vary", "Access-Control-Request-Method")
		h.Add("Vary", "Access-Control-Request-Headers")
		if allowed {
			h.Set("Access-Control-Allow-Origin", origin[0])
			h.Set("Access-Control-Allow-Methods", corsMethods)
			h.Set("Access-Control-Allow-Headers", c.allowed)
			h.Set("Access-Control-Max-Age", corsMaxAge)
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if allowed {
		h.Set("Access-Control-Allow-Origin", origin[0])
		h.Set("Access-Control-Expose-Headers", c.exposed)
	}
	c.next.ServeHTTP(w, r)
}

// corsOrigins validates the origins of WithCORS: each exactly as a
// browser serializes it in the Origin header (RFC 6454 §6.1), so that the
// comparison with the header is a plain string match.
func corsOrigins(origins []string) (map[string]bool, error) {
	set := make(map[string]bool, len(origins))
	for _, o := range origins {
		u, err := url.Parse(o)
		if o == "*" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.Scheme+"://"+u.Host != o || strings.ToLower(o) != o ||
			(u.Scheme == "https" && u.Port() == "443") || (u.Scheme == "http" && u.Port() == "80") {
			return nil, fmt.Errorf("reports: WithCORS: origin %q: want scheme://host[:port] as browsers send it (http or https, lower case, no default port, no path); \"*\" is not allowed", o)
		}
		set[o] = true
	}
	return set, nil
}
