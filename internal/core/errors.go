package core

import (
	"errors"
)

// ErrorInfo reasons set by the core (google.rpc.ErrorInfo.reason). The
// adapters re-export them; their documentation is in package interceptor.
const (
	ReasonMissingToken                   = "MISSING_TOKEN"
	ReasonInvalidRequest                 = "INVALID_REQUEST"
	ReasonInvalidToken                   = "INVALID_TOKEN"
	ReasonInsufficientScope              = "INSUFFICIENT_SCOPE"
	ReasonUnavailable                    = "VERIFIER_UNAVAILABLE"
	ReasonInsufficientUserAuthentication = "INSUFFICIENT_USER_AUTHENTICATION"
	ReasonConditionNotMet                = "CONDITION_NOT_MET"
	ReasonAccessDenied                   = "ACCESS_DENIED"
	ReasonUndeclaredMethod               = "UNDECLARED_METHOD"
	ReasonCertificateRequired            = "CERTIFICATE_REQUIRED"
	ReasonCertificateMismatch            = "CERTIFICATE_MISMATCH"
	ReasonUnsupportedBinding             = "UNSUPPORTED_BINDING"
	ReasonDPoPProofRequired              = "DPOP_PROOF_REQUIRED"
	ReasonDPoPKeyMismatch                = "DPOP_KEY_MISMATCH"
	ReasonDPoPInvalidProof               = "DPOP_PROOF_INVALID"
	ReasonDPoPReplayCacheFull            = "DPOP_REPLAY_CACHE_FULL"
	ReasonDPoPReplayStoreUnavailable     = "DPOP_REPLAY_STORE_UNAVAILABLE"
	ReasonSenderConstraintRequired       = "SENDER_CONSTRAINT_REQUIRED"
	ReasonTokenRevoked                   = "TOKEN_REVOKED"
	ReasonVerifierFailed                 = "VERIFIER_FAILED"
	// ReasonMisconfigured: the transport adapter cannot tell the core what
	// a check needs (an HTTP adapter installed without its request
	// wrapper); the call fails with Internal, never unchecked.
	ReasonMisconfigured = "SERVER_MISCONFIGURED"
)

// A DenyError is what an [Authorizer] returns to deny a call with a specific
// answer. The call fails with PermissionDenied. Any other error from an
// Authorizer denies the call with reason ACCESS_DENIED and a generic message.
type DenyError struct {
	// Reason is the ErrorInfo reason, in UPPER_SNAKE_CASE. If empty,
	// ACCESS_DENIED is used.
	Reason string
	// Description is the client-facing status message. It must not contain
	// secrets. If empty, "access denied" is used.
	Description string
	// Scopes, if set, make the answer an RFC 6750 insufficient_scope
	// challenge naming these scopes, for a client that could obtain them.
	Scopes []string
}

// Error implements the error interface. The prefix is the one the type had
// when only the grpc-go adapter existed, kept so that wrapped messages do
// not change.
func (e *DenyError) Error() string {
	if e.Description == "" {
		return "oauthgate: access denied"
	}
	return "oauthgate: access denied: " + e.Description
}

// ErrMisconfigured is what a [Transport] wraps when it cannot answer
// because the adapter is wired incompletely; the call is denied with
// Internal and [ReasonMisconfigured].
var ErrMisconfigured = errors.New("oauthgate: the transport adapter is not fully installed")

// Causes of denials that no verifier or Authorizer error explains; they
// are logged, never sent.
var (
	errConditionsNeedRequest = errors.New("interceptor: the method has conditions on its request, which AuthFunc cannot see; install Unary and Stream (ServerOptions)")
	errNoRule                = errors.New("oauthgate: method has no rule")
	errNoClaims              = errors.New("oauthgate: verifier returned no claims and no error")
	errTokenExpired          = errors.New("oauthgate: access token expired during the stream")
)
