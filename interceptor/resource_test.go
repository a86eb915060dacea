package interceptor_test

import (
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/oauthgate/oauthgate/dpop"
	"github.com/oauthgate/oauthgate/interceptor"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/resource"
)

// TestResourceMetadata: with WithResourceMetadata every challenge names the
// metadata URL (RFC 9728 §5.1), ErrorInfo carries it, the metadata service
// is public without a rule, and the start-up check counts it as covered.
func TestResourceMetadata(t *testing.T) {
	policy := newPolicy(t)
	md, err := resource.New(resource.Config{Resource: "https://library.example.com", AuthorizationServers: []string{"https://as.example.com"}, Policy: policy})
	if err != nil {
		t.Fatal(err)
	}
	proofs, err := dpop.New(dpop.Config{})
	if err != nil {
		t.Fatal(err)
	}
	gate, err := interceptor.New(newFakeVerifier(t), policy, interceptor.WithRealm("library"),
		interceptor.WithResourceMetadata(md), interceptor.WithDPoP(proofs))
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(gate.ServerOptions()...)
	testpb.RegisterLibraryServiceServer(srv, &library{})
	testpb.RegisterShelfServiceServer(srv, shelf{})
	md.Register(srv)
	if err := gate.Check(srv); err == nil {
		t.Fatal("Check() passed with ShelfService's uncovered methods") // Move and Burn have no rule
	} else if containsAll(err.Error(), "ResourceMetadataService") {
		t.Errorf("Check() blames the metadata service: %v", err)
	}
	srv2 := grpc.NewServer(gate.ServerOptions()...)
	testpb.RegisterLibraryServiceServer(srv2, &library{})
	md.Register(srv2)
	conn := oauthtest.ServeGRPC(t, srv2)
	ctx := testContext(t)

	got, err := resource.Fetch(ctx, conn)
	if err != nil || got.GetResource() != "https://library.example.com" || len(got.GetScopesSupported()) == 0 ||
		got.GetBearerMethodsSupported()[0] != "header" {
		t.Fatalf("GetResourceMetadata() without a token = %v, %v", got, err)
	}

	var hdr metadata.MD
	_, err = testpb.NewLibraryServiceClient(conn).GetBook(ctx, &testpb.GetBookRequest{}, grpc.Header(&hdr))
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("GetBook() without a token = %v", err)
	}
	www := hdr.Get("www-authenticate")
	if len(www) != 2 {
		t.Fatalf("www-authenticate = %q, want Bearer and DPoP challenges", www)
	}
	for _, ch := range www {
		_, params, err := parseChallenge(ch)
		if err != nil || params["resource_metadata"] != md.URL() {
			t.Errorf("challenge %q: resource_metadata = %q (%v), want %q", ch, params["resource_metadata"], err, md.URL())
		}
	}
	if u := errorInfo(t, err).GetMetadata()["resource_metadata"]; u != md.URL() {
		t.Errorf("ErrorInfo resource_metadata = %q, want %q", u, md.URL())
	}
}
