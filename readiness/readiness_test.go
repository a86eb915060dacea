package readiness_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/readiness"
	"github.com/oauthgate/oauthgate/verify"
)

const (
	// bubbleTimeout bounds a test in fake time: long enough for the key
	// set's retries, at most testRefresh apart.
	bubbleTimeout = time.Hour
	testMaxStale  = 10 * time.Minute
	testRefresh   = time.Minute
)

// TestWatch_KeySet follows a remote key set through load, staleness and
// recovery with a real health client, Check and Watch, inside a synctest
// bubble: the issuer is in memory, gRPC on bufconn, and time is fake, so
// the polling interval and the key set's retries take no real time.
func TestWatch_KeySet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), bubbleTimeout)
		defer cancel()
		clock := oauthtest.NewClock(time.Now())
		iss := oauthtest.NewIssuer(t, oauthtest.WithClock(clock.Now), oauthtest.WithInMemory())
		keys, err := verify.NewRemoteKeySet(verify.RemoteKeySetConfig{
			URL: iss.JWKSURL(), HTTPClient: iss.Client(), MinRefresh: testRefresh, MaxRefresh: testRefresh,
			MaxStale: testMaxStale, Now: clock.Now,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer keys.Close()

		hs := health.NewServer()
		conn := oauthtest.ServeGRPC(t, func(s *grpc.Server) { healthpb.RegisterHealthServer(s, hs) })
		client := healthpb.NewHealthClient(conn)
		w, err := readiness.Watch(readiness.Config{Health: hs, Sources: []readiness.Source{keys}, Services: []string{"", "reports"}})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()

		check := func(want healthpb.HealthCheckResponse_ServingStatus) {
			t.Helper()
			for _, svc := range []string{"", "reports"} {
				resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
				if err != nil {
					t.Fatalf("Check(%q) error = %v", svc, err)
				}
				if got := resp.GetStatus(); got != want {
					t.Fatalf("Check(%q) = %v, want %v", svc, got, want)
				}
			}
		}
		watch, err := client.Watch(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatal(err)
		}
		// next waits, in fake time, for the next status Watch reports.
		next := func(want healthpb.HealthCheckResponse_ServingStatus) {
			t.Helper()
			resp, err := watch.Recv()
			if err != nil {
				t.Fatalf("Watch.Recv() error = %v", err)
			}
			if got := resp.GetStatus(); got != want {
				t.Fatalf("Watch.Recv() = %v, want %v", got, want)
			}
			check(want)
		}

		// Load: nothing fetched yet.
		next(healthpb.HealthCheckResponse_NOT_SERVING)
		if err := keys.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
		next(healthpb.HealthCheckResponse_SERVING)

		// Stale: the JWKS endpoint is down for longer than MaxStale.
		iss.SetFault(oauthtest.EndpointJWKS, oauthtest.FaultDown())
		clock.Advance(testMaxStale + time.Second)
		next(healthpb.HealthCheckResponse_NOT_SERVING)

		// Recovered: the key set's next retry succeeds.
		iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{})
		next(healthpb.HealthCheckResponse_SERVING)
	})
}

func TestWatch_Config(t *testing.T) {
	ready := readiness.Func(func() bool { return true })
	tests := map[string]readiness.Config{
		"NoHealth":       {Sources: []readiness.Source{ready}},
		"NoSources":      {Health: health.NewServer()},
		"NilSource":      {Health: health.NewServer(), Sources: []readiness.Source{nil}},
		"NegativeTicker": {Health: health.NewServer(), Sources: []readiness.Source{ready}, Interval: -time.Second},
	}
	for name, cfg := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if w, err := readiness.Watch(cfg); err == nil {
				_ = w.Close()
				t.Fatalf("Watch(%+v) error = nil, want an error", cfg)
			}
		})
	}
}

// TestWatch_Close checks that Close ends the goroutine and may be called
// twice; the bubble fails the test if the goroutine leaks.
func TestWatch_Close(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hs := health.NewServer()
		w, err := readiness.Watch(readiness.Config{Health: hs, Sources: []readiness.Source{readiness.Func(func() bool { return true })}})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("Close() = %v", err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("second Close() = %v", err)
		}
	})
}
