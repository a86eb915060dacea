package interceptor

import (
	"context"
	"fmt"
	"testing"

	"go.opentelemetry.io/otel/metric/noop"
	"google.golang.org/grpc/codes"

	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
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
