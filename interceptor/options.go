package interceptor

import (
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/oauthgate/oauthgate/internal/core"
	"github.com/oauthgate/oauthgate/resource"
)

// An Option configures an [Interceptor]. Options are sealed: only the
// WithXxx functions of this package (and the same ones of package
// connectgate, which share this type) make them.
type Option = core.Option

// A Call describes the call an [Authorizer] decides on: Method, the full
// method name "/pkg.Service/Method"; Claims, the verified claims of the
// caller's token; Request, the decoded request of a unary call, or the
// message just received on a stream when [WithStreamMessages] is set (nil
// when a stream starts).
type Call = core.Call

// An Authorizer makes a fine-grained decision after the token has passed the
// scope check: "may this user read this report?". It returns nil to allow
// the call, a [*DenyError] to deny it with a specific answer, or any other
// error to deny it with reason ACCESS_DENIED. It must be safe for concurrent
// use.
type Authorizer = core.Authorizer

// A ConditionEvaluator evaluates the conditions of a policy's rules: the
// CEL expressions over the token and the request that rules declare
// (conditions in (oauthgate.v1.method) and (oauthgate.v1.service), or
// scopes.Rule.If). *conditions.Evaluator, from conditions.Compile, is the
// one to use; the interceptor names only this interface, so that servers
// without conditions link no CEL. Its methods are Evaluates(fullMethod)
// bool, whether it holds the conditions of a method, and
// Evaluate(ctx, fullMethod, claims, request, cert) error, nil when every
// condition holds for the call (an error with a method Denied() (condition
// string, cause error) names the condition for the ErrorInfo metadata and
// the cause for the server's log).
type ConditionEvaluator = core.ConditionEvaluator

// WithConditions installs the evaluator of the policy's conditions,
// compiled once for the same policy:
//
//	ev, err := conditions.Compile(policy)
//	gate, err := interceptor.New(verifier, policy, interceptor.WithConditions(ev))
//
// Conditions are checked after the scopes and step-up and before the
// [Authorizer], on the request of a unary or server-streaming call and on
// every message a client-streaming or bidi call receives; a condition that
// is false or cannot be evaluated denies the call with PermissionDenied and
// reason CONDITION_NOT_MET, and ends a stream. [New] refuses a policy that
// declares conditions without an evaluator, or with one that lacks them:
// conditions are never skipped. Later calls replace earlier ones.
func WithConditions(e ConditionEvaluator) Option { return core.WithConditions(e) }

// WithRealm sets the realm reported in www-authenticate challenges and in
// ErrorInfo metadata. The default is no realm. Later calls replace earlier
// ones.
func WithRealm(realm string) Option { return core.WithRealm(realm) }

// WithDomain sets the ErrorInfo domain, conventionally the DNS name of the
// service. The default is "oauthgate". Later calls replace earlier ones.
func WithDomain(domain string) Option { return core.WithDomain(domain) }

// WithLogger makes the interceptor log each denied call at level Info (Warn
// when the verifier is unavailable) with the method, the reason and the
// verifier's error, never the token. A method the policy does not declare
// is logged cut to its first 256 bytes, as in [WithDecisionLog]: its name
// is the client's choice. The default logs nothing. Later calls replace
// earlier ones.
//
// It is the operators' log, and [WithDecisionLog] is the audit trail; the
// two differ in what they hold and who reads them. This one logs denials
// only, with their cause (why a key set could not be fetched, which claim
// was malformed), at a level that follows their severity, so that an
// outage shows up as warnings. The decision log records every decision,
// allowed calls included, at one level, with the caller's identity if
// asked, and never a cause, which can hold details of the deployment an
// audit store should not keep.
func WithLogger(l *slog.Logger) Option { return core.WithLogger(l) }

// WithAuthorizer installs a fine-grained check that runs after the scope
// check, with the claims in ctx: once per unary call with its request, and
// once when a stream starts (see [WithStreamMessages]). The default is no
// check. Later calls replace earlier ones.
func WithAuthorizer(a Authorizer) Option { return core.WithAuthorizer(a) }

// WithStreamMessages also runs the [Authorizer] on every message a stream
// receives; a denial ends the stream. The default checks only at the start.
func WithStreamMessages() Option { return core.WithStreamMessages() }

// A RevocationWatcher ends the streams whose token an event revoked;
// *ssf.Revocations is one (see [WithRevocations]).
type RevocationWatcher = core.RevocationWatcher

// WithRevocations subscribes every stream to w by its token's subject, so
// that an event revoking the token (a Shared Signals session-revoked, say,
// received by package ssf) ends the stream at once with Unauthenticated /
// TOKEN_REVOKED, as a new call with the token would be answered, while
// the streams of other subjects go on. Give the verifier the same
// Revocations (verify.JWTConfig.Revocations) for unary calls and new
// streams. The default subscribes to nothing: a stream then ends at its
// next re-check ([WithStreamRecheck]). Later calls replace earlier ones.
func WithRevocations(w RevocationWatcher) Option { return core.WithRevocations(w) }

// WithStreamRecheck sets how often the token of a running stream is
// verified again, scopes and audiences included, so that a stream whose
// token has no exp, or is revoked, still ends (see [Interceptor.Stream]).
// Each check costs a verification: a cache hit for a JWT, an introspection
// request when the introspection cache has expired. The default is 5
// minutes; New rejects an interval under 1 second. Later calls replace
// earlier ones.
func WithStreamRecheck(d time.Duration) Option { return core.WithStreamRecheck(d) }

// WithClientCertificate makes the interceptor take the client certificate
// of certificate-bound tokens (RFC 8705) from f instead of from the
// mutual-TLS connection: for servers behind a proxy that terminates TLS and
// forwards the client's certificate in metadata (Envoy's
// x-forwarded-client-cert, or a PEM header). f must read it from a header
// that the proxy sets and strips from every client request; otherwise a
// client can claim any certificate, and certificate binding protects
// nothing. The default is the leaf of the connection's TLS handshake, and
// no header is ever trusted. Later calls replace earlier ones.
func WithClientCertificate(f CertificateFunc) Option { return core.WithClientCertificate(f) }

// WithResourceMetadata names the service's protected resource metadata
// (RFC 9728): every www-authenticate challenge gets resource_metadata="<URL>"
// (RFC 9728 §5.1) and every ErrorInfo a resource_metadata entry, so that a
// client that knows only the service's address can discover how to get a
// token; and oauthgate.v1.ResourceMetadataService, registered with
// [resource.Metadata.Register], is public without a rule. The default is
// none. Later calls replace earlier ones.
func WithResourceMetadata(m *resource.Metadata) Option {
	if m == nil {
		return core.WithResourceMetadata("")
	}
	return core.WithResourceMetadata(m.URL())
}

// WithClock sets the clock that decides when a stream's token has reached
// its deadline; use the verifier's clock. The default is time.Now. Later
// calls replace earlier ones.
func WithClock(now func() time.Time) Option { return core.WithClock(now) }

// WithMeterProvider sets the OpenTelemetry meter provider of the
// interceptor's instruments (see the package documentation's
// Observability section). The default is the global provider
// (otel.GetMeterProvider), which records nothing until the application
// installs an SDK, like otelgrpc and grpc-go's stats/opentelemetry. Later
// calls replace earlier ones.
func WithMeterProvider(mp metric.MeterProvider) Option { return core.WithMeterProvider(mp) }

// WithDecisionLog makes the interceptor log every decision, allowed calls
// included, to l at level: the message "oauthgate: decision" with the
// method (cut to its first 256 bytes when the policy does not declare it),
// the decision (allow or deny), the gRPC code and the ErrorInfo reason,
// and, only if identity is true, the client_id and sub of the
// token when it was verified. The token is never logged. It is the audit
// trail; [WithLogger]'s denial log, meant for operators, is independent of
// it. The default logs no decisions. Later calls replace earlier ones.
func WithDecisionLog(l *slog.Logger, level slog.Level, identity bool) Option {
	return core.WithDecisionLog(l, level, identity)
}

// WithSpanIdentity adds who called to the call's recording span: enduser.id
// (the token's sub) and oauthgate.client_id. Subjects are personal data in
// many deployments, so the default records neither; the token and other
// claims are never recorded. Later calls replace earlier ones.
func WithSpanIdentity() Option { return core.WithSpanIdentity() }
