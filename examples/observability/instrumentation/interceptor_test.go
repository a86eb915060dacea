package instrumentation_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/oauthgate/oauthgate/interceptor"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

const (
	defaultTestTimeout = 10 * time.Second
	subject            = "alice-subject-7f3a"
	clientID           = "client-id-9c1e"
	getBook            = testpb.LibraryService_GetBook_FullMethodName
)

// fixture is a gate over a JWT verifier of an in-memory issuer, with a
// manual reader and a span recorder.
type fixture struct {
	iss    *oauthtest.Issuer
	gate   *interceptor.Interceptor
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	tracer *sdktrace.TracerProvider
}

func newFixture(t testing.TB, opts ...interceptor.Option) *fixture {
	t.Helper()
	f := &fixture{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	f.iss = oauthtest.NewIssuer(t, oauthtest.IssuerConfig{InMemory: true})
	keys, err := verify.NewRemoteKeySet(verify.RemoteKeySetConfig{URL: f.iss.EndpointURL(oauthtest.EndpointJWKS), HTTPClient: f.iss.Client()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = keys.Close() })
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(f.reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: f.iss.URL, Audiences: []string{oauthtest.DefaultAudience}, MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	policy, err := scopes.NewPolicy(scopes.FromFiles(testpb.File_oauthgatetest_v1_library_proto))
	if err != nil {
		t.Fatal(err)
	}
	f.tracer = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(f.spans))
	t.Cleanup(func() { _ = f.tracer.Shutdown(context.Background()) })
	f.gate, err = interceptor.New(jwt, policy, append([]interceptor.Option{interceptor.WithMeterProvider(mp)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) token(t testing.TB, scope ...string) string {
	t.Helper()
	return f.iss.Token(t, oauthtest.Token{Scopes: scope, Subject: subject, ClientID: clientID})
}

// call makes one unary call to method through the gate, in a server span
// as otelgrpc would start it, and returns its status code.
func (f *fixture) call(t testing.TB, method, token string) codes.Code {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	if token != "" {
		ctx = metadata.NewIncomingContext(ctx, metadata.Pairs("authorization", "Bearer "+token))
	}
	ctx, span := f.tracer.Tracer("test").Start(ctx, method)
	defer span.End()
	_, err := f.gate.Unary(ctx, nil, &grpc.UnaryServerInfo{FullMethod: method},
		func(context.Context, any) (any, error) { return "ok", nil })
	return status.Code(err)
}

// collect reads every metric the gate recorded.
func (f *fixture) collect(t testing.TB) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := f.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	return rm
}

func findMetric(rm metricdata.ResourceMetrics, name string) (metricdata.Metrics, bool) {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m, true
			}
		}
	}
	return metricdata.Metrics{}, false
}

// decisions returns the decision counts by "method decision code reason".
func decisions(t *testing.T, rm metricdata.ResourceMetrics) map[string]int64 {
	t.Helper()
	m, ok := findMetric(rm, "oauthgate.server.decisions")
	if !ok {
		t.Fatal("no oauthgate.server.decisions metric")
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	if !ok || !sum.IsMonotonic {
		t.Fatalf("oauthgate.server.decisions is %T, want a monotonic Sum[int64]", m.Data)
	}
	got := map[string]int64{}
	for _, dp := range sum.DataPoints {
		var parts []string
		for _, k := range []string{"rpc.service", "rpc.method", "oauthgate.decision", "rpc.grpc.status_code", "oauthgate.reason"} {
			v, _ := dp.Attributes.Value(attributeKey(k))
			parts = append(parts, v.String())
		}
		got[strings.Join(parts, " ")] += dp.Value
	}
	return got
}

func TestInterceptor_Decisions(t *testing.T) {
	f := newFixture(t)
	read, none := f.token(t, "library.read"), f.token(t, "openid")
	calls := []struct {
		method, token string
		want          codes.Code
	}{
		{getBook, read, codes.OK},
		{getBook, read, codes.OK}, // cached
		{getBook, "", codes.Unauthenticated},
		{getBook, none, codes.PermissionDenied},
		{getBook, "not-a-jwt", codes.Unauthenticated},
		{"/evil.Service/" + read, read, codes.PermissionDenied}, // a client-chosen name
		{testpb.LibraryService_Ping_FullMethodName, "", codes.OK},
	}
	for _, c := range calls {
		if got := f.call(t, c.method, c.token); got != c.want {
			t.Fatalf("call(%s) = %v, want %v", c.method, got, c.want)
		}
	}
	got := decisions(t, f.collect(t))
	want := map[string]int64{
		"oauthgatetest.v1.LibraryService GetBook allow 0 ":                  2,
		"oauthgatetest.v1.LibraryService GetBook deny 16 MISSING_TOKEN":     1,
		"oauthgatetest.v1.LibraryService GetBook deny 7 INSUFFICIENT_SCOPE": 1,
		"oauthgatetest.v1.LibraryService GetBook deny 16 INVALID_TOKEN":     1,
		"_OTHER _OTHER deny 7 UNDECLARED_METHOD":                            1,
		"oauthgatetest.v1.LibraryService Ping allow 0 ":                     1,
	}
	if len(got) != len(want) {
		t.Errorf("decisions = %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("decisions[%q] = %d, want %d (all: %v)", k, got[k], n, got)
		}
	}
}

func TestInterceptor_VerificationDuration(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, "library.read")
	for range 3 {
		f.call(t, getBook, tok)
	}
	f.call(t, getBook, "not-a-jwt")
	m, ok := findMetric(f.collect(t), "oauthgate.verification.duration")
	if !ok {
		t.Fatal("no oauthgate.verification.duration metric")
	}
	if m.Unit != "s" {
		t.Errorf("unit = %q, want s", m.Unit)
	}
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("data is %T, want Histogram[float64]", m.Data)
	}
	counts := map[string]uint64{}
	for _, dp := range h.DataPoints {
		kind, _ := dp.Attributes.Value("oauthgate.verifier")
		result, _ := dp.Attributes.Value("oauthgate.result")
		hit, _ := dp.Attributes.Value("oauthgate.cache_hit")
		counts[kind.String()+" "+result.String()+" hit="+hit.String()] += dp.Count
		if len(dp.Bounds) == 0 || dp.Bounds[0] != 1e-6 || dp.Bounds[len(dp.Bounds)-1] != 1 {
			t.Errorf("bounds = %v, want 1µs to 1s", dp.Bounds)
		}
	}
	// Every uncached verification is timed; of the 2 cache hits, a random
	// sample (1 in 64) is, which verify's own tests check.
	if n := counts["jwt ok hit=true"]; n > 2 {
		t.Errorf("cache hits timed = %d, want at most the 2 hits", n)
	}
	delete(counts, "jwt ok hit=true")
	want := map[string]uint64{"jwt ok hit=false": 1, "jwt invalid_token hit=false": 1}
	if len(counts) != len(want) {
		t.Errorf("observations = %v, want %v", counts, want)
	}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("observations[%q] = %d, want %d (all: %v)", k, counts[k], n, counts)
		}
	}
}

// TestInterceptor_NoSecrets checks that no attribute of any metric or span,
// and no decision log entry, carries the token, and that the subject and
// client ID appear only in the decision log and only when asked for.
func TestInterceptor_NoSecrets(t *testing.T) {
	for _, identity := range []bool{false, true} {
		var log bytes.Buffer
		f := newFixture(t, interceptor.WithDecisionLog(slog.New(slog.NewJSONHandler(&log, nil)), slog.LevelInfo, identity))
		read, none := f.token(t, "library.read"), f.token(t, "openid")
		f.call(t, getBook, read)
		f.call(t, getBook, none)
		f.call(t, getBook, read[:len(read)-4]+"AAAA") // bad signature

		rm := f.collect(t)
		dump, err := json.Marshal(rm)
		if err != nil {
			t.Fatal(err)
		}
		var spans strings.Builder
		for _, s := range f.spans.Ended() {
			for _, a := range s.Attributes() {
				spans.WriteString(a.Value.String() + "\n")
			}
			for _, e := range s.Events() {
				for _, a := range e.Attributes {
					spans.WriteString(a.Value.String() + "\n")
				}
			}
		}
		for _, secret := range []string{read, none, subject, clientID, strings.Split(read, ".")[2]} {
			if bytes.Contains(dump, []byte(secret)) {
				t.Errorf("metrics contain %q", secret)
			}
			if strings.Contains(spans.String(), secret) {
				t.Errorf("span attributes contain %q", secret)
			}
		}
		for _, tok := range []string{read, none, strings.Split(read, ".")[2]} {
			if strings.Contains(log.String(), tok) {
				t.Errorf("decision log contains a token: %s", log.String())
			}
		}
		if got := strings.Contains(log.String(), subject) && strings.Contains(log.String(), clientID); got != identity {
			t.Errorf("WithDecisionLog(identity=%v): log has subject and client ID = %v: %s", identity, got, log.String())
		}
		if n := strings.Count(log.String(), `"msg":"oauthgate: decision"`); n != 3 {
			t.Errorf("decision log has %d entries, want 3: %s", n, log.String())
		}
	}
}

func TestInterceptor_Spans(t *testing.T) {
	f := newFixture(t)
	f.call(t, getBook, f.token(t, "library.read"))
	f.call(t, getBook, "")
	ended := f.spans.Ended()
	if len(ended) != 2 {
		t.Fatalf("%d spans ended, want 2", len(ended))
	}
	attrs := func(i int) map[string]string {
		m := map[string]string{}
		for _, a := range ended[i].Attributes() {
			m[string(a.Key)] = a.Value.String()
		}
		return m
	}
	if a := attrs(0); a["oauthgate.decision"] != "allow" || a["oauthgate.cache_hit"] != "false" {
		t.Errorf("allowed call attributes = %v, want allow and cache_hit false", a)
	}
	if len(ended[0].Events()) != 0 {
		t.Errorf("allowed call has events %v, want none", ended[0].Events())
	}
	if a := attrs(1); a["oauthgate.decision"] != "deny" || a["oauthgate.reason"] != interceptor.ReasonMissingToken {
		t.Errorf("denied call attributes = %v, want deny and %s", a, interceptor.ReasonMissingToken)
	}
	if ev := ended[1].Events(); len(ev) != 1 || ev[0].Name != "oauthgate.denied" {
		t.Errorf("denied call events = %v, want one oauthgate.denied", ev)
	}
}

func attributeKey(k string) attribute.Key { return attribute.Key(k) }

// TestInterceptor_SpanIdentity: the caller's sub and client_id reach the
// span only with WithSpanIdentity.
func TestInterceptor_SpanIdentity(t *testing.T) {
	for _, opted := range []bool{false, true} {
		var opts []interceptor.Option
		if opted {
			opts = append(opts, interceptor.WithSpanIdentity())
		}
		f := newFixture(t, opts...)
		f.call(t, getBook, f.token(t, "library.read"))
		ended := f.spans.Ended()
		if len(ended) != 1 {
			t.Fatalf("%d spans ended, want 1", len(ended))
		}
		got := map[string]string{}
		for _, a := range ended[0].Attributes() {
			got[string(a.Key)] = a.Value.String()
		}
		_, hasSub := got["enduser.id"]
		_, hasClient := got["oauthgate.client_id"]
		if hasSub != opted || hasClient != opted {
			t.Errorf("WithSpanIdentity %t: span attributes %v", opted, got)
		}
		if opted && got["enduser.id"] == "" {
			t.Errorf("enduser.id is empty: %v", got)
		}
	}
}

// TestInterceptor_DecisionsSharedProvider checks the observable decisions
// counter when two interceptors share a meter provider (two servers in one
// process): their counts add up in one series, and a second collection
// reports the same cumulative totals, not twice as much.
func TestInterceptor_DecisionsSharedProvider(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	policy, err := scopes.NewPolicy(scopes.FromFiles(testpb.File_oauthgatetest_v1_library_proto))
	if err != nil {
		t.Fatal(err)
	}
	never := verify.Func(func(context.Context, string) (*verify.Claims, error) { return nil, verify.ErrInvalidToken })
	ping := testpb.LibraryService_Ping_FullMethodName
	for _, calls := range []int{2, 3} {
		gate, err := interceptor.New(never, policy, interceptor.WithMeterProvider(mp))
		if err != nil {
			t.Fatal(err)
		}
		for range calls {
			if _, err := gate.Unary(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: ping},
				func(context.Context, any) (any, error) { return "ok", nil }); err != nil {
				t.Fatal(err)
			}
		}
	}
	for collection := range 2 {
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		m, ok := findMetric(rm, "oauthgate.server.decisions")
		if !ok {
			t.Fatal("no oauthgate.server.decisions metric")
		}
		sum, ok := m.Data.(metricdata.Sum[int64])
		if !ok || sum.Temporality != metricdata.CumulativeTemporality {
			t.Fatalf("oauthgate.server.decisions is %#v, want a cumulative Sum[int64]", m.Data)
		}
		if len(sum.DataPoints) != 1 || sum.DataPoints[0].Value != 5 {
			t.Errorf("collection %d: data points = %+v, want one series with 5 allowed Ping calls", collection, sum.DataPoints)
		}
	}
}
