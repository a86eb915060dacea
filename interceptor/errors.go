package interceptor

import (
	"errors"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/oauthgate/oauthgate/verify"
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

// ErrUnprotected reports a server on which some kind of call (unary or
// streaming) can reach a handler without passing the Interceptor.
var ErrUnprotected = errors.New("interceptor: calls are not protected")

// A WiringError says which kinds of call do not pass through the
// Interceptor on a checked server ([Interceptor.Check]). It wraps
// [ErrUnprotected].
type WiringError struct {
	// Unary says what happened to the unary probe call, or is empty when
	// the Interceptor answered it.
	Unary string
	// Streaming says the same of the streaming probe call.
	Streaming string
}

// Error implements the error interface.
func (e *WiringError) Error() string {
	var b strings.Builder
	b.WriteString("interceptor: the server is not protected:")
	if e.Unary != "" {
		b.WriteString(" unary calls " + e.Unary + ";")
	}
	if e.Streaming != "" {
		b.WriteString(" streaming calls " + e.Streaming + ";")
	}
	b.WriteString(" install oauthgate for both kinds with grpc.NewServer(gate.ServerOptions()...)")
	switch {
	case e.Unary != "" && e.Streaming == "":
		b.WriteString(", or add grpc.ChainUnaryInterceptor(gate.Unary)")
	case e.Streaming != "" && e.Unary == "":
		b.WriteString(", or add grpc.ChainStreamInterceptor(gate.Stream)")
	}
	return b.String()
}

// Unwrap returns [ErrUnprotected].
func (e *WiringError) Unwrap() error { return ErrUnprotected }

// rejection is a failed authorization, mapped onto gRPC.
type rejection struct {
	code   codes.Code
	reason string // ErrorInfo reason
	// oauthError is the RFC 6750 error code, "" when the challenge carries
	// none.
	oauthError  string
	description string
	scope       []string
	// challenge reports whether to send a www-authenticate header.
	challenge bool
	// dpop reports that the error belongs on the DPoP challenge: the call
	// used the DPoP scheme (RFC 9449 §7.1).
	dpop bool
	// nonce asks for a dpop-nonce response header (use_dpop_nonce).
	nonce bool
	// acrValues and maxAge are the step-up requirements the client must
	// meet (RFC 9470 §3); maxAge is "" when none.
	acrValues []string
	maxAge    string
	// probe marks the answer to a Check's own probe call: not logged.
	probe bool
	// cause is logged, never sent.
	cause error
	// claims are the verified claims of a token that was denied after
	// verification, for the decision log; nil otherwise.
	claims *verify.Claims
}

func (r *rejection) Error() string { return "interceptor: " + r.description }

func (r *rejection) Unwrap() error { return r.cause }

// status builds the gRPC status with its ErrorInfo detail.
func (r *rejection) status(domain, realm, resourceMetadata string) *status.Status {
	st := status.New(r.code, r.description)
	md := map[string]string{}
	if realm != "" {
		md["realm"] = realm
	}
	if r.oauthError != "" {
		md["error"] = r.oauthError
	}
	if len(r.scope) > 0 {
		md["scope"] = strings.Join(r.scope, " ")
	}
	if len(r.acrValues) > 0 {
		md["acr_values"] = strings.Join(r.acrValues, " ")
	}
	if r.maxAge != "" {
		md["max_age"] = r.maxAge
	}
	if resourceMetadata != "" {
		md["resource_metadata"] = resourceMetadata
	}
	withInfo, err := st.WithDetails(&errdetails.ErrorInfo{Reason: r.reason, Domain: domain, Metadata: md})
	if err != nil {
		return st // R11: a status without detail beats no status
	}
	return withInfo
}

// writeQuoted writes s as the content of an RFC 9110 §5.6.4 quoted-string,
// escaping '"' and '\' and dropping characters a header cannot carry.
func writeQuoted(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\t' || (c >= 0x20 && c < 0x7f):
			b.WriteByte(c)
		}
	}
}

// Causes of rejections that no verifier or Authorizer error explains; they
// are logged, never sent.
var (
	errNoRule   = errors.New("interceptor: method has no rule")
	errNoClaims = errors.New("interceptor: verifier returned no claims and no error")
)
