package interceptor_test

import (
	"errors"
	"maps"
	"slices"
	"testing"

	"google.golang.org/grpc"

	"github.com/oauthgate/oauthgate/interceptor"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/resource"
	"github.com/oauthgate/oauthgate/scopes"
)

// TestCheck checks the start-up check: it reports exactly the registered
// methods without a rule, counts the resource metadata service as covered
// only with WithResourceMetadata, and looks at nothing but the services
// (the wiring is oauthtest.CheckWiring's job).
func TestCheck(t *testing.T) {
	t.Parallel()
	policy := newPolicy(t)
	md, err := resource.New(resource.Config{Resource: "https://library.example.com",
		AuthorizationServers: []string{"https://as.example.com"}, Policy: policy})
	if err != nil {
		t.Fatal(err)
	}
	const metadataMethod = "/oauthgate.v1.ResourceMetadataService/GetResourceMetadata"
	withLibrary := func(s grpc.ServiceRegistrar) { testpb.RegisterLibraryServiceServer(s, &library{}) }
	withShelf := func(s grpc.ServiceRegistrar) { testpb.RegisterShelfServiceServer(s, shelf{}) }
	tests := map[string]struct {
		register    []func(grpc.ServiceRegistrar)
		gateOpts    []interceptor.Option
		unwired     bool     // the server has no interceptor at all
		wantMissing []string // nil: Check returns nil
	}{
		"NoServices": {},
		"Covered":    {register: []func(grpc.ServiceRegistrar){withLibrary}},
		"Unwired":    {register: []func(grpc.ServiceRegistrar){withLibrary}, unwired: true},
		"Uncovered": {register: []func(grpc.ServiceRegistrar){withLibrary, withShelf},
			wantMissing: []string{"/oauthgatetest.v1.ShelfService/Burn", "/oauthgatetest.v1.ShelfService/Move"}},
		"MetadataWithOption": {register: []func(grpc.ServiceRegistrar){withLibrary, md.Register},
			gateOpts: []interceptor.Option{interceptor.WithResourceMetadata(md)}},
		"MetadataWithoutOption": {register: []func(grpc.ServiceRegistrar){withLibrary, md.Register},
			wantMissing: []string{metadataMethod}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			gate, err := interceptor.New(newFakeVerifier(t), policy, tc.gateOpts...)
			if err != nil {
				t.Fatal(err)
			}
			var opts []grpc.ServerOption
			if !tc.unwired {
				opts = gate.ServerOptions()
			}
			srv := grpc.NewServer(opts...)
			t.Cleanup(srv.Stop)
			for _, register := range tc.register {
				register(srv)
			}
			before := slices.Sorted(maps.Keys(srv.GetServiceInfo()))

			err = gate.Check(srv)
			if tc.wantMissing == nil {
				if err != nil {
					t.Fatalf("Check() = %v, want nil", err)
				}
			} else {
				var ce *scopes.CoverageError
				if !errors.As(err, &ce) || !errors.Is(err, scopes.ErrUncovered) {
					t.Fatalf("Check() = %v, want a *scopes.CoverageError", err)
				}
				if !slices.Equal(ce.Methods, tc.wantMissing) {
					t.Errorf("Check() names %q, want %q", ce.Methods, tc.wantMissing)
				}
			}
			if after := slices.Sorted(maps.Keys(srv.GetServiceInfo())); !slices.Equal(after, before) {
				t.Errorf("services after Check() = %q, want %q: Check must not change the server", after, before)
			}
		})
	}
}

// TestCheck_Nil checks that a nil server is an error, not a panic.
func TestCheck_Nil(t *testing.T) {
	t.Parallel()
	gate, err := interceptor.New(newFakeVerifier(t), newPolicy(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := gate.Check(nil); err == nil {
		t.Error("Check(nil) = nil, want an error")
	}
}
