package serve

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/oauthgate/oauthgate/examples/reports"
	"github.com/oauthgate/oauthgate/examples/reports/reportsv1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/resource"
)

// TestRun starts the server against an in-process issuer, in each verifier
// mode, calls it, and checks that it stops when its context ends.
func TestRun(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	tests := map[string]struct {
		extra       []string
		jwt, opaque bool // which kinds of token the server accepts
	}{
		"Discovery": {extra: []string{"-issuer", iss.URL}, jwt: true},
		"JWKS":      {extra: []string{"-issuer", iss.URL, "-jwks", iss.EndpointURL(oauthtest.EndpointJWKS)}, jwt: true},
		"ByShape": {extra: []string{"-issuer", iss.URL, "-introspect", iss.EndpointURL(oauthtest.EndpointIntrospection), "-client-id", iss.ClientID, "-client-secret", iss.ClientSecret},
			jwt: true, opaque: true},
		"IntrospectionOnly": {extra: []string{"-introspect", iss.EndpointURL(oauthtest.EndpointIntrospection), "-client-id", iss.ClientID, "-client-secret", iss.ClientSecret},
			opaque: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"-addr", "127.0.0.1:0", "-audience", oauthtest.DefaultAudience, "-insecure-http", "-log-format", "json"}, tc.extra...)
			cfg, err := parseFlags(args, noEnv)
			if err != nil {
				t.Fatalf("parseFlags() error = %v", err)
			}
			addrs := make(chan net.Addr, 1)
			cmd := Command{OnListen: listenerTo(listenerGRPC, addrs)}
			logs := &syncBuffer{}
			logger := slog.New(slog.NewJSONHandler(logs, nil))

			ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
			defer cancel()
			runCtx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- cmd.run(runCtx, cfg, logger) }()
			var addr net.Addr
			select {
			case addr = <-addrs:
			case err := <-done:
				t.Fatalf("run() returned early: %v", err)
			case <-ctx.Done():
				t.Fatal("run() did not start listening")
			}

			conn, err := grpc.NewClient(addr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatalf("NewClient() error = %v", err)
			}
			defer conn.Close()
			client := reportsv1.NewReportServiceClient(conn)
			alice := []oauthtest.Token{{Subject: reports.SubjectAlice, Scopes: []string{reports.ScopeRead}}}
			tokens := map[string]string{}
			if tc.jwt {
				tokens["jwt"] = iss.Token(t, alice...)
			}
			if tc.opaque {
				tokens["opaque"] = iss.OpaqueToken(t, alice...)
			}

			if _, err := client.GetServerInfo(ctx, &reportsv1.GetServerInfoRequest{}); err != nil {
				t.Errorf("GetServerInfo() without token error = %v", err)
			}
			_, err = client.GetReport(ctx, &reportsv1.GetReportRequest{Owner: reports.SubjectAlice, Id: "r-1"})
			if status.Code(err) != codes.Unauthenticated || reason(err) != "MISSING_TOKEN" {
				t.Errorf("GetReport() without token error = %v, want Unauthenticated MISSING_TOKEN", err)
			}
			for kind, tok := range tokens {
				if _, err := client.GetReport(ctx, &reportsv1.GetReportRequest{Owner: reports.SubjectAlice, Id: "r-1"}, oauthtest.Bearer(tok)); err != nil {
					t.Errorf("GetReport() with %s token error = %v", kind, err)
				}
			}
			if tc.jwt && !tc.opaque {
				// Without introspection, a token that is not a JWT is invalid.
				_, err := client.GetReport(ctx, &reportsv1.GetReportRequest{Owner: reports.SubjectAlice, Id: "r-1"}, oauthtest.Bearer(iss.OpaqueToken(t, alice...)))
				if status.Code(err) != codes.Unauthenticated || reason(err) != "INVALID_TOKEN" {
					t.Errorf("GetReport() with opaque token error = %v, want Unauthenticated INVALID_TOKEN", err)
				}
			}

			stop()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("run() after cancel = %v, want nil", err)
				}
			case <-ctx.Done():
				t.Fatal("run() did not stop after its context was cancelled")
			}
			for _, tok := range tokens {
				if strings.Contains(logs.String(), tok) {
					t.Errorf("logs contain a token")
				}
			}
			if strings.Contains(logs.String(), iss.ClientSecret) {
				t.Errorf("logs contain the client secret")
			}
			if !strings.Contains(logs.String(), `"msg":"stopped"`) {
				t.Errorf("logs lack the stop message:\n%s", logs.String())
			}
		})
	}
}

// TestRun_ConfigErrorBeforeListen checks that run fails before listening
// on a configuration the verify package rejects.
func TestRun_ConfigErrorBeforeListen(t *testing.T) {
	t.Parallel()
	cfg := config{addr: "127.0.0.1:0", issuer: "https://a.example", audiences: []string{""}, logFormat: "text"}
	cmd := Command{OnListen: func(string, net.Addr) { t.Error("run() listened despite an invalid configuration") }}
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	if err := cmd.run(ctx, cfg, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("run() with an empty audience = nil, want an error")
	}
}

func reason(err error) string {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

// syncBuffer is a bytes.Buffer that server goroutines may log to while the
// test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startRun runs the server with args on 127.0.0.1 and returns its address;
// it stops when the test ends.
func startRun(t *testing.T, args ...string) string {
	t.Helper()
	return start(t, Command{}, args...)[listenerGRPC]
}

// start runs cmd with args and "-addr 127.0.0.1:0", and returns the
// address of each of its listeners by name; it stops when the test ends.
func start(t *testing.T, cmd Command, args ...string) map[string]string {
	t.Helper()
	cfg, err := cmd.parse(append([]string{"-addr", "127.0.0.1:0"}, args...), noEnv, io.Discard)
	if err != nil {
		t.Fatalf("parse() error = %v", err)
	}
	type listener struct{ name, addr string }
	listeners := make(chan listener, 2+len(cmd.Endpoints)) // gRPC, metadata, endpoints
	cmd.OnListen = func(name string, a net.Addr) { listeners <- listener{name, a.String()} }
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.run(ctx, cfg, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("run() = %v", err)
		}
	})
	addrs := map[string]string{}
	for addrs[listenerGRPC] == "" { // reported last
		select {
		case l := <-listeners:
			addrs[l.name] = l.addr
		case err := <-done:
			done <- nil // for the cleanup
			t.Fatalf("run() returned early: %v", err)
		}
	}
	return addrs
}

// TestRun_SenderConstrained serves over mutual TLS from PEM files and
// checks certificate-bound tokens (RFC 8705) and DPoP-bound tokens
// (RFC 9449, accepted with no extra flag).
func TestRun_SenderConstrained(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	certs := oauthtest.NewCertificates(t)
	pem := certs.WritePEM(t)
	addr := startRun(t, "-issuer", iss.URL, "-jwks", iss.EndpointURL(oauthtest.EndpointJWKS), "-insecure-http", "-audience", oauthtest.DefaultAudience,
		"-tls-cert", pem.ServerCert, "-tls-key", pem.ServerKey, "-client-ca", pem.CA)
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	dial := func(cert *tls.Certificate) reportsv1.ReportServiceClient {
		return reportsv1.NewReportServiceClient(oauthtest.DialGRPC(t, addr, certs.DialOption(cert)))
	}
	alice := []oauthtest.Token{{Subject: reports.SubjectAlice, Scopes: []string{reports.ScopeRead}}}
	bound := iss.Token(t, append(alice, oauthtest.Token{Certificate: certs.Client.Leaf})...)
	req := &reportsv1.GetReportRequest{Owner: reports.SubjectAlice, Id: "r-1"}

	if _, err := dial(&certs.Client).GetReport(ctx, req, oauthtest.Bearer(bound)); err != nil {
		t.Errorf("GetReport(certificate-bound token, its certificate) = %v", err)
	}
	other := certs.NewClientCertificate(t, "other")
	if _, err := dial(&other).GetReport(ctx, req, oauthtest.Bearer(bound)); reason(err) != "CERTIFICATE_MISMATCH" {
		t.Errorf("GetReport(certificate-bound token, another certificate) = %v, want CERTIFICATE_MISMATCH", err)
	}
	if _, err := dial(nil).GetReport(ctx, req, oauthtest.Bearer(iss.Token(t, alice...))); status.Code(err) != codes.Unavailable {
		t.Errorf("GetReport(no client certificate) = %v, want the handshake refused (Unavailable)", err)
	}

	key := oauthtest.NewDPoPKey(t, "", nil)
	dpopTok := iss.Token(t, append(alice, oauthtest.Token{DPoPKey: key})...)
	if _, err := dial(&certs.Client).GetReport(ctx, req, grpc.PerRPCCredentials(key.Credentials(t, dpopTok))); err != nil {
		t.Errorf("GetReport(DPoP-bound token with proofs) = %v", err)
	}
	if _, err := dial(&certs.Client).GetReport(ctx, req, oauthtest.Bearer(dpopTok)); reason(err) != "DPOP_PROOF_REQUIRED" {
		t.Errorf("GetReport(DPoP-bound token as Bearer) = %v, want DPOP_PROOF_REQUIRED", err)
	}
}

// TestRun_ResourceMetadata serves RFC 9728 metadata with -resource and
// -metadata-addr, fetches it over real HTTP at the URL §3.1 derives from the
// resource identifier, and checks the challenge names it.
func TestRun_ResourceMetadata(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	const res = "https://reports.example.com/api"
	addrs := start(t, Command{}, "-issuer", iss.URL, "-jwks", iss.EndpointURL(oauthtest.EndpointJWKS), "-insecure-http",
		"-audience", oauthtest.DefaultAudience, "-resource", res, "-metadata-addr", "127.0.0.1:0")
	metaAddr, addr := addrs[listenerMetadata], addrs[listenerGRPC]

	// RFC 9728 §3.1: https://reports.example.com/.well-known/oauth-protected-resource/api,
	// fetched here from the metadata listener.
	u, err := url.Parse(wellKnownURL(res))
	if err != nil {
		t.Fatal(err)
	}
	// A transport of its own: http.DefaultTransport's idle connections
	// are closed by any httptest.Server.Close, even under a request.
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("http://" + metaAddr + u.EscapedPath())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Resource               string   `json:"resource"`
		AuthorizationServers   []string `json:"authorization_servers"`
		ScopesSupported        []string `json:"scopes_supported"`
		BearerMethodsSupported []string `json:"bearer_methods_supported"`
		DPoPAlgs               []string `json:"dpop_signing_alg_values_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET metadata = %d, %v", resp.StatusCode, err)
	}
	if doc.Resource != res || len(doc.AuthorizationServers) != 1 || doc.AuthorizationServers[0] != iss.URL ||
		strings.Join(doc.ScopesSupported, " ") != "admin read:reports write:reports" ||
		len(doc.BearerMethodsSupported) != 1 || len(doc.DPoPAlgs) == 0 {
		t.Errorf("metadata = %+v", doc)
	}

	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	var hdr metadata.MD
	_, err = reportsv1.NewReportServiceClient(conn).GetReport(cctx, &reportsv1.GetReportRequest{Owner: reports.SubjectAlice, Id: "r-1"}, grpc.Header(&hdr))
	if www := strings.Join(hdr.Get("www-authenticate"), " | "); status.Code(err) != codes.Unauthenticated ||
		!strings.Contains(www, `resource_metadata="`+u.String()+`"`) {
		t.Errorf("GetReport() without a token = %v, www-authenticate %q; want resource_metadata", err, www)
	}
	got, err := resource.Fetch(cctx, conn)
	if err != nil || got.GetResource() != res {
		t.Errorf("GetResourceMetadata() = %v, %v", got, err)
	}
}

// wellKnownURL is RFC 9728 §3.1 written out for a test: the well-known
// suffix between host and path.
func wellKnownURL(res string) string {
	u, _ := url.Parse(res)
	return u.Scheme + "://" + u.Host + "/.well-known/oauth-protected-resource" + strings.TrimSuffix(u.EscapedPath(), "/")
}

// TestRun_Readiness checks that grpc health follows what verifies tokens:
// the server waits for its first key set, or probes its introspection
// endpoint, at start-up, so it serves SERVING, and NOT_SERVING while the
// introspection endpoint of an opaque-token server does not answer. (examples/observability's
// TestServer_Metrics checks that it stays SERVING through a JWKS outage in
// the middle of a run.)
func TestRun_Readiness(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		args func(iss *oauthtest.Issuer) []string
		down bool // the introspection endpoint is down
		want healthpb.HealthCheckResponse_ServingStatus
	}{
		"JWT": {args: func(iss *oauthtest.Issuer) []string { return []string{"-issuer", iss.URL} },
			want: healthpb.HealthCheckResponse_SERVING},
		"Introspection": {args: introspectArgs, want: healthpb.HealthCheckResponse_SERVING},
		"IntrospectionDown": {args: introspectArgs, down: true,
			want: healthpb.HealthCheckResponse_NOT_SERVING},
		// Beside JWTs, the introspection endpoint is not watched: its
		// outage must not take the JWT calls out of rotation.
		"BothIntrospectionDown": {args: func(iss *oauthtest.Issuer) []string { return append(introspectArgs(iss), "-issuer", iss.URL) },
			down: true, want: healthpb.HealthCheckResponse_SERVING},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			iss := oauthtest.NewIssuer(t)
			if tc.down {
				iss.SetFault(oauthtest.EndpointIntrospection, oauthtest.Fault{Status: http.StatusServiceUnavailable})
			}
			addr := startRun(t, append(tc.args(iss), "-audience", oauthtest.DefaultAudience, "-insecure-http")...)
			conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
			defer cancel()
			resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
			if err != nil {
				t.Fatalf("Health/Check error = %v", err)
			}
			if got := resp.GetStatus(); got != tc.want {
				t.Errorf("Health/Check = %v, want %v", got, tc.want)
			}
		})
	}
}

// introspectArgs are the flags of an opaque-token server of iss.
func introspectArgs(iss *oauthtest.Issuer) []string {
	return []string{"-introspect", iss.EndpointURL(oauthtest.EndpointIntrospection), "-client-id", iss.ClientID, "-client-secret", iss.ClientSecret}
}

// TestCommand_Endpoints serves an Endpoint on its own listener, fetched
// over real HTTP, and leaves out one whose address is empty.
func TestCommand_Endpoints(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello from "+r.URL.Path)
	})
	cmd := Command{Endpoints: []Endpoint{
		{Name: "hello", Flag: "hello-addr", Handler: hello}, // off by default
		{Name: "off", Flag: "off-addr", Default: "127.0.0.1:0", Handler: hello},
	}}
	addrs := start(t, cmd, "-issuer", iss.URL, "-jwks", iss.EndpointURL(oauthtest.EndpointJWKS), "-insecure-http", "-audience", oauthtest.DefaultAudience,
		"-hello-addr", "127.0.0.1:0", "-off-addr", "")
	if _, ok := addrs["off"]; ok || len(addrs) != 2 {
		t.Errorf("listeners = %v, want grpc and hello", addrs)
	}
	client := &http.Client{Timeout: defaultTestTimeout}
	resp, err := client.Get("http://" + addrs["hello"] + "/x")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || string(body) != "hello from /x" {
		t.Errorf("GET /x = %q, %v; want %q", body, err, "hello from /x")
	}
}

// TestCommand_MeterProvider checks that Command.MeterProvider reaches the
// interceptor and every verify config: each creates its instruments on it.
func TestCommand_MeterProvider(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	tests := map[string]struct {
		args []string
		want []string // counters that must be created on the provider
	}{
		"JWT": {args: []string{"-issuer", iss.URL, "-jwks", iss.EndpointURL(oauthtest.EndpointJWKS)},
			// interceptor, RemoteKeySetConfig, JWTConfig
			want: []string{"oauthgate.server.decisions", "oauthgate.jwks.fetches", "oauthgate.cache.hits"}},
		"Introspection": {args: introspectArgs(iss),
			// interceptor, IntrospectionConfig (its cache and its requests)
			want: []string{"oauthgate.server.decisions", "oauthgate.cache.hits", "oauthgate.introspection.requests"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			mp := &countersProvider{}
			start(t, Command{MeterProvider: mp}, append(tc.args, "-insecure-http", "-audience", oauthtest.DefaultAudience)...)
			for _, c := range tc.want {
				if !mp.created(c) {
					t.Errorf("counter %s was not created on Command.MeterProvider; created: %v", c, mp.counters)
				}
			}
		})
	}
}

// countersProvider is a no-op meter provider that records the names of
// the Int64Counters and Int64ObservableCounters created on it.
type countersProvider struct {
	noop.MeterProvider
	mu       sync.Mutex
	counters []string
}

func (p *countersProvider) Meter(string, ...metric.MeterOption) metric.Meter {
	return countersMeter{p: p}
}

func (p *countersProvider) created(name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Contains(p.counters, name)
}

type countersMeter struct {
	noop.Meter
	p *countersProvider
}

func (m countersMeter) Int64Counter(name string, opts ...metric.Int64CounterOption) (metric.Int64Counter, error) {
	m.p.add(name)
	return m.Meter.Int64Counter(name, opts...)
}

func (m countersMeter) Int64ObservableCounter(name string, opts ...metric.Int64ObservableCounterOption) (metric.Int64ObservableCounter, error) {
	m.p.add(name)
	return m.Meter.Int64ObservableCounter(name, opts...)
}

func (p *countersProvider) add(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counters = append(p.counters, name)
}
