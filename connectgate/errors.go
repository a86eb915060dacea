package connectgate

import "github.com/oauthgate/oauthgate/internal/core"

// The google.rpc.ErrorInfo reasons of the Gate's denials: the same strings,
// with the same meaning, as package interceptor's Reason constants (see
// its documentation for each; the table of
// https://github.com/oauthgate/oauthgate/blob/main/docs/errors.md gives
// their values), so that a connect-go server compares them without
// importing the grpc-go adapter. An [Authorizer]'s [DenyError] may
// set reasons of its own. ReasonMisconfigured is connectgate's own: a call
// that needs [Gate.Handler] (a DPoP proof, a certificate-bound token) came
// without it, and was denied with Internal.
const (
	ReasonMissingToken                   = core.ReasonMissingToken
	ReasonInvalidRequest                 = core.ReasonInvalidRequest
	ReasonInvalidToken                   = core.ReasonInvalidToken
	ReasonInsufficientScope              = core.ReasonInsufficientScope
	ReasonUnavailable                    = core.ReasonUnavailable
	ReasonInsufficientUserAuthentication = core.ReasonInsufficientUserAuthentication
	ReasonConditionNotMet                = core.ReasonConditionNotMet
	ReasonAccessDenied                   = core.ReasonAccessDenied
	ReasonUndeclaredMethod               = core.ReasonUndeclaredMethod
	ReasonCertificateRequired            = core.ReasonCertificateRequired
	ReasonCertificateMismatch            = core.ReasonCertificateMismatch
	ReasonUnsupportedBinding             = core.ReasonUnsupportedBinding
	ReasonDPoPProofRequired              = core.ReasonDPoPProofRequired
	ReasonDPoPKeyMismatch                = core.ReasonDPoPKeyMismatch
	ReasonDPoPInvalidProof               = core.ReasonDPoPInvalidProof
	ReasonDPoPReplayCacheFull            = core.ReasonDPoPReplayCacheFull
	ReasonDPoPReplayStoreUnavailable     = core.ReasonDPoPReplayStoreUnavailable
	ReasonSenderConstraintRequired       = core.ReasonSenderConstraintRequired
	ReasonTokenRevoked                   = core.ReasonTokenRevoked
	ReasonVerifierFailed                 = core.ReasonVerifierFailed
	ReasonMisconfigured                  = core.ReasonMisconfigured
)
