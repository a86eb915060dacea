package verify

import (
	"errors"
	"strings"

	"github.com/oauthgate/oauthgate/internal/reason"
)

// ErrInvalidToken matches every error that says the token itself is
// unacceptable: malformed, forged, expired, not for this API. Clients must
// obtain a new token. It is always accompanied by one of the reasons below,
// reachable with errors.Is, and by a [*TokenError] with errors.As.
var ErrInvalidToken = errors.New("verify: invalid token")

// Reasons a token is invalid. Each error that matches one of them also
// matches [ErrInvalidToken].
var (
	// ErrMalformed reports a token that is not a well-formed compact JWS with
	// JSON claims, or whose claims have the wrong JSON types.
	ErrMalformed = reason.New("verify: malformed token", "the access token is malformed")
	// ErrTooLarge reports a token over the configured size cap; it was not
	// parsed.
	ErrTooLarge = reason.New("verify: token too large", "the access token is too large")
	// ErrUnsupported reports a token using a feature this package refuses:
	// JWE, nested tokens, an unknown crit header, several signatures.
	ErrUnsupported = reason.New("verify: unsupported token", "the access token uses an unsupported format")
	// ErrAlgorithm reports a signature algorithm outside the allowlist, or
	// one that does not fit the key.
	ErrAlgorithm = reason.New("verify: signature algorithm not allowed", "the access token is signed with an algorithm that is not accepted")
	// ErrType reports a typ header other than the accepted access token
	// types (RFC 9068 §2.1, RFC 8725 §3.11).
	ErrType = reason.New("verify: wrong token type", "the token is not an access token")
	// ErrUnknownKey reports a kid that the key set does not hold, even after
	// a refresh.
	ErrUnknownKey = reason.New("verify: unknown signing key", "the access token is signed by an unknown key")
	// ErrSignature reports a signature that does not verify.
	ErrSignature = reason.New("verify: invalid signature", "the access token signature is invalid")
	// ErrIssuer reports an iss claim other than the configured issuer.
	ErrIssuer = reason.New("verify: wrong issuer", "the access token is from an unexpected issuer")
	// ErrAudience reports an aud claim that holds none of the configured
	// audiences.
	ErrAudience = reason.New("verify: wrong audience", "the access token is not intended for this API")
	// ErrExpired reports a token whose exp is before now minus the leeway.
	ErrExpired = reason.New("verify: token expired", "the access token expired")
	// ErrNotYetValid reports a token whose nbf is after now plus the leeway.
	ErrNotYetValid = reason.New("verify: token not yet valid", "the access token is not valid yet")
	// ErrIssuedInFuture reports a token whose iat, or whose auth_time (the
	// user's authentication, RFC 9470), is after now plus the leeway.
	ErrIssuedInFuture = reason.New("verify: token issued in the future", "the access token was issued in the future")
	// ErrMissingClaim reports a required claim that is absent (exp, iss, aud).
	ErrMissingClaim = reason.New("verify: required claim missing", "the access token lacks a required claim")
	// ErrRevoked reports a token issued at or before an event of its
	// identity provider that ended its subject's session, credentials or
	// account (a Shared Signals event, see [Revocations]): the user must
	// sign in again.
	ErrRevoked = reason.New("verify: token revoked", "the access token was revoked")
	// ErrInactive reports an introspection response with active false, or a
	// token that a lookup function does not know.
	ErrInactive = reason.New("verify: token not active", "the access token is not active")

	// ErrUnsupportedBinding reports a sender-constrained token bound by a
	// confirmation method (cnf member) this package cannot check; it is
	// never accepted as a bearer token.
	ErrUnsupportedBinding = reason.New("verify: token bound by an unsupported method", "the access token is bound to a key or certificate this server cannot check")
	// ErrCertificateRequired reports a certificate-bound token (RFC 8705)
	// presented without a client certificate.
	ErrCertificateRequired = reason.New("verify: client certificate required", "the access token is bound to a client certificate; connect with it")
	// ErrCertificateMismatch reports a certificate-bound token presented
	// with another client certificate than the one it is bound to.
	ErrCertificateMismatch = reason.New("verify: client certificate does not match", "the access token is bound to another client certificate")
	// ErrProofRequired reports a DPoP-bound token (RFC 9449) presented
	// without a DPoP proof, for instance as a bearer token.
	ErrProofRequired = reason.New("verify: DPoP proof required", "the access token is bound to a DPoP key; present it with a DPoP proof")
	// ErrProofKeyMismatch reports a DPoP-bound token whose proof was signed
	// by another key than the one the token is bound to.
	ErrProofKeyMismatch = reason.New("verify: DPoP proof key does not match", "the DPoP proof is signed by another key than the access token is bound to")
	// ErrNotSenderConstrained reports a bearer token where the method
	// requires a sender-constrained one.
	ErrNotSenderConstrained = reason.New("verify: token is not sender-constrained", "this method requires a sender-constrained access token")
)

// ErrUnavailable matches every error that says the token cannot be checked
// right now: no usable key set, introspection endpoint down or answering
// garbage. The token may well be good; clients should retry, not discard it.
var ErrUnavailable = errors.New("verify: cannot verify token now")

// A TokenError says why a token was rejected. It matches [ErrInvalidToken]
// and its Reason with errors.Is. Its message names the reason and the claim,
// never the token or a claim's value.
type TokenError struct {
	// Reason is one of the Err* reasons above.
	Reason error
	// Claim names the claim or header parameter at fault ("exp", "aud",
	// "kid", "typ"), if any.
	Claim string
}

// Error implements the error interface.
func (e *TokenError) Error() string { return reason.Message(ErrInvalidToken, e.Reason, e.Claim) }

// Unwrap returns [ErrInvalidToken] and the reason.
func (e *TokenError) Unwrap() []error { return []error{ErrInvalidToken, e.Reason} }

// Description returns a short, fixed English sentence fit for an OAuth
// error_description (RFC 6750 §3): "the access token expired". It never
// contains token data.
func (e *TokenError) Description() string {
	return reason.Describe(e.Reason, "the access token is invalid")
}

// An UnavailableError reports that a token could not be checked because a
// dependency failed. It matches [ErrUnavailable] and wraps the cause.
type UnavailableError struct {
	// Op says what failed: "fetch JWKS", "introspect", "discover".
	Op string
	// Err is the cause, if any. It never contains a token or a secret.
	Err error
}

// Error implements the error interface. The message is one line, and a
// cause that is itself an UnavailableError (discovery failing inside a
// key-set fetch, say) does not repeat the prefix.
func (e *UnavailableError) Error() string {
	const prefix = "verify: cannot verify token now: "
	msg := prefix + e.Op
	if e.Err != nil {
		cause := strings.ReplaceAll(e.Err.Error(), prefix, "")
		msg += ": " + strings.ReplaceAll(cause, "\n", "; ")
	}
	return msg
}

// Unwrap returns [ErrUnavailable] and the cause.
func (e *UnavailableError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrUnavailable}
	}
	return []error{ErrUnavailable, e.Err}
}

func trimPrefix(s string) string { return strings.TrimPrefix(s, "verify: ") }
