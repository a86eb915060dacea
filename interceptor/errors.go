package interceptor

import (
	"errors"
)

// ErrorInfo reasons set by the interceptor (google.rpc.ErrorInfo.reason).
const (
	// ReasonMissingToken: the call carried no credentials.
	ReasonMissingToken = "MISSING_TOKEN"
	// ReasonInvalidRequest: the authorization metadata is malformed.
	ReasonInvalidRequest = "INVALID_REQUEST"
	// ReasonInvalidToken: the token is invalid, expired or not for this API.
	ReasonInvalidToken = "INVALID_TOKEN"
	// ReasonInsufficientScope: the token lacks the scopes the method needs.
	ReasonInsufficientScope = "INSUFFICIENT_SCOPE"
	// ReasonUnavailable: the token cannot be verified right now.
	ReasonUnavailable = "VERIFIER_UNAVAILABLE"
	// ReasonInsufficientUserAuthentication: the token has the scopes, but
	// the user's authentication is not strong or recent enough for the
	// method (RFC 9470): its ErrorInfo metadata carries acr_values and/or
	// max_age, the challenge too.
	ReasonInsufficientUserAuthentication = "INSUFFICIENT_USER_AUTHENTICATION"
	// ReasonConditionNotMet: a condition of the method's rule (a CEL
	// expression over the token and the request, see package conditions)
	// was false or could not be evaluated; the ErrorInfo metadata
	// "condition" names it.
	ReasonConditionNotMet = "CONDITION_NOT_MET"
	// ReasonAccessDenied: the Authorizer denied the call.
	ReasonAccessDenied = "ACCESS_DENIED"
	// ReasonUndeclaredMethod: the method has no rule, so it is denied.
	ReasonUndeclaredMethod = "UNDECLARED_METHOD"
	// ReasonCertificateRequired: the token is bound to a client certificate
	// (RFC 8705) and the call came without one.
	ReasonCertificateRequired = "CERTIFICATE_REQUIRED"
	// ReasonCertificateMismatch: the token is bound to another client
	// certificate than the call's.
	ReasonCertificateMismatch = "CERTIFICATE_MISMATCH"
	// ReasonUnsupportedBinding: the token is bound by a confirmation method
	// the server cannot check; it is never accepted as a bearer token.
	ReasonUnsupportedBinding = "UNSUPPORTED_BINDING"
	// ReasonDPoPProofRequired: the token is DPoP-bound (RFC 9449) and the
	// call carried no valid proof, for instance a Bearer presentation.
	ReasonDPoPProofRequired = "DPOP_PROOF_REQUIRED"
	// ReasonDPoPKeyMismatch: the DPoP proof's key is not the one the token
	// is bound to.
	ReasonDPoPKeyMismatch = "DPOP_KEY_MISMATCH"
	// ReasonDPoPInvalidProof: the call's DPoP proof is invalid. Specific
	// failures have reasons of their own starting with DPOP_PROOF_
	// (DPOP_PROOF_REPLAYED, DPOP_PROOF_STALE, DPOP_PROOF_URI, ...), and
	// DPOP_NONCE_REQUIRED asks the client to retry with the server nonce.
	ReasonDPoPInvalidProof = "DPOP_PROOF_INVALID"
	// ReasonDPoPReplayCacheFull: the DPoP replay cache is full, so no new
	// proof can be accepted right now (Unavailable).
	ReasonDPoPReplayCacheFull = "DPOP_REPLAY_CACHE_FULL"
	// ReasonDPoPReplayStoreUnavailable: the shared DPoP replay store
	// ([dpop.Config].ReplayStore) could not say whether the proof was
	// replayed, so it is refused (Unavailable); the proof itself may be
	// valid.
	ReasonDPoPReplayStoreUnavailable = "DPOP_REPLAY_STORE_UNAVAILABLE"
	// ReasonSenderConstraintRequired: the method requires a
	// sender-constrained token and got a bearer token.
	ReasonSenderConstraintRequired = "SENDER_CONSTRAINT_REQUIRED"
	// ReasonVerifierFailed: the verifier broke the [verify.Verifier]
	// contract (an error that is neither an invalid token nor unavailable,
	// or no claims and no error); the call fails with Internal.
	ReasonVerifierFailed = "VERIFIER_FAILED"
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

// Error implements the error interface.
func (e *DenyError) Error() string {
	if e.Description == "" {
		return "interceptor: access denied"
	}
	return "interceptor: access denied: " + e.Description
}

// Causes of rejections that no verifier or Authorizer error explains; they
// are logged, never sent.
var (
	errConditionsNeedRequest = errors.New("interceptor: the method has conditions on its request, which AuthFunc cannot see; install Unary and Stream (ServerOptions)")
	errNoRule                = errors.New("interceptor: method has no rule")
	errNoClaims              = errors.New("interceptor: verifier returned no claims and no error")
)
