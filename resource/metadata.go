package resource

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/grpc"

	oauthgatev1 "github.com/oauthgate/oauthgate/proto/oauthgate/v1"
	"github.com/oauthgate/oauthgate/scopes"
)

// wellKnown is the well-known URI suffix of RFC 9728 §3.
const wellKnown = "/.well-known/oauth-protected-resource"

// Config describes a protected resource. Resource and AuthorizationServers
// are required. A Config must not be modified after it is passed to [New].
type Config struct {
	// Resource is the resource identifier (RFC 9728 §2, RFC 8707): an https
	// URL without query or fragment, for example
	// "https://reports.example.com". The document's resource member is
	// this string exactly (§3.3), and clients must find it at the URL
	// [Metadata.URL] derives from it. Required.
	Resource string
	// AuthorizationServers are the issuer identifiers (https URLs) of the
	// authorization servers whose tokens the resource accepts. Required.
	AuthorizationServers []string
	// Policy provides scopes_supported: every scope a rule names. If nil,
	// the member is omitted.
	Policy *scopes.Policy
	// Documentation is resource_documentation: an https URL of a page for
	// developers. Optional.
	Documentation string
	// Name is resource_name, for people. Optional.
	Name string
	// DPoPAlgorithms is dpop_signing_alg_values_supported: the DPoP proof
	// algorithms the service accepts (dpop.Verifier.Algorithms, split at
	// spaces), empty when it does not accept DPoP.
	DPoPAlgorithms []string
	// DPoPRequired is dpop_bound_access_tokens_required.
	DPoPRequired bool
	// CertificateBound is tls_client_certificate_bound_access_tokens: the
	// service accepts certificate-bound tokens over mutual TLS (RFC 8705).
	CertificateBound bool
	// InsecureAllowHTTP accepts http authorization servers on a loopback
	// host ("localhost" or a loopback IP), for local development with a
	// test issuer. Other hosts always need https.
	InsecureAllowHTTP bool
}

// Metadata is a protected resource's metadata document, ready to serve.
type Metadata struct {
	doc  *oauthgatev1.GetResourceMetadataResponse
	json []byte
	url  string
	path string
}

// New validates cfg and returns its Metadata, or an error naming the field
// at fault.
func New(cfg Config) (*Metadata, error) {
	u, err := url.Parse(cfg.Resource)
	switch {
	case cfg.Resource == "":
		return nil, errors.New("resource: Config.Resource is empty; set the resource identifier, e.g. https://api.example.com")
	case err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Opaque != "":
		return nil, fmt.Errorf("resource: Config.Resource %q is not an https URL with a host", cfg.Resource)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(cfg.Resource, "#"):
		return nil, fmt.Errorf("resource: Config.Resource %q has a query or fragment (RFC 9728 §2)", cfg.Resource)
	case len(cfg.AuthorizationServers) == 0:
		return nil, errors.New("resource: Config.AuthorizationServers is empty; list the issuers of the resource's tokens")
	}
	for i, as := range cfg.AuthorizationServers {
		a, err := url.Parse(as)
		https := err == nil && (a.Scheme == "https" || cfg.InsecureAllowHTTP && a.Scheme == "http" && loopback(a.Hostname()))
		if !https || a.Host == "" || a.RawQuery != "" || a.Fragment != "" || a.User != nil {
			return nil, fmt.Errorf("resource: Config.AuthorizationServers[%d] %q is not an https issuer identifier", i, as)
		}
	}
	if cfg.Documentation != "" {
		if d, err := url.Parse(cfg.Documentation); err != nil || d.Scheme != "https" || d.Host == "" {
			return nil, fmt.Errorf("resource: Config.Documentation %q is not an https URL", cfg.Documentation)
		}
	}
	doc := &oauthgatev1.GetResourceMetadataResponse{
		Resource:                              cfg.Resource,
		AuthorizationServers:                  slices.Clone(cfg.AuthorizationServers),
		BearerMethodsSupported:                []string{"header"},
		ResourceDocumentation:                 cfg.Documentation,
		ResourceName:                          cfg.Name,
		DpopSigningAlgValuesSupported:         slices.Clone(cfg.DPoPAlgorithms),
		TlsClientCertificateBoundAccessTokens: cfg.CertificateBound,
		DpopBoundAccessTokensRequired:         cfg.DPoPRequired,
	}
	if cfg.Policy != nil {
		doc.ScopesSupported = cfg.Policy.Scopes()
	}
	m := &Metadata{doc: doc}
	if m.json, err = encode(doc); err != nil {
		return nil, err
	}
	// RFC 9728 §3.1: the well-known suffix goes between the host and the
	// path, after removing a terminating slash.
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	m.path = wellKnown + path
	m.url = u.Scheme + "://" + u.Host + m.path
	return m, nil
}

// loopback reports whether host names this machine.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// encode renders the JSON document of RFC 9728 §2: optional members only
// when set.
func encode(d *oauthgatev1.GetResourceMetadataResponse) ([]byte, error) {
	doc := map[string]any{
		"resource":                 d.GetResource(),
		"authorization_servers":    d.GetAuthorizationServers(),
		"bearer_methods_supported": d.GetBearerMethodsSupported(),
	}
	if s := d.GetScopesSupported(); len(s) > 0 {
		doc["scopes_supported"] = s
	}
	if v := d.GetResourceDocumentation(); v != "" {
		doc["resource_documentation"] = v
	}
	if v := d.GetResourceName(); v != "" {
		doc["resource_name"] = v
	}
	if v := d.GetDpopSigningAlgValuesSupported(); len(v) > 0 {
		doc["dpop_signing_alg_values_supported"] = v
	}
	if d.GetTlsClientCertificateBoundAccessTokens() {
		doc["tls_client_certificate_bound_access_tokens"] = true
	}
	if d.GetDpopBoundAccessTokensRequired() {
		doc["dpop_bound_access_tokens_required"] = true
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("resource: encoding the metadata: %w", err)
	}
	return b, nil
}

// URL returns where clients fetch the document (RFC 9728 §3.1): the
// resource's scheme and host, the well-known path, then the resource's
// path. It is the resource_metadata value of challenges (§5.1).
func (m *Metadata) URL() string { return m.url }

// Path returns the URL's path, at which ServeHTTP must be mounted on the
// listener of the resource's host.
func (m *Metadata) Path() string { return m.path }

// Document returns a copy of the JSON document.
func (m *Metadata) Document() []byte { return slices.Clone(m.json) }

// ServeHTTP answers GET and HEAD with the JSON document, at any path (mount
// it at [Metadata.Path]); other methods get 405.
func (m *Metadata) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(m.json)))
	w.Header().Set("Cache-Control", "max-age=3600")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(m.json)
}

// Handler returns an http.Handler that serves the document at Path and
// answers 404 elsewhere, for a listener of its own:
//
//	go http.Serve(lis, md.Handler())
func (m *Metadata) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(m.path, m)
	return mux
}

// Register registers the oauthgate.v1.ResourceMetadataService on s. Its
// method is public by construction: with the interceptor's
// WithResourceMetadata option the gate lets it through without a token and
// its start-up check counts it as covered.
func (m *Metadata) Register(s grpc.ServiceRegistrar) {
	s.RegisterService(&serviceDesc, server{m: m})
}
