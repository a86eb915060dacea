package fleetsim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/verify"
)

// Config describes one simulated fleet.
type Config struct {
	// Replicas is the number of replicas. Required.
	Replicas int
	// Deploy is the window in which the replicas start, each at a random
	// whole second of it. The default is 10s; it must be at least 1s.
	Deploy time.Duration
	// CacheControl is the Cache-Control header of the JWKS. The default is
	// "max-age=3600".
	CacheControl string
	// Traffic is how often each replica handles a call, at a random phase
	// of its own. The default is 1m; it must be at least 1s.
	Traffic time.Duration
	// Opaque makes the replicas verify opaque tokens by introspection
	// instead of JWTs; OpaqueTokens is how many distinct tokens the
	// clients use, each call picking one at random (default 1).
	Opaque       bool
	OpaqueTokens int
	// SharedCache gives every replica's Introspection one shared
	// second-level cache (IntrospectionConfig.SharedCache): an
	// [oauthtest.SharedStore], the in-memory model of what redisstore
	// keeps in Redis, with the same atomic operations and expiry.
	SharedCache bool
	// Seed seeds the simulation's own choices (start times, phases, token
	// picks); the key sets' jitter is random.
	Seed uint64
}

// An Outcome counts what the replicas answered.
type Outcome struct {
	// Answered counts calls with a legitimate token that the replica
	// answered: keys found, or the opaque token's claims.
	Answered int
	// Unavailable counts calls that got [verify.ErrUnavailable].
	Unavailable int
	// FalseRejections counts calls with a legitimate token that the
	// replica rejected as invalid: signed by a key the authorization
	// server publishes, or an active opaque token.
	FalseRejections int
	// Flood counts calls with a made-up kid; FloodRejected those rejected
	// as invalid, as they should be.
	Flood, FloodRejected int
}

// A Sim is a fleet of replicas and their authorization server, inside a
// synctest bubble. Its methods must be called from the bubble's test
// goroutine.
type Sim struct {
	// Issuer is the fleet's authorization server, for faults and headers.
	Issuer *oauthtest.Issuer

	t        testing.TB
	cfg      Config
	start    time.Time
	now      time.Duration // the driver's position
	rng      *rand.Rand
	replicas []*replica
	rec      *recorder
	slots    [][]*replica // by second of the traffic period
	out      Outcome

	published map[string]bool // kids the issuer serves
	signing   string          // kid of the tokens clients present
	opaque    []string        // opaque tokens in use

	flood      [][]*replica // by second of the flood period
	floodKids  []string
	floodUntil time.Duration
}

// A replica is one copy of the service: its verifier and its own HTTP
// client.
type replica struct {
	keys     *verify.RemoteKeySet
	intro    *verify.Introspection
	startAt  time.Duration
	requests [numEndpoints]atomic.Int64
}

// New starts a fleet for cfg in the synctest bubble of t. The replicas
// are built but not started: [Sim.RunUntil] starts each at its time.
func New(t testing.TB, cfg Config) *Sim {
	t.Helper()
	if cfg.Replicas <= 0 {
		t.Fatalf("fleetsim.New: Replicas = %d, want > 0", cfg.Replicas)
	}
	if cfg.Deploy == 0 {
		cfg.Deploy = 10 * time.Second
	}
	if cfg.CacheControl == "" {
		cfg.CacheControl = "max-age=3600"
	}
	if cfg.Traffic == 0 {
		cfg.Traffic = time.Minute
	}
	if cfg.Deploy < time.Second || cfg.Traffic < time.Second {
		t.Fatalf("fleetsim.New: Deploy = %v, Traffic = %v; the simulation steps by seconds", cfg.Deploy, cfg.Traffic)
	}
	if cfg.OpaqueTokens <= 0 {
		cfg.OpaqueTokens = 1
	}
	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{InMemory: true})
	iss.SetHeader(oauthtest.EndpointJWKS, "Cache-Control", cfg.CacheControl)
	s := &Sim{
		t:      t,
		cfg:    cfg,
		Issuer: iss,
		start:  time.Now(),
		rng:    rand.New(rand.NewPCG(cfg.Seed, 20)), //nolint:gosec // G404: simulation, not a secret
		rec:    newRecorder(iss),
		slots:  make([][]*replica, cfg.Traffic/time.Second),
	}
	s.keysChanged()
	for range cfg.OpaqueTokens {
		s.opaque = append(s.opaque, iss.OpaqueToken(t, oauthtest.Token{Lifetime: 48 * time.Hour}))
	}
	var shared verify.IntrospectionCache
	if cfg.SharedCache {
		shared = oauthtest.NewSharedStore(nil) // the bubble's clock
	}
	deploySeconds := int(cfg.Deploy / time.Second)
	for range cfg.Replicas {
		r := &replica{startAt: time.Duration(s.rng.IntN(deploySeconds)) * time.Second}
		client := &http.Client{Transport: &countingTransport{next: iss.Client().Transport, rec: s.rec, r: r}}
		var err error
		if cfg.Opaque {
			r.intro, err = verify.NewIntrospection(verify.IntrospectionConfig{
				Endpoint:     iss.EndpointURL(oauthtest.EndpointIntrospection),
				ClientID:     iss.ClientID,
				ClientSecret: verify.Secret(iss.ClientSecret),
				Audiences:    []string{oauthtest.DefaultAudience},
				HTTPClient:   client,
				SharedCache:  shared,
			})
		} else {
			r.keys, err = verify.NewRemoteKeySet(verify.RemoteKeySetConfig{Issuer: iss.URL, HTTPClient: client})
		}
		if err != nil {
			t.Fatalf("fleetsim.New: %v", err)
		}
		s.replicas = append(s.replicas, r)
		slot := s.rng.IntN(len(s.slots))
		s.slots[slot] = append(s.slots[slot], r)
	}
	t.Cleanup(s.Close)
	return s
}

// Close stops every replica. It is idempotent.
func (s *Sim) Close() {
	for _, r := range s.replicas {
		if r.keys != nil {
			_ = r.keys.Close()
		}
	}
}

// Now returns how much simulated time has passed since the fleet was built.
func (s *Sim) Now() time.Duration { return s.now }

// Outcome returns what the replicas answered so far.
func (s *Sim) Outcome() Outcome { return s.out }

// RunUntil runs the fleet from its current time until simulated time end,
// second by second: each replica starts at its time with a first call
// (which makes its key set fetch, as a server's first request does) and
// then handles a call every Traffic; the flood, if any, adds its calls.
func (s *Sim) RunUntil(end time.Duration) {
	for ; s.now < end; s.now += time.Second {
		time.Sleep(time.Until(s.start.Add(s.now)))
		sec := int(s.now / time.Second)
		if s.now < s.cfg.Deploy {
			for _, r := range s.replicas {
				if r.startAt == s.now {
					s.call(r)
				}
			}
		}
		for _, r := range s.slots[sec%len(s.slots)] {
			if r.startAt < s.now {
				s.call(r)
			}
		}
		if s.now < s.floodUntil {
			for _, r := range s.flood[sec%len(s.flood)] {
				s.floodCall(r)
			}
		}
	}
}

// call has replica r handle one call with a legitimate token.
func (s *Sim) call(r *replica) {
	ctx := context.Background()
	if r.intro != nil {
		tok := s.opaque[s.rng.IntN(len(s.opaque))]
		_, err := r.intro.Verify(ctx, tok)
		s.count(err, true)
		return
	}
	_, err := r.keys.Keys(ctx, s.signing)
	s.count(err, s.published[s.signing])
}

// count records the answer err to a call whose token the authorization
// server vouches for if legit.
func (s *Sim) count(err error, legit bool) {
	switch {
	case err == nil:
		s.out.Answered++
	case errors.Is(err, verify.ErrUnavailable):
		s.out.Unavailable++
	case legit:
		s.out.FalseRejections++
	}
}

// floodCall has replica r handle a call with a made-up kid.
func (s *Sim) floodCall(r *replica) {
	s.out.Flood++
	_, err := r.keys.Keys(context.Background(), s.floodKids[s.rng.IntN(len(s.floodKids))])
	switch {
	case errors.Is(err, verify.ErrInvalidToken):
		s.out.FloodRejected++
	case errors.Is(err, verify.ErrUnavailable):
		s.out.Unavailable++
	}
}

// Flood makes every replica receive, from now until until, a token with a
// made-up kid every period, at a random phase of its own.
func (s *Sim) Flood(period, until time.Duration) {
	s.flood = make([][]*replica, period/time.Second)
	for _, r := range s.replicas {
		slot := s.rng.IntN(len(s.flood))
		s.flood[slot] = append(s.flood[slot], r)
	}
	s.floodKids = nil
	for i := range 16 {
		s.floodKids = append(s.floodKids, fmt.Sprintf("made-up-%d", i))
	}
	s.floodUntil = until
}

// PublishNextKeys makes the issuer publish its next key
// ([oauthtest.Issuer.PublishNextKeys]); clients keep presenting tokens
// signed by the current one.
func (s *Sim) PublishNextKeys() { s.Issuer.PublishNextKeys(); s.keysChanged() }

// RotateKeys rotates the issuer's key ([oauthtest.Issuer.RotateKeys]);
// from now on clients present tokens signed by the new key.
func (s *Sim) RotateKeys() { s.Issuer.RotateKeys(); s.keysChanged() }

// keysChanged reads which kids the issuer publishes and which one signs.
func (s *Sim) keysChanged() {
	s.published = map[string]bool{}
	for _, k := range s.Issuer.JWKS().Keys {
		s.published[k.KeyID] = true
	}
	tok := s.Issuer.Token(s.t)
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil || len(jws.Signatures) != 1 {
		s.t.Fatalf("fleetsim: cannot read the kid of the issuer's token: %v", err)
	}
	s.signing = jws.Signatures[0].Header.KeyID
}

// ReplicaRequests returns how many requests each replica has sent to
// endpoint e so far.
func (s *Sim) ReplicaRequests(e oauthtest.Endpoint) []int64 {
	out := make([]int64, len(s.replicas))
	if slot(e) < 0 {
		return out
	}
	for i, r := range s.replicas {
		out[i] = r.requests[slot(e)].Load()
	}
	return out
}

// Stats returns the load on endpoint e in the simulated window [from, to).
func (s *Sim) Stats(e oauthtest.Endpoint, from, to time.Duration) Stats {
	return s.rec.stats(e, from, to)
}

// endpoints are the oauthtest endpoints counted; the counters of one are
// at its index.
var endpoints = [...]oauthtest.Endpoint{ //nolint:gochecknoglobals // static data
	oauthtest.EndpointJWKS, oauthtest.EndpointOAuthMetadata, oauthtest.EndpointOpenIDConfiguration, oauthtest.EndpointIntrospection,
}

// numEndpoints is the number of oauthtest endpoints counted.
const numEndpoints = len(endpoints)

// slot returns the index of e's counters, or -1 for an endpoint not
// counted.
func slot(e oauthtest.Endpoint) int {
	for i, x := range endpoints {
		if x == e {
			return i
		}
	}
	return -1
}

// A countingTransport counts each request of one replica, for the replica
// and per simulated second, then passes it on.
type countingTransport struct {
	next http.RoundTripper
	rec  *recorder
	r    *replica
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if e, ok := t.rec.endpoint(req.URL.Path); ok {
		t.r.requests[slot(e)].Add(1)
		t.rec.add(e, time.Now())
	}
	return t.next.RoundTrip(req)
}

// A recorder counts requests per endpoint and simulated second.
type recorder struct {
	paths map[string]oauthtest.Endpoint
	start time.Time

	mu   sync.Mutex
	bins [numEndpoints][]int32 // guarded by mu
}

func newRecorder(iss *oauthtest.Issuer) *recorder {
	rec := &recorder{paths: map[string]oauthtest.Endpoint{}, start: time.Now()}
	// Requests made at a whole simulated second fall in that second's bin.
	for _, e := range endpoints {
		req, err := http.NewRequest(http.MethodGet, iss.EndpointURL(e), nil)
		if err == nil {
			rec.paths[req.URL.Path] = e
		}
	}
	return rec
}

func (rec *recorder) endpoint(path string) (oauthtest.Endpoint, bool) {
	e, ok := rec.paths[path]
	return e, ok
}

func (rec *recorder) add(e oauthtest.Endpoint, at time.Time) {
	sec := int(at.Sub(rec.start) / time.Second)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	b := rec.bins[slot(e)]
	for len(b) <= sec {
		b = append(b, 0)
	}
	b[sec]++
	rec.bins[slot(e)] = b
}
