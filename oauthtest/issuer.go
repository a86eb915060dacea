package oauthtest

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/dpop"
)

// An Issuer is an in-process OAuth 2.0 authorization server listening on
// 127.0.0.1 (or, with [IssuerConfig].InMemory, reachable only in memory).
// It signs access tokens, serves their keys as a JWKS, publishes discovery
// metadata, answers token introspection and issues tokens at its token
// endpoint. It is safe for concurrent use;
// faults can be switched while requests are in flight.
//
// Create one with [NewIssuer] in tests or [Start] elsewhere.
type Issuer struct {
	// URL is the issuer identifier: the base URL of the server, of the
	// form http://127.0.0.1:port (https with [IssuerConfig].TLS or
	// InMemory), followed by the [IssuerConfig].Path if any. It must not
	// be modified.
	URL string
	// ClientID and ClientSecret are the client credentials the
	// introspection endpoint accepts ([IssuerConfig].ClientID), for the
	// configuration of an introspecting verifier. They must not be
	// modified.
	ClientID, ClientSecret string

	cfg     IssuerConfig     // merged, with defaults
	base    string           // scheme://host[:port], without the issuer path
	h       http.Handler     // every endpoint, behind its fault injector
	srv     *httptest.Server // nil with InMemory
	client  *http.Client     // with InMemory: served in memory
	closing chan struct{}
	once    sync.Once

	mu      sync.Mutex
	keys    map[jose.SignatureAlgorithm]*signingKey // guarded by mu
	next    map[jose.SignatureAlgorithm]*signingKey // guarded by mu; published, not yet signing
	retired []*signingKey                           // guarded by mu; still published after RolloverKeys
	serial  int                                     // guarded by mu; last kid number handed out
	hmac    []byte                                  // guarded by mu; HS256 secret, never published
	tokens  map[string]map[string]any               // guarded by mu; minted token → claims
	revoked map[string]bool                         // guarded by mu

	endpoints [numEndpoints]endpointState

	dpop       *dpop.Verifier       // proofs at the token endpoint
	assertions map[string]time.Time // guarded by mu; private_key_jwt jti → exp
}

// NewIssuer starts an [Issuer] configured by cfg (merged as [IssuerConfig]
// says; none for the defaults) for the test tb, and stops it when the test
// ends (tb.Cleanup). A setup problem, such as an unsupported algorithm,
// fails the test with tb.Fatalf.
//
//	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{Algorithm: jose.RS256})
//	tok := iss.Token(t, oauthtest.Token{Scopes: []string{"orders.read"}})
func NewIssuer(tb testing.TB, cfg ...IssuerConfig) *Issuer {
	tb.Helper()
	iss, err := Start(cfg...)
	if err != nil {
		tb.Fatalf("oauthtest.NewIssuer: %v", err)
		return nil
	}
	tb.Cleanup(iss.Close)
	return iss
}

// Start starts an [Issuer] without a test, for demo programs and examples.
// The caller must call [Issuer.Close].
func Start(cfg ...IssuerConfig) (*Issuer, error) {
	c := mergeConfigs(cfg)
	if !publishable(c.Algorithm) {
		return nil, fmt.Errorf("oauthtest: unsupported IssuerConfig.Algorithm %q; use ES256, RS256 or EdDSA", c.Algorithm)
	}
	if err := checkIssuerPath(c.Path); err != nil {
		return nil, err
	}
	iss := &Issuer{
		ClientID:     c.ClientID,
		ClientSecret: c.ClientSecret,
		cfg:          c,
		closing:      make(chan struct{}),
		keys:         map[jose.SignatureAlgorithm]*signingKey{},
		tokens:       map[string]map[string]any{},
		revoked:      map[string]bool{},
	}
	// The default key exists before the JWKS is first served, so a verifier
	// that fetches keys eagerly sees it.
	if _, err := iss.key(c.Algorithm); err != nil {
		return nil, err
	}
	// The token endpoint checks DPoP proofs with the library's verifier,
	// on the issuer's clock.
	dc := dpop.Config{Now: c.Now}
	if c.DPoPNonce {
		dc.NoncePeriod = time.Minute
	}
	dv, err := dpop.New(dc)
	if err != nil {
		return nil, fmt.Errorf("oauthtest: %w", err)
	}
	iss.dpop = dv
	iss.assertions = map[string]time.Time{}
	iss.h = iss.handler()
	if c.InMemory {
		// A random host name under .invalid (RFC 6761 §6.4), which never
		// resolves, so that issuers are distinct and a client that is not
		// the in-memory one fails instead of reaching anything.
		iss.base = "https://" + randomHex(6) + ".oauthtest.invalid"
		iss.URL = iss.base + c.Path
		iss.client = &http.Client{Transport: memoryTransport{iss.h}}
		return iss, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("oauthtest: listen on 127.0.0.1: %w", err)
	}
	// httptest.NewServer panics when it cannot listen; building the Server
	// by hand keeps setup failures as errors.
	// URL is set before serving so handlers never race with its write; it
	// is what httptest.Server.URL will be.
	iss.base = "http://" + ln.Addr().String()
	iss.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: iss.h}}
	if c.TLS {
		// Ask for (without requiring) a client certificate, for
		// tls_client_auth and certificate-bound tokens (RFC 8705).
		iss.srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
		iss.base = "https://" + ln.Addr().String()
		iss.srv.StartTLS()
	} else {
		iss.srv.Start()
	}
	iss.URL = iss.base + c.Path
	return iss, nil
}

// Close stops the server, aborting slow and faulty responses in flight. It
// is idempotent; [NewIssuer] calls it when the test ends.
func (iss *Issuer) Close() {
	iss.once.Do(func() {
		close(iss.closing)
		if iss.srv != nil {
			iss.srv.CloseClientConnections()
			iss.srv.Close()
		}
	})
}

// EndpointURL returns the URL of endpoint e, or "" for an unknown e. With
// an [IssuerConfig].Path, the metadata URLs are those RFC 8414 §3.1 and OpenID
// Connect Discovery §4 derive from the issuer: the path follows
// /.well-known/oauth-authorization-server, and precedes
// /.well-known/openid-configuration.
func (iss *Issuer) EndpointURL(e Endpoint) string {
	p := iss.endpointPath(e)
	if p == "" {
		return ""
	}
	return iss.base + p
}

// endpointPath is e's path on the server, after the issuer path.
func (iss *Issuer) endpointPath(e Endpoint) string {
	if e.index() < 0 {
		return ""
	}
	// RFC 8414 §3.1: a terminating "/" of the issuer path is removed first.
	p := strings.TrimSuffix(iss.cfg.Path, "/")
	if e == EndpointOAuthMetadata {
		return string(e) + p
	}
	return p + string(e)
}

// Client returns an HTTP client configured for the issuer's server,
// trusting its certificate under [IssuerConfig].TLS. Its idle connections
// are closed by [Issuer.Close]. Under [IssuerConfig].InMemory its
// Transport serves every request in memory, whatever its host, running the
// issuer's handler in the calling goroutine with no socket: faults,
// headers set with [Issuer.SetHeader] and request counts apply as over the
// network, a Fault with Down makes RoundTrip fail, and a request whose
// context ends before the answer fails with the context's error. Wrap that
// Transport to observe the requests of code under test.
func (iss *Issuer) Client() *http.Client {
	if iss.client != nil {
		return iss.client
	}
	return iss.srv.Client()
}

// JWKS returns the public keys the JWKS endpoint currently serves, sorted by
// kid, for verifiers built from a static key set. Each key has use "sig" and
// its alg. The HS256 secret is never included.
func (iss *Issuer) JWKS() jose.JSONWebKeySet {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	return iss.jwksLocked()
}

// RotateKeys replaces the key of every algorithm used so far with a new key
// with a new kid: the one [Issuer.PublishNextKeys] published, if any, else
// a key generated now. The old public keys disappear from the JWKS at
// once, so tokens they signed no longer verify against it, while tokens
// minted from now on use the new keys. Tokens already minted stay active
// for introspection. Keys kept by [Issuer.RolloverKeys] disappear too.
func (iss *Issuer) RotateKeys() {
	iss.rotate(false)
}

// RolloverKeys is the graceful rotation of a real authorization server: like
// [Issuer.RotateKeys], tokens minted from now on are signed with a new key
// of every algorithm used so far, under a new kid, but the previous keys
// stay in the JWKS beside the new ones, so tokens already minted keep
// verifying while a verifier picks up the new kid (RFC 7517 §5 allows a set
// to hold several keys). The previous keys leave the JWKS at the next
// RotateKeys or RolloverKeys.
func (iss *Issuer) RolloverKeys() {
	iss.rotate(true)
}

// rotate makes the next keys (published ones first) current; keep
// publishes the current ones until the next rotation.
func (iss *Issuer) rotate(keep bool) {
	iss.mu.Lock()
	iss.retired = nil
	if keep {
		for _, k := range iss.keys {
			iss.retired = append(iss.retired, k)
		}
	}
	algs := make([]jose.SignatureAlgorithm, 0, len(iss.keys))
	for alg := range iss.keys {
		if k := iss.next[alg]; k != nil {
			iss.keys[alg] = k
			delete(iss.next, alg)
			continue
		}
		algs = append(algs, alg)
	}
	iss.mu.Unlock()
	for _, alg := range algs {
		// Generate outside the lock: RSA keys take tens of milliseconds.
		k, err := newSigningKey(alg)
		if err != nil {
			// crypto/rand does not fail on supported platforms, and every alg
			// in iss.keys was generated once already.
			continue
		}
		iss.mu.Lock()
		iss.serial++
		k.kid = kidFor(alg, iss.serial)
		iss.keys[alg] = k
		iss.mu.Unlock()
	}
}

// PublishNextKeys publishes, for every algorithm used so far, the key that
// the next [Issuer.RotateKeys] will sign with, beside the current one,
// which keeps signing: the way authorization servers pre-publish a key so
// that verifiers have it before the first token it signs. Calling it
// again before RotateKeys changes nothing.
func (iss *Issuer) PublishNextKeys() {
	iss.mu.Lock()
	var algs []jose.SignatureAlgorithm
	for alg := range iss.keys {
		if iss.next[alg] == nil {
			algs = append(algs, alg)
		}
	}
	iss.mu.Unlock()
	for _, alg := range algs {
		k, err := newSigningKey(alg) // outside the lock, as in RotateKeys
		if err != nil {
			continue // as in RotateKeys: alg was generated once already
		}
		iss.mu.Lock()
		if iss.next[alg] == nil {
			if iss.next == nil {
				iss.next = map[jose.SignatureAlgorithm]*signingKey{}
			}
			iss.serial++
			k.kid = kidFor(alg, iss.serial)
			iss.next[alg] = k
		}
		iss.mu.Unlock()
	}
}

// handler routes the issuer's endpoints, each behind its fault injector.
func (iss *Issuer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+iss.endpointPath(EndpointJWKS), iss.faulty(EndpointJWKS, http.HandlerFunc(iss.serveJWKS)))
	mux.Handle("GET "+iss.endpointPath(EndpointOAuthMetadata), iss.faulty(EndpointOAuthMetadata, iss.metadataHandler(false)))
	mux.Handle("GET "+iss.endpointPath(EndpointOpenIDConfiguration), iss.faulty(EndpointOpenIDConfiguration, iss.metadataHandler(true)))
	mux.Handle(iss.endpointPath(EndpointIntrospection), iss.faulty(EndpointIntrospection, http.HandlerFunc(iss.serveIntrospection)))
	mux.Handle(iss.endpointPath(EndpointToken), iss.faulty(EndpointToken, http.HandlerFunc(iss.serveToken)))
	return mux
}

func (iss *Issuer) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, iss.JWKS())
}

func (iss *Issuer) metadataHandler(openID bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		doc := map[string]any{
			"issuer":                 iss.URL,
			"jwks_uri":               iss.EndpointURL(EndpointJWKS),
			"introspection_endpoint": iss.EndpointURL(EndpointIntrospection),
			"introspection_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
			"token_endpoint":                                   iss.EndpointURL(EndpointToken),
			"grant_types_supported":                            []string{"client_credentials", grantTokenExchange},
			"token_endpoint_auth_methods_supported":            []string{"client_secret_basic", "private_key_jwt", "tls_client_auth"},
			"token_endpoint_auth_signing_alg_values_supported": assertionAlgs,
			"dpop_signing_alg_values_supported":                []string{string(jose.ES256), string(jose.RS256), string(jose.EdDSA)},
			"tls_client_certificate_bound_access_tokens":       true,
			// REQUIRED by RFC 8414 §2 and OpenID Discovery §3 even though this
			// server has no authorization endpoint; strict parsers check it.
			"response_types_supported": []string{"code"},
		}
		if openID {
			doc["subject_types_supported"] = []string{"public"}
			doc["id_token_signing_alg_values_supported"] = []string{string(jose.ES256), string(jose.RS256), string(jose.EdDSA)}
		}
		for name, v := range iss.cfg.Metadata {
			if v == nil {
				delete(doc, name)
				continue
			}
			doc[name] = v
		}
		writeJSON(w, http.StatusOK, doc)
	})
}

// randomHex returns n random bytes, hex-encoded.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error (Go 1.24+).
	return hex.EncodeToString(b)
}

// checkIssuerPath accepts "" or a clean absolute path, the only issuer
// paths RFC 8414 §2 and the URL building above agree on.
func checkIssuerPath(p string) error {
	if p == "" {
		return nil
	}
	clean := path.Clean(p)
	if p != clean && p != clean+"/" || !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?#%") {
		return fmt.Errorf("oauthtest: issuer path %q must be a clean absolute path without query, fragment or escapes", p)
	}
	return nil
}

// randomString returns n random bytes, base64url-encoded.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error (Go 1.24+).
	return base64.RawURLEncoding.EncodeToString(b)
}
