package core

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/oauthgate/oauthgate/dpop"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

// ResourceMetadataProcedure is the procedure of
// oauthgate.v1.ResourceMetadataService's one method: public by
// construction when a Gate has resource metadata, since it tells a client
// how to get a token.
const ResourceMetadataProcedure = "/oauthgate.v1.ResourceMetadataService/GetResourceMetadata"

// An Adapter names the transport adapter a [Gate] serves.
type Adapter struct {
	// Name prefixes the errors of [New] ("interceptor", "connectgate").
	Name string
	// Meter is the instrumentation scope of the adapter's instruments, its
	// import path; the instruments themselves are the same for every
	// adapter.
	Meter string
}

// A Gate decides calls for one adapter: a verifier, a policy and options.
// It is safe for concurrent use and holds no resources of its own.
type Gate struct {
	verifier verify.Verifier
	policy   *scopes.Policy
	opts     options
	tel      *telemetry
}

// New returns a Gate that verifies tokens with v and enforces p. Both are
// required; an invalid option is an error prefixed with a.Name.
func New(a Adapter, v verify.Verifier, p *scopes.Policy, opts ...Option) (*Gate, error) {
	name := a.Name
	if v == nil {
		return nil, errors.New(name + ": verifier is nil; every protected call needs one")
	}
	if p == nil {
		return nil, errors.New(name + ": policy is nil; build one with scopes.NewPolicy")
	}
	o := defaultOptions()
	for _, opt := range opts {
		opt.apply(&o)
	}
	if !printable(o.realm) {
		return nil, errors.New(name + ": WithRealm: realm must be printable ASCII without quotes or backslashes")
	}
	if o.domain == "" || !printable(o.domain) {
		return nil, errors.New(name + ": WithDomain: domain must be non-empty printable ASCII")
	}
	if o.logger == nil {
		return nil, errors.New(name + ": WithLogger: logger is nil")
	}
	if o.now == nil {
		return nil, errors.New(name + ": WithClock: clock is nil")
	}
	if o.dpop != nil {
		if err := o.dpop.validate(name); err != nil {
			return nil, err
		}
	}
	if err := checkConditions(name, p, o.conditions); err != nil {
		return nil, err
	}
	if o.streamRecheck < minRecheck {
		return nil, fmt.Errorf("%s: WithStreamRecheck: interval %v is under %v", name, o.streamRecheck, minRecheck)
	}
	if o.meterProvider == nil {
		return nil, errors.New(name + ": WithMeterProvider: meter provider is nil")
	}
	if o.decisionLog != nil && o.decisionLog.logger == nil {
		return nil, errors.New(name + ": WithDecisionLog: logger is nil")
	}
	var extra []string
	if o.resourceMeta != "" {
		extra = []string{ResourceMetadataProcedure}
	}
	tel, err := newTelemetry(name, a.Meter, o.meterProvider, p, extra)
	if err != nil {
		return nil, err
	}
	return &Gate{verifier: v, policy: p, opts: o, tel: tel}, nil
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// A Kind says what the core can see of a call's messages.
type Kind uint8

const (
	// KindUnary: Request.Message is the call's one request, held to the
	// conditions and handed to the Authorizer.
	KindUnary Kind = iota
	// KindStream: a stream starts; its messages are checked as they arrive
	// ([Stream.Received]).
	KindStream
	// KindOpaque: the adapter cannot see the request (interceptor.AuthFunc):
	// a method with conditions is denied, fail closed.
	KindOpaque
)

// A Request describes one call. The adapter fills it from its wire; the
// values are as received, and the core validates what it uses.
type Request struct {
	// Procedure is the full method name, "/pkg.Service/Method".
	Procedure string
	// Authorization and DPoP are the values of the request's authorization
	// and dpop headers (metadata), in order.
	Authorization, DPoP []string
	// Transport answers what only the transport knows, when a check needs
	// it. It must not be nil.
	Transport Transport
	// Kind says which messages the core sees; Message is the request of a
	// KindUnary call.
	Kind    Kind
	Message any
}

// A Transport tells the core what only the transport knows. The core asks
// only when a check needs it: the target for a DPoP proof, the certificate
// for a certificate-bound token or a condition. Implementations are
// usually zero-size types reading the call's context, so that a Request
// costs no allocation.
type Transport interface {
	// Target returns where the client sent the request. An error wrapping
	// [ErrMisconfigured] denies the call with Internal.
	Target(ctx context.Context) (Target, error)
	// PeerCertificate returns the leaf certificate the client
	// authenticated its TLS connection with (the handshake proved it holds
	// the key), or nil. An error wrapping [ErrMisconfigured] denies the
	// call with Internal; any other error means a certificate that cannot
	// be read.
	PeerCertificate(ctx context.Context) (*x509.Certificate, error)
}

// A Target is the request line as the client sent it, for the htm and htu
// of a DPoP proof (RFC 9449 §4.3).
type Target struct {
	// Method is the HTTP method ("POST" for gRPC).
	Method string
	// Scheme ("http" or "https") and Authority (:authority or Host, as
	// received: the core parses it with dpop.RequestURI) are used only
	// when no public origin is configured.
	Scheme, Authority string
	// Path is the request's path without query; "" means the procedure.
	Path string
}

// A Grant is what an authorized call was granted: the verified claims (nil
// for a public method), and what a stream needs to check the token again.
type Grant struct {
	Claims    *verify.Claims
	token     string
	jkt       string
	transport Transport
}

// Authorize decides r: it returns the context to hand to the handler (with
// the claims, see [FromContext]) and the grant, or a denial. Either way the
// decision is recorded (metrics, span, logs).
func (g *Gate) Authorize(ctx context.Context, r *Request) (context.Context, Grant, *Denial) {
	actx, gr, d := g.authenticate(ctx, r)
	claims := gr.Claims
	if d == nil && claims != nil {
		switch r.Kind {
		case KindUnary:
			d = g.evalConditions(actx, r.Procedure, claims, r.Message, r.Transport)
		case KindOpaque:
			if g.hasConditions(r.Procedure) {
				d = conditionDenial(errConditionsNeedRequest)
			}
		}
	}
	if d == nil && claims != nil && g.opts.authorizer != nil {
		call := Call{Method: r.Procedure, Claims: claims}
		if r.Kind == KindUnary {
			call.Request = r.Message
		}
		d = g.authorize(actx, call)
	}
	if d != nil {
		g.Record(actx, r.Procedure, d)
		return ctx, Grant{}, d
	}
	g.allowed(ctx, r.Procedure, claims)
	return actx, gr, nil
}

// authenticate finds the rule of the procedure, and for a protected one
// verifies the credentials and checks the token against the rule.
func (g *Gate) authenticate(ctx context.Context, r *Request) (context.Context, Grant, *Denial) {
	rule, ok := g.policy.Rule(r.Procedure)
	if !ok {
		if g.opts.resourceMeta != "" && r.Procedure == ResourceMetadataProcedure {
			return ctx, Grant{}, nil // public by construction: how to get a token
		}
		return ctx, Grant{}, &Denial{Code: PermissionDenied, Reason: ReasonUndeclaredMethod,
			Description: "the method is not available", Cause: errNoRule}
	}
	if rule.IsPublic() {
		return ctx, Grant{}, nil
	}
	cred, present, d := g.credentials(r.Authorization, r.DPoP)
	switch {
	case !present:
		// RFC 6750 §3.1: no credentials, no error code.
		return ctx, Grant{}, &Denial{Code: Unauthenticated, Reason: ReasonMissingToken,
			Description: "an access token is required", Challenge: true}
	case d != nil:
		return ctx, Grant{}, d
	}
	var proof dpop.Proof
	if cred.dpop {
		// RFC 9449 §7.1: the proof, then the token it is bound to.
		if proof, d = g.checkProof(ctx, r, cred); d != nil {
			return ctx, Grant{}, d
		}
	}
	jkt := proof.Thumbprint()
	claims, d := g.check(ctx, rule, cred.token, jkt, r.Transport)
	if d != nil {
		d.DPoP = cred.dpop
		return ctx, Grant{}, d
	}
	if cred.dpop {
		// Only now, with the token verified and bound to the proof's key,
		// is the proof remembered: anonymous callers cannot fill the
		// replay cache (STYLE R34).
		if d := g.recordProof(ctx, proof); d != nil {
			d.Claims = claims
			return ctx, Grant{}, d
		}
	}
	return NewContext(ctx, claims), Grant{Claims: claims, token: cred.token, jkt: jkt, transport: r.Transport}, nil
}

// check verifies token and holds its claims to their binding (jkt is the
// thumbprint of the call's verified DPoP proof, or "") and to rule:
// sender constraint, audiences, scopes, then step-up authentication. Streams
// call it again while they last, with the proof of their start.
func (g *Gate) check(ctx context.Context, rule *scopes.Rule, token, jkt string, t Transport) (*verify.Claims, *Denial) {
	claims, err := g.verifier.Verify(ctx, token)
	if err != nil {
		return nil, verifyDenial(err)
	}
	if claims == nil {
		return nil, &Denial{Code: Internal, Reason: ReasonVerifierFailed,
			Description: "the access token could not be verified", Cause: errNoClaims}
	}
	if d := g.checkClaims(ctx, rule, claims, jkt, t); d != nil {
		d.Claims = claims
		return nil, d
	}
	return claims, nil
}

// checkClaims holds verified claims to their binding and to rule.
func (g *Gate) checkClaims(ctx context.Context, rule *scopes.Rule, claims *verify.Claims, jkt string, t Transport) *Denial {
	if d := g.checkBinding(ctx, rule, claims, jkt, t); d != nil {
		return d
	}
	if auds := rule.Audiences(); len(auds) > 0 && !slices.ContainsFunc(auds, claims.HasAudience) {
		return &Denial{Code: Unauthenticated, Reason: ReasonInvalidToken, OAuthError: "invalid_token",
			Description: "the access token is not intended for this API", Challenge: true,
			Cause: &verify.TokenError{Reason: verify.ErrAudience, Claim: "aud"}}
	}
	if set := claims.Scopes(); !rule.Allows(set) {
		return &Denial{Code: PermissionDenied, Reason: ReasonInsufficientScope, OAuthError: "insufficient_scope",
			Description: "the access token lacks a required scope", Scope: rule.Closest(set), Challenge: true}
	}
	if !rule.Authenticated(claims.ACR(), claims.AuthTime(), g.opts.now()) {
		return stepUpDenial(rule)
	}
	return nil
}

// checkConditions refuses a policy whose conditions e does not hold: none
// installed, or an evaluator compiled for another policy.
func checkConditions(name string, p *scopes.Policy, e ConditionEvaluator) error {
	if !p.HasConditions() {
		return nil
	}
	for _, m := range p.Methods() {
		if r, _ := p.Rule(m); r.HasConditions() && (e == nil || !e.Evaluates(m)) {
			return fmt.Errorf("%s: the rule of %s has conditions, and no evaluator of them is installed: "+
				"pass WithConditions(ev) with ev, err := conditions.Compile(policy) for this policy", name, m)
		}
	}
	return nil
}

// evalConditions checks the conditions of method, if any, on the claims
// and one request message (req, of the method's input type).
func (g *Gate) evalConditions(ctx context.Context, method string, claims *verify.Claims, req any, t Transport) *Denial {
	if !g.hasConditions(method) {
		return nil
	}
	msg, _ := req.(proto.Message)
	cert, _ := g.clientCertificate(ctx, t) // a certificate that cannot be read is none
	if err := g.opts.conditions.Evaluate(ctx, method, claims, msg, cert); err != nil {
		d := conditionDenial(err)
		d.Claims = claims
		return d
	}
	return nil
}

// hasConditions reports whether calls to method are held to conditions.
func (g *Gate) hasConditions(method string) bool {
	return g.opts.conditions != nil && g.opts.conditions.Evaluates(method)
}

// authorize runs the Authorizer.
func (g *Gate) authorize(ctx context.Context, call Call) *Denial {
	err := g.opts.authorizer(ctx, call)
	if err == nil {
		return nil
	}
	d := &Denial{Code: PermissionDenied, Reason: ReasonAccessDenied, Description: "access denied", Cause: err, Claims: call.Claims}
	var de *DenyError
	if errors.As(err, &de) {
		if de.Reason != "" {
			d.Reason = de.Reason
		}
		if de.Description != "" {
			d.Description = de.Description
		}
		if len(de.Scopes) > 0 {
			d.OAuthError, d.Scope, d.Challenge = "insufficient_scope", de.Scopes, true
		}
	}
	return d
}

// Covers returns a [*scopes.CoverageError] naming every procedure of
// procedures that has no rule, and nil when every one has one. The
// resource metadata procedure is covered by construction when the Gate has
// resource metadata.
func (g *Gate) Covers(procedures ...string) error {
	if g.opts.resourceMeta != "" {
		procedures = slices.DeleteFunc(slices.Clone(procedures), func(p string) bool { return p == ResourceMetadataProcedure })
	}
	return g.policy.Covers(procedures...)
}

// DPoP reports whether the Gate accepts DPoP.
func (g *Gate) DPoP() bool { return g.opts.dpop != nil }
