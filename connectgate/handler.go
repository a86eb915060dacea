package connectgate

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http"

	"github.com/oauthgate/oauthgate/internal/core"
)

// Handler wraps h, the server's handler (usually the *http.ServeMux the
// connect-go handlers are mounted on), to give the Gate what a
// connect.Interceptor cannot see: the request's HTTP method and URL, for
// the htm and htu of a DPoP proof (RFC 9449 §4.3; a Connect GET of a
// side-effect-free method has htm GET), and the client certificate of the
// TLS connection, for certificate-bound tokens (RFC 8705). Install it
// outermost but for CORS, so that it sees the URL the client used:
//
//	mux := http.NewServeMux()
//	mux.Handle(reportsv1connect.NewReportServiceHandler(impl, connect.WithInterceptors(gate)))
//	srv := &http.Server{Handler: gate.Handler(mux), ...}
//
// Without it the Gate fails closed: a call with a DPoP proof, or with a
// certificate-bound token, is denied with Internal (SERVER_MISCONFIGURED),
// never let through unchecked. Preflight requests (OPTIONS) pass to h
// untouched: oauthgate never authenticates nor denies them, and a CORS
// handler outside this one answers them.
//
// The htu a proof must match is built from the request's scheme (https
// on TLS), its Host and its path, the Host parsed as an RFC 3986
// host[:port] first; list the server's public origins with [WithDPoP]
// to match htu against them instead, as servers behind a proxy must. A
// nil h answers every request with 500.
func (g *Gate) Handler(h http.Handler) http.Handler {
	if h == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "connectgate: Handler was given a nil handler", http.StatusInternalServerError)
		})
	}
	g.wrapped.Store(true)
	dpop := g.gate.DPoP()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			h.ServeHTTP(w, r) // CORS preflight: never oauthgate's business
			return
		}
		var cert *x509.Certificate
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			// The handshake proved the client holds the key of its leaf
			// (RFC 8705 §3: the binding does not depend on the chain).
			cert = r.TLS.PeerCertificates[0]
		}
		if cert == nil && (!dpop || len(r.Header["Dpop"]) == 0) {
			// Nothing a check could ask for: no context, no allocation.
			h.ServeHTTP(w, r)
			return
		}
		info := &requestInfo{cert: cert, target: core.Target{Method: r.Method, Scheme: "http", Authority: r.Host, Path: r.URL.EscapedPath()}}
		if r.TLS != nil {
			info.target.Scheme = "https"
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), infoKey{}, info)))
	})
}

// requestInfo is what Handler saw of a request.
type requestInfo struct {
	target core.Target
	cert   *x509.Certificate
}

type infoKey struct{}

// errNoHandler is the cause of a denial for want of Handler.
var errNoHandler = fmt.Errorf("connectgate: the request did not pass through Gate.Handler, so its URL and client certificate are unknown: %w", core.ErrMisconfigured)

// transport answers the core's questions about a connect call from what
// Handler put in its context. Its one pointer field keeps a core.Request
// holding it free of allocation.
type transport struct{ g *Gate }

// Target returns the request line Handler saw; without Handler the Gate
// cannot check a DPoP proof, and says so.
func (t transport) Target(ctx context.Context) (core.Target, error) {
	if info, ok := ctx.Value(infoKey{}).(*requestInfo); ok {
		return info.target, nil
	}
	return core.Target{}, errNoHandler
}

// PeerCertificate returns the client certificate Handler saw, nil when
// the request came without one through Handler, and an error when the
// Gate has never been wrapped around a handler.
func (t transport) PeerCertificate(ctx context.Context) (*x509.Certificate, error) {
	if info, ok := ctx.Value(infoKey{}).(*requestInfo); ok {
		return info.cert, nil
	}
	if !t.g.wrapped.Load() {
		return nil, errNoHandler
	}
	return nil, nil
}
