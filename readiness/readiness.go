package readiness

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/oauthgate/oauthgate/verify"
)

// A RemoteKeySet is ready once its first key set is fetched, until the last
// good set is older than its MaxStale or it is closed.
var _ Source = (*verify.RemoteKeySet)(nil)

// An Introspection is ready once its endpoint has answered, until a
// request finds it unable to answer; the Watcher probes it while it is not.
var _ Prober = (*verify.Introspection)(nil)

// A RemoteKeySet's probe starts its background fetch, so that a Watcher
// gets a key set nothing else has used yet going.
var _ Prober = (*verify.RemoteKeySet)(nil)

// A Source says whether tokens can be verified now. [verify.RemoteKeySet]
// and [verify.Introspection] are sources. Ready must be cheap and safe for
// concurrent use.
type Source interface {
	Ready() bool
}

// A Prober is a [Source] that can check on demand whether it can verify
// tokens, doing what that takes: [verify.Introspection] asks its endpoint,
// which it otherwise learns about only from the verifications it makes,
// and [verify.RemoteKeySet] starts fetching if nothing has used it yet. A
// NOT_SERVING replica gets no traffic, so without probes it would never
// find out that it could serve again.
//
// While a Prober is not ready, the [Watcher] calls Probe from a goroutine
// of its own at once and then at every poll, and waits up to one poll
// interval for it before it reads Ready; a probe that takes longer goes on
// and the Prober is not probed again until it returns. Probes of several
// Probers run concurrently. Their context ends when the Watcher is closed,
// and Probe must then return; it must bound its own duration otherwise
// (both verify sources do, with their Timeout). A ready Prober is not
// probed: the traffic it serves keeps its state current, and probing idle
// replicas would load the authorization server for little. Probe must
// update what Ready reports and be safe for concurrent use; the Watcher
// ignores its error, since Ready says what matters.
type Prober interface {
	Source
	Probe(ctx context.Context) error
}

// Func adapts a function to a [Source], for checks of other dependencies.
type Func func() bool

// Ready returns f().
func (f Func) Ready() bool { return f() }

// defaultInterval is the polling interval when Config.Interval is 0.
const defaultInterval = time.Second

// Config configures a [Watcher]. It must not be modified after it is passed
// to [Watch].
type Config struct {
	// Health is the health server whose status the Watcher sets. Required.
	Health *health.Server
	// Services are the names whose status is set. If empty, the status of
	// the server as a whole ("") is set, which is what Kubernetes' gRPC
	// probe asks for unless told a service name.
	Services []string
	// Sources must all be ready for SERVING. At least one is required.
	Sources []Source
	// Interval is how often the sources are polled, and how long the
	// Watcher waits for a [Prober]'s probe before it reads the status; a
	// change is reported at most Interval after it happens, plus the wait
	// for the probes then due (at most Interval). The default is 1s.
	Interval time.Duration
}

// A Watcher sets health statuses from its sources until it is closed. It
// starts a goroutine: call [Watcher.Close]. Its methods are safe for
// concurrent use.
type Watcher struct {
	cfg    Config
	ctx    context.Context // of every probe; canceled by Close
	cancel context.CancelFunc
	done   chan struct{}
	// probing[i] is set while cfg.Sources[i] is being probed; probes
	// counts the probes running.
	probing []atomic.Bool
	probes  sync.WaitGroup

	mu      sync.Mutex
	serving bool // guarded by mu; the status last set
}

// Watch sets the statuses of cfg.Services to NOT_SERVING or SERVING from
// the sources at once, then starts polling them every cfg.Interval. It
// does no network I/O itself: a [Prober] that is not ready yet, such as a
// [verify.Introspection] nothing has used, makes the status NOT_SERVING
// until its first probe, which the Watcher's goroutine starts at once,
// succeeds. To fail fast at start-up instead, call its Probe before Watch.
func Watch(cfg Config) (*Watcher, error) {
	switch {
	case cfg.Health == nil:
		return nil, errors.New("readiness: Config.Health is nil; pass the server's health.NewServer()")
	case len(cfg.Sources) == 0:
		return nil, errors.New("readiness: Config.Sources is empty; pass the key set or verifier to watch")
	case slices.Contains(cfg.Sources, nil):
		return nil, errors.New("readiness: Config.Sources holds a nil Source")
	case cfg.Interval < 0:
		return nil, errors.New("readiness: Config.Interval is negative")
	}
	if cfg.Interval == 0 {
		cfg.Interval = defaultInterval
	}
	if len(cfg.Services) == 0 {
		cfg.Services = []string{""}
	}
	w := &Watcher{cfg: cfg, done: make(chan struct{}), probing: make([]atomic.Bool, len(cfg.Sources))}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	w.update(true)
	go w.loop()
	return w, nil
}

func (w *Watcher) loop() {
	defer close(w.done)
	t := time.NewTicker(w.cfg.Interval)
	defer t.Stop()
	for {
		// Probe, then read: a Prober whose last request failed gets one
		// more chance before the status changes.
		w.probe()
		if w.ctx.Err() != nil {
			return
		}
		w.update(false)
		select {
		case <-w.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// probe starts a probe of every [Prober] that is not ready and not being
// probed, and waits for them for at most one interval.
func (w *Watcher) probe() {
	var started []chan struct{}
	for i, s := range w.cfg.Sources {
		p, ok := s.(Prober)
		if !ok || p.Ready() || !w.probing[i].CompareAndSwap(false, true) {
			continue
		}
		done := make(chan struct{})
		started = append(started, done)
		w.probes.Go(func() {
			defer w.probing[i].Store(false)
			defer close(done)
			_ = p.Probe(w.ctx)
		})
	}
	if len(started) == 0 {
		return
	}
	t := time.NewTimer(w.cfg.Interval)
	defer t.Stop()
	for _, done := range started {
		select {
		case <-done:
		case <-t.C:
			return
		case <-w.ctx.Done():
			return
		}
	}
}

// ready reports whether every source is ready.
func (w *Watcher) ready() bool {
	for _, s := range w.cfg.Sources {
		if !s.Ready() {
			return false
		}
	}
	return true
}

// update polls the sources and sets the statuses if they changed, or
// anyway when force is set.
func (w *Watcher) update(force bool) {
	ready := w.ready()
	w.mu.Lock()
	defer w.mu.Unlock()
	if !force && ready == w.serving {
		return
	}
	w.serving = ready
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if ready {
		st = healthpb.HealthCheckResponse_SERVING
	}
	for _, svc := range w.cfg.Services {
		w.cfg.Health.SetServingStatus(svc, st)
	}
}

// Close stops polling, cancels the probes in flight and waits for them and
// the Watcher's goroutine to end. The statuses
// stay as last set; at shutdown, health.Server.Shutdown sets them all to
// NOT_SERVING. Close always returns nil; calling it again does nothing.
func (w *Watcher) Close() error {
	w.cancel()
	<-w.done
	w.probes.Wait()
	return nil
}
