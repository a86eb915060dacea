package dpophttp

import "errors"

// ErrInsecure reports a request over cleartext http to a host that is not
// a loopback host, on a Transport without [AllowInsecure]: the token would
// travel in clear. Nothing was sent.
var ErrInsecure = errors.New("dpophttp: refusing to send a token over cleartext http to a non-loopback host")

// ErrRedirect reports a request that follows a redirect (http.Client sets
// req.Response) to another origin (scheme, host, port) than the first
// request of the chain: the token and a proof would go to a server the
// caller did not address. http.Client drops the Authorization header on
// such a redirect; a transport that adds it must refuse. Nothing was sent.
var ErrRedirect = errors.New("dpophttp: refusing to send a token to another origin on a redirect")

// ErrURI reports a request whose URL a proof cannot name: not absolute
// http or https, or whose host (the URL's, or req.Host) is not an RFC 3986
// host[:port]. Nothing was sent.
var ErrURI = errors.New("dpophttp: the request's URL cannot be a DPoP htu")

// ErrToken reports that the token function failed or returned a value
// that is not an RFC 6750 b64token. Nothing was sent. The error that
// matches it wraps the token function's error too, so that a caller can
// tell why (errors.Is with the token source's own sentinels).
var ErrToken = errors.New("dpophttp: no access token")

// A TokenError says why the Transport has no token for a request. It
// matches [ErrToken] and wraps the token function's error, if any; its
// message never holds a token.
type TokenError struct {
	// Err is the token function's error, or nil when the function returned
	// a value that is not a b64token.
	Err error
}

// Error names the cause, never the token.
func (e *TokenError) Error() string {
	if e.Err == nil {
		return ErrToken.Error() + ": the token function returned a value that is not a b64token"
	}
	return ErrToken.Error() + ": " + e.Err.Error()
}

// Unwrap returns [ErrToken] and the token function's error.
func (e *TokenError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrToken}
	}
	return []error{ErrToken, e.Err}
}
