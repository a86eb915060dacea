package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"

	"github.com/oauthgate/oauthgate/dpop"
	"github.com/oauthgate/oauthgate/examples/reports"
	"github.com/oauthgate/oauthgate/interceptor"
	"github.com/oauthgate/oauthgate/readiness"
	"github.com/oauthgate/oauthgate/resource"
	"github.com/oauthgate/oauthgate/verify"
)

// secretEnv names the environment variable read when -client-secret is not
// given.
const secretEnv = "OAUTHGATE_CLIENT_SECRET"

// Timeouts of the server's lifecycle.
const (
	// keysReadyTimeout bounds the wait for the first JWKS at start-up.
	keysReadyTimeout = 10 * time.Second
	// stopTimeout bounds the graceful stop; calls still running after it
	// are cut.
	stopTimeout = 10 * time.Second
)

func main() { os.Exit(serverMain()) }

// serverMain is main with its exit status, so that deferred calls run.
func serverMain() int {
	cfg, err := parseFlags(os.Args[1:], os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		return 2
	}
	logger := newLogger(os.Stderr, cfg.logFormat)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, logger); err != nil {
		logger.Error("server stopped", "error", oneLine(err))
		return 1
	}
	return 0
}

// config is the validated command line.
type config struct {
	addr         string
	issuer       string
	jwks         string
	audiences    []string
	allowUntyped bool
	introspect   string
	clientID     string
	clientSecret verify.Secret // redacts itself when printed or logged
	insecureHTTP bool
	logFormat    string
	tlsCert      string   // PEM certificate chain: serve TLS
	tlsKey       string   // PEM private key of tlsCert
	clientCA     string   // PEM CA bundle: require client certificates (mTLS)
	origins      []string // public origins for DPoP htu, behind a proxy
	resource     string   // RFC 9728 resource identifier
	metadataAddr string   // HTTP listen address for the metadata document

	// onListen, if set, is called with the listening address before
	// serving; tests use it to learn the port of "127.0.0.1:0".
	onListen func(net.Addr)
	// onMetadataListen is onListen for -metadata-addr.
	onMetadataListen func(net.Addr)
}

// listFlag collects the values of a flag, repeated or comma-separated.
type listFlag []string

func (a *listFlag) String() string { return strings.Join(*a, ",") }

func (a *listFlag) Set(v string) error {
	for s := range strings.SplitSeq(v, ",") {
		if s = strings.TrimSpace(s); s == "" {
			return errors.New("empty value in a list")
		}
		*a = append(*a, s)
	}
	return nil
}

// parseFlags parses and validates args (without the program name). getenv
// supplies OAUTHGATE_CLIENT_SECRET. Every problem it finds is reported
// before anything is started.
func parseFlags(args []string, getenv func(string) string) (config, error) {
	var cfg config
	var secret string
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // main prints the error; -h prints usage below
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:50051", "listen `address`")
	fs.StringVar(&cfg.issuer, "issuer", "", "issuer identifier `URL`: the iss of JWT access tokens; discovery finds the JWKS when -jwks is omitted")
	fs.StringVar(&cfg.jwks, "jwks", "", "JWKS `URL`, instead of discovery")
	fs.Var((*listFlag)(&cfg.audiences), "audience", "this service's audience; repeat or comma-separate (required)")
	fs.BoolVar(&cfg.allowUntyped, "allow-untyped", false, `also accept JWTs with typ "JWT" or no typ, for issuers without RFC 9068`)
	fs.StringVar(&cfg.introspect, "introspect", "", "RFC 7662 introspection endpoint `URL`, for opaque tokens")
	fs.StringVar(&cfg.clientID, "client-id", "", "client `ID` for introspection")
	fs.StringVar(&secret, "client-secret", "", "client `secret` for introspection (default $"+secretEnv+")")
	fs.BoolVar(&cfg.insecureHTTP, "insecure-http", false, "allow http:// endpoints on loopback hosts (local tests only)")
	fs.StringVar(&cfg.logFormat, "log-format", "text", "log `format`: text or json")
	fs.StringVar(&cfg.tlsCert, "tls-cert", "", "PEM certificate chain `file`: serve TLS (with -tls-key)")
	fs.StringVar(&cfg.tlsKey, "tls-key", "", "PEM private key `file` of -tls-cert")
	fs.StringVar(&cfg.clientCA, "client-ca", "", "PEM CA bundle `file`: require client certificates signed by it (mTLS, for certificate-bound tokens)")
	fs.StringVar(&cfg.resource, "resource", "", "resource identifier `URL` (https): publish RFC 9728 protected resource metadata over gRPC and name it in challenges")
	fs.StringVar(&cfg.metadataAddr, "metadata-addr", "", "HTTP listen `address` serving the metadata document at /.well-known/oauth-protected-resource (needs -resource)")
	fs.Var((*listFlag)(&cfg.origins), "public-origin", "public `origin` (https://host[:port]) that DPoP proofs name behind a proxy; repeat or comma-separate")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stderr)
			fs.PrintDefaults()
		}
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if secret == "" {
		secret = getenv(secretEnv)
	}
	cfg.clientSecret = verify.Secret(secret)
	return cfg, cfg.validate()
}

// validate checks the combination of flags.
func (c *config) validate() error {
	if _, _, err := net.SplitHostPort(c.addr); err != nil {
		return fmt.Errorf("-addr %q: want host:port", c.addr)
	}
	if c.issuer == "" && c.jwks == "" && c.introspect == "" {
		return errors.New("set -issuer (JWT access tokens), -introspect (opaque tokens), or both")
	}
	if c.jwks != "" && c.issuer == "" {
		return errors.New("-jwks needs -issuer: tokens' iss claim must be checked")
	}
	if len(c.audiences) == 0 {
		return errors.New("-audience is required: a resource server must check the aud of its tokens")
	}
	for _, u := range []struct{ flag, value string }{{"-issuer", c.issuer}, {"-jwks", c.jwks}, {"-introspect", c.introspect}} {
		if err := checkURL(u.value, c.insecureHTTP); u.value != "" && err != nil {
			return fmt.Errorf("%s: %w", u.flag, err)
		}
	}
	switch {
	case c.introspect == "" && (c.clientID != "" || c.clientSecret != ""):
		return errors.New("-client-id and -client-secret are for -introspect, which is not set")
	case c.introspect != "" && c.clientID == "":
		return errors.New("-introspect needs -client-id")
	case c.introspect != "" && c.clientSecret == "":
		return errors.New("-introspect needs -client-secret or $" + secretEnv)
	}
	switch {
	case (c.tlsCert == "") != (c.tlsKey == ""):
		return errors.New("-tls-cert and -tls-key go together")
	case c.clientCA != "" && c.tlsCert == "":
		return errors.New("-client-ca needs TLS: set -tls-cert and -tls-key")
	case c.metadataAddr != "" && c.resource == "":
		return errors.New("-metadata-addr needs -resource")
	case c.resource != "" && c.issuer == "":
		return errors.New("-resource needs -issuer: the metadata names the authorization server")
	}
	if c.metadataAddr != "" {
		if _, _, err := net.SplitHostPort(c.metadataAddr); err != nil {
			return fmt.Errorf("-metadata-addr %q: want host:port", c.metadataAddr)
		}
	}
	if c.logFormat != "text" && c.logFormat != "json" {
		return fmt.Errorf("-log-format %q: want text or json", c.logFormat)
	}
	return nil
}

// checkURL accepts an absolute https URL, or an http URL on a loopback host
// when insecure is set. The verify constructors check again; this gives the
// flag's name in the message.
func checkURL(raw string, insecure bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return errors.New("not an absolute URL")
	}
	if u.User != nil {
		return errors.New("must not contain user information")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if !insecure {
			return errors.New("http:// needs -insecure-http (loopback hosts only)")
		}
		if !isLoopback(u.Hostname()) {
			return errors.New("http:// is allowed only for loopback hosts")
		}
		return nil
	default:
		return fmt.Errorf("scheme %q: want https", u.Scheme)
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newLogger returns the slog logger for format.
func newLogger(w io.Writer, format string) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// run builds the verifier and the server, listens on cfg.addr and serves
// until ctx ends, then stops gracefully. Configuration errors are returned
// before it listens.
func run(ctx context.Context, cfg config, logger *slog.Logger) error {
	verifier, ready, closeVerifier, err := newVerifier(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer closeVerifier()
	// grpc health says NOT_SERVING while the key set cannot verify tokens
	// (not yet fetched, or stale past MaxStale), for readiness probes.
	hs := health.NewServer()
	if ready != nil {
		w, err := readiness.Watch(readiness.Config{Health: hs, Sources: []readiness.Source{ready}})
		if err != nil {
			return err
		}
		defer w.Close()
	}
	// DPoP-bound tokens (RFC 9449) are always accepted, with a proof per
	// call; bearer tokens too.
	proofs, err := dpop.New(dpop.Config{})
	if err != nil {
		return err
	}
	policy, err := reports.NewPolicy()
	if err != nil {
		return err
	}
	opts := []reports.Option{reports.WithLogger(logger), reports.WithHealth(hs),
		reports.WithInterceptorOptions(interceptor.WithDPoP(proofs, cfg.origins...))}
	var meta *resource.Metadata
	if cfg.resource != "" {
		meta, err = resource.New(resource.Config{
			Resource:             cfg.resource,
			AuthorizationServers: []string{cfg.issuer},
			Policy:               policy,
			DPoPAlgorithms:       strings.Fields(proofs.Algorithms()),
			CertificateBound:     cfg.clientCA != "",
			InsecureAllowHTTP:    cfg.insecureHTTP,
		})
		if err != nil {
			return fmt.Errorf("-resource: %w", err)
		}
		opts = append(opts, reports.WithResourceMetadata(meta))
	}
	if cfg.tlsCert != "" {
		tlsConfig, err := serverTLS(cfg)
		if err != nil {
			return err
		}
		opts = append(opts, reports.WithGRPCOptions(grpc.Creds(credentials.NewTLS(tlsConfig))))
	}
	srv, err := reports.NewServer(verifier, opts...)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	if meta != nil && cfg.metadataAddr != "" {
		mlis, err := net.Listen("tcp", cfg.metadataAddr)
		if err != nil {
			return fmt.Errorf("-metadata-addr: %w", err)
		}
		hs := &http.Server{Handler: meta.Handler(), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = hs.Serve(mlis) }()
		defer hs.Close()
		logger.Info("serving resource metadata", "addr", mlis.Addr().String(), "path", meta.Path(), "url", meta.URL())
		if cfg.onMetadataListen != nil {
			cfg.onMetadataListen(mlis.Addr())
		}
	}
	logger.Info("serving", "addr", lis.Addr().String(), "tls", cfg.tlsCert != "", "mtls", cfg.clientCA != "",
		"issuer", cfg.issuer, "jwks", cfg.jwks, "introspect", cfg.introspect, "audiences", cfg.audiences)
	if cfg.onListen != nil {
		cfg.onListen(lis.Addr())
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	select {
	case err := <-served:
		return err // Serve failed on its own
	case <-ctx.Done():
	}
	logger.Info("stopping", "timeout", stopTimeout.String())
	stopped := make(chan struct{})
	go func() {
		srv.GracefulStop()
		close(stopped)
	}()
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-stopped:
	case <-timer.C:
		logger.Warn("graceful stop timed out; closing remaining calls")
		srv.Stop()
		<-stopped
	}
	if err := <-served; err != nil {
		return err
	}
	logger.Info("stopped")
	return nil
}

// serverTLS loads the server's certificate and, with -client-ca, the CA
// bundle whose client certificates it requires (RFC 8705 mutual TLS: the
// handshake proves the client holds the key of the certificate its tokens
// may be bound to).
func serverTLS(cfg config) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(cfg.tlsCert, cfg.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("-tls-cert/-tls-key: %w", err)
	}
	c := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if cfg.clientCA != "" {
		pem, err := os.ReadFile(cfg.clientCA)
		if err != nil {
			return nil, fmt.Errorf("-client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("-client-ca: no PEM certificate in the file")
		}
		c.ClientCAs, c.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return c, nil
}

// newVerifier builds the JWT verifier, the introspection verifier or both,
// as cfg asks, the key set that readiness watches (nil without JWTs), and a
// function that releases them.
func newVerifier(ctx context.Context, cfg config, logger *slog.Logger) (verify.Verifier, readiness.Source, func(), error) {
	var jwt, opaque verify.Verifier
	var ready readiness.Source
	closeFn := func() {}
	if cfg.issuer != "" || cfg.jwks != "" {
		ksCfg := verify.RemoteKeySetConfig{URL: cfg.jwks, InsecureAllowHTTP: cfg.insecureHTTP}
		if cfg.jwks == "" {
			ksCfg.Issuer = cfg.issuer
		}
		keys, err := verify.NewRemoteKeySet(ksCfg)
		if err != nil {
			return nil, nil, nil, err
		}
		closeFn = func() { _ = keys.Close() }
		ready = keys
		j, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: cfg.issuer, Audiences: cfg.audiences, AcceptUntyped: cfg.allowUntyped})
		if err != nil {
			closeFn()
			return nil, nil, nil, err
		}
		jwt = j
		// Fail closed but keep running: until the keys arrive, calls get
		// Unavailable, and the key set keeps retrying in the background.
		wctx, cancel := context.WithTimeout(ctx, keysReadyTimeout)
		err = keys.WaitReady(wctx)
		cancel()
		if err != nil {
			logger.Warn("no signing keys yet; JWT calls fail with Unavailable until they arrive", "error", oneLine(err))
		}
	}
	if cfg.introspect != "" {
		i, err := verify.NewIntrospection(verify.IntrospectionConfig{
			Endpoint:          cfg.introspect,
			ClientID:          cfg.clientID,
			ClientSecret:      cfg.clientSecret,
			Issuer:            cfg.issuer,
			Audiences:         cfg.audiences,
			InsecureAllowHTTP: cfg.insecureHTTP,
		})
		if err != nil {
			closeFn()
			return nil, nil, nil, err
		}
		opaque = i
	}
	switch {
	case jwt != nil && opaque != nil:
		v, err := verify.ByShape(jwt, opaque)
		if err != nil {
			closeFn()
			return nil, nil, nil, err
		}
		return v, ready, closeFn, nil
	case jwt != nil:
		return jwt, ready, closeFn, nil
	default:
		return opaque, ready, closeFn, nil
	}
}

// oneLine renders err on one line for the log: the lines of joined errors
// are separated by "; ", and each drops the leading "pkg: context: "
// segments it shares with the line before, so that a prefix such as
// "verify: cannot verify token now: " appears once.
func oneLine(err error) string {
	lines := strings.Split(strings.TrimSpace(err.Error()), "\n")
	out := make([]string, 0, len(lines))
	var prev []string
	for _, line := range lines {
		segs := strings.Split(line, ": ")
		n := 0
		for n < len(segs)-1 && n < len(prev)-1 && segs[n] == prev[n] {
			n++
		}
		if rest := strings.Join(segs[n:], ": "); rest != "" {
			out = append(out, rest)
		}
		prev = segs
	}
	return strings.Join(out, "; ")
}
