// Command observability is the example report server of
// examples/reports/server, with every flag and behaviour of it, plus
// oauthgate's OpenTelemetry metrics exported to Prometheus at
// http://<-metrics-addr>/metrics (default 127.0.0.1:9464; an empty
// address turns it off) through the OpenTelemetry SDK and its Prometheus
// exporter:
//
//	go run . -issuer https://auth.example.com/ -audience https://reports.example.com -metrics-addr 127.0.0.1:9464
//
// The metrics are the interceptor's, the key set's, the token caches' and
// introspection's (see docs/observability.md); they never
// carry a token, a subject or a client ID. The exporter has a Prometheus
// registry of its own, so /metrics holds only them.
//
// It is a module of its own because the SDK and the exporter must not
// enter oauthgate's go.mod: examples/reports/server is the same server
// without them, and both run package examples/reports/serve.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	promclient "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/oauthgate/oauthgate/examples/reports/serve"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stderr, nil)
	stop()
	os.Exit(code)
}

// run is [serve.Command.Main] with the metrics endpoint; onListen is
// [serve.Command].OnListen, for tests.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, onListen func(string, net.Addr)) int {
	registry := promclient.NewRegistry()
	exporter, err := prometheus.New(prometheus.WithRegisterer(registry))
	if err != nil {
		fmt.Fprintln(stderr, "observability:", err)
		return 1
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	cmd := serve.Command{
		Name:          "observability",
		MeterProvider: mp,
		Endpoints: []serve.Endpoint{{
			Name:    "metrics",
			Flag:    "metrics-addr",
			Default: "127.0.0.1:9464",
			Usage:   "HTTP listen `address` of the Prometheus /metrics endpoint; empty turns it off",
			Handler: mux,
		}},
		OnListen: onListen,
	}
	return cmd.Main(ctx, args, getenv, stderr)
}
