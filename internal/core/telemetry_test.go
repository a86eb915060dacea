package core

import (
	"context"
	"crypto/x509"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/resource"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

// TestTelemetry_NoAllocs checks that recording an allowed call allocates
// nothing when no SDK is installed: the global provider (the default) and
// an explicit no-op provider.
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
			gate, err := New(testAdapter, v, p, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := gate.tel.methods[method]; !ok {
				t.Fatalf("telemetry has no entry for %s", method)
			}
			ctx := context.Background()
			allocs := testing.AllocsPerRun(100, func() {
				if _, err := gate.verifier.Verify(ctx, "token"); err != nil {
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

// getBookTelemetry returns a new Gate's telemetry and what it records for
// GetBook.
func getBookTelemetry(t *testing.T) (*telemetry, *methodTelemetry) {
	t.Helper()
	p, err := scopes.NewPolicy(scopes.FromFiles(testpb.File_oauthgatetest_v1_library_proto))
	if err != nil {
		t.Fatal(err)
	}
	gate, err := New(testAdapter, verify.Func(func(context.Context, string) (*verify.Claims, error) { return nil, verify.ErrInvalidToken }), p)
	if err != nil {
		t.Fatal(err)
	}
	return gate.tel, gate.tel.method(testpb.LibraryService_GetBook_FullMethodName)
}

// TestTelemetry_DenialSeriesBounded checks that an Authorizer's reasons
// cannot grow the decisions counter's series without bound.
func TestTelemetry_DenialSeriesBounded(t *testing.T) {
	tel, m := getBookTelemetry(t)
	for i := range maxDenialSeries + 100 {
		tel.denial(m, PermissionDenied, fmt.Sprintf("REASON_%d", i)).n.Add(1)
	}
	series := 0
	tel.denials.Range(func(any, any) bool { series++; return true })
	if series != maxDenialSeries+1 {
		t.Errorf("denial series = %d, want %d and one for %s", series, maxDenialSeries, otherValue)
	}
	if n := tel.denial(m, PermissionDenied, otherValue).n.Load(); n != 100 {
		t.Errorf("denials counted under %s = %d, want 100", otherValue, n)
	}
	if n := tel.denial(m, PermissionDenied, "REASON_7").n.Load(); n != 1 {
		t.Errorf("denials counted under REASON_7 = %d, want 1", n)
	}
}

// TestTelemetry_DenialSeriesConcurrent: goroutines that meet the same new
// reasons at once create each series once, and the bound counts series,
// not attempts: every reason under the bound keeps its own series.
func TestTelemetry_DenialSeriesConcurrent(t *testing.T) {
	tel, m := getBookTelemetry(t)
	const workers = 8
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range maxDenialSeries {
				tel.denial(m, PermissionDenied, fmt.Sprintf("REASON_%d", i)).n.Add(1)
			}
		})
	}
	wg.Wait()
	series := 0
	tel.denials.Range(func(k, _ any) bool {
		series++
		if dk := k.(denialKey); !strings.HasPrefix(dk.reason, "REASON_") || dk.m != m {
			t.Logf("extra %+v", dk)
		}
		return true
	})
	if series != maxDenialSeries || tel.nDenials != maxDenialSeries {
		t.Errorf("denial series = %d, counted %d; want %d", series, tel.nDenials, maxDenialSeries)
	}
	for _, i := range []int{0, maxDenialSeries / 2, maxDenialSeries - 1} {
		if n := tel.denial(m, PermissionDenied, fmt.Sprintf("REASON_%d", i)).n.Load(); n != workers {
			t.Errorf("denials counted under REASON_%d = %d, want %d", i, n, workers)
		}
	}
}

// recordingProvider is a meter provider that keeps the callback of the
// decisions counter.
type recordingProvider struct {
	noop.MeterProvider
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

func (m recordingMeter) RegisterCallback(f metric.Callback, _ ...metric.Observable) (metric.Registration, error) {
	m.p.callback = f
	return noop.Registration{}, nil
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
	const method = ResourceMetadataProcedure
	if method != resource.Procedure {
		t.Fatalf("ResourceMetadataProcedure = %s, want the generated %s", method, resource.Procedure)
	}
	tests := map[string]struct {
		opts []Option
		want map[string]int64
	}{
		"WithResourceMetadata": {opts: []Option{WithResourceMetadata(md.URL())},
			want: map[string]int64{"oauthgate.v1.ResourceMetadataService/GetResourceMetadata 0 allow ": 1}},
		"Without": {want: map[string]int64{"_OTHER/_OTHER 7 deny UNDECLARED_METHOD": 1}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			mp := &recordingProvider{}
			gate, err := New(testAdapter, verify.Func(func(context.Context, string) (*verify.Claims, error) { return nil, verify.ErrInvalidToken }), p,
				append(tc.opts, WithMeterProvider(mp))...)
			if err != nil {
				t.Fatal(err)
			}
			_, _, _ = gate.Authorize(context.Background(), &Request{Procedure: method, Transport: noTransport{}})
			if got := mp.decisions(t); !maps.Equal(got, tc.want) {
				t.Errorf("decisions = %v, want %v", got, tc.want)
			}
		})
	}
}

// testAdapter names the tests' Gates.
var testAdapter = Adapter{Name: "core", Meter: "github.com/oauthgate/oauthgate/internal/core"}

// noTransport is a transport that knows nothing: no TLS, no target.
type noTransport struct{}

func (noTransport) Target(context.Context) (Target, error) { return Target{}, ErrMisconfigured }

func (noTransport) PeerCertificate(context.Context) (*x509.Certificate, error) { return nil, nil }
