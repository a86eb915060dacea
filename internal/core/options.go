package core

import (
	"context"
	"crypto/x509"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"google.golang.org/protobuf/proto"

	"github.com/oauthgate/oauthgate/dpop"
	"github.com/oauthgate/oauthgate/verify"
)

// An Option configures a [Gate]. The adapters' WithXxx functions return
// these; their documentation says what each one does.
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
	resourceMeta   string // URL of the resource metadata, "" for none
	now            func() time.Time
	meterProvider  metric.MeterProvider
	decisionLog    *decisionLog
	spanIdentity   bool
	revocations    RevocationWatcher
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

// defaultStreamRecheck is how often a stream's token is verified again
// unless WithStreamRecheck says otherwise.
const defaultStreamRecheck = 5 * time.Minute

// A Call describes the call an [Authorizer] decides on.
type Call struct {
	// Method is the full method name, "/pkg.Service/Method" (a Connect
	// procedure has the same form).
	Method string
	// Claims are the verified claims of the caller's token.
	Claims *verify.Claims
	// Request is the decoded request of a unary call, or the message just
	// received on a stream when WithStreamMessages is set. It is nil when
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
// CEL expressions over the token and the request that rules declare.
// *conditions.Evaluator, from conditions.Compile, is the one to use; the
// adapters name only this interface, so that servers without conditions
// link no CEL.
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

// A CertificateFunc returns the client certificate of a call: the leaf the
// client authenticated with, or nil when there is none. An error means the
// evidence is present but unreadable, and the call is refused.
type CertificateFunc func(ctx context.Context) (*x509.Certificate, error)

// WithConditions installs the evaluator of the policy's conditions.
func WithConditions(e ConditionEvaluator) Option {
	return optionFunc(func(o *options) { o.conditions = e })
}

// WithRealm sets the realm of challenges and ErrorInfo metadata.
func WithRealm(realm string) Option {
	return optionFunc(func(o *options) { o.realm = realm })
}

// WithDomain sets the ErrorInfo domain.
func WithDomain(domain string) Option {
	return optionFunc(func(o *options) { o.domain = domain })
}

// WithLogger sets the denial log.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o *options) { o.logger = l })
}

// WithAuthorizer installs the fine-grained check.
func WithAuthorizer(a Authorizer) Option {
	return optionFunc(func(o *options) { o.authorizer = a })
}

// WithStreamMessages runs the Authorizer on every received stream message.
func WithStreamMessages() Option {
	return optionFunc(func(o *options) { o.streamMessages = true })
}

// WithStreamRecheck sets the interval of a stream's token checks.
func WithStreamRecheck(d time.Duration) Option {
	return optionFunc(func(o *options) { o.streamRecheck = d })
}

// WithClientCertificate sets where the client certificate comes from.
func WithClientCertificate(f CertificateFunc) Option {
	return optionFunc(func(o *options) { o.clientCert = f })
}

// WithResourceMetadata names the URL of the protected resource metadata
// (RFC 9728); "" for none.
func WithResourceMetadata(url string) Option {
	return optionFunc(func(o *options) { o.resourceMeta = url })
}

// WithClock sets the clock of stream deadlines and step-up.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(o *options) { o.now = now })
}

// WithMeterProvider sets the meter provider of the instruments.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(o *options) { o.meterProvider = mp })
}

// WithDecisionLog sets the decision log.
func WithDecisionLog(l *slog.Logger, level slog.Level, identity bool) Option {
	return optionFunc(func(o *options) { o.decisionLog = &decisionLog{logger: l, level: level, identity: identity} })
}

// A RevocationWatcher ends the streams whose token an event revoked;
// *ssf.Revocations is one. Watch calls end, once, when the token with
// claims c is revoked (at once if it is already), until stop is called;
// end must not block.
type RevocationWatcher interface {
	Watch(c *verify.Claims, end func()) (stop func())
}

// WithRevocations makes every stream subscribe to w by its token.
func WithRevocations(w RevocationWatcher) Option {
	return optionFunc(func(o *options) { o.revocations = w })
}

// WithSpanIdentity records who called on the call's span.
func WithSpanIdentity() Option {
	return optionFunc(func(o *options) { o.spanIdentity = true })
}

// WithDPoP accepts DPoP-bound tokens checked by v, with htu matched
// against publicOrigins when given.
func WithDPoP(v *dpop.Verifier, publicOrigins ...string) Option {
	origins := append([]string(nil), publicOrigins...)
	return optionFunc(func(o *options) { o.dpop = &dpopOptions{verifier: v, raw: origins} })
}
