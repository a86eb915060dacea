package interceptor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/oauthgate/oauthgate/dpop"
	oauthgatev1 "github.com/oauthgate/oauthgate/proto/oauthgate/v1"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

// An Interceptor enforces a [scopes.Policy] with a [verify.Verifier]. Its
// [Interceptor.Unary] and [Interceptor.Stream] methods are grpc-go server
// interceptors; [Interceptor.AuthFunc] plugs into go-grpc-middleware's auth
// interceptor instead. An Interceptor is safe for concurrent use and holds
// no resources of its own: closing the verifier is the caller's job.
type Interceptor struct {
	verifier verify.Verifier
	policy   *scopes.Policy
	opts     options
	tel      *telemetry
}

// New returns an Interceptor that verifies tokens with v and enforces p.
// Both are required. It fails on an invalid option: a realm or domain with
// characters a header cannot carry.
func New(v verify.Verifier, p *scopes.Policy, opts ...Option) (*Interceptor, error) {
	if v == nil {
		return nil, errors.New("interceptor: verifier is nil; every protected call needs one")
	}
	if p == nil {
		return nil, errors.New("interceptor: policy is nil; build one with scopes.NewPolicy")
	}
	o := defaultOptions()
	for _, opt := range opts {
		opt.apply(&o)
	}
	if !printable(o.realm) {
		return nil, errors.New("interceptor: WithRealm: realm must be printable ASCII without quotes or backslashes")
	}
	if o.domain == "" || !printable(o.domain) {
		return nil, errors.New("interceptor: WithDomain: domain must be non-empty printable ASCII")
	}
	if o.logger == nil {
		return nil, errors.New("interceptor: WithLogger: logger is nil")
	}
	if o.now == nil {
		return nil, errors.New("interceptor: WithClock: clock is nil")
	}
	if o.dpop != nil {
		if err := o.dpop.validate(); err != nil {
			return nil, err
		}
	}
	if err := checkConditions(p, o.conditions); err != nil {
		return nil, err
	}
	if o.streamRecheck < minRecheck {
		return nil, fmt.Errorf("interceptor: WithStreamRecheck: interval %v is under %v", o.streamRecheck, minRecheck)
	}
	if o.meterProvider == nil {
		return nil, errors.New("interceptor: WithMeterProvider: meter provider is nil")
	}
	if o.decisionLog != nil && o.decisionLog.logger == nil {
		return nil, errors.New("interceptor: WithDecisionLog: logger is nil")
	}
	tel, err := newTelemetry(o.meterProvider, p, resourceMetadataMethods(&o))
	if err != nil {
		return nil, err
	}
	return &Interceptor{verifier: v, policy: p, opts: o, tel: tel}, nil
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// Unary is a grpc.UnaryServerInterceptor. It returns Unauthenticated,
// PermissionDenied, Unavailable or, for a verifier that breaks its contract,
// Internal, as the package documentation's table describes, and otherwise
// calls handler with the claims in the context.
func (i *Interceptor) Unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	ctx, g, rej := i.authenticate(ctx, info.FullMethod)
	claims := g.claims
	if rej == nil && claims != nil {
		rej = i.evalConditions(ctx, info.FullMethod, claims, req)
	}
	if rej == nil && claims != nil && i.opts.authorizer != nil {
		rej = i.authorize(ctx, Call{Method: info.FullMethod, Claims: claims, Request: req})
	}
	if rej != nil {
		return nil, i.reject(ctx, info.FullMethod, rej)
	}
	i.allowed(ctx, info.FullMethod, claims)
	return handler(ctx, req)
}

// AuthFunc authorizes the call in ctx for go-grpc-middleware's auth
// interceptors (auth.UnaryServerInterceptor(gate.AuthFunc)), which may be
// limited to some methods with its selector. It finds the method with
// grpc.Method and returns the context with the claims. Compared with
// [Interceptor.Unary] and [Interceptor.Stream] it cannot pass unary
// requests to the [Authorizer] (Call.Request is nil) and cannot end streams
// at token expiry; and it cannot see the request a method's conditions
// ([WithConditions]) read, so it denies every call to such a method
// (CONDITION_NOT_MET, fail closed).
//
// Security: go-grpc-middleware's auth interceptors do not call AuthFunc for
// a service that implements auth.ServiceAuthFuncOverride
// (AuthFuncOverride(ctx, fullMethodName)): they call that method instead,
// so every method of such a service skips oauthgate entirely (no token is
// read, no rule applied, no claims in the context), and neither the policy
// nor [Interceptor.Check] can see it. Do not implement AuthFuncOverride on
// a service behind this wiring; or install [Interceptor.ServerOptions]
// (Unary and Stream) instead, which run whatever the service implements.
func (i *Interceptor) AuthFunc(ctx context.Context) (context.Context, error) {
	method, ok := grpc.Method(ctx)
	if !ok {
		return nil, i.reject(ctx, "", &rejection{code: codes.Internal, reason: ReasonUndeclaredMethod,
			description: "method unknown", cause: errors.New("interceptor: AuthFunc called outside a gRPC call")})
	}
	ctx, g, rej := i.authenticate(ctx, method)
	claims := g.claims
	if rej == nil && claims != nil && i.hasConditions(method) {
		rej = conditionRejection(errConditionsNeedRequest)
	}
	if rej == nil && claims != nil && i.opts.authorizer != nil {
		rej = i.authorize(ctx, Call{Method: method, Claims: claims})
	}
	if rej != nil {
		return nil, i.reject(ctx, method, rej)
	}
	i.allowed(ctx, method, claims)
	return ctx, nil
}

// A grant is what authenticate found: the verified claims (nil for a
// public method), the token and the thumbprint of its DPoP proof, if any.
type grant struct {
	claims *verify.Claims
	token  string
	jkt    string
}

// authenticate finds the rule of method, and for a protected method verifies
// the credentials and checks the token against the rule. It returns the
// context to hand on and the grant.
func (i *Interceptor) authenticate(ctx context.Context, method string) (context.Context, grant, *rejection) {
	rule, ok := i.policy.Rule(method)
	if !ok {
		if i.opts.resourceMeta != nil && method == oauthgatev1.ResourceMetadataService_GetResourceMetadata_FullMethodName {
			return ctx, grant{}, nil // public by construction: how to get a token
		}
		return ctx, grant{}, &rejection{code: codes.PermissionDenied, reason: ReasonUndeclaredMethod,
			description: "the method is not available", cause: errNoRule}
	}
	if rule.IsPublic() {
		return ctx, grant{}, nil
	}
	cred, present, rej := i.credentials(ctx)
	switch {
	case !present:
		// RFC 6750 §3.1: no credentials, no error code.
		return ctx, grant{}, &rejection{code: codes.Unauthenticated, reason: ReasonMissingToken,
			description: "an access token is required", challenge: true}
	case rej != nil:
		return ctx, grant{}, rej
	}
	var proof dpop.Proof
	if cred.dpop {
		// RFC 9449 §7.1: the proof, then the token it is bound to.
		if proof, rej = i.checkProof(ctx, method, cred); rej != nil {
			return ctx, grant{}, rej
		}
	}
	jkt := proof.Thumbprint()
	claims, rej := i.check(ctx, rule, cred.token, jkt)
	if rej != nil {
		rej.dpop = cred.dpop
		return ctx, grant{}, rej
	}
	if cred.dpop {
		// Only now, with the token verified and bound to the proof's key,
		// is the proof remembered: anonymous callers cannot fill the
		// replay cache (STYLE R34).
		if rej := i.recordProof(ctx, proof); rej != nil {
			rej.claims = claims
			return ctx, grant{}, rej
		}
	}
	return NewContext(ctx, claims), grant{claims: claims, token: cred.token, jkt: jkt}, nil
}

// check verifies token and holds its claims to their binding (jkt is the
// thumbprint of the call's verified DPoP proof, or "") and to rule:
// sender constraint, audiences, scopes, then step-up authentication. Streams call it again while
// they last, with the proof of their start.
func (i *Interceptor) check(ctx context.Context, rule *scopes.Rule, token, jkt string) (*verify.Claims, *rejection) {
	claims, err := i.verify(ctx, token)
	if err != nil {
		return nil, verifyRejection(err)
	}
	if claims == nil {
		return nil, &rejection{code: codes.Internal, reason: ReasonVerifierFailed,
			description: "the access token could not be verified", cause: errNoClaims}
	}
	if rej := i.checkClaims(ctx, rule, claims, jkt); rej != nil {
		rej.claims = claims
		return nil, rej
	}
	return claims, nil
}

// checkClaims holds verified claims to their binding and to rule.
func (i *Interceptor) checkClaims(ctx context.Context, rule *scopes.Rule, claims *verify.Claims, jkt string) *rejection {
	if rej := i.checkBinding(ctx, rule, claims, jkt); rej != nil {
		return rej
	}
	if auds := rule.Audiences(); len(auds) > 0 && !slices.ContainsFunc(auds, claims.HasAudience) {
		return &rejection{code: codes.Unauthenticated, reason: ReasonInvalidToken, oauthError: "invalid_token",
			description: "the access token is not intended for this API", challenge: true,
			cause: &verify.TokenError{Reason: verify.ErrAudience, Claim: "aud"}}
	}
	if set := claims.Scopes(); !rule.Allows(set) {
		return &rejection{code: codes.PermissionDenied, reason: ReasonInsufficientScope, oauthError: "insufficient_scope",
			description: "the access token lacks a required scope", scope: rule.Closest(set), challenge: true}
	}
	if !rule.Authenticated(claims.ACR(), claims.AuthTime(), i.opts.now()) {
		return stepUpRejection(rule)
	}
	return nil
}

// checkConditions refuses a policy whose conditions e does not hold: none
// installed, or an evaluator compiled for another policy.
func checkConditions(p *scopes.Policy, e ConditionEvaluator) error {
	if !p.HasConditions() {
		return nil
	}
	for _, m := range p.Methods() {
		if r, _ := p.Rule(m); r.HasConditions() && (e == nil || !e.Evaluates(m)) {
			return fmt.Errorf("interceptor: the rule of %s has conditions, and no evaluator of them is installed: "+
				"pass WithConditions(ev) with ev, err := conditions.Compile(policy) for this policy", m)
		}
	}
	return nil
}

// evalConditions checks the conditions of method, if any, on the claims
// and one request message (req, of the method's input type).
func (i *Interceptor) evalConditions(ctx context.Context, method string, claims *verify.Claims, req any) *rejection {
	if !i.hasConditions(method) {
		return nil
	}
	msg, _ := req.(proto.Message)
	cert, _ := i.clientCertificate(ctx) // a certificate that cannot be read is none
	if err := i.opts.conditions.Evaluate(ctx, method, claims, msg, cert); err != nil {
		rej := conditionRejection(err)
		rej.claims = claims
		return rej
	}
	return nil
}

// hasConditions reports whether calls to method are held to conditions.
func (i *Interceptor) hasConditions(method string) bool {
	return i.opts.conditions != nil && i.opts.conditions.Evaluates(method)
}

// authorize runs the Authorizer.
func (i *Interceptor) authorize(ctx context.Context, call Call) *rejection {
	err := i.opts.authorizer(ctx, call)
	if err == nil {
		return nil
	}
	rej := &rejection{code: codes.PermissionDenied, reason: ReasonAccessDenied, description: "access denied", cause: err, claims: call.Claims}
	var de *DenyError
	if errors.As(err, &de) {
		if de.Reason != "" {
			rej.reason = de.Reason
		}
		if de.Description != "" {
			rej.description = de.Description
		}
		if len(de.Scopes) > 0 {
			rej.oauthError, rej.scope, rej.challenge = "insufficient_scope", de.Scopes, true
		}
	}
	return rej
}

// reject records and logs rej, sets the www-authenticate header and returns the status
// error.
func (i *Interceptor) reject(ctx context.Context, method string, rej *rejection) error {
	level := slog.LevelInfo
	if rej.code == codes.Unavailable || rej.code == codes.Internal {
		level = slog.LevelWarn
	}
	if i.opts.logger.Enabled(ctx, level) {
		attrs := []slog.Attr{slog.String("method", i.loggedMethod(method)), slog.String("code", rej.code.String()), slog.String("reason", rej.reason)}
		if rej.cause != nil {
			attrs = append(attrs, slog.String("error", rej.cause.Error()))
		}
		i.opts.logger.LogAttrs(ctx, level, "oauthgate: call denied", attrs...)
	}
	i.denied(ctx, method, rej)
	if md := i.challengeMetadata(rej); md != nil {
		// Errors are sent as a trailers-only response, whose single
		// metadata block grpc-go clients read as both header and trailer.
		// Mid-stream (headers already sent) it can only go in the trailer.
		if grpc.SetHeader(ctx, md) != nil {
			_ = grpc.SetTrailer(ctx, md)
		}
	}
	var metaURL string
	if m := i.opts.resourceMeta; m != nil {
		metaURL = m.URL()
	}
	return rej.status(i.opts.domain, i.opts.realm, metaURL).Err()
}

// verify calls the verifier. The verifiers of package verify time their
// own work and mark the call's span with oauthgate.cache_hit.
func (i *Interceptor) verify(ctx context.Context, token string) (*verify.Claims, error) {
	return i.verifier.Verify(ctx, token)
}
