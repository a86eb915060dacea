package readiness

import (
	"errors"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/oauthgate/oauthgate/verify"
)

// A RemoteKeySet is ready once its first key set is fetched, until the last
// good set is older than its MaxStale or it is closed.
var _ Source = (*verify.RemoteKeySet)(nil)

// A Source says whether tokens can be verified now. [verify.RemoteKeySet]
// is one. Ready must be cheap and safe for concurrent use.
type Source interface {
	Ready() bool
}

// Func adapts a function to a [Source], for instance a check that an
// introspection endpoint answers.
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
	// Interval is how often the sources are polled; a change is reported
	// at most Interval after it happens. The default is 1s.
	Interval time.Duration
}

// A Watcher sets health statuses from its sources until it is closed. It
// starts a goroutine: call [Watcher.Close]. Its methods are safe for
// concurrent use.
type Watcher struct {
	cfg  Config
	stop chan struct{}
	done chan struct{}
	once sync.Once

	mu      sync.Mutex
	serving bool // guarded by mu; the status last set
}

// Watch sets the statuses of cfg.Services to NOT_SERVING or SERVING from
// the sources at once, then starts polling them every cfg.Interval.
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
	w := &Watcher{cfg: cfg, stop: make(chan struct{}), done: make(chan struct{})}
	w.update(true)
	go w.loop()
	return w, nil
}

func (w *Watcher) loop() {
	defer close(w.done)
	t := time.NewTicker(w.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			w.update(false)
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

// Close stops polling and waits for the goroutine to end. The statuses
// stay as last set; at shutdown, health.Server.Shutdown sets them all to
// NOT_SERVING. Close always returns nil; calling it again does nothing.
func (w *Watcher) Close() error {
	w.once.Do(func() { close(w.stop) })
	<-w.done
	return nil
}
