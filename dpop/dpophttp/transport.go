package dpophttp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/oauthgate/oauthgate/dpop"
	"github.com/oauthgate/oauthgate/internal/authheader"
	"github.com/oauthgate/oauthgate/internal/tokensend"
)

// maxOrigins bounds the origins a Transport keeps a nonce for: a
// Transport serves one service, or a few, and what the servers it talks
// to send must not grow it without limit.
const maxOrigins = 64

// maxDrain bounds what is read of a refused response before its
// connection is reused for the retry; a longer body closes the
// connection instead.
const maxDrain = 64 << 10

// A TokenFunc returns the access token for a request: a DPoP-bound token
// issued for the signer's key (its cnf.jkt is the signer's Thumbprint).
// ctx is the request's context.
type TokenFunc func(ctx context.Context) (string, error)

// A Transport is an http.RoundTripper that sends every request with
// "Authorization: DPoP <token>" and a fresh DPoP proof (RFC 9449 §7.1)
// over a base RoundTripper, and answers servers' demands for a nonce (see
// the package documentation). Make one with [NewTransport]; the zero
// value is not usable. It is safe for concurrent use.
type Transport struct {
	signer   *dpop.Signer
	token    TokenFunc
	base     http.RoundTripper
	insecure bool

	mu     sync.Mutex
	nonces map[string]string // origin → the server's latest DPoP-Nonce
}

// NewTransport returns a Transport that signs proofs with signer for the
// tokens token returns and sends requests through base
// (http.DefaultTransport if nil). signer and token are required.
func NewTransport(signer *dpop.Signer, token TokenFunc, base http.RoundTripper, opts ...Option) (*Transport, error) {
	switch {
	case signer == nil:
		return nil, errors.New("dpophttp: NewTransport: signer is nil; make one with dpop.NewSigner")
	case token == nil:
		return nil, errors.New("dpophttp: NewTransport: token is nil; pass the function that returns the DPoP-bound access token")
	}
	if base == nil {
		base = http.DefaultTransport
	}
	t := &Transport{signer: signer, token: token, base: base, nonces: make(map[string]string)}
	for _, o := range opts {
		o.apply(t)
	}
	return t, nil
}

// RoundTrip sends req with the token and a proof for it, and once more
// with the server's nonce when the server demands one and req can be
// sent again. It fails with [ErrInsecure], [ErrRedirect], [ErrURI] or a
// [*TokenError] before sending anything; other errors are the base
// RoundTripper's. req is not modified, and its body is closed, as
// http.RoundTripper requires.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	htu, origin, err := t.target(req)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	token, err := t.token(req.Context())
	if err != nil {
		closeBody(req)
		return nil, &TokenError{Err: err}
	}
	if !authheader.IsB64Token(token) {
		// A value that is no token cannot be a header value either.
		closeBody(req)
		return nil, &TokenError{}
	}
	sent := t.nonce(origin)
	out, err := t.prepare(req, req.Body, htu, token, sent)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	resp, err := t.base.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	if !t.learn(resp, origin, sent) || !replayable(req) || !refused(resp) {
		return resp, nil // the caller decides; the next request has the nonce
	}
	body, err := replayBody(req)
	if err != nil {
		return resp, nil
	}
	// Let the connection be reused for the second request.
	_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
	resp.Body.Close()
	out, err = t.prepare(req, body, htu, token, t.nonce(origin))
	if err != nil {
		if body != nil {
			body.Close()
		}
		return nil, err
	}
	resp, err = t.base.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	t.learn(resp, origin, "") // a nonce of a 2xx answer is kept; no third try
	return resp, nil
}

// SetNonce sets the nonce that proofs for origin (scheme://host[:port],
// as in "https://api.example.com") carry from now on: the DPoP-Nonce of a
// refusal the Transport could not see, such as the end of a Connect
// stream or a gRPC-Web trailer (connect.Error.Meta().Get("DPoP-Nonce")).
// "" forgets the origin's nonce. It fails if origin is not an http or
// https origin or nonce is not RFC 9449 §8.1 syntax.
func (t *Transport) SetNonce(origin, nonce string) error {
	u, err := url.Parse(origin)
	if err != nil || u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return errors.New("dpophttp: SetNonce: origin must be scheme://host[:port], http or https, with no path")
	}
	n, err := dpop.NormalizeURI(origin)
	if err != nil {
		return errors.New("dpophttp: SetNonce: origin must be scheme://host[:port], http or https, with no path")
	}
	if nonce != "" && !authheader.ValidNonce(nonce) {
		return errors.New("dpophttp: SetNonce: the nonce is not 1*NQCHAR (RFC 9449 §8.1) of at most 1024 bytes")
	}
	n = strings.TrimSuffix(n, "/")
	t.mu.Lock()
	defer t.mu.Unlock()
	if nonce == "" {
		delete(t.nonces, n)
		return nil
	}
	t.keepLocked(n, nonce)
	return nil
}

// target returns the htu of req's proofs and the origin it belongs to, or
// why req must not be sent.
func (t *Transport) target(req *http.Request) (htu, origin string, err error) {
	switch tokensend.Check(req, t.insecure) {
	case tokensend.NotHTTP:
		return "", "", ErrURI
	case tokensend.Cleartext:
		return "", "", ErrInsecure
	case tokensend.OtherOrigin:
		return "", "", ErrRedirect
	}
	scheme := strings.ToLower(req.URL.Scheme)
	// The server builds htu from the Host it receives, which req.Host
	// overrides (RFC 9449 §4.3: the URI without query and fragment).
	authority := req.Host
	if authority == "" {
		authority = req.URL.Host
	}
	path := req.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	htu, err = dpop.RequestURI(scheme, authority, path)
	if err != nil {
		// RequestURI takes paths without percent-encoding (all a gRPC or
		// Connect procedure needs); another server's path may have some,
		// which NormalizeURI keeps, once the authority is known good.
		if _, aerr := dpop.RequestURI(scheme, authority, "/"); aerr != nil {
			return "", "", ErrURI
		}
		if htu, err = dpop.NormalizeURI(scheme + "://" + authority + path); err != nil {
			return "", "", ErrURI
		}
	}
	// htu is scheme://authority/path: the origin ends at the third "/".
	end := len(scheme) + 3 + strings.IndexByte(htu[len(scheme)+3:], '/')
	return htu, htu[:end], nil
}

// prepare returns a copy of req with body, the token and a fresh proof.
func (t *Transport) prepare(req *http.Request, body io.ReadCloser, htu, token, nonce string) (*http.Request, error) {
	proof, err := t.signer.Proof(req.Method, htu, token, nonce)
	if err != nil {
		return nil, err
	}
	out := req.Clone(req.Context())
	out.Body = body
	out.Header.Set("Authorization", "DPoP "+token)
	out.Header.Set("DPoP", proof)
	return out, nil
}

// nonce returns the nonce the next proof for origin carries.
func (t *Transport) nonce(origin string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.nonces[origin]
}

// learn keeps the nonce resp gives for origin and reports whether resp
// demands it: a use_dpop_nonce DPoP challenge with a nonce other than
// sent. A nonce with a 2xx answer is kept too (RFC 9449 §8.2); a nonce
// with any other answer, or one that is not RFC 9449 syntax, is ignored.
func (t *Transport) learn(resp *http.Response, origin, sent string) bool {
	values := resp.Header.Values("DPoP-Nonce")
	if len(values) != 1 || !authheader.ValidNonce(values[0]) {
		return false
	}
	n := values[0]
	demand := authheader.DemandsNonce(resp.Header.Values("WWW-Authenticate"))
	if !demand && (resp.StatusCode < 200 || resp.StatusCode > 299) {
		return false
	}
	t.mu.Lock()
	t.keepLocked(origin, n)
	t.mu.Unlock()
	return demand && n != sent
}

// refused reports whether resp, which demands a nonce, refuses the
// request: an HTTP 401 (Connect unary), a gRPC or gRPC-Web response of
// headers only with grpc-status 16 (Unauthenticated), or a gRPC response
// whose body is empty and whose trailers say 16, as connect-go's gRPC
// handlers answer. For the last it reads one byte of the body, the
// trailers coming after its end; a body that has one is not a refusal,
// and is given back whole.
func refused(resp *http.Response) bool {
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return true
	case resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/grpc"):
		return false
	case resp.Header.Get("Grpc-Status") != "":
		return resp.Header.Get("Grpc-Status") == "16"
	}
	var first [1]byte
	if n, err := io.ReadFull(resp.Body, first[:]); n == 0 {
		return err == io.EOF && resp.Trailer.Get("Grpc-Status") == "16"
	}
	resp.Body = &prefixedBody{Reader: io.MultiReader(bytes.NewReader(first[:]), resp.Body), Closer: resp.Body}
	return false
}

// A prefixedBody is a response body of which a part was read already.
type prefixedBody struct {
	io.Reader
	io.Closer
}

// keepLocked records nonce for origin, forgetting another origin's when
// maxOrigins are held.
func (t *Transport) keepLocked(origin, nonce string) {
	if _, ok := t.nonces[origin]; !ok && len(t.nonces) >= maxOrigins {
		for o := range t.nonces {
			delete(t.nonces, o)
			break
		}
	}
	t.nonces[origin] = nonce
}

// replayable reports whether req can be sent once more: it has no body,
// or GetBody.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// replayBody returns the body to send req with once more.
func replayBody(req *http.Request) (io.ReadCloser, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return req.Body, nil
	}
	return req.GetBody()
}

// closeBody closes req's body, as a RoundTripper must even when it fails.
func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}
