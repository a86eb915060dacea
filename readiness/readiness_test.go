package readiness_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
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
	testInterval  = time.Second
)

// A healthClient asks a health server over gRPC (bufconn), as a load
// balancer or Kubernetes would: Check for every service, and one Watch
// stream of the server as a whole.
type healthClient struct {
	t        *testing.T
	ctx      context.Context
	client   healthpb.HealthClient
	watch    healthpb.Health_WatchClient
	services []string
}

func newHealthClient(t *testing.T, ctx context.Context, hs *health.Server, services ...string) *healthClient {
	t.Helper()
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	conn := oauthtest.ServeGRPC(t, srv)
	h := &healthClient{t: t, ctx: ctx, client: healthpb.NewHealthClient(conn), services: services}
	var err error
	if h.watch, err = h.client.Watch(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	// The health server's first answer is its status before any Watcher
	// (SERVING): reading it here means the next ones are the Watcher's,
	// whichever of the two goroutines started first.
	if resp, err := h.watch.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Watch.Recv() = %v, %v; want the health server's initial SERVING", resp, err)
	}
	return h
}

// check fails the test unless Check reports want for every service.
func (h *healthClient) check(want healthpb.HealthCheckResponse_ServingStatus) {
	h.t.Helper()
	for _, svc := range h.services {
		resp, err := h.client.Check(h.ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil {
			h.t.Fatalf("Check(%q) error = %v", svc, err)
		}
		if got := resp.GetStatus(); got != want {
			h.t.Fatalf("Check(%q) = %v, want %v", svc, got, want)
		}
	}
}

// next waits, in fake time, for the next status Watch reports, and checks
// it and Check.
func (h *healthClient) next(want healthpb.HealthCheckResponse_ServingStatus) {
	h.t.Helper()
	resp, err := h.watch.Recv()
	if err != nil {
		h.t.Fatalf("Watch.Recv() error = %v", err)
	}
	if got := resp.GetStatus(); got != want {
		h.t.Fatalf("Watch.Recv() = %v, want %v", got, want)
	}
	h.check(want)
}

// TestWatch_KeySet follows a remote key set through load, staleness and
// recovery with a real health client, Check and Watch, inside a synctest
// bubble: the issuer is in memory, gRPC on bufconn, and time is fake, so
// the polling interval and the key set's retries take no real time.
func TestWatch_KeySet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), bubbleTimeout)
		defer cancel()
		clock := oauthtest.NewClock(time.Now())
		iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{Now: clock.Now, InMemory: true})
		iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{Down: true})
		keys, err := verify.NewRemoteKeySet(verify.RemoteKeySetConfig{
			URL: iss.EndpointURL(oauthtest.EndpointJWKS), HTTPClient: iss.Client(), MinRefresh: testRefresh, MaxRefresh: testRefresh,
			MaxStale: testMaxStale, Now: clock.Now,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer keys.Close()

		hs := health.NewServer()
		h := newHealthClient(t, ctx, hs, "", "reports")
		w, err := readiness.Watch(readiness.Config{Health: hs, Sources: []readiness.Source{keys}, Services: []string{"", "reports"}})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()

		// Load: nothing fetched yet, the endpoint down. Nothing but the
		// Watcher uses the key set: its probe starts the fetch, whose
		// retries find the endpoint back.
		h.next(healthpb.HealthCheckResponse_NOT_SERVING)
		iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{})
		h.next(healthpb.HealthCheckResponse_SERVING)

		// Stale: the JWKS endpoint is down for longer than MaxStale.
		iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{Down: true})
		clock.Advance(testMaxStale + time.Second)
		h.next(healthpb.HealthCheckResponse_NOT_SERVING)

		// Recovered: the key set's next retry succeeds.
		iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{})
		h.next(healthpb.HealthCheckResponse_SERVING)
	})
}

// TestWatch_Introspection follows an introspection verifier through an
// endpoint that is down at start, comes up, fails a real verification once
// (a blip), goes down, and comes back, with a real health client in a
// synctest bubble. The Watcher's probes are what bring the replica back:
// nothing else calls the verifier while it is NOT_SERVING.
func TestWatch_Introspection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), bubbleTimeout)
		defer cancel()
		iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{InMemory: true})
		intro, err := verify.NewIntrospection(verify.IntrospectionConfig{
			Endpoint: iss.EndpointURL(oauthtest.EndpointIntrospection), ClientID: iss.ClientID, ClientSecret: verify.Secret(iss.ClientSecret),
			Audiences: []string{oauthtest.DefaultAudience}, HTTPClient: iss.Client(),
		})
		if err != nil {
			t.Fatal(err)
		}
		requests := func() int { return iss.Requests(oauthtest.EndpointIntrospection) }
		// wait lets n polls pass, half an interval off the ticks.
		wait := func(n int) {
			time.Sleep(time.Duration(n)*testInterval + testInterval/2)
			synctest.Wait()
		}

		iss.SetFault(oauthtest.EndpointIntrospection, oauthtest.Fault{Down: true})
		hs := health.NewServer()
		h := newHealthClient(t, ctx, hs, "")
		w, err := readiness.Watch(readiness.Config{Health: hs, Sources: []readiness.Source{intro}, Interval: testInterval})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()

		// Down at start: a probe at once, and one per poll.
		h.next(healthpb.HealthCheckResponse_NOT_SERVING)
		wait(3)
		h.check(healthpb.HealthCheckResponse_NOT_SERVING)
		if got := requests(); got != 4 {
			t.Fatalf("%d probes after 3.5 intervals, want 4", got)
		}

		// Up: the next probe succeeds.
		iss.SetFault(oauthtest.EndpointIntrospection, oauthtest.Fault{})
		h.next(healthpb.HealthCheckResponse_SERVING)

		// Ready: no probes, the traffic says enough.
		before := requests()
		wait(3)
		if got := requests() - before; got != 0 {
			t.Fatalf("%d probes of a ready verifier, want 0", got)
		}

		// A blip: one verification fails, and the endpoint answers the
		// probe the Watcher sends before it changes the status.
		iss.SetFault(oauthtest.EndpointIntrospection, oauthtest.Fault{Status: http.StatusServiceUnavailable})
		if _, err := intro.Verify(ctx, iss.OpaqueToken(t)); !errors.Is(err, verify.ErrUnavailable) {
			t.Fatalf("Verify() error = %v, want ErrUnavailable", err)
		}
		iss.SetFault(oauthtest.EndpointIntrospection, oauthtest.Fault{})
		before = requests()
		wait(1)
		h.check(healthpb.HealthCheckResponse_SERVING)
		if got := requests() - before; got != 1 {
			t.Fatalf("%d probes after a failed verification, want 1", got)
		}

		// Down: a verification fails, and so does the probe.
		iss.SetFault(oauthtest.EndpointIntrospection, oauthtest.Fault{Status: http.StatusServiceUnavailable})
		if _, err := intro.Verify(ctx, iss.OpaqueToken(t)); !errors.Is(err, verify.ErrUnavailable) {
			t.Fatalf("Verify() error = %v, want ErrUnavailable", err)
		}
		h.next(healthpb.HealthCheckResponse_NOT_SERVING)

		// Back: the next probe succeeds.
		iss.SetFault(oauthtest.EndpointIntrospection, oauthtest.Fault{})
		h.next(healthpb.HealthCheckResponse_SERVING)
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

// A hangingProber is never ready, and its probes wait for their context.
type hangingProber struct {
	mu       sync.Mutex
	started  int           // probes started
	deadline bool          // whether a probe's context had a deadline
	ended    time.Duration // when the last probe ended, from the first start
	errs     []error       // of each probe's context, when it ended
	first    time.Time
}

func (p *hangingProber) Ready() bool { return false }

func (p *hangingProber) Probe(ctx context.Context) error {
	p.mu.Lock()
	if p.started++; p.started == 1 {
		p.first = time.Now()
	}
	_, dl := ctx.Deadline()
	p.deadline = p.deadline || dl
	p.mu.Unlock()
	<-ctx.Done()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ended = time.Since(p.first)
	p.errs = append(p.errs, ctx.Err())
	return ctx.Err()
}

// TestWatch_ProbeContext checks that two Probers are probed concurrently,
// that a probe slower than the interval goes on (the Prober bounds its own
// probes) and is not started again while it runs, and that Close cancels
// the probes in flight and waits for them.
func TestWatch_ProbeContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := &hangingProber{}, &hangingProber{}
		hs := health.NewServer()
		w, err := readiness.Watch(readiness.Config{Health: hs, Sources: []readiness.Source{a, b}, Interval: testInterval})
		if err != nil {
			t.Fatal(err)
		}
		const waited = 3*testInterval + testInterval/2
		time.Sleep(waited) // fake time: three more polls while both probes hang
		synctest.Wait()
		if err := w.Close(); err != nil {
			t.Fatalf("Close() = %v", err)
		}
		for name, p := range map[string]*hangingProber{"a": a, "b": b} {
			if p.started != 1 || p.deadline || p.ended != waited || !slices.Equal(p.errs, []error{context.Canceled}) {
				t.Errorf("prober %s: %d probes (deadline %t), the last ended %v after the first began by %v; want 1 probe without a deadline, canceled by Close after %v",
					name, p.started, p.deadline, p.ended, p.errs, waited)
			}
		}
		if st, err := hs.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil || st.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Errorf("status = %v, %v; want NOT_SERVING", st.GetStatus(), err)
		}
	})
}
