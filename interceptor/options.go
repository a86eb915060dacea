package interceptor

import (
	"context"
	"crypto/x509"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"google.golang.org/protobuf/proto"

	"github.com/oauthgate/oauthgate/resource"
	"github.com/oauthgate/oauthgate/verify"
)

// An Option configures an [Interceptor].
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	realm          string
	domain         string
	logger         *slog.Logger
	authorizer     Authorizer
	streamMessages bool
	conditions     ConditionEvaluator
	streamRecheck  time.Duration
	clientCert     CertificateFunc
	dpop           *dpopOptions
	resourceMeta   *resource.Metadata
	now            func() time.Time
	meterProvider  metric.MeterProvider
	decisionLog    *decisionLog
	spanIdentity   bool
}

func defaultOptions() options {
	return options{
		domain:        "oauthgate",
		logger:        slog.New(slog.DiscardHandler),
		streamRecheck: defaultStreamRecheck,
		now:           time.Now,
		meterProvider: otel.GetMeterProvider(),
	}
}

// A Call describes the call an [Authorizer] decides on.
type Call struct {
	// Method is the full method name, "/pkg.Service/Method".
	Method string
	// Claims are the verified claims of the caller's token.
	Claims *verify.Claims
	// Request is the decoded request of a unary call, or the message just
	// received on a stream when [WithStreamMessages] is set. It is nil when
	// a stream starts.
	Request any
}

// An Authorizer makes a fine-grained decision after the token has passed the
// scope check: "may this user read this report?". It returns nil to allow
// the call, a [*DenyError] to deny it with a specific answer, or any other
// error to deny it with reason ACCESS_DENIED. It must be safe for concurrent
// use.
type Authorizer func(ctx context.Context, call Call) error

// A ConditionEvaluator evaluates the conditions of a policy's rules: the
// CEL expressions over the token and the request that rules declare
// (conditions in (oauthgate.v1.method) and (oauthgate.v1.service), or
// scopes.Rule.If). *conditions.Evaluator, from conditions.Compile, is the
// one to use; the interceptor names only this interface, so that servers
// without conditions link no CEL.
type ConditionEvaluator interface {
	// Evaluates reports whether the evaluator holds the conditions of
	// fullMethod.
	Evaluates(fullMethod string) bool
	// Evaluate returns nil when every condition of fullMethod holds for
	// a call with these verified claims, request message and client
	// certificate (nil without mutual TLS), and an error otherwise: one
	// with a method Denied() (condition string, cause error) names the
	// condition for the ErrorInfo metadata and the cause for the server's
	// log.
	Evaluate(ctx context.Context, fullMethod string, claims *verify.Claims, request proto.Message, cert *x509.Certificate) error
}

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
func WithConditions(e ConditionEvaluator) Option {
	return optionFunc(func(o *options) { o.conditions = e })
}

// WithRealm sets the realm reported in www-authenticate challenges and in
// ErrorInfo metadata. The default is no realm. Later calls replace earlier
// ones.
func WithRealm(realm string) Option {
	return optionFunc(func(o *options) { o.realm = realm })
}

// WithDomain sets the ErrorInfo domain, conventionally the DNS name of the
// service. The default is "oauthgate". Later calls replace earlier ones.
func WithDomain(domain string) Option {
	return optionFunc(func(o *options) { o.domain = domain })
}

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
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o *options) { o.logger = l })
}

// WithAuthorizer installs a fine-grained check that runs after the scope
// check, with the claims in ctx: once per unary call with its request, and
// once when a stream starts (see [WithStreamMessages]). The default is no
// check. Later calls replace earlier ones.
func WithAuthorizer(a Authorizer) Option {
	return optionFunc(func(o *options) { o.authorizer = a })
}

// WithStreamMessages also runs the [Authorizer] on every message a stream
// receives; a denial ends the stream. The default checks only at the start.
func WithStreamMessages() Option {
	return optionFunc(func(o *options) { o.streamMessages = true })
}

// defaultStreamRecheck is how often a stream's token is verified again
// unless WithStreamRecheck says otherwise.
const defaultStreamRecheck = 5 * time.Minute

// WithStreamRecheck sets how often the token of a running stream is
// verified again, scopes and audiences included, so that a stream whose
// token has no exp, or is revoked, still ends (see [Interceptor.Stream]).
// Each check costs a verification: a cache hit for a JWT, an introspection
// request when the introspection cache has expired. The default is 5
// minutes; New rejects an interval under 1 second. Later calls replace
// earlier ones.
func WithStreamRecheck(d time.Duration) Option {
	return optionFunc(func(o *options) { o.streamRecheck = d })
}

// WithClientCertificate makes the interceptor take the client certificate
// of certificate-bound tokens (RFC 8705) from f instead of from the
// mutual-TLS connection: for servers behind a proxy that terminates TLS and
// forwards the client's certificate in metadata (Envoy's
// x-forwarded-client-cert, or a PEM header). f must read it from a header
// that the proxy sets and strips from every client request; otherwise a
// client can claim any certificate, and certificate binding protects
// nothing. The default is the leaf of the connection's TLS handshake, and
// no header is ever trusted. Later calls replace earlier ones.
func WithClientCertificate(f CertificateFunc) Option {
	return optionFunc(func(o *options) { o.clientCert = f })
}

// WithResourceMetadata names the service's protected resource metadata
// (RFC 9728): every www-authenticate challenge gets resource_metadata="<URL>"
// (RFC 9728 §5.1) and every ErrorInfo a resource_metadata entry, so that a
// client that knows only the service's address can discover how to get a
// token; and oauthgate.v1.ResourceMetadataService, registered with
// [resource.Metadata.Register], is public without a rule. The default is
// none. Later calls replace earlier ones.
func WithResourceMetadata(m *resource.Metadata) Option {
	return optionFunc(func(o *options) { o.resourceMeta = m })
}

// WithClock sets the clock that decides when a stream's token has reached
// its deadline; use the verifier's clock. The default is time.Now. Later
// calls replace earlier ones.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(o *options) { o.now = now })
}

// WithMeterProvider sets the OpenTelemetry meter provider of the
// interceptor's instruments (see the package documentation's
// Observability section). The default is the global provider
// (otel.GetMeterProvider), which records nothing until the application
// installs an SDK, like otelgrpc and grpc-go's stats/opentelemetry. Later
// calls replace earlier ones.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(o *options) { o.meterProvider = mp })
}

// WithDecisionLog makes the interceptor log every decision, allowed calls
// included, to l at level: the message "oauthgate: decision" with the
// method (cut to its first 256 bytes when the policy does not declare it),
// the decision (allow or deny), the gRPC code and the ErrorInfo reason,
// and, only if identity is true, the client_id and sub of the
// token when it was verified. The token is never logged. It is the audit
// trail; [WithLogger]'s denial log, meant for operators, is independent of
// it. The default logs no decisions. Later calls replace earlier ones.
func WithDecisionLog(l *slog.Logger, level slog.Level, identity bool) Option {
	return optionFunc(func(o *options) { o.decisionLog = &decisionLog{logger: l, level: level, identity: identity} })
}

// WithSpanIdentity adds who called to the call's recording span: enduser.id
// (the token's sub) and oauthgate.client_id. Subjects are personal data in
// many deployments, so the default records neither; the token and other
// claims are never recorded. Later calls replace earlier ones.
func WithSpanIdentity() Option {
	return optionFunc(func(o *options) { o.spanIdentity = true })
}
