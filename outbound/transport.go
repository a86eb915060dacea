package outbound

import (
	"errors"
	"net/http"

	"connectrpc.com/connect"

	"github.com/oauthgate/oauthgate/dpop/dpophttp"
	"github.com/oauthgate/oauthgate/internal/tokensend"
)

// Transport returns an http.RoundTripper that sends each request through
// base (http.DefaultTransport if nil) with the token a gRPC call would
// get: "Authorization: Bearer <token>", or with Config.DPoP "DPoP <token>"
// and a proof for the request (package dpophttp, which also answers a
// resource server's demand for a nonce, RFC 9449 §8). It serves
// connect-go clients (Connect, gRPC and gRPC-Web) and any net/http
// client:
//
//	client := paymentsv1connect.NewPaymentServiceClient(
//		&http.Client{Transport: creds.Transport(nil)}, "https://payments.example.com")
//
// For [Exchange] the request's context must be the handler's (or derived
// from it), as for a gRPC call: connect-go passes the call's context to
// the request. The token goes over https, or over http to a loopback
// host only; anything else fails with [ErrInsecure] before the token is
// fetched, and a request that follows a redirect to another origin than
// the first request's fails with [ErrRedirect] (http.Client drops the
// Authorization header on such redirects; a transport that adds it must
// refuse). The request given is not modified.
//
// When no token can be had, RoundTrip fails before sending anything with
// a *connect.Error whose code is the one a gRPC call would fail with:
// Unavailable ([ErrUnavailable]), PermissionDenied ([ErrRefused]),
// DeadlineExceeded or Canceled (the request's context), Internal
// ([ErrNoSubject], [ErrClosed], [ErrInsecure], [ErrRedirect]); it wraps
// the error, so errors.Is and errors.As find ErrUnavailable,
// *RefusedError and the others through it. connect-go keeps that code (a transport error it
// does not recognise would be Unavailable); a net/http client returns it
// inside its *url.Error. Errors of base are returned as they are.
//
// Each call returns a RoundTripper of its own, with its own memory of
// server nonces: make one per HTTP client, not one per request. It is
// safe for concurrent use and lives as long as the credentials.
func (c *Credentials) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	if c.dpop == nil {
		return &transport{c: c, next: base, bearer: true}
	}
	proofs, err := dpophttp.NewTransport(c.dpopSigner, c.accessToken, base)
	if err != nil {
		// Unreachable: both are set whenever c.dpop is. Failing every
		// request keeps it closed all the same.
		return &transport{c: c, err: err}
	}
	return &transport{c: c, next: proofs}
}

// A transport is what [Credentials.Transport] returns.
type transport struct {
	c      *Credentials
	next   http.RoundTripper // base for Bearer; a dpophttp.Transport over base for DPoP
	bearer bool              // set the Bearer token; else next does
	err    error             // every request fails with it
}

// RoundTrip sends req with the credentials' token.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.err != nil {
		closeBody(req)
		return nil, httpError(t.err)
	}
	switch tokensend.Check(req, false) {
	case tokensend.NotHTTP, tokensend.Cleartext:
		closeBody(req)
		return nil, httpError(ErrInsecure)
	case tokensend.OtherOrigin:
		closeBody(req)
		return nil, httpError(ErrRedirect)
	}
	if !t.bearer {
		resp, err := t.next.RoundTrip(req)
		if errors.Is(err, dpophttp.ErrToken) || errors.Is(err, dpophttp.ErrURI) {
			return nil, httpError(err) // no request was sent
		}
		return resp, err
	}
	g, err := t.c.get(req.Context())
	if err != nil {
		closeBody(req)
		return nil, httpError(err)
	}
	out := req.Clone(req.Context())
	out.Header.Set("Authorization", "Bearer "+g.token)
	return t.next.RoundTrip(out)
}

// httpError gives err the code a gRPC call fails with ([withCode]), as a
// *connect.Error: connect-go would make any other error of a transport
// Unavailable, and a refusal by the authorization server is not.
func httpError(err error) error {
	return connect.NewError(connect.Code(codeOf(err)), err)
}

// closeBody closes req's body, as a RoundTripper must even when it fails.
func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}
