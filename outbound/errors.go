package outbound

import (
	"context"
	"errors"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrUnavailable matches every error that says no token can be had now:
// the authorization server cannot be reached, times out, answers with a
// server error or with a response that is not a token, and no valid token
// is held. gRPC calls fail with codes.Unavailable, never Unauthenticated:
// the caller's credentials are not at fault.
var ErrUnavailable = errors.New("outbound: authorization server unavailable")

// ErrRefused matches a token request the authorization server refused
// with an OAuth error (RFC 6749 §5.2): bad client credentials, a subject
// token it will not exchange, a scope or resource it will not grant.
var ErrRefused = errors.New("outbound: token request refused")

// ErrNoSubject reports a token exchange attempted outside a call the
// interceptor authenticated: the context has no verified incoming token.
// Pass the handler's context to the outgoing call.
var ErrNoSubject = errors.New("outbound: no verified incoming token in the context")

// ErrClosed reports the use of [Credentials] after Close.
var ErrClosed = errors.New("outbound: credentials closed")

// ErrInsecure reports a call that would send the token in clear: a gRPC
// connection without transport security, or a request of
// [Credentials.Transport] over http to a host that is not a loopback host.
// Nothing was sent.
var ErrInsecure = errors.New("outbound: refusing to send a token without transport security to a non-loopback host")

// ErrRedirect reports a request of [Credentials.Transport] that follows a
// redirect to another origin (scheme, host, port) than the first request
// of its chain: the token would go to a server the caller did not
// address. Nothing was sent.
var ErrRedirect = errors.New("outbound: refusing to send a token to another origin on a redirect")

// An UnavailableError says why no token could be had. It matches
// [ErrUnavailable] and wraps the cause, which names the request but never
// a credential, a token or the server's free text.
type UnavailableError struct {
	Op  string // "discover" or "token"
	Err error
}

// Error names the operation and the cause, never a credential.
func (e *UnavailableError) Error() string {
	msg := "outbound: authorization server unavailable (" + e.Op + ")"
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns [ErrUnavailable] and the cause.
func (e *UnavailableError) Unwrap() []error { return []error{ErrUnavailable, e.Err} }

// GRPCStatus returns codes.Unavailable, so that a call whose credentials
// fail this way fails with it.
func (e *UnavailableError) GRPCStatus() *status.Status {
	return status.New(codes.Unavailable, e.Error())
}

// A RefusedError is a token request the authorization server refused. It
// matches [ErrRefused].
type RefusedError struct {
	Status int    // the HTTP status of the answer
	Code   string // the registered OAuth error code (invalid_grant, ...), or ""
}

// Error names the status and the OAuth error code, never the server's text.
func (e *RefusedError) Error() string {
	msg := "outbound: token request refused with status " + strconv.Itoa(e.Status)
	if e.Code != "" {
		msg += " (" + e.Code + ")"
	}
	return msg
}

// Unwrap returns [ErrRefused].
func (e *RefusedError) Unwrap() error { return ErrRefused }

// GRPCStatus returns codes.PermissionDenied: this service may not get the
// token it needs for the call (the caller's own token was valid, or the
// call would not have reached the handler).
func (e *RefusedError) GRPCStatus() *status.Status {
	return status.New(codes.PermissionDenied, e.Error())
}

// subjectError is ErrNoSubject with the gRPC status of a server bug: the
// handler passed a context that is not its call's.
type subjectError struct{}

func (subjectError) Error() string { return ErrNoSubject.Error() }
func (subjectError) Unwrap() error { return ErrNoSubject }
func (subjectError) GRPCStatus() *status.Status {
	return status.New(codes.Internal, ErrNoSubject.Error())
}

// withCode gives err the gRPC code a call fails with when its credentials
// return err: grpc-go turns an error without one into Unauthenticated,
// which would tell the caller its own token is bad. Errors of this
// package keep theirs; the call's context's error becomes
// DeadlineExceeded or Canceled; anything else (a DPoP proof that cannot be signed, a refused
// insecure connection, ErrClosed) is Internal.
func withCode(err error) error {
	if _, ok := status.FromError(err); ok {
		return err // first: an UnavailableError that wraps a timeout stays Unavailable
	}
	return &codedError{err: err, code: codeOf(err)}
}

// codeOf returns the gRPC code a call fails with when its credentials
// return err, as withCode gives it.
func codeOf(err error) codes.Code {
	if st, ok := status.FromError(err); ok {
		return st.Code()
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return status.FromContextError(err).Code()
	}
	return codes.Internal
}

// A codedError is an error with the gRPC code a call fails with.
type codedError struct {
	err  error
	code codes.Code
}

func (e *codedError) Error() string              { return e.err.Error() }
func (e *codedError) Unwrap() error              { return e.err }
func (e *codedError) GRPCStatus() *status.Status { return status.New(e.code, e.err.Error()) }
