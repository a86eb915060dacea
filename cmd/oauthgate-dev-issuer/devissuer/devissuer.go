package devissuer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/oauthgate/oauthgate/oauthtest"
)

const (
	// DefaultAddr is the address the dev issuer listens on, so that its
	// issuer URL, http://127.0.0.1:8765, can be written in instructions.
	DefaultAddr = "127.0.0.1:8765"
	// DefaultAudience is the aud of minted tokens: the audience of the
	// example report service (docs/example-server.md).
	DefaultAudience = "https://reports.example.com"
	// DefaultSubject is the sub of minted tokens: the owner of the example
	// reports r-1 and r-2.
	DefaultSubject = "alice"
	// DefaultTTL is the lifetime of minted tokens.
	DefaultTTL = time.Hour
	// MaxTTL bounds the lifetime a token request may ask for.
	MaxTTL = 24 * time.Hour

	tokenPath = "/token"
)

// A Server is a running dev issuer.
type Server struct {
	// URL is the issuer identifier, "http://" + the listen address.
	URL string

	iss    *oauthtest.Issuer
	srv    *http.Server
	served chan error
}

// Start listens on addr, which must be a loopback address (host 127.0.0.1,
// ::1 or localhost; port 0 picks a free port), and serves the issuer's
// JWKS, discovery metadata and introspection there, with the issuer
// identifier http://addr, and POST /token for [RequestToken]. Tokens get
// audience aud unless a request names others. The caller must call
// [Server.Close].
func Start(addr, aud string) (*Server, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("address %q: want host:port", addr)
	}
	if !isLoopback(host) {
		return nil, fmt.Errorf("address %q: the dev issuer mints tokens for anybody who asks, so it listens on loopback addresses only", addr)
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err // already says "listen tcp 127.0.0.1:8765: bind: address already in use"
	}
	u := "http://" + lis.Addr().String()
	// The oauthtest issuer listens on a random port; its documents name the
	// fixed address instead, where this server forwards to it. The paths
	// are those the oauthtest package documents.
	iss, err := oauthtest.Start(
		oauthtest.IssuerConfig{
			Audience: []string{aud},
			Metadata: map[string]any{
				"issuer":                 u,
				"jwks_uri":               u + "/jwks.json",
				"introspection_endpoint": u + "/introspect",
				// The oauthtest token endpoint would mint tokens under the
				// hidden issuer's URL; this server's /token is its own.
				"token_endpoint": nil,
			},
		},
	)
	if err != nil {
		_ = lis.Close()
		return nil, err
	}
	target, err := url.Parse(iss.URL)
	if err != nil {
		iss.Close()
		_ = lis.Close()
		return nil, err
	}
	s := &Server{URL: u, iss: iss, served: make(chan error, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+tokenPath, s.serveToken)
	mux.Handle("/", httputil.NewSingleHostReverseProxy(target))
	s.srv = &http.Server{Handler: sameHost(lis.Addr().String(), mux), ReadHeaderTimeout: 10 * time.Second}
	go func() { s.served <- s.srv.Serve(lis) }()
	return s, nil
}

// Close stops the server and the issuer behind it.
func (s *Server) Close() error {
	err := s.srv.Close()
	<-s.served
	s.iss.Close()
	return err
}

// ClientID returns the introspection client ID.
func (s *Server) ClientID() string { return s.iss.ClientID }

// ClientSecret returns the introspection client secret.
func (s *Server) ClientSecret() string { return s.iss.ClientSecret }

// sameHost refuses requests whose Host header is not the listen address,
// so that a web page cannot reach the dev issuer through DNS rebinding.
func sameHost(addr string, next http.Handler) http.Handler {
	_, port, _ := net.SplitHostPort(addr)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, p, err := net.SplitHostPort(r.Host)
		if err != nil || p != port || !isLoopback(host) {
			http.Error(w, "unexpected Host header", http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form: "+err.Error(), http.StatusBadRequest)
		return
	}
	// Empty fields take the issuer's defaults.
	form := r.PostForm
	spec := oauthtest.Token{
		Issuer:   s.URL,
		Subject:  cmp.Or(form.Get("sub"), DefaultSubject),
		ClientID: form.Get("client_id"),
		Audience: form["aud"],
		Scopes:   strings.Fields(form.Get("scope")),
		Lifetime: DefaultTTL,
	}
	if v := form.Get("ttl"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > MaxTTL {
			http.Error(w, fmt.Sprintf("ttl %q: want a positive duration up to %s", v, MaxTTL), http.StatusBadRequest)
			return
		}
		spec.Lifetime = d
	}
	tok, err := s.iss.MintToken(spec)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.WriteString(w, tok+"\n")
}

// A TokenRequest describes the token to mint. Zero fields take the
// defaults: no scope, [DefaultSubject], the server's audience,
// [DefaultTTL].
type TokenRequest struct {
	Scopes   []string
	Subject  string
	Audience []string
	ClientID string
	TTL      time.Duration
}

// RequestToken asks the dev issuer at addr (host:port) for a token, on a
// connection of its own that it closes: not one of http.DefaultClient's,
// which any httptest.Server.Close in the same process closes when idle,
// sometimes under a request about to reuse it.
func RequestToken(ctx context.Context, addr string, req TokenRequest) (string, error) {
	form := url.Values{}
	if len(req.Scopes) > 0 {
		form.Set("scope", strings.Join(req.Scopes, " "))
	}
	if req.Subject != "" {
		form.Set("sub", req.Subject)
	}
	for _, a := range req.Audience {
		form.Add("aud", a)
	}
	if req.ClientID != "" {
		form.Set("client_id", req.ClientID)
	}
	if req.TTL != 0 {
		form.Set("ttl", req.TTL.String())
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+tokenPath, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	transport := http.DefaultTransport.(*http.Transport).Clone()
	defer transport.CloseIdleConnections()
	resp, err := (&http.Client{Transport: transport}).Do(r)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return "", fmt.Errorf("no dev issuer at %s; start one with: go run ./cmd/oauthgate-dev-issuer serve", addr)
		}
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("dev issuer at %s: %s: %s", addr, resp.Status, strings.TrimSpace(string(body)))
	}
	return strings.TrimSpace(string(body)), nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
