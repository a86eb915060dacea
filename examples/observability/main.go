// Command observability serves the reports example (package
// examples/reports) with oauthgate's observability wired in: the
// interceptor's metrics exported to Prometheus at
// http://<-metrics-addr>/metrics through the OpenTelemetry SDK and
// Prometheus exporter, grpc health driven by the key set with
// [readiness.Watch], and the decision log.
//
// It lives in a module of its own because the SDK and the exporter must
// not enter oauthgate's go.mod; examples/reports/server is the full
// example server without them.
//
//	go run . -issuer https://auth.example.com/ -audience reports -metrics-addr 127.0.0.1:9464
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	promclient "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"google.golang.org/grpc/health"

	"github.com/oauthgate/oauthgate/examples/reports"
	"github.com/oauthgate/oauthgate/interceptor"
	"github.com/oauthgate/oauthgate/readiness"
	"github.com/oauthgate/oauthgate/verify"
)

func main() { os.Exit(serverMain()) }

func serverMain() int {
	cfg, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "observability:", err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, logger); err != nil {
		logger.Error("server stopped", "error", err)
		return 1
	}
	return 0
}

// config is the validated command line.
type config struct {
	addr         string
	metricsAddr  string
	issuer       string
	jwks         string
	audiences    []string
	insecureHTTP bool
	decisionLog  bool

	// Set by tests only.
	refresh   time.Duration                        // the key set's MinRefresh, to retry sooner
	onListen  func(grpcAddr, metricsAddr net.Addr) // learn the ports of ":0"
	readyPoll time.Duration                        // readiness.Config.Interval
}

func parseFlags(args []string) (config, error) {
	var cfg config
	var audiences string
	fs := flag.NewFlagSet("observability", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:50051", "gRPC listen `address`")
	fs.StringVar(&cfg.metricsAddr, "metrics-addr", "127.0.0.1:9464", "HTTP listen `address` of the Prometheus /metrics endpoint")
	fs.StringVar(&cfg.issuer, "issuer", "", "issuer identifier `URL` (required)")
	fs.StringVar(&cfg.jwks, "jwks", "", "JWKS `URL`, instead of discovery")
	fs.StringVar(&audiences, "audience", "", "this service's audiences, comma-separated (required)")
	fs.BoolVar(&cfg.insecureHTTP, "insecure-http", false, "allow http:// endpoints on loopback hosts (local tests only)")
	fs.BoolVar(&cfg.decisionLog, "decision-log", false, "log every decision, with client_id and sub")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stderr)
			fs.PrintDefaults()
		}
		return config{}, err
	}
	for a := range strings.SplitSeq(audiences, ",") {
		if a = strings.TrimSpace(a); a != "" {
			cfg.audiences = append(cfg.audiences, a)
		}
	}
	switch {
	case fs.NArg() > 0:
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case cfg.issuer == "":
		return config{}, errors.New("-issuer is required")
	case len(cfg.audiences) == 0:
		return config{}, errors.New("-audience is required: a resource server must check the aud of its tokens")
	}
	return cfg, nil
}

// run serves until ctx ends.
func run(ctx context.Context, cfg config, logger *slog.Logger) error {
	// Metrics: the SDK with the Prometheus exporter as its reader, on a
	// registry of its own.
	registry := promclient.NewRegistry()
	exporter, err := prometheus.New(prometheus.WithRegisterer(registry))
	if err != nil {
		return err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	defer func() { _ = mp.Shutdown(context.Background()) }()

	ksCfg := verify.RemoteKeySetConfig{URL: cfg.jwks, InsecureAllowHTTP: cfg.insecureHTTP,
		MinRefresh: cfg.refresh, MaxRefresh: max(cfg.refresh, time.Hour), MeterProvider: mp}
	if cfg.jwks == "" {
		ksCfg.Issuer = cfg.issuer
	}
	keys, err := verify.NewRemoteKeySet(ksCfg)
	if err != nil {
		return err
	}
	defer keys.Close()
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: cfg.issuer, Audiences: cfg.audiences, MeterProvider: mp})
	if err != nil {
		return err
	}
	// Start fetching now; until the keys arrive, health says NOT_SERVING
	// and calls get Unavailable.
	go func() { _ = keys.WaitReady(ctx) }()

	hs := health.NewServer()
	watch, err := readiness.Watch(readiness.Config{Health: hs, Sources: []readiness.Source{keys}, Interval: cfg.readyPoll})
	if err != nil {
		return err
	}
	defer watch.Close()

	gateOpts := []interceptor.Option{interceptor.WithMeterProvider(mp)}
	if cfg.decisionLog {
		gateOpts = append(gateOpts, interceptor.WithDecisionLog(logger, slog.LevelInfo, true))
	}
	srv, err := reports.NewServer(jwt, reports.WithHealth(hs), reports.WithLogger(logger),
		reports.WithInterceptorOptions(gateOpts...))
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	mlis, err := net.Listen("tcp", cfg.metricsAddr)
	if err != nil {
		_ = lis.Close()
		return fmt.Errorf("-metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	metrics := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = metrics.Serve(mlis) }()
	defer metrics.Close()
	logger.Info("serving", "addr", lis.Addr().String(), "metrics", "http://"+mlis.Addr().String()+"/metrics")
	if cfg.onListen != nil {
		cfg.onListen(lis.Addr(), mlis.Addr())
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	hs.Shutdown() // NOT_SERVING: balancers stop sending new calls
	srv.GracefulStop()
	return <-served
}
