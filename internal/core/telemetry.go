package core

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

// Names of the OpenTelemetry instruments and attributes of every adapter. The
// rpc.* keys are those of the OpenTelemetry semantic conventions for RPC;
// the others are oauthgate's own. No attribute ever carries a token, a
// claim value, a subject or a client ID, and method names come from the
// policy, never from the client: an undeclared method is recorded as
// otherValue, so the number of series is bounded by the policy.
const (
	metricDecisions = "oauthgate.server.decisions"

	keyService    = "rpc.service"
	keyMethod     = "rpc.method"
	keyStatusCode = "rpc.grpc.status_code"
	keyDecision   = "oauthgate.decision"
	keyReason     = "oauthgate.reason"

	// otherValue stands for every method the policy does not declare, and
	// for the reasons past maxDenialSeries (OpenTelemetry's convention for
	// unbounded values).
	otherValue = "_OTHER"

	decisionAllow = "allow"
	decisionDeny  = "deny"
)

// maxDenialSeries bounds the number of (method, code, reason) series of
// the decisions counter: the reasons of an [Authorizer]'s [DenyError] are
// the application's, so a reason built from request data must not grow
// the series without bound. Beyond it, denials with a new reason are
// counted under the reason otherValue.
const maxDenialSeries = 4096

// telemetry holds a Gate's instruments and the attribute sets of
// every outcome it can record without allocating, built once in New.
//
// Decisions are counted in atomic counters that an observable counter
// reports at collection: one atomic add per call, whatever the SDK, rather
// than a synchronous measurement.
type telemetry struct {
	methods map[string]*methodTelemetry // by full method name, from the policy
	other   *methodTelemetry
	// denials holds the series of denied calls, by denialKey, created on
	// first use under denialsMu; nDenials counts them, up to
	// maxDenialSeries and one more for otherValue.
	denials   sync.Map
	denialsMu sync.Mutex
	nDenials  int
}

// methodTelemetry is what is recorded for one method.
type methodTelemetry struct {
	service, method attribute.KeyValue
	allowed         series
}

// series is one series of the decisions counter.
type series struct {
	n   atomic.Int64
	opt metric.ObserveOption
}

// denialKey names a series of denied calls.
type denialKey struct {
	m      *methodTelemetry
	code   Code
	reason string
}

// newTelemetry creates the instruments of a Gate over p. The
// decisions counter's callback stays registered for the life of mp, like
// those of the verifiers' caches: a Gate has no Close.
func newTelemetry(name, meterName string, mp metric.MeterProvider, p *scopes.Policy, extra []string) (*telemetry, error) {
	meter := mp.Meter(meterName)
	decisions, err := meter.Int64ObservableCounter(metricDecisions, metric.WithUnit("{call}"),
		metric.WithDescription("Authorization decisions of oauthgate: allowed calls and denials by reason."))
	if err != nil {
		return nil, fmt.Errorf("%s: WithMeterProvider: %s: %w", name, metricDecisions, err)
	}
	t := &telemetry{methods: map[string]*methodTelemetry{}}
	for _, m := range append(p.Methods(), extra...) {
		svc, name, ok := strings.Cut(strings.TrimPrefix(m, "/"), "/")
		if !ok {
			continue
		}
		t.methods[m] = newMethodTelemetry(svc, name)
	}
	t.other = newMethodTelemetry(otherValue, otherValue)
	if _, err := meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		t.observe(o, decisions)
		return nil
	}, decisions); err != nil {
		return nil, fmt.Errorf("%s: WithMeterProvider: %s: %w", name, metricDecisions, err)
	}
	return t, nil
}

// observe reports every series of the decisions counter that counted a
// call.
func (t *telemetry) observe(o metric.Observer, decisions metric.Int64ObservableCounter) {
	report := func(s *series) {
		if n := s.n.Load(); n > 0 {
			o.ObserveInt64(decisions, n, s.opt)
		}
	}
	for _, m := range t.methods {
		report(&m.allowed)
	}
	report(&t.other.allowed)
	t.denials.Range(func(_, s any) bool {
		report(s.(*series))
		return true
	})
}

// denial returns the series of a denied call of m, creating it. The
// series of a known key is a lock-free load; a new one is created under
// denialsMu, which at most maxDenialSeries + 1 calls per method, code and
// reason ever take.
func (t *telemetry) denial(m *methodTelemetry, code Code, reason string) *series {
	k := denialKey{m, code, reason}
	if s, ok := t.denials.Load(k); ok {
		return s.(*series)
	}
	t.denialsMu.Lock()
	defer t.denialsMu.Unlock()
	if s, ok := t.denials.Load(k); ok { // created while this call waited
		return s.(*series)
	}
	if t.nDenials >= maxDenialSeries && k.reason != otherValue {
		k.reason = otherValue
		if s, ok := t.denials.Load(k); ok {
			return s.(*series)
		}
	}
	s := &series{opt: metric.WithAttributeSet(attribute.NewSet(m.service, m.method,
		attribute.Int(keyStatusCode, int(code)), attribute.String(keyDecision, decisionDeny),
		attribute.String(keyReason, k.reason)))}
	t.denials.Store(k, s)
	t.nDenials++
	return s
}

func newMethodTelemetry(service, method string) *methodTelemetry {
	m := &methodTelemetry{service: attribute.String(keyService, service), method: attribute.String(keyMethod, method)}
	m.allowed.opt = metric.WithAttributeSet(attribute.NewSet(m.service, m.method,
		attribute.Int(keyStatusCode, int(OK)), attribute.String(keyDecision, decisionAllow)))
	return m
}

// method returns what is recorded for the full method name method.
func (t *telemetry) method(method string) *methodTelemetry {
	if m, ok := t.methods[method]; ok {
		return m
	}
	return t.other
}

// allowed records an allowed call: claims are nil for a public method.
func (g *Gate) allowed(ctx context.Context, method string, claims *verify.Claims) {
	g.tel.method(method).allowed.n.Add(1)
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.SetAttributes(attribute.String(keyDecision, decisionAllow))
		g.spanIdentity(span, claims)
	}
	g.logDecision(ctx, method, OK, "", claims)
}

// denied records a denial.
func (g *Gate) denied(ctx context.Context, method string, d *Denial) {
	g.tel.denial(g.tel.method(method), d.Code, d.Reason).n.Add(1)
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		attrs := []attribute.KeyValue{attribute.String(keyDecision, decisionDeny), attribute.String(keyReason, d.Reason)}
		span.SetAttributes(attrs...)
		span.AddEvent("oauthgate.denied", trace.WithAttributes(append(attrs, attribute.Int(keyStatusCode, int(d.Code)))...))
		g.spanIdentity(span, d.Claims)
	}
	g.logDecision(ctx, method, d.Code, d.Reason, d.Claims)
}

// spanIdentity records the caller on span, with WithSpanIdentity.
func (g *Gate) spanIdentity(span trace.Span, claims *verify.Claims) {
	if !g.opts.spanIdentity || claims == nil {
		return
	}
	span.SetAttributes(attribute.String("enduser.id", claims.Subject()), attribute.String("oauthgate.client_id", claims.ClientID()))
}

// decisionLog is the configuration of WithDecisionLog.
type decisionLog struct {
	logger   *slog.Logger
	level    slog.Level
	identity bool
}

// logDecision writes the decision log entry of a call.
func (g *Gate) logDecision(ctx context.Context, method string, code Code, reason string, claims *verify.Claims) {
	d := g.opts.decisionLog
	if d == nil || !d.logger.Enabled(ctx, d.level) {
		return
	}
	method = g.loggedMethod(method)
	decision := decisionAllow
	if code != OK {
		decision = decisionDeny
	}
	attrs := make([]slog.Attr, 0, 6)
	attrs = append(attrs, slog.String("method", method), slog.String("decision", decision), slog.String("code", code.String()))
	if reason != "" {
		attrs = append(attrs, slog.String("reason", reason))
	}
	if d.identity && claims != nil {
		attrs = append(attrs, slog.String("client_id", claims.ClientID()), slog.String("sub", claims.Subject()))
	}
	d.logger.LogAttrs(ctx, d.level, "oauthgate: decision", attrs...)
}

// maxLoggedMethod bounds a logged method name the policy does not declare.
const maxLoggedMethod = 256

// loggedMethod returns method as every log of the core writes it: a
// method of the policy whole; any other, whose name the client chose (with
// grpc.UnknownServiceHandler or an HTTP mux, any name reaches the core), cut to
// maxLoggedMethod bytes, so that a call cannot make a log line as long as
// its headers. slog quotes it; it is never trusted as a policy method.
func (g *Gate) loggedMethod(method string) string {
	if _, known := g.tel.methods[method]; known {
		return method
	}
	return truncate(method, maxLoggedMethod)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// Record logs and records a denial of a call to method: the denial log
// (WithLogger), the decisions counter, the span and the decision log.
// [Gate.Authorize] and [Stream] record their own; an adapter calls Record
// only for a denial of its own ([NewDenial]).
func (g *Gate) Record(ctx context.Context, method string, d *Denial) {
	level := slog.LevelInfo
	if d.Code == Unavailable || d.Code == Internal {
		level = slog.LevelWarn
	}
	if g.opts.logger.Enabled(ctx, level) {
		attrs := []slog.Attr{slog.String("method", g.loggedMethod(method)), slog.String("code", d.Code.String()), slog.String("reason", d.Reason)}
		if d.Cause != nil {
			attrs = append(attrs, slog.String("error", d.Cause.Error()))
		}
		g.opts.logger.LogAttrs(ctx, level, "oauthgate: call denied", attrs...)
	}
	g.denied(ctx, method, d)
}
