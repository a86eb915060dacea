package connectgate

import (
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/oauthgate/oauthgate/dpop"
	"github.com/oauthgate/oauthgate/internal/core"
)

// The options are those of package interceptor, made by the same core:
// each WithXxx here is interceptor.WithXxx, and its documentation there
// holds for connect-go too, with "metadata" read as "header". Only what
// differs is said here.

// An Option configures a [Gate]. It is the same type as interceptor.Option.
type Option = core.Option

// A Call describes the call an [Authorizer] decides on: Method, the
// procedure "/pkg.Service/Method"; Claims, the verified claims; Request,
// the request message of a unary call, or the message just received on a
// stream with [WithStreamMessages] (nil when a stream starts). It is the
// same type as interceptor.Call.
type Call = core.Call

// An Authorizer makes a fine-grained decision after the scope check: nil
// allows the call, a [*DenyError] denies it with a specific answer, any
// other error denies it with ACCESS_DENIED. It must be safe for concurrent
// use. It is the same type as interceptor.Authorizer, so one function
// serves both adapters.
type Authorizer = core.Authorizer

// A DenyError is what an [Authorizer] returns to deny a call with a
// specific answer (PermissionDenied): Reason (ErrorInfo reason, default
// ACCESS_DENIED), Description (the client-facing message, never a secret)
// and Scopes (an insufficient_scope challenge naming them). It is the same
// type as interceptor.DenyError.
type DenyError = core.DenyError

// A ConditionEvaluator evaluates the CEL conditions of the policy's rules;
// *conditions.Evaluator from conditions.Compile is the one to use. It is
// the same interface as interceptor.ConditionEvaluator.
type ConditionEvaluator = core.ConditionEvaluator

// A CertificateFunc returns the client certificate of a call, nil when
// there is none; an error refuses the call. It receives the handler's
// context. It is the same type as interceptor.CertificateFunc.
type CertificateFunc = core.CertificateFunc

// ResourceMetadata is the protected resource metadata (RFC 9728) a Gate
// advertises; *resource.Metadata is one. Serve its document over HTTP
// with its Handler (mux.Handle(md.Path(), md)), outside the Gate.
type ResourceMetadata interface {
	// URL returns the document's URL, as resource_metadata carries it.
	URL() string
}

// WithConditions installs the evaluator of the policy's conditions; New
// refuses a policy with conditions without one. Conditions see the request
// of a unary call and every message a stream receives. Later calls replace
// earlier ones.
func WithConditions(e ConditionEvaluator) Option { return core.WithConditions(e) }

// WithRealm sets the realm of WWW-Authenticate challenges and ErrorInfo
// metadata. The default is none. Later calls replace earlier ones.
func WithRealm(realm string) Option { return core.WithRealm(realm) }

// WithDomain sets the ErrorInfo domain. The default is "oauthgate". Later
// calls replace earlier ones.
func WithDomain(domain string) Option { return core.WithDomain(domain) }

// WithLogger logs each denied call (Info; Warn when the verifier is
// unavailable or the server misconfigured) with the procedure, the reason
// and the cause, never the token. The default logs nothing. Later calls
// replace earlier ones.
func WithLogger(l *slog.Logger) Option { return core.WithLogger(l) }

// WithAuthorizer installs a fine-grained check that runs after the scope
// check and the conditions. The default is none. Later calls replace
// earlier ones.
func WithAuthorizer(a Authorizer) Option { return core.WithAuthorizer(a) }

// WithStreamMessages also runs the [Authorizer] on every message a stream
// receives. The default checks only at the start.
func WithStreamMessages() Option { return core.WithStreamMessages() }

// A RevocationWatcher ends the streams whose token an event revoked;
// *ssf.Revocations is one (see [WithRevocations]).
type RevocationWatcher = core.RevocationWatcher

// WithRevocations subscribes every stream to w by its token's subject, so
// that an event revoking the token (package ssf) ends the stream at once
// with Unauthenticated / TOKEN_REVOKED, as with the grpc-go interceptor's
// option of the same name. The default subscribes to nothing. Later calls
// replace earlier ones.
func WithRevocations(w RevocationWatcher) Option { return core.WithRevocations(w) }

// WithStreamRecheck sets how often the token of a running stream is
// verified again. The default is 5 minutes; New rejects an interval under
// 1 second. Later calls replace earlier ones.
func WithStreamRecheck(d time.Duration) Option { return core.WithStreamRecheck(d) }

// WithClientCertificate takes the client certificate of certificate-bound
// tokens (RFC 8705) from f instead of from the TLS connection (which
// [Gate.Handler] reads): for servers behind a TLS-terminating proxy. f
// gets the handler's context, so put the proxy's certificate header there
// in your own HTTP middleware, from a header the proxy sets and strips
// from every client request. The default is the TLS connection's leaf.
// Later calls replace earlier ones.
func WithClientCertificate(f CertificateFunc) Option { return core.WithClientCertificate(f) }

// WithResourceMetadata adds resource_metadata="<URL>" (RFC 9728 §5.1) to
// every challenge and ErrorInfo. The default is none. Later calls replace
// earlier ones; nil removes it.
func WithResourceMetadata(m ResourceMetadata) Option {
	if m == nil {
		return core.WithResourceMetadata("")
	}
	return core.WithResourceMetadata(m.URL())
}

// WithClock sets the clock of stream deadlines and step-up checks; use the
// verifier's. The default is time.Now. Later calls replace earlier ones.
func WithClock(now func() time.Time) Option { return core.WithClock(now) }

// WithMeterProvider sets the OpenTelemetry meter provider of the
// oauthgate.server.decisions counter (scope
// github.com/oauthgate/oauthgate/connectgate). The default is the global
// provider. Later calls replace earlier ones.
func WithMeterProvider(mp metric.MeterProvider) Option { return core.WithMeterProvider(mp) }

// WithDecisionLog logs every decision to l at level, with the client_id and
// sub if identity is true; never the token. The default logs none. Later
// calls replace earlier ones.
func WithDecisionLog(l *slog.Logger, level slog.Level, identity bool) Option {
	return core.WithDecisionLog(l, level, identity)
}

// WithSpanIdentity adds enduser.id and oauthgate.client_id to the call's
// recording span. The default records neither.
func WithSpanIdentity() Option { return core.WithSpanIdentity() }

// WithDPoP accepts DPoP-bound access tokens (RFC 9449): "Authorization:
// DPoP <token>" with a proof in the DPoP header, checked by v. htm is the
// request's HTTP method (POST, or GET for a Connect GET) and htu its URL
// without query: https or http, the Host, and the path, as [Gate.Handler]
// saw them; or, if publicOrigins are given ("https://api.example.com"),
// one of them with the request's path, which production servers should
// use. Requires [Gate.Handler]. The default is no DPoP. Later calls
// replace earlier ones.
func WithDPoP(v *dpop.Verifier, publicOrigins ...string) Option {
	return core.WithDPoP(v, publicOrigins...)
}
