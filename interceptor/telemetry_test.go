package interceptor

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/metric/noop"

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
