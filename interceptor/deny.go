package interceptor

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/oauthgate/oauthgate/dpop"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

// This file holds every denial of the interceptor: the rejection that
// describes one, the constructors that make one from each failure, the gRPC
// status it becomes, and the www-authenticate challenge it carries.

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
	// condition names the condition that denied the call, for the ErrorInfo
	// metadata; "" for other denials.
	condition string
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
	if r.condition != "" {
		md["condition"] = r.condition
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

// challengeMetadata returns the response metadata that describes rej to an
// OAuth client, or nil: the www-authenticate challenges (RFC 6750 §3,
// RFC 9449 §7.1) and, for use_dpop_nonce, the dpop-nonce to retry with
// (RFC 9449 §8). Every challenge the interceptor sends is built here.
//
// With DPoP enabled, both schemes are offered, one www-authenticate value
// each; the error parameters go on the scheme the client used.
func (i *Interceptor) challengeMetadata(rej *rejection) metadata.MD {
	if !rej.challenge {
		return nil
	}
	md := metadata.MD{}
	var metaURL string
	if m := i.opts.resourceMeta; m != nil {
		metaURL = m.URL()
	}
	bearer := challenge{scheme: "Bearer", realm: i.opts.realm, resourceMetadata: metaURL}
	if !rej.dpop {
		bearer.rej = rej
	}
	md.Append("www-authenticate", bearer.String())
	if d := i.opts.dpop; d != nil {
		c := challenge{scheme: "DPoP", realm: i.opts.realm, algs: d.verifier.Algorithms(), resourceMetadata: metaURL}
		if rej.dpop {
			c.rej = rej
		}
		md.Append("www-authenticate", c.String())
		if rej.nonce {
			md.Append("dpop-nonce", d.verifier.Nonce())
		}
	}
	return md
}

// A challenge is one auth-scheme with its parameters (RFC 9110 §11.6.1).
type challenge struct {
	scheme string
	realm  string
	algs   string     // DPoP: the accepted proof algorithms
	rej    *rejection // the error, when it belongs to this scheme
	// resourceMetadata is the URL of the protected resource metadata
	// (RFC 9728 §5.1), or "".
	resourceMetadata string
}

func (c challenge) String() string {
	var b strings.Builder
	b.WriteString(c.scheme)
	sep := " "
	param := func(name, value string) {
		b.WriteString(sep)
		b.WriteString(name)
		b.WriteString(`="`)
		writeQuoted(&b, value)
		b.WriteByte('"')
		sep = ", "
	}
	if c.realm != "" {
		param("realm", c.realm)
	}
	if c.algs != "" {
		param("algs", c.algs)
	}
	if r := c.rej; r != nil {
		if r.oauthError != "" {
			param("error", r.oauthError)
			if r.description != "" {
				param("error_description", r.description)
			}
		}
		if len(r.scope) > 0 {
			param("scope", strings.Join(r.scope, " "))
		}
		if len(r.acrValues) > 0 {
			param("acr_values", strings.Join(r.acrValues, " "))
		}
		if r.maxAge != "" {
			param("max_age", r.maxAge)
		}
	}
	if c.resourceMetadata != "" {
		param("resource_metadata", c.resourceMetadata)
	}
	return b.String()
}

// stepUpRejection is the answer to a token that has the scopes but not the
// authentication rule asks for (RFC 9470 §3): Unauthenticated, so that the
// client asks the authorization server for a new token, with the
// requirements to ask it with.
func stepUpRejection(rule *scopes.Rule) *rejection {
	rej := &rejection{code: codes.Unauthenticated, reason: ReasonInsufficientUserAuthentication,
		oauthError: "insufficient_user_authentication", challenge: true, acrValues: rule.ACRValues()}
	d, hasMaxAge := rule.MaxAge()
	switch {
	case len(rej.acrValues) > 0 && hasMaxAge:
		rej.description = "a stronger and more recent authentication is required"
	case hasMaxAge:
		rej.description = "a more recent authentication is required"
	default:
		rej.description = "a stronger authentication is required"
	}
	if hasMaxAge {
		rej.maxAge = strconv.FormatInt(int64(d/time.Second), 10)
	}
	return rej
}

func invalidRequest(description string) *rejection {
	return &rejection{code: codes.Unauthenticated, reason: ReasonInvalidRequest, oauthError: "invalid_request",
		description: description, challenge: true}
}

// uriRejection refuses a call whose URI cannot be known: a proof cannot be
// matched against it.
func uriRejection(err error) *rejection {
	rej := proofRejection(&dpop.ProofError{Reason: dpop.ErrURI})
	rej.description = "the DPoP proof cannot be checked: the call's :authority is not a host[:port]"
	rej.cause = err
	return rej
}

// proofRejection maps a proof error: Unauthenticated with
// invalid_dpop_proof (or use_dpop_nonce) on the DPoP challenge, an
// ErrorInfo reason per failure; a full replay cache is Unavailable.
func proofRejection(err error) *rejection {
	if errors.Is(err, dpop.ErrReplayCacheFull) {
		return &rejection{code: codes.Unavailable, reason: ReasonDPoPReplayCacheFull,
			description: "the DPoP proof cannot be checked right now; retry with a new proof", cause: err}
	}
	rej := &rejection{code: codes.Unauthenticated, reason: ReasonDPoPInvalidProof, oauthError: "invalid_dpop_proof",
		description: "the DPoP proof is invalid", challenge: true, dpop: true, cause: err}
	var pe *dpop.ProofError
	if errors.As(err, &pe) {
		rej.description = pe.Description()
		for _, r := range proofReasons {
			if errors.Is(err, r.err) {
				rej.reason = r.reason
			}
		}
	}
	if errors.Is(err, dpop.ErrUseNonce) {
		rej.oauthError, rej.nonce = "use_dpop_nonce", true
		rej.description = "the DPoP proof must carry the server's nonce from the dpop-nonce metadata"
	}
	return rej
}

// proofReasons is static data: the ErrorInfo reason of each proof failure.
var proofReasons = [...]struct {
	err    error
	reason string
}{
	{dpop.ErrMalformed, "DPOP_PROOF_MALFORMED"},
	{dpop.ErrType, "DPOP_PROOF_TYPE"},
	{dpop.ErrAlgorithm, "DPOP_PROOF_ALGORITHM"},
	{dpop.ErrKey, "DPOP_PROOF_KEY"},
	{dpop.ErrPrivateKey, "DPOP_PROOF_PRIVATE_KEY"},
	{dpop.ErrSignature, "DPOP_PROOF_SIGNATURE"},
	{dpop.ErrMethod, "DPOP_PROOF_METHOD"},
	{dpop.ErrURI, "DPOP_PROOF_URI"},
	{dpop.ErrStale, "DPOP_PROOF_STALE"},
	{dpop.ErrMissingClaim, "DPOP_PROOF_MISSING_CLAIM"},
	{dpop.ErrTokenHash, "DPOP_PROOF_TOKEN_HASH"},
	{dpop.ErrReplayed, "DPOP_PROOF_REPLAYED"},
	{dpop.ErrNonce, "DPOP_NONCE_REQUIRED"},
}

// verifyRejection maps a verifier error: invalid token → Unauthenticated,
// unavailable → Unavailable (the token may be fine), anything else → a
// denial that blames neither.
func verifyRejection(err error) *rejection {
	switch {
	case errors.Is(err, verify.ErrInvalidToken):
		return tokenRejection(err)
	case errors.Is(err, verify.ErrUnavailable):
		// No challenge: the client must not throw its token away.
		return &rejection{code: codes.Unavailable, reason: ReasonUnavailable,
			description: "the access token cannot be verified right now; retry later", cause: err}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &rejection{code: codes.Unavailable, reason: ReasonUnavailable,
			description: "the access token could not be verified in time", cause: err}
	default:
		return &rejection{code: codes.Internal, reason: ReasonVerifierFailed,
			description: "the access token could not be verified", cause: err}
	}
}

// tokenRejection is the answer to a token error: Unauthenticated with an
// invalid_token challenge, and an ErrorInfo reason that says which check
// failed where a client can act on it.
func tokenRejection(err error) *rejection {
	description := "the access token is invalid"
	var te *verify.TokenError
	if errors.As(err, &te) {
		description = te.Description()
	}
	return &rejection{code: codes.Unauthenticated, reason: tokenReason(err), oauthError: "invalid_token",
		description: description, challenge: true, cause: err}
}

// tokenReason is the ErrorInfo reason of a token error.
func tokenReason(err error) string {
	for _, r := range bindingReasons {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return ReasonInvalidToken
}

// bindingReasons is static data: the ErrorInfo reasons of binding failures.
var bindingReasons = [...]struct {
	err    error
	reason string
}{
	{verify.ErrCertificateRequired, ReasonCertificateRequired},
	{verify.ErrCertificateMismatch, ReasonCertificateMismatch},
	{verify.ErrUnsupportedBinding, ReasonUnsupportedBinding},
	{verify.ErrProofRequired, ReasonDPoPProofRequired},
	{verify.ErrProofKeyMismatch, ReasonDPoPKeyMismatch},
	{verify.ErrNotSenderConstrained, ReasonSenderConstraintRequired},
}

// expiredRejection is the answer to a token that expired during a stream:
// the one a new call with it would get.
func expiredRejection() *rejection {
	return &rejection{code: codes.Unauthenticated, reason: ReasonInvalidToken, oauthError: "invalid_token",
		description: (&verify.TokenError{Reason: verify.ErrExpired}).Description(), challenge: true, cause: errTokenExpired}
}

// errTokenExpired is the cause of a stream ended at its token's deadline.
var errTokenExpired = errors.New("interceptor: access token expired during the stream")

// endedStream is what SendMsg and RecvMsg return after the interceptor
// ended the stream; Stream replaces the handler's final status with the
// full answer.
func endedStream(rej *rejection) error { return status.Error(rej.code, rej.description) }

// conditionDenial is the error of a [ConditionEvaluator] that names the
// condition that denied a call (*conditions.DenyError is one).
type conditionDenial interface {
	error
	Denied() (condition string, cause error)
}

// conditionRejection is the answer to a condition that denied a call:
// PermissionDenied, naming the condition but never what it saw. The CEL
// error of a failed evaluation, which may hold request data or claim
// values, is the cause: logged on the server, never sent.
func conditionRejection(err error) *rejection {
	rej := &rejection{code: codes.PermissionDenied, reason: ReasonConditionNotMet,
		description: "the call does not meet a condition of the method", cause: err}
	if d, ok := errors.AsType[conditionDenial](err); ok {
		condition, cause := d.Denied()
		rej.condition = condition
		if cause != nil {
			rej.cause = fmt.Errorf("%w: %w", err, cause)
		}
	}
	return rej
}
