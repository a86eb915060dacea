package serve

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"

	"github.com/oauthgate/oauthgate/dpop"
	"github.com/oauthgate/oauthgate/examples/reports"
	"github.com/oauthgate/oauthgate/interceptor"
	"github.com/oauthgate/oauthgate/readiness"
	"github.com/oauthgate/oauthgate/resource"
	"github.com/oauthgate/oauthgate/ssf"
	"github.com/oauthgate/oauthgate/verify"
)

// run builds the verifier and the server, listens on cfg.addr and the HTTP
// addresses, and serves until ctx ends, then stops gracefully.
// Configuration errors are returned before it listens.
func (c Command) run(ctx context.Context, cfg config, logger *slog.Logger) error {
	var revocations *ssf.Revocations
	var receiver *ssf.Receiver
	if cfg.ssfIssuer != "" {
		var err error
		if revocations, err = ssf.NewRevocations(ssf.RevocationsConfig{Retention: cfg.ssfRetention}); err != nil {
			return fmt.Errorf("-ssf-retention: %w", err)
		}
		receiver, err = ssf.NewReceiver(revocations, ssf.Config{Issuer: cfg.ssfIssuer, Audience: cfg.ssfAudience,
			InsecureAllowHTTP: cfg.insecureHTTP})
		if err != nil {
			return fmt.Errorf("-ssf-transmitter: %w", err)
		}
		defer receiver.Close()
	}
	verifier, ready, closeVerifier, err := newVerifier(ctx, cfg, c.MeterProvider, logger, revocations)
	if err != nil {
		return err
	}
	defer closeVerifier()
	// grpc health says NOT_SERVING while the key set or the introspection
	// endpoint cannot verify tokens (not yet fetched or stale past
	// MaxStale; not answering), for readiness probes.
	hs := health.NewServer()
	if len(ready) > 0 {
		w, err := readiness.Watch(readiness.Config{Health: hs, Sources: ready})
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
	gateOpts := []interceptor.Option{interceptor.WithDPoP(proofs, cfg.origins...)}
	if c.MeterProvider != nil {
		gateOpts = append(gateOpts, interceptor.WithMeterProvider(c.MeterProvider))
	}
	if revocations != nil {
		// Streams of a revoked subject end at once, not at the next
		// re-check.
		gateOpts = append(gateOpts, interceptor.WithRevocations(revocations))
	}
	if cfg.decisionLog {
		gateOpts = append(gateOpts, interceptor.WithDecisionLog(logger, slog.LevelInfo, true /* identity */))
	}
	opts := []reports.Option{reports.WithLogger(logger), reports.WithInterceptorOptions(gateOpts...)}
	var httpListeners []httpListener
	if cfg.resource != "" {
		meta, err := resource.New(resource.Config{
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
		if cfg.metadataAddr != "" {
			httpListeners = append(httpListeners, httpListener{name: listenerMetadata, flag: "metadata-addr", addr: cfg.metadataAddr, handler: meta.Handler()})
			logger.Info("resource metadata", "path", meta.Path(), "url", meta.URL())
		}
	}
	if receiver != nil {
		mux := http.NewServeMux()
		mux.Handle("POST /ssf/events", receiver)
		httpListeners = append(httpListeners, httpListener{name: listenerSSF, flag: "ssf-addr", addr: cfg.ssfAddr, handler: mux})
		logger.Info("shared signals receiver", "transmitter", cfg.ssfIssuer, "path", "/ssf/events")
	}
	for i, e := range c.Endpoints {
		if addr := cfg.endpoints[i]; addr != "" {
			httpListeners = append(httpListeners, httpListener{name: e.Name, flag: e.Flag, addr: addr, handler: e.Handler})
		}
	}
	var tlsConfig *tls.Config
	if cfg.tlsCert != "" {
		if tlsConfig, err = serverTLS(cfg); err != nil {
			return err
		}
	}
	srv, err := newServer(cfg, verifier, tlsConfig, hs, opts)
	if err != nil {
		return err
	}

	lis, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	httpLis, err := listenHTTP(httpListeners)
	if err != nil {
		_ = lis.Close()
		return err
	}
	defer serveHTTP(httpListeners, httpLis, logger)()
	logger.Info("serving", "addr", lis.Addr().String(), "connect", cfg.connect, "tls", cfg.tlsCert != "", "mtls", cfg.clientCA != "",
		"issuer", cfg.issuer, "jwks", cfg.jwks, "introspect", cfg.introspect, "audiences", cfg.audiences)
	if c.OnListen != nil {
		for i, l := range httpListeners {
			c.OnListen(l.name, httpLis[i].Addr())
		}
		c.OnListen(listenerGRPC, lis.Addr())
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	select {
	case err := <-served:
		return err // Serve failed on its own
	case <-ctx.Done():
	}
	logger.Info("stopping", "timeout", stopTimeout.String())
	hs.Shutdown() // NOT_SERVING from now on: balancers stop sending new calls
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
	// ErrServerStopped: ctx ended before Serve began, and Serve returned at
	// once; ErrServerClosed: the HTTP server stopped, as asked.
	if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("stopped")
	return nil
}

// A server is the grpc-go server of reports.NewServer, or the HTTP server
// of reports.NewConnectHandler with -connect.
type server interface {
	Serve(net.Listener) error
	// GracefulStop stops accepting calls and waits for the running ones.
	GracefulStop()
	// Stop closes every connection at once.
	Stop()
}

// newServer builds the server cfg asks for, with the report server's
// options opts, serving TLS with tlsConfig if it is not nil. The grpc-go
// server registers hs as its health service.
func newServer(cfg config, v verify.Verifier, tlsConfig *tls.Config, hs *health.Server, opts []reports.Option) (server, error) {
	if !cfg.connect {
		opts = append(opts, reports.WithHealth(hs))
		if tlsConfig != nil {
			opts = append(opts, reports.WithGRPCOptions(grpc.Creds(credentials.NewTLS(tlsConfig))))
		}
		return reports.NewServer(v, opts...)
	}
	if len(cfg.corsOrigins) > 0 {
		opts = append(opts, reports.WithCORS(cfg.corsOrigins...))
	}
	h, err := reports.NewConnectHandler(v, opts...)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: readHeaderTimeout, TLSConfig: tlsConfig, Protocols: new(http.Protocols)}
	srv.Protocols.SetHTTP1(true)
	if tlsConfig != nil {
		srv.Protocols.SetHTTP2(true) // by ALPN
	} else {
		srv.Protocols.SetUnencryptedHTTP2(true) // h2c with prior knowledge, as gRPC clients speak it
	}
	return connectServer{srv}, nil
}

// connectServer is an http.Server with the methods of a grpc.Server.
type connectServer struct{ *http.Server }

func (s connectServer) Serve(lis net.Listener) error {
	if s.TLSConfig != nil {
		return s.ServeTLS(lis, "", "")
	}
	return s.Server.Serve(lis)
}

func (s connectServer) GracefulStop() { _ = s.Shutdown(context.Background()) }

func (s connectServer) Stop() { _ = s.Close() }

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
// as cfg asks, with their metrics going to mp (see Command.MeterProvider),
// what readiness watches (the key set, the introspection verifier), and a
// function that releases them.
func newVerifier(ctx context.Context, cfg config, mp metric.MeterProvider, logger *slog.Logger, rev *ssf.Revocations) (verify.Verifier, []readiness.Source, func(), error) {
	var revocations verify.Revocations
	if rev != nil { // a nil *ssf.Revocations in the interface would not be nil
		revocations = rev
	}
	var jwt, opaque verify.Verifier
	var ready []readiness.Source
	closeFn := func() {}
	// One bound for every start-up wait below.
	startCtx, cancelStart := context.WithTimeout(ctx, startTimeout)
	defer cancelStart()
	if cfg.issuer != "" || cfg.jwks != "" {
		ksCfg := verify.RemoteKeySetConfig{URL: cfg.jwks, InsecureAllowHTTP: cfg.insecureHTTP, MeterProvider: mp}
		if cfg.jwks == "" {
			ksCfg.Issuer = cfg.issuer
		}
		keys, err := verify.NewRemoteKeySet(ksCfg)
		if err != nil {
			return nil, nil, nil, err
		}
		closeFn = func() { _ = keys.Close() }
		ready = append(ready, keys)
		j, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: cfg.issuer, Audiences: cfg.audiences, AcceptUntyped: cfg.allowUntyped, MeterProvider: mp,
			Revocations: revocations})
		if err != nil {
			closeFn()
			return nil, nil, nil, err
		}
		jwt = j
		// Fail closed but keep running: until the keys arrive, calls get
		// Unavailable, and the key set keeps retrying in the background.
		err = keys.WaitReady(startCtx)
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
			MeterProvider:     mp,
			Revocations:       revocations,
		})
		if err != nil {
			closeFn()
			return nil, nil, nil, err
		}
		opaque = i
		if jwt == nil {
			// Readiness watches what every call needs: beside JWTs, an
			// introspection outage must not take the JWT calls out of
			// rotation with it.
			ready = append(ready, i)
		}
		// As for the keys: warn now about an endpoint that does not answer
		// or refuses these client credentials, and keep running.
		err = i.Probe(startCtx)
		if err != nil {
			logger.Warn("the introspection endpoint does not answer; opaque tokens fail with Unavailable until it does", "error", oneLine(err))
		}
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
