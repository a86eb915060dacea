package interceptor

import "github.com/oauthgate/oauthgate/internal/core"

// ErrorInfo reasons set by the interceptor (google.rpc.ErrorInfo.reason).
// Their values are UPPER_SNAKE_CASE strings, such as MISSING_TOKEN for
// ReasonMissingToken; the table of
// https://github.com/oauthgate/oauthgate/blob/main/docs/errors.md lists
// each with its status code and challenge.
const (
	// ReasonMissingToken: the call carried no credentials.
	ReasonMissingToken = core.ReasonMissingToken
	// ReasonInvalidRequest: the authorization metadata is malformed.
	ReasonInvalidRequest = core.ReasonInvalidRequest
	// ReasonInvalidToken: the token is invalid, expired or not for this API.
	ReasonInvalidToken = core.ReasonInvalidToken
	// ReasonInsufficientScope: the token lacks the scopes the method needs.
	ReasonInsufficientScope = core.ReasonInsufficientScope
	// ReasonUnavailable: the token cannot be verified right now.
	ReasonUnavailable = core.ReasonUnavailable
	// ReasonInsufficientUserAuthentication: the token has the scopes, but
	// the user's authentication is not strong or recent enough for the
	// method (RFC 9470): its ErrorInfo metadata carries acr_values and/or
	// max_age, the challenge too.
	ReasonInsufficientUserAuthentication = core.ReasonInsufficientUserAuthentication
	// ReasonConditionNotMet: a condition of the method's rule (a CEL
	// expression over the token and the request, see package conditions)
	// was false or could not be evaluated; the ErrorInfo metadata
	// "condition" names it.
	ReasonConditionNotMet = core.ReasonConditionNotMet
	// ReasonAccessDenied: the Authorizer denied the call.
	ReasonAccessDenied = core.ReasonAccessDenied
	// ReasonUndeclaredMethod: the method has no rule, so it is denied.
	ReasonUndeclaredMethod = core.ReasonUndeclaredMethod
	// ReasonCertificateRequired: the token is bound to a client certificate
	// (RFC 8705) and the call came without one.
	ReasonCertificateRequired = core.ReasonCertificateRequired
	// ReasonCertificateMismatch: the token is bound to another client
	// certificate than the call's.
	ReasonCertificateMismatch = core.ReasonCertificateMismatch
	// ReasonUnsupportedBinding: the token is bound by a confirmation method
	// the server cannot check; it is never accepted as a bearer token.
	ReasonUnsupportedBinding = core.ReasonUnsupportedBinding
	// ReasonDPoPProofRequired: the token is DPoP-bound (RFC 9449) and the
	// call carried no valid proof, for instance a Bearer presentation.
	ReasonDPoPProofRequired = core.ReasonDPoPProofRequired
	// ReasonDPoPKeyMismatch: the DPoP proof's key is not the one the token
	// is bound to.
	ReasonDPoPKeyMismatch = core.ReasonDPoPKeyMismatch
	// ReasonDPoPInvalidProof: the call's DPoP proof is invalid. Specific
	// failures have reasons of their own starting with DPOP_PROOF_
	// (DPOP_PROOF_REPLAYED, DPOP_PROOF_STALE, DPOP_PROOF_URI, ...), and
	// DPOP_NONCE_REQUIRED asks the client to retry with the server nonce.
	ReasonDPoPInvalidProof = core.ReasonDPoPInvalidProof
	// ReasonDPoPReplayCacheFull: the DPoP replay cache is full, so no new
	// proof can be accepted right now (Unavailable).
	ReasonDPoPReplayCacheFull = core.ReasonDPoPReplayCacheFull
	// ReasonDPoPReplayStoreUnavailable: the shared DPoP replay store
	// ([dpop.Config].ReplayStore) could not say whether the proof was
	// replayed, so it is refused (Unavailable); the proof itself may be
	// valid.
	ReasonDPoPReplayStoreUnavailable = core.ReasonDPoPReplayStoreUnavailable
	// ReasonSenderConstraintRequired: the method requires a
	// sender-constrained token and got a bearer token.
	ReasonSenderConstraintRequired = core.ReasonSenderConstraintRequired
	// ReasonTokenRevoked: the token was issued before an event of its
	// identity provider that revoked its subject's session, credentials
	// or account (verify.ErrRevoked, package ssf); the call, or the open
	// stream, fails with Unauthenticated and an invalid_token challenge.
	ReasonTokenRevoked = core.ReasonTokenRevoked
	// ReasonVerifierFailed: the verifier broke the [verify.Verifier]
	// contract (an error that is neither an invalid token nor unavailable,
	// or no claims and no error); the call fails with Internal.
	ReasonVerifierFailed = core.ReasonVerifierFailed
)

// A DenyError is what an [Authorizer] returns to deny a call with a specific
// answer. The call fails with PermissionDenied. Any other error from an
// Authorizer denies the call with reason ACCESS_DENIED and a generic message.
// Its fields are Reason (the ErrorInfo reason, UPPER_SNAKE_CASE; empty means
// ACCESS_DENIED), Description (the client-facing status message, never a
// secret; empty means "access denied") and Scopes (if set, the answer is an
// RFC 6750 insufficient_scope challenge naming them). It is the type
// connectgate's Authorizers return too.
type DenyError = core.DenyError
