package interceptor_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/oauthgate/oauthgate/interceptor"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/verify"
)

// Key-set faults under traffic. Every test runs in a testing/synctest
// bubble, with the issuer in memory and gRPC on bufconn: HTTP timeouts and
// background retries run on the bubble's fake time, so they take no real
// time and do not depend on the machine's speed, and the bubble fails a
// test that leaves a goroutine behind. The key set's own clock is a
// settable oauthtest.Clock: cooldowns and the stale window pass when a
// test says so.
const (
	faultTimeout  = 300 * time.Millisecond // RemoteKeySetConfig.Timeout
	faultCooldown = 30 * time.Second       // UnknownKeyCooldown
	// MaxStale, shorter than the JWT verifier's default 5m cache lifetime,
	// so that a cached token meets a stale key set.
	faultMaxStale = 2 * time.Minute
	faultRefresh  = time.Minute // MinRefresh = MaxRefresh
)

var unavailable = attackOutcome{code: codes.Unavailable, reason: interceptor.ReasonUnavailable,
	desc: "the access token cannot be verified right now; retry later"}

// faultFixture is a gate over a JWT verifier whose RemoteKeySet fetches an
// oauthtest issuer's JWKS, served by grpc on bufconn.
type faultFixture struct {
	clock   *oauthtest.Clock
	iss     *oauthtest.Issuer
	keys    *verify.RemoteKeySet
	client  testpb.LibraryServiceClient
	reached atomic.Int64
}

// newFaultFixture returns a fixture whose key set has the given MaxStale.
// It must be called inside a synctest bubble.
func newFaultFixture(t *testing.T, maxStale time.Duration) *faultFixture {
	t.Helper()
	f := &faultFixture{clock: oauthtest.NewClock(time.Now())}
	f.iss = oauthtest.NewIssuer(t, oauthtest.IssuerConfig{Now: f.clock.Now, InMemory: true})
	keys, err := verify.NewRemoteKeySet(verify.RemoteKeySetConfig{
		URL: f.iss.EndpointURL(oauthtest.EndpointJWKS), HTTPClient: f.iss.Client(), Timeout: faultTimeout,
		MinRefresh: faultRefresh, MaxRefresh: faultRefresh, MaxStale: maxStale,
		UnknownKeyCooldown: faultCooldown, Now: f.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = keys.Close() })
	f.keys = keys
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: f.iss.URL, Audiences: []string{oauthtest.DefaultAudience}, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	gate, err := interceptor.New(jwt, newPolicy(t))
	if err != nil {
		t.Fatal(err)
	}
	conn := startServer(t, serverConfig{
		unary: []grpc.UnaryServerInterceptor{gate.Unary, func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			f.reached.Add(1)
			return h(ctx, req)
		}},
		streamIC: []grpc.StreamServerInterceptor{gate.Stream, func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			f.reached.Add(1)
			return h(srv, ss)
		}},
	})
	f.client = testpb.NewLibraryServiceClient(conn)
	return f
}

// valid mints a valid token signed by the issuer's current key.
func (f *faultFixture) valid(t testing.TB) string {
	t.Helper()
	return f.iss.Token(t, oauthtest.Token{Scopes: allScopes})
}

// unknownKid mints a well-signed token whose kid the JWKS does not list.
func (f *faultFixture) unknownKid(t testing.TB, n int) string {
	t.Helper()
	return f.iss.Token(t, oauthtest.Token{Scopes: allScopes, KeyID: fmt.Sprintf("made-up-%d", n)})
}

// ready makes the key set fetch the healthy JWKS once.
func (f *faultFixture) ready(t *testing.T) {
	t.Helper()
	if err := f.keys.WaitReady(testContext(t)); err != nil {
		t.Fatalf("WaitReady() = %v", err)
	}
}

// call makes one RPC of kind k (alternating unary and streams) and returns
// its outcome.
func (f *faultFixture) call(t *testing.T, k int, tok string) result {
	return rpcKinds[k%len(rpcKinds)].call(withToken(testContext(t), tok), f.client)
}

// burst sends n calls at once, each with token(i), and checks each answer
// with check. It returns how many were OK.
func (f *faultFixture) burst(t *testing.T, n int, token func(i int) string, check func(r result) error) int {
	t.Helper()
	var (
		wg sync.WaitGroup
		ok atomic.Int64
	)
	before := f.reached.Load()
	for i := range n {
		wg.Go(func() {
			r := f.call(t, i, token(i))
			if r.err == nil {
				ok.Add(1)
			}
			if err := check(r); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := f.reached.Load() - before; got != ok.Load() {
		t.Errorf("handler reached %d times, want %d (once per OK answer)", got, ok.Load())
	}
	return int(ok.Load())
}

// is checks that r has one of the outcomes.
func is(outcomes ...attackOutcome) func(r result) error {
	return func(r result) error {
		code := status.Code(r.err)
		for _, o := range outcomes {
			if code != o.code {
				continue
			}
			if o.code == codes.OK {
				return nil
			}
			var reason string
			for _, d := range status.Convert(r.err).Details() {
				if info, ok := d.(interface{ GetReason() string }); ok {
					reason = info.GetReason()
				}
			}
			if reason != o.reason || status.Convert(r.err).Message() != o.desc {
				continue
			}
			if o.code == codes.Unavailable && len(r.wwwAuthenticate()) > 0 {
				return fmt.Errorf("unavailable answer carries a challenge %q: the client would drop a good token", r.wwwAuthenticate())
			}
			return nil
		}
		return fmt.Errorf("answer %v, want one of %v", r.err, outcomes)
	}
}

// TestKeySetFaults switches the JWKS endpoint into each fault after a good
// start, under concurrent traffic: within MaxStale every valid token
// signed by a known key passes, made-up kids fail without flooding the
// endpoint, and after MaxStale every answer is Unavailable, never
// invalid_token. Clearing the fault recovers.
func TestKeySetFaults(t *testing.T) {
	faults := map[string]oauthtest.Fault{
		"Down":    {Down: true},
		"500":     {Status: http.StatusInternalServerError},
		"503":     {Status: http.StatusServiceUnavailable},
		"Slow":    {Delay: 10 * faultTimeout},
		"Garbage": {Garbage: true},
		"Huge":    {Huge: true},
	}
	for name, fault := range faults {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) { testKeySetFault(t, fault) })
		})
	}
}

func testKeySetFault(t *testing.T, fault oauthtest.Fault) {
	f := newFaultFixture(t, faultMaxStale)
	f.ready(t)
	// Valid throughout, and verified before the fault.
	known := f.iss.Token(t, oauthtest.Token{Scopes: allScopes, Lifetime: time.Hour})
	if err := is(allowed)(f.call(t, 0, known)); err != nil {
		t.Fatal(err)
	}
	f.iss.SetFault(oauthtest.EndpointJWKS, fault)
	f.clock.Advance(faultCooldown + time.Second) // demand fetches allowed again

	// Within the stale window: known key passes, made-up kids fail
	// (unavailable while the fetch they cause fails, unknown key
	// while rate limited), and cost at most one demand fetch.
	base := f.iss.Requests(oauthtest.EndpointJWKS)
	n := f.burst(t, 40, func(i int) string {
		if i%2 == 0 {
			return known
		}
		return f.unknownKid(t, i)
	}, is(allowed, rejected(descUnknownKey), unavailable))
	if n != 20 {
		t.Errorf("%d calls passed, want the 20 with a known key", n)
	}
	// One demand fetch; the background retries wait for time that
	// has not passed.
	if got := f.iss.Requests(oauthtest.EndpointJWKS) - base; got != 1 {
		t.Errorf("20 made-up kids caused %d JWKS requests, want 1", got)
	}

	// Past MaxStale the keys may have been withdrawn: nothing
	// passes, not even a token verified (and perhaps cached)
	// before, and the answer blames the key set, not the token.
	f.clock.Advance(faultMaxStale)
	fresh := f.valid(t)
	f.burst(t, 30, func(i int) string {
		switch i % 3 {
		case 0:
			return known
		case 1:
			return fresh
		}
		return f.unknownKid(t, i)
	}, is(unavailable))

	// Recovery: the next demand fetch succeeds.
	f.iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{})
	f.clock.Advance(faultCooldown + time.Second)
	if n := f.burst(t, 8, func(int) string { return fresh }, is(allowed)); n != 8 {
		t.Errorf("after recovery %d of 8 calls passed", n)
	}
}

// TestKeySetDownAtStart starts with the JWKS endpoint down: calls are
// Unavailable (never invalid_token) and share one fetch, until the endpoint
// comes back.
func TestKeySetDownAtStart(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		f := newFaultFixture(t, faultMaxStale)
		f.iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{Down: true})
		tok := f.valid(t)
		f.burst(t, 30, func(int) string { return tok }, is(unavailable))
		// The first call's fetch and the background loop's first attempt,
		// which shares it or follows it.
		if got := f.iss.Requests(oauthtest.EndpointJWKS); got > 2 {
			t.Errorf("30 calls while down caused %d JWKS requests, want at most 2", got)
		}
		if f.keys.Ready() {
			t.Fatal("Ready() = true with the endpoint down")
		}
		f.iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{})
		f.clock.Advance(faultCooldown + time.Second)
		if n := f.burst(t, 8, func(int) string { return tok }, is(allowed)); n != 8 {
			t.Errorf("after the endpoint came back %d of 8 calls passed", n)
		}
	})
}

// TestKeySetFlapping flips the JWKS endpoint between faults and health,
// sending a burst of valid and made-up-kid tokens in each state and moving
// time past a cooldown and a retry between states: a valid token never
// fails, a made-up kid never passes.
func TestKeySetFlapping(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		f := newFaultFixture(t, time.Hour) // the whole run stays within it
		f.ready(t)
		// Streams end at exp by the bubble's time, which moves too.
		known := f.iss.Token(t, oauthtest.Token{Scopes: allScopes, Lifetime: time.Hour})
		sequence := []oauthtest.Fault{
			{Down: true}, {}, {Status: http.StatusBadGateway}, {Garbage: true}, {},
			{Delay: 2 * faultTimeout}, {Huge: true}, {}, {Down: true},
		}
		base := f.iss.Requests(oauthtest.EndpointJWKS)
		for step, fault := range sequence {
			f.iss.SetFault(oauthtest.EndpointJWKS, fault)
			f.clock.Advance(faultCooldown + time.Second)
			n := f.burst(t, 18, func(i int) string {
				if i%3 == 2 {
					return f.unknownKid(t, step*1000+i)
				}
				return known
			}, func(r result) error {
				return is(allowed, rejected(descUnknownKey), unavailable)(r)
			})
			if n != 12 {
				t.Errorf("step %d (%v): %d calls passed, want the 12 with the known key", step, fault, n)
			}
			// Let the background loop retry (backoff 1s, then 2s), as time
			// would between two states.
			time.Sleep(2 * time.Second) // fake time: the bubble's clock jumps
		}
		// At most one demand fetch per cooldown (one per step) plus two
		// background retries per step.
		if got, limit := f.iss.Requests(oauthtest.EndpointJWKS)-base, 3*len(sequence); got > limit {
			t.Errorf("%d JWKS requests over %d cooldowns, want at most %d", got, len(sequence), limit)
		}
	})
}

// TestKeySetRotationUnderLoad rotates the issuer's keys and then sends
// tokens of the new and of the removed key at once: every new-key call
// passes (concurrent callers share the one fetch that finds the key), an
// old-key call passes or fails as an unknown key depending on whether it
// came before that fetch, and once the fetch is done every old-key call is
// invalid_token. Nothing is ever Unavailable.
func TestKeySetRotationUnderLoad(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		f := newFaultFixture(t, faultMaxStale)
		f.ready(t)
		old := f.valid(t)
		if n := f.burst(t, 16, func(int) string { return old }, is(allowed)); n != 16 {
			t.Fatalf("before the rotation %d of 16 old-key calls passed", n)
		}

		f.iss.RotateKeys()
		f.clock.Advance(faultCooldown + time.Second)
		fresh := f.valid(t)
		base := f.iss.Requests(oauthtest.EndpointJWKS)
		n := f.burst(t, 32, func(i int) string {
			if i%2 == 0 {
				return fresh
			}
			return old
		}, is(allowed, rejected(descUnknownKey)))
		// The 16 new-key calls pass; old-key calls may pass before the fetch.
		if n < 16 {
			t.Errorf("during the rotation %d of 32 calls passed, want at least the 16 new-key calls", n)
		}
		if got := f.iss.Requests(oauthtest.EndpointJWKS) - base; got != 1 {
			t.Errorf("the rotation cost %d JWKS requests, want 1 shared by every caller", got)
		}
		if n := f.burst(t, 8, func(int) string { return fresh }, is(allowed)); n != 8 {
			t.Errorf("after the rotation %d of 8 new-key calls passed", n)
		}
		f.burst(t, 8, func(int) string { return old }, is(rejected(descUnknownKey)))
	})
}
