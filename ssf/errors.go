package ssf

import (
	"errors"
)

// ErrInvalidSET matches every error that says a Security Event Token was
// refused; nothing it says was acted upon. It is accompanied by one of the
// reasons below, reachable with errors.Is, and by a [*SETError] with
// errors.As.
var ErrInvalidSET = errors.New("ssf: invalid security event token")

// Reasons a SET is refused. Each error that matches one of them also
// matches [ErrInvalidSET].
var (
	// ErrMalformed reports a SET that is not a compact JWS with one
	// signature and a JSON claim set with iss, iat, jti and events, or
	// that is too large.
	ErrMalformed = errors.New("ssf: malformed SET")
	// ErrType reports a typ header other than secevent+jwt (RFC 8417
	// §2.3), or a header this package refuses (crit, a nested token).
	ErrType = errors.New("ssf: wrong SET type")
	// ErrKey reports a SET that no key of the transmitter verifies: an
	// unknown kid, an algorithm outside the allowlist, a bad signature.
	ErrKey = errors.New("ssf: SET signature not verified")
	// ErrIssuer reports an iss other than the transmitter's.
	ErrIssuer = errors.New("ssf: wrong SET issuer")
	// ErrAudience reports an aud that does not hold the receiver's
	// audience.
	ErrAudience = errors.New("ssf: wrong SET audience")
	// ErrExpired reports a SET whose iat is older than the receiver's
	// MaxAge, or whose exp has passed.
	ErrExpired = errors.New("ssf: SET expired")
	// ErrIssuedInFuture reports a SET whose iat, or an event whose time,
	// is after now plus the leeway.
	ErrIssuedInFuture = errors.New("ssf: SET issued in the future")
	// ErrDuplicate reports a SET whose jti this receiver already accepted
	// (RFC 8417 §2.2).
	ErrDuplicate = errors.New("ssf: duplicate SET")
	// ErrSubject reports a subject identifier that is malformed or of a
	// format this package cannot compare with tokens.
	ErrSubject = errors.New("ssf: unsupported SET subject")
)

// A SETError says why a SET was refused. It matches [ErrInvalidSET] and
// its Reason with errors.Is. Its message names the reason and the member
// at fault, never a value of the SET.
type SETError struct {
	// Reason is one of the Err* reasons above.
	Reason error
	// Member names the claim, header parameter or subject member at fault
	// ("iat", "aud", "typ", "format"), if any.
	Member string
}

func setError(reason error, member string) *SETError {
	return &SETError{Reason: reason, Member: member}
}

// Error implements the error interface.
func (e *SETError) Error() string {
	return ErrInvalidSET.Error() + ": " + e.Description()
}

// Unwrap returns [ErrInvalidSET] and the reason.
func (e *SETError) Unwrap() []error { return []error{ErrInvalidSET, e.Reason} }

// Description returns a short, fixed English sentence for the SET's
// transmitter (the RFC 8935 §2.3 description): it never holds a value of
// the SET.
func (e *SETError) Description() string {
	msg := e.Reason.Error()[len("ssf: "):]
	if e.Member != "" {
		msg += " (" + e.Member + ")"
	}
	return msg
}

// Code returns the RFC 8935 §2.4 error code for the SET's transmitter:
// invalid_key, invalid_issuer, invalid_audience or invalid_request.
func (e *SETError) Code() string {
	switch e.Reason {
	case ErrKey:
		return "invalid_key"
	case ErrIssuer:
		return "invalid_issuer"
	case ErrAudience:
		return "invalid_audience"
	}
	return "invalid_request"
}
