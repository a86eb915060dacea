package core

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"

	"github.com/oauthgate/oauthgate/dpop"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

// This file holds every denial of the core: the Denial that describes one,
// the constructors that make one from each failure, its ErrorInfo, and
// the www-authenticate challenges it carries. The adapters render these,
// and build none of their own.

// A Code is the status code of a decision. Its values are those of gRPC's
// codes.Code and of connect.Code, so an adapter converts it with a type
// conversion.
type Code uint32

// The codes the core decides.
const (
	OK               Code = 0
	PermissionDenied Code = 7
	Internal         Code = 13
	Unavailable      Code = 14
	Unauthenticated  Code = 16
)

// String returns the name gRPC gives the code ("PermissionDenied"), which
// the logs of every adapter use.
func (c Code) String() string {
	switch c {
	case OK:
		return "OK"
	case PermissionDenied:
		return "PermissionDenied"
	case Internal:
		return "Internal"
	case Unavailable:
		return "Unavailable"
	case Unauthenticated:
		return "Unauthenticated"
	}
	return "Code(" + strconv.FormatUint(uint64(c), 10) + ")"
}

// A Denial is a failed authorization, independent of the transport.
type Denial struct {
	Code Code
	// Reason is the ErrorInfo reason.
	Reason string
	// OAuthError is the RFC 6750 error code, "" when the challenge
	// carries none.
	OAuthError string
	// Description is the client-facing message: fixed sentences, never a
	// token or a claim value.
	Description string
	Scope       []string
	// Challenge reports whether to send www-authenticate challenges.
	Challenge bool
	// DPoP reports that the error belongs on the DPoP challenge: the call
	// used the DPoP scheme (RFC 9449 §7.1).
	DPoP bool
	// Nonce asks for a DPoP-Nonce response header (use_dpop_nonce).
	Nonce bool
	// ACRValues and MaxAge are the step-up requirements the client must
	// meet (RFC 9470 §3); MaxAge is "" when none.
	ACRValues []string
	MaxAge    string
	// Condition names the condition that denied the call; "" for other
	// denials.
	Condition string
	// Cause is logged, never sent.
	Cause error
	// Claims are the verified claims of a token that was denied after
	// verification, for the decision log; nil otherwise.
	Claims *verify.Claims
}

// Error returns the description, prefixed.
func (d *Denial) Error() string { return "oauthgate: " + d.Description }

// Unwrap returns the cause.
func (d *Denial) Unwrap() error { return d.Cause }

// ErrorInfo returns the google.rpc.ErrorInfo detail of d: the reason, the
// Gate's domain, and the realm, OAuth error, scope, step-up requirements,
// condition and resource metadata URL as metadata.
func (g *Gate) ErrorInfo(d *Denial) *errdetails.ErrorInfo {
	md := map[string]string{}
	if g.opts.realm != "" {
		md["realm"] = g.opts.realm
	}
	if d.OAuthError != "" {
		md["error"] = d.OAuthError
	}
	if len(d.Scope) > 0 {
		md["scope"] = strings.Join(d.Scope, " ")
	}
	if len(d.ACRValues) > 0 {
		md["acr_values"] = strings.Join(d.ACRValues, " ")
	}
	if d.MaxAge != "" {
		md["max_age"] = d.MaxAge
	}
	if d.Condition != "" {
		md["condition"] = d.Condition
	}
	if g.opts.resourceMeta != "" {
		md["resource_metadata"] = g.opts.resourceMeta
	}
	return &errdetails.ErrorInfo{Reason: d.Reason, Domain: g.opts.domain, Metadata: md}
}

// Challenges returns the www-authenticate values of d (RFC 6750 §3, RFC
// 9449 §7.1), or nil when d has none. With DPoP enabled both schemes are
// offered, one value each; the error parameters go on the scheme the
// client used. Every challenge of every adapter is built here.
func (g *Gate) Challenges(d *Denial) []string {
	if !d.Challenge {
		return nil
	}
	bearer := challenge{scheme: "Bearer", realm: g.opts.realm, resourceMetadata: g.opts.resourceMeta}
	if !d.DPoP {
		bearer.d = d
	}
	if g.opts.dpop == nil {
		return []string{bearer.String()}
	}
	c := challenge{scheme: "DPoP", realm: g.opts.realm, algs: g.opts.dpop.verifier.Algorithms(), resourceMetadata: g.opts.resourceMeta}
	if d.DPoP {
		c.d = d
	}
	return []string{bearer.String(), c.String()}
}

// DPoPNonce returns the nonce to send in a DPoP-Nonce header with d
// (use_dpop_nonce, RFC 9449 §8), or "".
func (g *Gate) DPoPNonce(d *Denial) string {
	if !d.Challenge || !d.Nonce || g.opts.dpop == nil {
		return ""
	}
	return g.opts.dpop.verifier.Nonce()
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

// A challenge is one auth-scheme with its parameters (RFC 9110 §11.6.1).
type challenge struct {
	scheme string
	realm  string
	algs   string  // DPoP: the accepted proof algorithms
	d      *Denial // the error, when it belongs to this scheme
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
	if d := c.d; d != nil {
		if d.OAuthError != "" {
			param("error", d.OAuthError)
			if d.Description != "" {
				param("error_description", d.Description)
			}
		}
		if len(d.Scope) > 0 {
			param("scope", strings.Join(d.Scope, " "))
		}
		if len(d.ACRValues) > 0 {
			param("acr_values", strings.Join(d.ACRValues, " "))
		}
		if d.MaxAge != "" {
			param("max_age", d.MaxAge)
		}
	}
	if c.resourceMetadata != "" {
		param("resource_metadata", c.resourceMetadata)
	}
	return b.String()
}

// stepUpDenial is the answer to a token that has the scopes but not the
// authentication rule asks for (RFC 9470 §3): Unauthenticated, so that the
// client asks the authorization server for a new token, with the
// requirements to ask it with.
func stepUpDenial(rule *scopes.Rule) *Denial {
	d := &Denial{Code: Unauthenticated, Reason: ReasonInsufficientUserAuthentication,
		OAuthError: "insufficient_user_authentication", Challenge: true, ACRValues: rule.ACRValues()}
	maxAge, hasMaxAge := rule.MaxAge()
	switch {
	case len(d.ACRValues) > 0 && hasMaxAge:
		d.Description = "a stronger and more recent authentication is required"
	case hasMaxAge:
		d.Description = "a more recent authentication is required"
	default:
		d.Description = "a stronger authentication is required"
	}
	if hasMaxAge {
		d.MaxAge = strconv.FormatInt(int64(maxAge/time.Second), 10)
	}
	return d
}

func invalidRequest(description string) *Denial {
	return &Denial{Code: Unauthenticated, Reason: ReasonInvalidRequest, OAuthError: "invalid_request",
		Description: description, Challenge: true}
}

// transportDenial refuses a call whose transport cannot tell what a check
// needs: a misconfigured adapter is Internal (fail closed), and a target
// the client made unusable is a proof that cannot match.
func transportDenial(err error) *Denial {
	if errors.Is(err, ErrMisconfigured) {
		return &Denial{Code: Internal, Reason: ReasonMisconfigured,
			Description: "the server cannot check this call's credentials", Cause: err}
	}
	return uriDenial(err)
}

// uriDenial refuses a call whose URI cannot be known: a proof cannot be
// matched against it.
func uriDenial(err error) *Denial {
	d := proofDenial(&dpop.ProofError{Reason: dpop.ErrURI})
	d.Description = "the DPoP proof cannot be checked: the call's authority (:authority or Host) is not a host[:port]"
	d.Cause = err
	return d
}

// proofDenial maps a proof error: Unauthenticated with invalid_dpop_proof
// (or use_dpop_nonce) on the DPoP challenge, an ErrorInfo reason per
// failure; a full replay cache is Unavailable.
func proofDenial(err error) *Denial {
	if errors.Is(err, dpop.ErrReplayCacheFull) {
		return &Denial{Code: Unavailable, Reason: ReasonDPoPReplayCacheFull,
			Description: "the DPoP proof cannot be checked right now; retry with a new proof", Cause: err}
	}
	d := &Denial{Code: Unauthenticated, Reason: ReasonDPoPInvalidProof, OAuthError: "invalid_dpop_proof",
		Description: "the DPoP proof is invalid", Challenge: true, DPoP: true, Cause: err}
	var pe *dpop.ProofError
	if errors.As(err, &pe) {
		d.Description = pe.Description()
		for _, r := range proofReasons {
			if errors.Is(err, r.err) {
				d.Reason = r.reason
			}
		}
	}
	if errors.Is(err, dpop.ErrUseNonce) {
		d.OAuthError, d.Nonce = "use_dpop_nonce", true
		d.Description = "the DPoP proof must carry the server's nonce from the dpop-nonce metadata"
	}
	return d
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

// verifyDenial maps a verifier error: invalid token → Unauthenticated,
// unavailable → Unavailable (the token may be fine), anything else → a
// denial that blames neither.
func verifyDenial(err error) *Denial {
	switch {
	case errors.Is(err, verify.ErrInvalidToken):
		return tokenDenial(err)
	case errors.Is(err, verify.ErrUnavailable):
		// No challenge: the client must not throw its token away.
		return &Denial{Code: Unavailable, Reason: ReasonUnavailable,
			Description: "the access token cannot be verified right now; retry later", Cause: err}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &Denial{Code: Unavailable, Reason: ReasonUnavailable,
			Description: "the access token could not be verified in time", Cause: err}
	default:
		return &Denial{Code: Internal, Reason: ReasonVerifierFailed,
			Description: "the access token could not be verified", Cause: err}
	}
}

// tokenDenial is the answer to a token error: Unauthenticated with an
// invalid_token challenge, and an ErrorInfo reason that says which check
// failed where a client can act on it.
func tokenDenial(err error) *Denial {
	description := "the access token is invalid"
	var te *verify.TokenError
	if errors.As(err, &te) {
		description = te.Description()
	}
	return &Denial{Code: Unauthenticated, Reason: tokenReason(err), OAuthError: "invalid_token",
		Description: description, Challenge: true, Cause: err}
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
	// Not a binding failure, but as specific: the user must sign in again.
	{verify.ErrRevoked, ReasonTokenRevoked},
}

// expiredDenial is the answer to a token that expired during a stream:
// the one a new call with it would get.
func expiredDenial() *Denial {
	return &Denial{Code: Unauthenticated, Reason: ReasonInvalidToken, OAuthError: "invalid_token",
		Description: (&verify.TokenError{Reason: verify.ErrExpired}).Description(), Challenge: true, Cause: errTokenExpired}
}

// revokedDenial is the answer to a token revoked during a stream (see
// WithRevocations): the one a new call with it would get.
func revokedDenial() *Denial {
	return &Denial{Code: Unauthenticated, Reason: ReasonTokenRevoked, OAuthError: "invalid_token",
		Description: (&verify.TokenError{Reason: verify.ErrRevoked}).Description(), Challenge: true, Cause: errTokenRevoked}
}

// errTokenRevoked is the cause of a stream ended by a revocation event.
var errTokenRevoked = errors.New("oauthgate: access token revoked during the stream")

// conditionDenialError is the error of a [ConditionEvaluator] that names
// the condition that denied a call (*conditions.DenyError is one).
type conditionDenialError interface {
	error
	Denied() (condition string, cause error)
}

// conditionDenial is the answer to a condition that denied a call:
// PermissionDenied, naming the condition but never what it saw. The CEL
// error of a failed evaluation, which may hold request data or claim
// values, is the cause: logged on the server, never sent.
func conditionDenial(err error) *Denial {
	d := &Denial{Code: PermissionDenied, Reason: ReasonConditionNotMet,
		Description: "the call does not meet a condition of the method", Cause: err}
	if cd, ok := errors.AsType[conditionDenialError](err); ok {
		condition, cause := cd.Denied()
		d.Condition = condition
		if cause != nil {
			d.Cause = fmt.Errorf("%w: %w", err, cause)
		}
	}
	return d
}

// NewDenial returns a denial the adapter decides itself, with no
// challenge: a call it cannot even describe (interceptor.AuthFunc outside
// a gRPC call). Record it with [Gate.Record].
func NewDenial(code Code, reason, description string, cause error) *Denial {
	return &Denial{Code: code, Reason: reason, Description: description, Cause: cause}
}
