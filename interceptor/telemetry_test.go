package interceptor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	oauthgatev1 "github.com/oauthgate/oauthgate/proto/oauthgate/v1"
	"github.com/oauthgate/oauthgate/resource"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

// TestTelemetry_NoAllocs checks that recording an allowed call and a
// verification allocates nothing when no SDK is installed: the global
// provider (the default) and an explicit no-op provider.
func TestTelemetry_NoAllocs(t *testing.T) {
	claims, err := verify.ParseClaims([]byte(`{"sub":"alice","scope":"library.read"}`))
	if err != nil {
		t.Fatal(err)
	}
	v := verify.Func(func(context.Context, string) (*verify.Claims, error) { return claims, nil })
	p, err := scopes.NewPolicy(scopes.FromFiles(testpb.File_oauthgatetest_v1_library_proto))
	if err != nil {
		t.Fatal(err)
	}
	method := testpb.LibraryService_GetBook_FullMethodName
	for name, opts := range map[string][]Option{
		"Global": nil,
		"Noop":   {WithMeterProvider(noop.NewMeterProvider())},
	} {
		t.Run(name, func(t *testing.T) {
			gate, err := New(v, p, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := gate.tel.methods[method]; !ok {
				t.Fatalf("telemetry has no entry for %s", method)
			}
			ctx := context.Background()
			allocs := testing.AllocsPerRun(100, func() {
				if _, err := gate.verify(ctx, "token"); err != nil {
					t.Fatal(err)
				}
				gate.allowed(ctx, method, claims)
			})
			if allocs != 0 {
				t.Errorf("verify + allowed allocate %v times per call, want 0", allocs)
			}
		})
	}
}

// hitVerifier is a [verify.CacheReporter] whose answers come from the
// cache when hit is set.
type hitVerifier struct {
	claims *verify.Claims
	hit    bool
}

func (v *hitVerifier) Verify(ctx context.Context, token string) (*verify.Claims, error) {
	c, _, err := v.VerifyCacheHit(ctx, token)
	return c, err
}

func (v *hitVerifier) VerifyCacheHit(context.Context, string) (*verify.Claims, bool, error) {
	return v.claims, v.hit, nil
}

// recordingProvider is a meter provider whose histograms count their
// measurements by the oauthgate.cache_hit and oauthgate.result
// attributes, and which keeps the callback of the decisions counter.
type recordingProvider struct {
	noop.MeterProvider
	hist     *recordingHistogram
	callback metric.Callback
}

func (p *recordingProvider) Meter(string, ...metric.MeterOption) metric.Meter {
	return recordingMeter{p: p}
}

// decisions runs the decisions counter's callback as an SDK collecting
// would, and returns the counts by "service/method code decision reason".
func (p *recordingProvider) decisions(t *testing.T) map[string]int64 {
	t.Helper()
	o := &recordingObserver{got: map[string]int64{}}
	if err := p.callback(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	return o.got
}

type recordingMeter struct {
	noop.Meter
	p *recordingProvider
}

func (m recordingMeter) Float64Histogram(string, ...metric.Float64HistogramOption) (metric.Float64Histogram, error) {
	if m.p.hist == nil {
		return noop.Float64Histogram{}, nil
	}
	return m.p.hist, nil
}

func (m recordingMeter) RegisterCallback(f metric.Callback, _ ...metric.Observable) (metric.Registration, error) {
	m.p.callback = f
	return noop.Registration{}, nil
}

type recordingHistogram struct {
	noop.Float64Histogram
	byHit    map[bool]int
	byResult map[string]int
}

func (h *recordingHistogram) Enabled(context.Context) bool { return true }

func (h *recordingHistogram) Record(_ context.Context, _ float64, opts ...metric.RecordOption) {
	attrs := metric.NewRecordConfig(opts).Attributes()
	if hit, ok := attrs.Value(keyCacheHit); ok && h.byHit != nil {
		h.byHit[hit.AsBool()]++
	}
	if r, ok := attrs.Value(keyResult); ok && h.byResult != nil {
		h.byResult[r.AsString()]++
	}
}

// recordingObserver records what the decisions counter reports.
type recordingObserver struct {
	metric.Observer // only ObserveInt64 is called
	got             map[string]int64
}

func (o *recordingObserver) ObserveInt64(_ metric.Int64Observable, n int64, opts ...metric.ObserveOption) {
	attrs := metric.NewObserveConfig(opts).Attributes()
	get := func(k attribute.Key) string { v, _ := attrs.Value(k); return v.String() }
	o.got[get(keyService)+"/"+get(keyMethod)+" "+get(keyStatusCode)+" "+get(keyDecision)+" "+get(keyReason)] += n
}

// TestTelemetry_VerifyResult: each verification is timed with the result
// that explains it.
func TestTelemetry_VerifyResult(t *testing.T) {
	claims, err := verify.ParseClaims([]byte(`{"sub":"alice","scope":"library.read"}`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := scopes.NewPolicy(scopes.FromFiles(testpb.File_oauthgatetest_v1_library_proto))
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		err  error
		want string
	}{
		"OK":          {want: "ok"},
		"Invalid":     {err: &verify.TokenError{Reason: verify.ErrExpired, Claim: "exp"}, want: "invalid_token"},
		"Unavailable": {err: &verify.UnavailableError{Op: "fetch JWKS", Err: errors.New("refused")}, want: "unavailable"},
		"Deadline":    {err: context.DeadlineExceeded, want: "unavailable"},
		"Other":       {err: errors.New("verifier bug"), want: "error"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			v := verify.Func(func(context.Context, string) (*verify.Claims, error) {
				if tc.err != nil {
					return nil, tc.err
				}
				return claims, nil
			})
			hist := &recordingHistogram{byResult: map[string]int{}}
			gate, err := New(v, p, WithMeterProvider(&recordingProvider{hist: hist}))
			if err != nil {
				t.Fatal(err)
			}
			_, _ = gate.verify(context.Background(), "token")
			if want := map[string]int{tc.want: 1}; !maps.Equal(hist.byResult, want) {
				t.Errorf("verifications by result = %v, want %v", hist.byResult, want)
			}
		})
	}
}

// TestTelemetry_ResourceMetadataMethod: with WithResourceMetadata, calls of
// the metadata method are counted under its own name; without it, the
// method is undeclared and counted under _OTHER like any other.
func TestTelemetry_ResourceMetadataMethod(t *testing.T) {
	p, err := scopes.NewPolicy(scopes.FromFiles(testpb.File_oauthgatetest_v1_library_proto))
	if err != nil {
		t.Fatal(err)
	}
	md, err := resource.New(resource.Config{Resource: "https://library.example.com", AuthorizationServers: []string{"https://as.example.com"}, Policy: p})
	if err != nil {
		t.Fatal(err)
	}
	const method = oauthgatev1.ResourceMetadataService_GetResourceMetadata_FullMethodName
	tests := map[string]struct {
		opts []Option
		want map[string]int64
	}{
		"WithResourceMetadata": {opts: []Option{WithResourceMetadata(md)},
			want: map[string]int64{"oauthgate.v1.ResourceMetadataService/GetResourceMetadata 0 allow ": 1}},
		"Without": {want: map[string]int64{"_OTHER/_OTHER 7 deny UNDECLARED_METHOD": 1}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			mp := &recordingProvider{}
			gate, err := New(verify.Func(func(context.Context, string) (*verify.Claims, error) { return nil, verify.ErrInvalidToken }), p,
				append(tc.opts, WithMeterProvider(mp))...)
			if err != nil {
				t.Fatal(err)
			}
			handler := func(context.Context, any) (any, error) { return "metadata", nil }
			_, _ = gate.Unary(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: method}, handler)
			if got := mp.decisions(t); !maps.Equal(got, tc.want) {
				t.Errorf("decisions = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestTelemetry_CacheHitSampling checks that every verification the
// verifier did not answer from its cache is timed, and cache hits only
// when sampled.
func TestTelemetry_CacheHitSampling(t *testing.T) {
	claims, err := verify.ParseClaims([]byte(`{"sub":"alice","scope":"library.read"}`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := scopes.NewPolicy(scopes.FromFiles(testpb.File_oauthgatetest_v1_library_proto))
	if err != nil {
		t.Fatal(err)
	}
	hist := &recordingHistogram{byHit: map[bool]int{}}
	v := &hitVerifier{claims: claims}
	gate, err := New(v, p, WithMeterProvider(&recordingProvider{hist: hist}))
	if err != nil {
		t.Fatal(err)
	}
	asked := 0
	gate.tel.sampled = func() bool { asked++; return asked%4 == 0 }
	ctx := context.Background()
	for _, hit := range []bool{false, true} {
		v.hit = hit
		for range 12 {
			if _, err := gate.verify(ctx, "token"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if asked != 12 {
		t.Errorf("sampler asked %d times, want 12 (once per cache hit, never for a miss)", asked)
	}
	if want := map[bool]int{false: 12, true: 3}; !maps.Equal(hist.byHit, want) {
		t.Errorf("timed verifications by cache hit = %v, want %v", hist.byHit, want)
	}
}

// TestTelemetry_DenialSeriesBounded checks that an Authorizer's reasons
// cannot grow the decisions counter's series without bound.
func TestTelemetry_DenialSeriesBounded(t *testing.T) {
	p, err := scopes.NewPolicy(scopes.FromFiles(testpb.File_oauthgatetest_v1_library_proto))
	if err != nil {
		t.Fatal(err)
	}
	gate, err := New(verify.Func(func(context.Context, string) (*verify.Claims, error) { return nil, verify.ErrInvalidToken }), p)
	if err != nil {
		t.Fatal(err)
	}
	tel := gate.tel
	m := tel.method(testpb.LibraryService_GetBook_FullMethodName)
	for i := range maxDenialSeries + 100 {
		tel.denial(m, codes.PermissionDenied, fmt.Sprintf("REASON_%d", i)).n.Add(1)
	}
	series := 0
	tel.denials.Range(func(any, any) bool { series++; return true })
	if series != maxDenialSeries+1 {
		t.Errorf("denial series = %d, want %d and one for %s", series, maxDenialSeries, otherValue)
	}
	if n := tel.denial(m, codes.PermissionDenied, otherValue).n.Load(); n != 100 {
		t.Errorf("denials counted under %s = %d, want 100", otherValue, n)
	}
	if n := tel.denial(m, codes.PermissionDenied, "REASON_7").n.Load(); n != 1 {
		t.Errorf("denials counted under REASON_7 = %d, want 1", n)
	}
}
