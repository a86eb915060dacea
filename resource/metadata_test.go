package resource_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	oauthgatev1 "github.com/oauthgate/oauthgate/proto/oauthgate/v1"
	"github.com/oauthgate/oauthgate/resource"
	"github.com/oauthgate/oauthgate/scopes"
)

func TestNew_URL(t *testing.T) {
	t.Parallel()
	// RFC 9728 §3.1: the well-known suffix goes between host and path,
	// after a terminating slash is removed.
	tests := map[string]string{
		"https://api.example.com":            "https://api.example.com/.well-known/oauth-protected-resource",
		"https://api.example.com/":           "https://api.example.com/.well-known/oauth-protected-resource",
		"https://api.example.com/reports":    "https://api.example.com/.well-known/oauth-protected-resource/reports",
		"https://api.example.com/a/b/":       "https://api.example.com/.well-known/oauth-protected-resource/a/b",
		"https://api.example.com:8443/r%20x": "https://api.example.com:8443/.well-known/oauth-protected-resource/r%20x",
	}
	for res, want := range tests {
		m, err := resource.New(resource.Config{Resource: res, AuthorizationServers: []string{"https://as.example.com"}})
		if err != nil {
			t.Fatalf("New(%q) error = %v", res, err)
		}
		if m.URL() != want {
			t.Errorf("New(%q).URL() = %q, want %q", res, m.URL(), want)
		}
		if u, _ := url.Parse(want); m.Path() != u.EscapedPath() {
			t.Errorf("New(%q).Path() = %q, want %q", res, m.Path(), u.EscapedPath())
		}
	}
}

func TestNew_LoopbackHTTP(t *testing.T) {
	t.Parallel()
	if _, err := resource.New(resource.Config{Resource: "https://api.example.com",
		AuthorizationServers: []string{"http://127.0.0.1:8765"}, InsecureAllowHTTP: true}); err != nil {
		t.Errorf("New(loopback http issuer, InsecureAllowHTTP) error = %v", err)
	}
}

func TestNew_Errors(t *testing.T) {
	t.Parallel()
	as := []string{"https://as.example.com"}
	for name, cfg := range map[string]resource.Config{
		"NoResource":   {AuthorizationServers: as},
		"HTTP":         {Resource: "http://api.example.com", AuthorizationServers: as},
		"Relative":     {Resource: "/api", AuthorizationServers: as},
		"Query":        {Resource: "https://api.example.com/?x=1", AuthorizationServers: as},
		"Fragment":     {Resource: "https://api.example.com/#f", AuthorizationServers: as},
		"UserInfo":     {Resource: "https://u@api.example.com", AuthorizationServers: as},
		"NoAS":         {Resource: "https://api.example.com"},
		"HTTPAS":       {Resource: "https://api.example.com", AuthorizationServers: []string{"http://as.example.com"}},
		"HTTPRemoteAS": {Resource: "https://api.example.com", AuthorizationServers: []string{"http://as.example.com"}, InsecureAllowHTTP: true},
		"HTTPDocument": {Resource: "https://api.example.com", AuthorizationServers: as, Documentation: "http://docs.example.com"},
	} {
		if _, err := resource.New(cfg); err == nil || !strings.HasPrefix(err.Error(), "resource: Config.") {
			t.Errorf("%s: New() error = %v, want one naming the Config field", name, err)
		}
	}
}

// TestServeHTTP fetches the document over real HTTP at the URL §3.1
// derives from the resource identifier, and checks it against §2 and §3.
func TestServeHTTP(t *testing.T) {
	t.Parallel()
	policy, err := scopes.NewPolicy(scopes.FromFiles(testpb.File_oauthgatetest_v1_library_proto))
	if err != nil {
		t.Fatal(err)
	}
	const res = "https://library.example.com/v1"
	m, err := resource.New(resource.Config{
		Resource: res, AuthorizationServers: []string{"https://as.example.com", "https://as2.example.com/tenant"},
		Policy: policy, Documentation: "https://docs.example.com/library", Name: "Library",
		DPoPAlgorithms: []string{"ES256", "EdDSA"}, CertificateBound: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	// The URL of §3.1, served here by a test server instead of the
	// resource's host.
	wellKnown, _ := url.Parse(m.URL())
	target := srv.URL + wellKnown.EscapedPath()
	resp, err := srv.Client().Get(target)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s = %d %s", target, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	// §3.3: resource must be identical to the identifier the URL was
	// built from.
	if doc["resource"] != res {
		t.Errorf("resource = %v, want %q exactly", doc["resource"], res)
	}
	want := map[string]any{
		"authorization_servers":                      []any{"https://as.example.com", "https://as2.example.com/tenant"},
		"scopes_supported":                           []any{"library.admin", "library.audit", "library.read", "library.write", "shelf.read"},
		"bearer_methods_supported":                   []any{"header"},
		"resource_documentation":                     "https://docs.example.com/library",
		"resource_name":                              "Library",
		"dpop_signing_alg_values_supported":          []any{"ES256", "EdDSA"},
		"tls_client_certificate_bound_access_tokens": true,
	}
	for k, v := range want {
		if got, _ := json.Marshal(doc[k]); string(got) != mustJSON(t, v) {
			t.Errorf("%s = %s, want %s", k, got, mustJSON(t, v))
		}
	}
	if _, ok := doc["dpop_bound_access_tokens_required"]; ok {
		t.Error("dpop_bound_access_tokens_required present though false")
	}
	for _, other := range []string{"/.well-known/oauth-protected-resource", "/v1"} {
		r, err := srv.Client().Get(srv.URL + other)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", other, r.StatusCode)
		}
	}
	r, err := srv.Client().Post(target, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST = %d, want 405", r.StatusCode)
	}
	if d := m.Document(); !slices.Equal(d, body) {
		t.Errorf("Document() = %s, want the served body", d)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestServiceNames holds the hand-written gRPC names of the service to
// its descriptor in resource.proto.
func TestServiceNames(t *testing.T) {
	sd := oauthgatev1.File_oauthgate_v1_resource_proto.Services().ByName("ResourceMetadataService")
	if sd == nil {
		t.Fatal("resource.proto declares no ResourceMetadataService")
	}
	if got := string(sd.FullName()); got != resource.ServiceName {
		t.Errorf("ServiceName = %s, want %s", resource.ServiceName, got)
	}
	if sd.Methods().Len() != 1 {
		t.Fatalf("ResourceMetadataService has %d methods, want 1", sd.Methods().Len())
	}
	md := sd.Methods().Get(0)
	if got := "/" + string(sd.FullName()) + "/" + string(md.Name()); got != resource.Procedure {
		t.Errorf("Procedure = %s, want %s", resource.Procedure, got)
	}
}
