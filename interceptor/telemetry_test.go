package interceptor

import (
	"context"
	"fmt"
	"maps"
	"testing"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"google.golang.org/grpc/codes"

	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
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
// measurements by the oauthgate.cache_hit attribute.
type recordingProvider struct {
	noop.MeterProvider
	hist *recordingHistogram
}

func (p *recordingProvider) Meter(string, ...metric.MeterOption) metric.Meter {
	return recordingMeter{hist: p.hist}
}

type recordingMeter struct {
	noop.Meter
	hist *recordingHistogram
}

func (m recordingMeter) Float64Histogram(string, ...metric.Float64HistogramOption) (metric.Float64Histogram, error) {
	return m.hist, nil
}

type recordingHistogram struct {
	noop.Float64Histogram
	byHit map[bool]int
}

func (h *recordingHistogram) Enabled(context.Context) bool { return true }

func (h *recordingHistogram) Record(_ context.Context, _ float64, opts ...metric.RecordOption) {
	attrs := metric.NewRecordConfig(opts).Attributes()
	hit, _ := attrs.Value(keyCacheHit)
	h.byHit[hit.AsBool()]++
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
