package verify

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/oauthtest"
)

const remoteTestTimeout = 10 * time.Second

// remoteStart is where the remote tests' clocks start.
var remoteStart = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// newRemoteIssuer returns an in-memory issuer, so that a key set using its
// client can run inside a synctest bubble. Its JWKS is fresh for an hour,
// so that background refreshes stay out of a test's way unless it moves
// time that far.
func newRemoteIssuer(t testing.TB, opts ...oauthtest.IssuerConfig) *oauthtest.Issuer {
	t.Helper()
	iss := oauthtest.NewIssuer(t, append([]oauthtest.IssuerConfig{{InMemory: true}}, opts...)...)
	iss.SetHeader(oauthtest.EndpointJWKS, "Cache-Control", "max-age=3600")
	return iss
}

// newTestRemote builds a key set for iss's JWKS (unless cfg names a URL or
// an issuer) with iss's client and cfg's other fields, closed at the end
// of the test. Backoff retries are pushed out of the test's reach unless
// the test sets r.jitter itself before the first Keys call, refreshes are
// due at the end of their window (95% of the lifetime) unless it sets
// r.between, and every cooldown is UnknownKeyCooldown unless it sets
// r.floodCooldown.
func newTestRemote(t testing.TB, iss *oauthtest.Issuer, cfg RemoteKeySetConfig) *RemoteKeySet {
	t.Helper()
	if cfg.URL == "" && cfg.Issuer == "" {
		cfg.URL = iss.EndpointURL(oauthtest.EndpointJWKS)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = iss.Client()
	}
	cfg.InsecureAllowHTTP = true
	if cfg.Timeout == 0 {
		// A loaded CI machine can take seconds to answer on loopback:
		// only the test's context bounds a fetch, unless a test sets one.
		cfg.Timeout = remoteTestTimeout
	}
	r, err := NewRemoteKeySet(cfg)
	if err != nil {
		t.Fatalf("NewRemoteKeySet() error = %v", err)
	}
	r.jitter = func(time.Duration) time.Duration { return time.Hour }
	r.between = func(_, hi time.Duration) time.Duration { return hi }
	r.floodCooldown = func(d time.Duration) time.Duration { return d }
	t.Cleanup(func() { r.Close() })
	return r
}

func remoteTestContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), remoteTestTimeout)
	t.Cleanup(cancel)
	return ctx
}

// elapse moves a synctest bubble's fake time on by d and waits until every
// goroutine of the bubble is blocked again. It takes no real time.
func elapse(d time.Duration) {
	time.Sleep(d) // fake time: the bubble's clock jumps when all goroutines block
	synctest.Wait()
}

// kids returns the key IDs iss currently serves.
func kids(iss *oauthtest.Issuer) []string {
	var out []string
	for _, k := range iss.JWKS().Keys {
		out = append(out, k.KeyID)
	}
	return out
}

func remoteWantKID(t testing.TB, r *RemoteKeySet, ctx context.Context, kid string) {
	t.Helper()
	keys, err := r.Keys(ctx, kid)
	if err != nil {
		t.Fatalf("Keys(%q) error = %v, want nil", kid, err)
	}
	if len(keys) != 1 || keys[0].KeyID != kid || !keys[0].IsPublic() {
		t.Fatalf("Keys(%q) = %d keys, want the public key %q", kid, len(keys), kid)
	}
}

func remoteWantErr(t testing.TB, r *RemoteKeySet, ctx context.Context, kid string, want error) error {
	t.Helper()
	_, err := r.Keys(ctx, kid)
	if !errors.Is(err, want) {
		t.Fatalf("Keys(%q) error = %v, want %v", kid, err, want)
	}
	return err
}

func remoteWantRequests(t testing.TB, iss *oauthtest.Issuer, want int) {
	t.Helper()
	if got := iss.Requests(oauthtest.EndpointJWKS); got != want {
		t.Fatalf("JWKS endpoint saw %d requests, want %d", got, want)
	}
}

func TestRemoteKeySet_FetchOnDemand(t *testing.T) {
	t.Parallel()
	ctx := remoteTestContext(t)
	iss := newRemoteIssuer(t)
	iss.Token(t, oauthtest.Token{Algorithm: jose.EdDSA}) // a second key
	r := newTestRemote(t, iss, RemoteKeySetConfig{Now: oauthtest.NewClock(remoteStart).Now})

	remoteWantRequests(t, iss, 0) // the constructor does no network I/O
	if r.Ready() {
		t.Fatal("Ready() = true before any fetch")
	}
	ids := kids(iss)
	remoteWantKID(t, r, ctx, ids[0])
	remoteWantRequests(t, iss, 1)
	for range 100 {
		for _, kid := range ids {
			remoteWantKID(t, r, ctx, kid)
		}
	}
	all, err := r.Keys(ctx, "")
	if err != nil || len(all) != 2 {
		t.Fatalf(`Keys("") = %d keys, %v; want 2, nil`, len(all), err)
	}
	remoteWantRequests(t, iss, 1) // known kids never fetch
	if !r.Ready() {
		t.Fatal("Ready() = false after a good fetch")
	}

	// Private keys in the document are served as their public half.
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: priv, KeyID: "k3", Algorithm: "EdDSA", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{Status: http.StatusOK, ContentType: "application/jwk-set+json", Body: string(doc)})
	remoteWantKID(t, newTestRemote(t, iss, RemoteKeySetConfig{}), ctx, "k3")
}

func TestRemoteKeySet_Rotation(t *testing.T) {
	t.Parallel()
	ctx := remoteTestContext(t)
	clock := oauthtest.NewClock(remoteStart)
	iss := newRemoteIssuer(t)
	r := newTestRemote(t, iss, RemoteKeySetConfig{Now: clock.Now, UnknownKeyCooldown: time.Minute})
	old := kids(iss)[0]
	remoteWantKID(t, r, ctx, old)
	remoteWantRequests(t, iss, 1)

	// The server rotates: a new key replaces the old one. Within the
	// cooldown of the first fetch, the new kid fails fast.
	iss.RotateKeys()
	rotated := kids(iss)[0]
	remoteWantErr(t, r, ctx, rotated, ErrUnknownKey)
	remoteWantRequests(t, iss, 1)

	// Once the cooldown has passed, the first token signed with the new
	// key costs exactly one fetch.
	clock.Advance(time.Minute)
	remoteWantKID(t, r, ctx, rotated)
	remoteWantRequests(t, iss, 2)
	remoteWantKID(t, r, ctx, rotated)
	remoteWantRequests(t, iss, 2)

	// The old key left the document, so it left the set; asking again
	// within the cooldown does not fetch.
	err := remoteWantErr(t, r, ctx, old, ErrUnknownKey)
	var te *TokenError
	if !errors.As(err, &te) || te.Claim != "kid" || !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("Keys(old) error = %#v, want a *TokenError for kid", err)
	}
	remoteWantRequests(t, iss, 2)
}

func TestRemoteKeySet_UnknownKidFlood(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx := remoteTestContext(t)
		clock := oauthtest.NewClock(remoteStart)
		iss := newRemoteIssuer(t)
		r := newTestRemote(t, iss, RemoteKeySetConfig{Now: clock.Now})

		for _, phase := range []string{"no set yet", "set present"} {
			before := iss.Requests(oauthtest.EndpointJWKS)
			const n = 1000
			var wg sync.WaitGroup
			errs := make(chan error, n)
			start := time.Now()
			for i := range n {
				wg.Go(func() {
					_, err := r.Keys(ctx, fmt.Sprintf("made-up-%d", i))
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			// Fake time: nobody waited on a timer (a cooldown, a backoff).
			if d := time.Since(start); d != 0 {
				t.Errorf("%s: %d concurrent Keys calls took %v of fake time, want 0", phase, n, d)
			}
			if got := iss.Requests(oauthtest.EndpointJWKS) - before; got != 1 {
				t.Errorf("%s: %d unknown kids caused %d fetches, want 1", phase, n, got)
			}
			for err := range errs {
				if !errors.Is(err, ErrUnknownKey) {
					t.Fatalf("%s: Keys(made-up) error = %v, want %v", phase, err, ErrUnknownKey)
				}
			}
			clock.Advance(r.cfg.UnknownKeyCooldown)
		}
		remoteWantKID(t, r, ctx, kids(iss)[0])
	})
}

// TestRemoteKeySet_CooldownAfterFailedFetch checks the answer for a kid the
// held set lacks while the cooldown turns fetches away: unknown (an
// invalid token) only if the last fetch succeeded; after a failed fetch
// the newest set could not be seen, so the answer is unavailable, for
// every call until a fetch succeeds, and the held keys still verify.
func TestRemoteKeySet_CooldownAfterFailedFetch(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx := remoteTestContext(t)
		r, iss, clock := newFloodTestRemote(t)
		if err := r.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
		held := kids(iss)[0]
		iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{Down: true})
		before := iss.Requests(oauthtest.EndpointJWKS)
		for call := range 3 { // the first fetches and fails; the others are turned away
			_, err := r.Keys(ctx, "rotated-meanwhile")
			if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrUnknownKey) {
				t.Fatalf("call %d: Keys(kid missing, fetch failed) error = %v, want %v only", call, err, ErrUnavailable)
			}
		}
		if got := iss.Requests(oauthtest.EndpointJWKS) - before; got != 1 {
			t.Errorf("%d fetches, want 1 (the cooldown turns the others away)", got)
		}
		remoteWantKID(t, r, ctx, held)

		iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{})
		if _, err := r.Keys(ctx, "rotated-meanwhile"); !errors.Is(err, ErrUnavailable) {
			t.Errorf("within the cooldown, endpoint back: Keys error = %v, want %v (no fetch has succeeded)", err, ErrUnavailable)
		}
		clock.Advance(floodTestCooldown)
		if _, err := r.Keys(ctx, "made-up"); !errors.Is(err, ErrUnknownKey) {
			t.Errorf("after a successful fetch: Keys(made-up) error = %v, want %v", err, ErrUnknownKey)
		}
		if _, err := r.Keys(ctx, "made-up-too"); !errors.Is(err, ErrUnknownKey) {
			t.Errorf("turned away after a successful fetch: Keys error = %v, want %v", err, ErrUnknownKey)
		}
	})
}

// floodTestCooldown is the UnknownKeyCooldown of newFloodTestRemote.
const floodTestCooldown = 30 * time.Second

// newFloodTestRemote returns a key set with an UnknownKeyCooldown of
// floodTestCooldown, its issuer, and the clock it reads, which moves only
// when the test advances it.
func newFloodTestRemote(t *testing.T) (*RemoteKeySet, *oauthtest.Issuer, *oauthtest.Clock) {
	t.Helper()
	clock := oauthtest.NewClock(remoteStart)
	iss := newRemoteIssuer(t)
	return newTestRemote(t, iss, RemoteKeySetConfig{Now: clock.Now, UnknownKeyCooldown: floodTestCooldown}), iss, clock
}

// TestRemoteKeySet_FloodCooldown checks which cooldown follows a fetch
// caused by Keys: exactly UnknownKeyCooldown, unless the cooldown before
// it turned calls away (a flood) and the fetch succeeded; then one drawn
// by floodCooldown for that fetch alone.
func TestRemoteKeySet_FloodCooldown(t *testing.T) {
	t.Parallel()
	const cooldown = floodTestCooldown
	ctx := remoteTestContext(t)
	r, iss, clock := newFloodTestRemote(t)
	draws := []time.Duration{45 * time.Second, 31 * time.Second, 40 * time.Second, time.Minute, time.Minute}
	r.floodCooldown = func(d time.Duration) time.Duration {
		if d != cooldown {
			t.Errorf("floodCooldown(%v), want the configured %v", d, cooldown)
		}
		if len(draws) == 0 {
			t.Fatal("floodCooldown called more often than expected")
		}
		next := draws[0]
		draws = draws[1:]
		return next
	}
	requests := 0
	// fetchesAfter moves the clock on by d and reports whether a made-up
	// kid then causes a fetch.
	fetchesAfter := func(d time.Duration) bool {
		t.Helper()
		clock.Advance(d)
		_, err := r.Keys(ctx, "made-up")
		if !errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Keys(made-up) error = %v", err)
		}
		n := iss.Requests(oauthtest.EndpointJWKS)
		fetched := n > requests
		requests = n
		return fetched
	}
	steps := []struct {
		step  string
		after time.Duration
		down  bool // the JWKS endpoint fails
		fetch bool
	}{
		{step: "first", fetch: true},
		{step: "within the plain cooldown", after: cooldown - 1}, // turned away: a flood
		{step: "plain cooldown over", after: 1, fetch: true},     // draws 45s
		{step: "within the first draw", after: 44 * time.Second},
		{step: "first draw over", after: time.Second, fetch: true}, // draws 31s
		{step: "within the second draw", after: 30 * time.Second},
		// A flood, but the fetch fails: the next one, which may find the
		// server back, stays the plain cooldown away.
		{step: "second draw over, server down", after: time.Second, down: true, fetch: true},
		{step: "within the plain cooldown after a failure", after: cooldown - 1, down: true},
		{step: "plain cooldown after a failure over", after: 1, fetch: true}, // a flood: draws 40s
		{step: "within the third draw", after: 39 * time.Second},
		{step: "third draw over", after: time.Second, fetch: true}, // a flood: draws again
		// Nothing turned away during that cooldown: the next is plain.
		{step: "no flood", after: time.Hour, fetch: true},
		{step: "within the plain cooldown again", after: cooldown - 1},
		{step: "plain cooldown over again", after: 1, fetch: true}, // a flood: draws
	}
	for _, st := range steps {
		if st.down {
			iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{Down: true})
		} else {
			iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{})
		}
		if got := fetchesAfter(st.after); got != st.fetch {
			t.Fatalf("%s: fetched = %v, want %v", st.step, got, st.fetch)
		}
	}
	if len(draws) != 0 {
		t.Errorf("%d cooldowns left undrawn", len(draws))
	}
}

// TestRemoteKeySet_FloodCooldownDrawn floods a key set with its default
// floodCooldown with a made-up kid every second: fetches come at least
// UnknownKeyCooldown apart, never in step with it.
func TestRemoteKeySet_FloodCooldownDrawn(t *testing.T) {
	t.Parallel()
	const cooldown = floodTestCooldown
	ctx := remoteTestContext(t)
	r, iss, clock := newFloodTestRemote(t)
	r.floodCooldown = spreadCooldown
	var fetchedAt []time.Time
	for len(fetchedAt) < 20 {
		before := iss.Requests(oauthtest.EndpointJWKS)
		remoteWantErr(t, r, ctx, "made-up", ErrUnknownKey)
		if iss.Requests(oauthtest.EndpointJWKS) > before {
			fetchedAt = append(fetchedAt, clock.Now())
		}
		clock.Advance(time.Second)
	}
	gaps := map[time.Duration]bool{}
	for i := 1; i < len(fetchedAt); i++ {
		gap := fetchedAt[i].Sub(fetchedAt[i-1])
		if gap < cooldown || gap > 2*cooldown+time.Second {
			t.Errorf("fetch %d came %v after the previous one, want within [%v, %v]", i, gap, cooldown, 2*cooldown+time.Second)
		}
		gaps[gap] = true
	}
	// The first two are a plain cooldown apart; the others drawn, each
	// its own, to the second: 16 values.
	if len(gaps) < 3 {
		t.Errorf("fetches came %v apart, want varied gaps", gaps)
	}
}

func TestRemoteKeySet_DownAtStartRecovers(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx := remoteTestContext(t)
		iss := newRemoteIssuer(t)
		iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{Down: true})
		r := newTestRemote(t, iss, RemoteKeySetConfig{MinRefresh: 20 * time.Millisecond, MaxRefresh: time.Hour})
		delays := make(chan time.Duration, 100)
		r.jitter = func(d time.Duration) time.Duration { return d }
		r.onSchedule = func(d time.Duration) { delays <- d }

		kid := kids(iss)[0]
		err := remoteWantErr(t, r, ctx, kid, ErrUnavailable)
		var ue *UnavailableError
		if !errors.As(err, &ue) || ue.Op != "fetch JWKS" || ue.Err == nil || errors.Is(err, ErrInvalidToken) {
			t.Fatalf("Keys() error = %#v, want an *UnavailableError with a cause", err)
		}
		if !strings.Contains(err.Error(), iss.EndpointURL(oauthtest.EndpointJWKS)) {
			t.Errorf("Keys() error = %q, want it to name the URL", err)
		}
		// Within the cooldown, Keys does not fetch but reports the outage.
		synctest.Wait()
		n := iss.Requests(oauthtest.EndpointJWKS)
		remoteWantErr(t, r, ctx, kid, ErrUnavailable)
		if r.Ready() {
			t.Fatal("Ready() = true while the endpoint is down")
		}
		// The background loop retries with backoff from min(1s, MinRefresh),
		// capped at MinRefresh: every 20ms here.
		elapse(20 * time.Millisecond)
		elapse(20 * time.Millisecond)
		if got := iss.Requests(oauthtest.EndpointJWKS); got != n+2 {
			t.Fatalf("after 40ms, %d requests, want %d: one retry per 20ms", got, n+2)
		}
		for len(delays) > 0 {
			if d := <-delays; d != 20*time.Millisecond {
				t.Fatalf("retry delay = %v, want 20ms", d)
			}
		}
		iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{})
		if err := r.WaitReady(ctx); err != nil {
			t.Fatalf("WaitReady() = %v, want nil once the endpoint is up", err)
		}
		remoteWantKID(t, r, ctx, kid)
	})
}

// TestRemoteKeySet_CallerDeadline checks that Keys and WaitReady return at
// the caller's deadline, with ErrUnavailable wrapping the deadline error,
// whatever the endpoint does.
func TestRemoteKeySet_CallerDeadline(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		fault    oauthtest.Fault
		call     func(ctx context.Context, r *RemoteKeySet) error
		deadline time.Duration
		wantText string // in the error: the last fetch error, say
	}{
		"WaitReadyWhileFailing": {
			fault:    oauthtest.Fault{Status: http.StatusInternalServerError},
			call:     func(ctx context.Context, r *RemoteKeySet) error { return r.WaitReady(ctx) },
			deadline: 200 * time.Millisecond,
			wantText: "500",
		},
		"KeysWhileSlow": {
			fault: oauthtest.Fault{Delay: time.Hour},
			call: func(ctx context.Context, r *RemoteKeySet) error {
				_, err := r.Keys(ctx, "k1")
				return err
			},
			deadline: 50 * time.Millisecond,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				iss := newRemoteIssuer(t)
				iss.SetFault(oauthtest.EndpointJWKS, tc.fault)
				r := newTestRemote(t, iss, RemoteKeySetConfig{})
				ctx, cancel := context.WithTimeout(t.Context(), tc.deadline)
				defer cancel()
				start := time.Now()
				err := tc.call(ctx, r)
				if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("error = %v, want ErrUnavailable and DeadlineExceeded", err)
				}
				if !strings.Contains(err.Error(), tc.wantText) {
					t.Errorf("error = %q, want it to contain %q", err, tc.wantText)
				}
				if d := time.Since(start); d != tc.deadline {
					t.Errorf("returned after %v, want at the %v deadline", d, tc.deadline)
				}
			})
		})
	}
}

func TestRemoteKeySet_BadResponsesKeepLastGoodSet(t *testing.T) {
	t.Parallel()
	const js = "application/json"
	tests := map[string]oauthtest.Fault{
		"Down":    {Down: true},
		"500":     {Status: http.StatusInternalServerError},
		"Garbage": {Garbage: true},
		"NotJWKS": {Status: http.StatusOK, ContentType: js, Body: `{"issuer":"https://example.com"}`},
		"NoKeys":  {Status: http.StatusOK, ContentType: js, Body: `{"keys":[{"kty":"oct","kid":"hmac","k":"c2VjcmV0c2VjcmV0c2VjcmV0"}]}`},
		"Huge":    {Huge: true},
		"Slow":    {Delay: time.Hour},
		"HTML":    {Status: http.StatusOK, ContentType: "text/html", Body: `{"keys":[]}`},
		// A redirect to a host the policy forbids.
		"Redirect": {Location: "http://keys.example.com/jwks"},
	}
	for name, fault := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				ctx := remoteTestContext(t)
				clock := oauthtest.NewClock(remoteStart)
				iss := newRemoteIssuer(t)
				r := newTestRemote(t, iss, RemoteKeySetConfig{
					Now:      clock.Now,
					Timeout:  200 * time.Millisecond,
					MaxStale: 2 * time.Hour,
				})
				old := kids(iss)[0]
				remoteWantKID(t, r, ctx, old)

				// The server breaks while rotating. The refetch for the new
				// kid fails: that is "cannot check now", not a bad token.
				iss.RotateKeys()
				rotated := kids(iss)[0]
				iss.SetFault(oauthtest.EndpointJWKS, fault)
				clock.Advance(r.cfg.UnknownKeyCooldown)
				start := time.Now()
				remoteWantErr(t, r, ctx, rotated, ErrUnavailable)
				if d := time.Since(start); d > r.cfg.Timeout {
					t.Errorf("failed fetch took %v, want at most Timeout", d)
				}
				remoteWantRequests(t, iss, 2)
				// The last good set is still served, up to MaxStale after it
				// was fetched.
				remoteWantKID(t, r, ctx, old)
				clock.Advance(2*time.Hour - r.cfg.UnknownKeyCooldown - time.Second)
				remoteWantKID(t, r, ctx, old)
				if !r.Ready() {
					t.Fatal("Ready() = false within MaxStale")
				}
				clock.Advance(time.Second)
				err := remoteWantErr(t, r, ctx, old, ErrUnavailable)
				if errors.Is(err, ErrInvalidToken) {
					t.Fatalf("Keys() error = %v matches ErrInvalidToken", err)
				}
				if r.Ready() {
					t.Fatal("Ready() = true after MaxStale")
				}
				// The endpoint comes back: the set recovers.
				iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{})
				clock.Advance(r.cfg.UnknownKeyCooldown)
				remoteWantKID(t, r, ctx, rotated)
				remoteWantErr(t, r, ctx, old, ErrUnknownKey)
			})
		})
	}
}

// TestRemoteKeySet_RefreshSchedule checks the delay before the background
// refresh: the end of its window, 95% of the lifetime the JWKS response
// announces (see TestCacheLifetime), clamped to [MinRefresh, MaxRefresh] =
// [1m, 1h]. TestRemoteKeySet_RefreshWindows checks the windows.
func TestRemoteKeySet_RefreshSchedule(t *testing.T) {
	t.Parallel()
	const date = "Wed, 02 Jan 2030 03:00:00 GMT"
	tests := map[string]struct {
		headers map[string]string
		want    time.Duration
	}{
		"MaxAge":          {headers: map[string]string{"Cache-Control": "public, max-age=600"}, want: 570 * time.Second},
		"MaxAgeClampedUp": {headers: map[string]string{"Cache-Control": "max-age=5"}, want: 57 * time.Second},
		"MaxAgeClampedDn": {headers: map[string]string{"Cache-Control": "max-age=86400"}, want: 57 * time.Minute},
		"NoStore":         {headers: map[string]string{"Cache-Control": "no-store"}, want: 57 * time.Second},
		// Finding 7: no-store wins wherever it stands.
		"NoStoreLast":   {headers: map[string]string{"Cache-Control": "max-age=3600, no-store"}, want: 57 * time.Second},
		"InvalidMaxAge": {headers: map[string]string{"Cache-Control": "max-age=soon"}, want: 57 * time.Second},
		"MaxAgeMinusAge": {
			headers: map[string]string{"Cache-Control": "max-age=1200", "Age": "600"},
			want:    570 * time.Second,
		},
		"Expires": {
			headers: map[string]string{"Cache-Control": "", "Date": date, "Expires": "Wed, 02 Jan 2030 03:10:00 GMT"},
			want:    570 * time.Second,
		},
		"ExpiresMinusAge": {
			headers: map[string]string{"Cache-Control": "", "Date": date, "Expires": "Wed, 02 Jan 2030 03:20:00 GMT", "Age": "600"},
			want:    570 * time.Second,
		},
		"MaxAgeOverExpires": {
			headers: map[string]string{"Cache-Control": "max-age=300", "Date": date, "Expires": "Wed, 02 Jan 2030 03:10:00 GMT"},
			want:    285 * time.Second,
		},
		"NoHeaders": {headers: map[string]string{"Cache-Control": ""}, want: 57 * time.Minute},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				ctx := remoteTestContext(t)
				iss := newRemoteIssuer(t)
				for h, v := range tc.headers {
					if v == "" {
						iss.SetHeader(oauthtest.EndpointJWKS, h) // drop the issuer's own
					} else {
						iss.SetHeader(oauthtest.EndpointJWKS, h, v)
					}
				}
				r := newTestRemote(t, iss, RemoteKeySetConfig{MinRefresh: time.Minute, MaxRefresh: time.Hour})
				scheduled := make(chan time.Duration, 10)
				r.onSchedule = func(d time.Duration) { scheduled <- d }
				remoteWantKID(t, r, ctx, kids(iss)[0])
				synctest.Wait()
				select {
				case got := <-scheduled:
					if got != tc.want {
						t.Fatalf("refresh scheduled after %v, want %v", got, tc.want)
					}
				default:
					t.Fatal("no refresh scheduled")
				}
				// The refresh happens then, and not before.
				elapse(tc.want - 1)
				remoteWantRequests(t, iss, 1)
				elapse(1)
				remoteWantRequests(t, iss, 2)
			})
		})
	}
}

// TestRemoteKeySet_RefreshWindows checks where in the lifetime each kind
// of good fetch schedules the next refresh: [80%, 95%] after a regular
// refresh, [25%, 95%] after the first fetch, after a fetch caused by Keys
// and after the first success following failures, so that replicas which
// fetched together do not refresh together forever.
func TestRemoteKeySet_RefreshWindows(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()        // fetches are in memory and take no fake time
		iss := newRemoteIssuer(t) // max-age=3600: a lifetime of 1h
		r := newTestRemote(t, iss, RemoteKeySetConfig{MinRefresh: time.Minute, MaxRefresh: time.Hour,
			UnknownKeyCooldown: time.Minute})
		type window struct{ lo, hi time.Duration }
		windows := make(chan window, 10)
		r.between = func(lo, hi time.Duration) time.Duration {
			windows <- window{lo, hi}
			return lo // refresh at the start of the window
		}
		r.jitter = func(d time.Duration) time.Duration { return d }
		spread := window{15 * time.Minute, 57 * time.Minute}
		regular := window{48 * time.Minute, 57 * time.Minute}
		want := func(step string, w window) {
			t.Helper()
			synctest.Wait()
			select {
			case got := <-windows:
				if got != w {
					t.Fatalf("%s: refresh window = %v, want %v", step, got, w)
				}
			default:
				t.Fatalf("%s: no refresh scheduled", step)
			}
		}

		remoteWantKID(t, r, ctx, kids(iss)[0])
		want("first fetch", spread)
		elapse(15 * time.Minute)
		remoteWantRequests(t, iss, 2)
		want("regular refresh", regular)
		elapse(48 * time.Minute)
		remoteWantRequests(t, iss, 3)
		want("second regular refresh", regular)

		// A fetch caused by Keys (an unknown kid) spreads again.
		remoteWantErr(t, r, ctx, "no-such-kid", ErrUnknownKey)
		remoteWantRequests(t, iss, 4)
		want("fetch caused by Keys", spread)

		// The refresh fails; the first success after it spreads again.
		iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{Down: true})
		elapse(15 * time.Minute)
		remoteWantRequests(t, iss, 5)
		iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{})
		elapse(time.Minute) // the first retry, MinRefresh later: the set is usable
		remoteWantRequests(t, iss, 6)
		want("first success after a failure", spread)
		if len(windows) != 0 {
			t.Fatalf("%d unexpected refresh schedules", len(windows))
		}
	})
}

func TestRandBetween(t *testing.T) {
	t.Parallel()
	lo, hi := 48*time.Minute, 57*time.Minute
	minGot, maxGot := hi, lo
	for range 10_000 {
		d := randBetween(lo, hi)
		if d < lo || d > hi {
			t.Fatalf("randBetween(%v, %v) = %v, out of range", lo, hi, d)
		}
		minGot, maxGot = min(minGot, d), max(maxGot, d)
	}
	// Uniform: 10 000 draws come within 1% of the window's ends.
	if slack := (hi - lo) / 100; minGot > lo+slack || maxGot < hi-slack {
		t.Errorf("randBetween(%v, %v) drew only [%v, %v]", lo, hi, minGot, maxGot)
	}
	if got := randBetween(time.Second, time.Second); got != time.Second {
		t.Errorf("randBetween(1s, 1s) = %v, want 1s", got)
	}
}

func TestSpreadCooldown(t *testing.T) {
	t.Parallel()
	const d = 30 * time.Second
	lo, hi := d, 2*d
	minGot, maxGot := hi, lo
	seen := map[time.Duration]bool{}
	for range 10_000 {
		got := spreadCooldown(d)
		if got < lo || got > hi {
			t.Fatalf("spreadCooldown(%v) = %v, want within [%v, %v]: never below the configured cooldown", d, got, lo, hi)
		}
		minGot, maxGot = min(minGot, got), max(maxGot, got)
		seen[got] = true
	}
	// Each call draws its own: replicas that met a flood together leave
	// their cooldowns at different times.
	if slack := (hi - lo) / 100; minGot > lo+slack || maxGot < hi-slack || len(seen) < 9000 {
		t.Errorf("spreadCooldown(%v) drew %d distinct values in [%v, %v]", d, len(seen), minGot, maxGot)
	}
	for _, d := range []time.Duration{0, 1, math.MaxInt64 / 2, math.MaxInt64} {
		if got := spreadCooldown(d); got < d {
			t.Errorf("spreadCooldown(%v) = %v, shorter than the configured cooldown", d, got)
		}
	}
}

func TestRemoteKeySet_BackgroundRefreshDropsRemovedKeys(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx := remoteTestContext(t)
		iss := newRemoteIssuer(t)
		iss.SetHeader(oauthtest.EndpointJWKS, "Cache-Control", "max-age=0")
		r := newTestRemote(t, iss, RemoteKeySetConfig{MinRefresh: 50 * time.Millisecond, MaxRefresh: time.Second})
		old := kids(iss)[0]
		remoteWantKID(t, r, ctx, old)
		iss.RotateKeys()
		// The refresh happens in the background, with no Keys call to
		// prompt it, 47.5ms (95% of MinRefresh) after the fetch.
		elapse(47500 * time.Microsecond)
		remoteWantRequests(t, iss, 2)
		remoteWantErr(t, r, ctx, old, ErrUnknownKey)
		remoteWantKID(t, r, ctx, kids(iss)[0])
	})
}

func TestNewRemoteKeySet_Config(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		cfg     RemoteKeySetConfig
		wantErr string // substring; "" for success
	}{
		"HTTPS":                {cfg: RemoteKeySetConfig{URL: "https://auth.example.com/jwks"}},
		"HTTPSIssuer":          {cfg: RemoteKeySetConfig{Issuer: "https://auth.example.com/tenant"}},
		"HTTPRefused":          {cfg: RemoteKeySetConfig{URL: "http://127.0.0.1:8080/jwks"}, wantErr: "https is required"},
		"HTTPLoopbackAllowed":  {cfg: RemoteKeySetConfig{URL: "http://127.0.0.1:8080/jwks", InsecureAllowHTTP: true}},
		"HTTPLocalhostAllowed": {cfg: RemoteKeySetConfig{URL: "http://localhost/jwks", InsecureAllowHTTP: true}},
		"HTTPIPv6Loopback":     {cfg: RemoteKeySetConfig{URL: "http://[::1]:9/jwks", InsecureAllowHTTP: true}},
		"HTTPRemoteRefused":    {cfg: RemoteKeySetConfig{URL: "http://auth.example.com/jwks", InsecureAllowHTTP: true}, wantErr: "not loopback"},
		"HTTPLookalikeRefused": {cfg: RemoteKeySetConfig{URL: "http://localhost.example.com/jwks", InsecureAllowHTTP: true}, wantErr: "not loopback"},
		"HTTPIssuerRefused":    {cfg: RemoteKeySetConfig{Issuer: "http://auth.example.com"}, wantErr: "https is required"},
		"OtherScheme":          {cfg: RemoteKeySetConfig{URL: "file:///etc/jwks.json"}, wantErr: "URL"},
		"Relative":             {cfg: RemoteKeySetConfig{URL: "/jwks"}, wantErr: "absolute"},
		"UserInfo":             {cfg: RemoteKeySetConfig{URL: "https://u:pw@a.example/jwks"}, wantErr: "user information"},
		"Neither":              {cfg: RemoteKeySetConfig{}, wantErr: "needs URL"},
		"Both":                 {cfg: RemoteKeySetConfig{URL: "https://a.example/jwks", Issuer: "https://a.example"}, wantErr: "exactly one"},
		"IssuerWithQuery":      {cfg: RemoteKeySetConfig{Issuer: "https://a.example/?tenant=1"}, wantErr: "query"},
		"NegativeTimeout":      {cfg: RemoteKeySetConfig{URL: "https://a.example/jwks", Timeout: -1}, wantErr: "Timeout is negative"},
		"MinOverMax":           {cfg: RemoteKeySetConfig{URL: "https://a.example/jwks", MinRefresh: 2 * time.Hour}, wantErr: "MinRefresh"},
		"StaleUnderMax":        {cfg: RemoteKeySetConfig{URL: "https://a.example/jwks", MaxStale: time.Minute}, wantErr: "MaxStale"},
		"HugeResponseSize":     {cfg: RemoteKeySetConfig{URL: "https://a.example/jwks", MaxResponseSize: 1 << 30}, wantErr: "MaxResponseSize"},
		"NegativeResponseSize": {cfg: RemoteKeySetConfig{URL: "https://a.example/jwks", MaxResponseSize: -1}, wantErr: "MaxResponseSize"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r, err := NewRemoteKeySet(tc.cfg)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("NewRemoteKeySet() error = %v, want nil", err)
				}
				r.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "verify: ") {
				t.Fatalf("NewRemoteKeySet() error = %v, want one containing %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "pw") {
				t.Errorf("NewRemoteKeySet() error = %q quotes a password", err)
			}
		})
	}
}

func TestRemoteKeySet_Defaults(t *testing.T) {
	t.Parallel()
	r, err := NewRemoteKeySet(RemoteKeySetConfig{URL: "https://auth.example.com/jwks"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := r.cfg
	if got.Timeout != 5*time.Second || got.MaxResponseSize != 1<<20 || got.MinRefresh != time.Minute ||
		got.MaxRefresh != time.Hour || got.UnknownKeyCooldown != 30*time.Second || got.MaxStale != 24*time.Hour {
		t.Fatalf("defaults = %+v", got)
	}
	if r.client == http.DefaultClient || r.client.Timeout != 5*time.Second {
		t.Fatalf("default client has timeout %v, want 5s and not http.DefaultClient", r.client.Timeout)
	}
}

// TestRemoteKeySet_TLSAndRedirects runs over real connections on
// 127.0.0.1: TLS, and redirects followed by net/http.
func TestRemoteKeySet_TLSAndRedirects(t *testing.T) {
	t.Parallel()
	ctx := remoteTestContext(t)
	plain := oauthtest.NewIssuer(t)
	tls := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{TLS: true})

	r, err := NewRemoteKeySet(RemoteKeySetConfig{URL: tls.EndpointURL(oauthtest.EndpointJWKS), HTTPClient: tls.Client()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	remoteWantKID(t, r, ctx, kids(tls)[0])

	// The caller's client would follow a redirect from https down to
	// http; the policy refuses it before it is followed.
	tls.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{Location: plain.EndpointURL(oauthtest.EndpointJWKS)})
	r2, err := NewRemoteKeySet(RemoteKeySetConfig{URL: tls.EndpointURL(oauthtest.EndpointJWKS), HTTPClient: tls.Client()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r2.Close() })
	if err := remoteWantErr(t, r2, ctx, "k1", ErrUnavailable); !strings.Contains(err.Error(), "redirect refused") {
		t.Fatalf("Keys() error = %v, want the redirect refused", err)
	}
	remoteWantRequests(t, plain, 0)
	if tls.Client().CheckRedirect != nil {
		t.Error("NewRemoteKeySet modified the caller's http.Client")
	}

	// The default client does not follow a redirect to http on a host
	// that is not loopback, InsecureAllowHTTP or not.
	plain.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{Location: "http://keys.example.com/jwks"})
	r3, err := NewRemoteKeySet(RemoteKeySetConfig{URL: plain.EndpointURL(oauthtest.EndpointJWKS), InsecureAllowHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r3.Close() })
	if err := remoteWantErr(t, r3, ctx, "k1", ErrUnavailable); !strings.Contains(err.Error(), "not loopback") {
		t.Fatalf("Keys() error = %v, want the redirect refused", err)
	}
	// A redirect within the policy is followed.
	moved := oauthtest.NewIssuer(t)
	plain.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{Location: moved.EndpointURL(oauthtest.EndpointJWKS)})
	r4, err := NewRemoteKeySet(RemoteKeySetConfig{URL: plain.EndpointURL(oauthtest.EndpointJWKS), InsecureAllowHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r4.Close() })
	remoteWantKID(t, r4, ctx, kids(moved)[0])
	remoteWantRequests(t, moved, 1)
}

// TestRemoteKeySet_Backoff checks the retry delays, before jitter, after
// 1, 2, … consecutive failed fetches: doubling from min(1s, MinRefresh) up
// to MinRefresh without a usable set, and from MinRefresh up to
// min(lifetime, max(MinRefresh, time to stale ÷ 4)) with one.
func TestRemoteKeySet_Backoff(t *testing.T) {
	t.Parallel()
	const s, m, h = time.Second, time.Minute, time.Hour
	// then returns ds followed by copies of its last element, n in all.
	then := func(n int, ds ...time.Duration) []time.Duration {
		for len(ds) < n {
			ds = append(ds, ds[len(ds)-1])
		}
		return ds
	}
	noSet := then(10, s, 2*s, 4*s, 8*s, 16*s, 32*s, m)
	tests := map[string]struct {
		set        bool
		minRefresh time.Duration // 0: the default, 1m
		lifetime   time.Duration
		staleIn    time.Duration // from now
		want       []time.Duration
	}{
		// Cold start: every call may be failing; retry from 1s, at least
		// once a MinRefresh (1m), as before.
		"NoSet": {want: noSet},
		// Past MaxStale the set is no better than none.
		"StaleSet": {set: true, lifetime: h, staleIn: 0, want: noSet},
		// A usable set, fetched an hour ago with the default MaxStale:
		// from MinRefresh on to the set's lifetime.
		"UsableSet": {set: true, lifetime: h, staleIn: 23 * h,
			want: then(10, m, 2*m, 4*m, 8*m, 16*m, 32*m, h)},
		"UsableSet10mLifetime": {set: true, lifetime: 10 * m, staleIn: 23 * h,
			want: then(8, m, 2*m, 4*m, 8*m, 10*m)},
		// no-store: a lifetime of MinRefresh, the server's own choice; a
		// retry per MinRefresh, what the set's refreshes cost anyway.
		"UsableSetNoStore": {set: true, lifetime: m, staleIn: 23 * h, want: then(5, m)},
		// A MinRefresh below 1s starts there in both cases.
		"NoSetShortMinRefresh": {minRefresh: 100 * time.Millisecond,
			want: then(5, 100*time.Millisecond)},
		"UsableSetShortMinRefresh": {set: true, minRefresh: 100 * time.Millisecond, lifetime: 500 * time.Millisecond,
			staleIn: 23 * h, want: then(6, 100*time.Millisecond, 200*time.Millisecond, 400*time.Millisecond, 500*time.Millisecond)},
		// Closer to MaxStale, a quarter of the time left.
		"TwoHoursToStale": {set: true, lifetime: h, staleIn: 2 * h,
			want: then(9, m, 2*m, 4*m, 8*m, 16*m, 30*m)},
		// Within 4 × MinRefresh of it, MinRefresh from the first retry:
		// the ceiling is never below it.
		"ThreeMinutesToStale": {set: true, lifetime: h, staleIn: 3 * m, want: then(5, m)},
		"OneSecondToStale":    {set: true, lifetime: h, staleIn: s, want: then(5, m)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clock := oauthtest.NewClock(remoteStart)
			r, err := NewRemoteKeySet(RemoteKeySetConfig{URL: "https://a.example/jwks", Now: clock.Now,
				MinRefresh: tc.minRefresh})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			r.jitter = func(d time.Duration) time.Duration { return d }
			if tc.set {
				r.snap.Store(&snapshot{lifetime: tc.lifetime, staleAt: remoteStart.Add(tc.staleIn)})
			}
			for i, want := range tc.want {
				r.mu.Lock()
				r.failures = i + 1
				got := r.nextDelayLocked()
				r.mu.Unlock()
				if got != want {
					t.Fatalf("delay after %d failures = %v, want %v", i+1, got, want)
				}
			}
		})
	}
	for _, d := range []time.Duration{0, 1, 2, time.Second, time.Hour} {
		for range 100 {
			if got := fullJitter(d); got < d/2 || got > d {
				t.Fatalf("fullJitter(%v) = %v, want within [%v, %v]", d, got, d/2, d)
			}
		}
	}
}

// A requestLog records when each JWKS request of a key set was sent, by
// the clock of the synctest bubble it runs in.
type requestLog struct {
	next http.RoundTripper
	mu   sync.Mutex
	at   []time.Time
}

func (l *requestLog) RoundTrip(req *http.Request) (*http.Response, error) {
	l.mu.Lock()
	l.at = append(l.at, time.Now())
	l.mu.Unlock()
	return l.next.RoundTrip(req)
}

func (l *requestLog) times() []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.at)
}

// TestRemoteKeySet_OutageRetries follows one key set through a long
// outage in fake time, with the longest and the shortest delays its jitter
// can draw: while its set is usable it backs off up to the set's lifetime
// (1h), a quarter of the time left as MaxStale (6h) approaches, so that it
// still retries in the last MinRefresh before the set goes unusable; after
// that, as without a set, once a MinRefresh; and when the server is back,
// the next retry picks up the set, with the key rotated meanwhile.
func TestRemoteKeySet_OutageRetries(t *testing.T) {
	t.Parallel()
	tests := map[string]func(time.Duration) time.Duration{
		"LongestDelays":  func(d time.Duration) time.Duration { return d },
		"ShortestDelays": func(d time.Duration) time.Duration { return d / 2 },
	}
	for name, jitter := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				const minRefresh, lifetime, maxStale = time.Minute, time.Hour, 6 * time.Hour
				ctx := t.Context()        // fetches are in memory and take no fake time
				iss := newRemoteIssuer(t) // max-age=3600
				log := &requestLog{next: iss.Client().Transport}
				r := newTestRemote(t, iss, RemoteKeySetConfig{HTTPClient: &http.Client{Transport: log},
					MinRefresh: minRefresh, MaxRefresh: lifetime, MaxStale: maxStale})
				r.jitter = jitter
				old := kids(iss)[0]
				remoteWantKID(t, r, ctx, old)
				staleAt := time.Now().Add(maxStale)

				// Down from now on; the refresh at 57m fails and starts
				// the backoff. The key rotates during the outage.
				iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{Down: true})
				iss.RotateKeys()
				elapse(maxStale + 10*time.Minute)
				at := log.times()
				if len(at) < 3 {
					t.Fatalf("%d requests, want retries", len(at))
				}
				var beforeStale int
				for i := 2; i < len(at); i++ {
					prev, gap := at[i-1], at[i].Sub(at[i-1])
					ceiling := minRefresh
					if prev.Before(staleAt) {
						ceiling = min(lifetime, max(minRefresh, staleAt.Sub(prev)/4))
						beforeStale++
					}
					if gap > ceiling || gap <= 0 {
						t.Errorf("retry %v after the one at %v (%v before stale): gap %v, want in (0, %v]",
							i-1, prev.Sub(at[0]), staleAt.Sub(prev), gap, ceiling)
					}
				}
				// The last retry while the set was usable came within the
				// last MinRefresh before it went stale: the replica never
				// gave its set up without trying.
				last := at[0]
				for _, a := range at {
					if a.Before(staleAt) {
						last = a
					}
				}
				if d := staleAt.Sub(last); d > minRefresh {
					t.Errorf("last request before stale came %v before it, want within %v", d, minRefresh)
				}
				// Capped at MinRefresh, as without a set, the 5h03m of
				// outage while the set was usable would have cost a retry
				// per jitter(MinRefresh).
				if capped := int(staleAt.Sub(at[1]) / jitter(minRefresh)); beforeStale > capped/5 {
					t.Errorf("%d retries while the set was usable, want at most a fifth of the %d capped at MinRefresh",
						beforeStale, capped)
				}

				// Back up: the next retry, within MinRefresh now that the
				// set is stale, fetches the rotated key.
				remoteWantErr(t, r, ctx, old, ErrUnavailable)
				iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{})
				elapse(minRefresh)
				if !r.Ready() {
					t.Fatal("Ready() = false a MinRefresh after the server came back")
				}
				n := len(log.times())
				remoteWantKID(t, r, ctx, kids(iss)[0])
				if got := len(log.times()); got != n {
					t.Errorf("%d requests for the rotated key, want none: the background retry found it", got-n)
				}
			})
		})
	}
}

// TestRemoteKeySet_OutageRecovery checks that a key set in a long backoff
// with a usable set picks the server up at its next retry, at most the
// set's lifetime later, and schedules its next refresh from there.
func TestRemoteKeySet_OutageRecovery(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		iss := newRemoteIssuer(t) // max-age=3600: lifetime 1h
		r := newTestRemote(t, iss, RemoteKeySetConfig{})
		delays := make(chan time.Duration, 100)
		r.jitter = func(d time.Duration) time.Duration { return d }
		r.onSchedule = func(d time.Duration) { delays <- d }
		remoteWantKID(t, r, ctx, kids(iss)[0])
		<-delays // the first refresh, at 57m

		iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{Down: true})
		elapse(57 * time.Minute)
		// 7 failures: MinRefresh (1m), 2m, … 32m, then the lifetime, 1h.
		for i, want := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute,
			8 * time.Minute, 16 * time.Minute, 32 * time.Minute} {
			if d := <-delays; d != want {
				t.Fatalf("delay after %d failures = %v, want %v", i+1, d, want)
			}
			elapse(want)
		}
		if d := <-delays; d != time.Hour {
			t.Fatalf("delay after 7 failures = %v, want the set's lifetime, 1h", d)
		}
		remoteWantRequests(t, iss, 8)
		iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{})
		elapse(time.Hour - 1)
		remoteWantRequests(t, iss, 8)
		elapse(1)
		remoteWantRequests(t, iss, 9)
		if !r.Ready() {
			t.Fatal("Ready() = false after recovery")
		}
		// Back on the refresh schedule: [25%, 95%] of the lifetime after
		// the first success (here its end).
		if d := <-delays; d != 57*time.Minute {
			t.Fatalf("delay after recovery = %v, want the refresh at 57m", d)
		}
	})
}

// TestRemoteKeySet_FirstRetry checks, with the production jitter, when
// the first two retries after a failed fetch come: a failed regular
// refresh, with a usable set, is retried after MinRefresh, then 2 ×
// MinRefresh (each drawn in its upper half), not after 1s: every call is
// answered meanwhile. A failed first fetch, with no set and calls failing,
// is still retried after 1s, then 2s.
func TestRemoteKeySet_FirstRetry(t *testing.T) {
	t.Parallel()
	const minRefresh = time.Minute
	tests := map[string]struct {
		usable bool
		want   []time.Duration // upper bounds of the first two gaps
	}{
		"UsableSet": {usable: true, want: []time.Duration{minRefresh, 2 * minRefresh}},
		"ColdStart": {want: []time.Duration{time.Second, 2 * time.Second}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				ctx := t.Context()        // fetches are in memory and take no fake time
				iss := newRemoteIssuer(t) // max-age=3600: the refresh is due at 57m
				log := &requestLog{next: iss.Client().Transport}
				r := newTestRemote(t, iss, RemoteKeySetConfig{HTTPClient: &http.Client{Transport: log},
					MinRefresh: minRefresh})
				r.jitter = fullJitter
				kid := kids(iss)[0]
				if tc.usable {
					remoteWantKID(t, r, ctx, kid)
					iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{Down: true})
					elapse(57 * time.Minute) // the regular refresh fails
				} else {
					iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{Down: true})
					remoteWantErr(t, r, ctx, kid, ErrUnavailable) // the first fetch fails
				}
				failed := len(log.times())
				elapse(tc.want[0] + tc.want[1])
				at := log.times()
				if len(at) != failed+2 {
					t.Fatalf("%d retries in %v, want 2", len(at)-failed, tc.want[0]+tc.want[1])
				}
				for i, hi := range tc.want {
					if gap := at[failed+i].Sub(at[failed+i-1]); gap < hi/2 || gap > hi {
						t.Errorf("retry %d came %v after the previous request, want within [%v, %v]", i+1, gap, hi/2, hi)
					}
				}
				if tc.usable {
					remoteWantKID(t, r, ctx, kid) // answered throughout
				}
			})
		})
	}
}

// TestRemoteKeySet_Close runs in a synctest bubble, which fails the test
// if any goroutine the key set started outlives it.
func TestRemoteKeySet_Close(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx := remoteTestContext(t)
		clock := oauthtest.NewClock(remoteStart)
		iss := newRemoteIssuer(t)
		r, err := NewRemoteKeySet(RemoteKeySetConfig{URL: iss.EndpointURL(oauthtest.EndpointJWKS), HTTPClient: iss.Client(), Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		remoteWantKID(t, r, ctx, kids(iss)[0])

		// A caller waits on a fetch that hangs; Close ends both.
		iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{Delay: time.Hour})
		clock.Advance(r.cfg.UnknownKeyCooldown)
		waiting := make(chan error, 1)
		go func() {
			_, err := r.Keys(ctx, "other") // unknown kid after the cooldown: fetches
			waiting <- err
		}()
		synctest.Wait()
		remoteWantRequests(t, iss, 2)
		if err := r.Close(); err != nil {
			t.Fatalf("Close() = %v", err)
		}
		if err := <-waiting; !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Keys() during Close error = %v, want %v", err, ErrUnavailable)
		}
		if err := r.Close(); err != nil {
			t.Fatalf("second Close() = %v", err)
		}
		remoteWantErr(t, r, ctx, kids(iss)[0], ErrUnavailable)
		if r.Ready() {
			t.Fatal("Ready() = true after Close")
		}
		if err := r.WaitReady(ctx); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("WaitReady() after Close = %v, want %v", err, ErrUnavailable)
		}
	})
}

func TestRemoteKeySet_KeysAllocs(t *testing.T) {
	ctx := remoteTestContext(t)
	iss := newRemoteIssuer(t)
	r := newTestRemote(t, iss, RemoteKeySetConfig{})
	kid := kids(iss)[0]
	remoteWantKID(t, r, ctx, kid)
	if n := testing.AllocsPerRun(1000, func() { _, _ = r.Keys(ctx, kid) }); n != 0 {
		t.Fatalf("Keys(known kid) allocates %v times, want 0", n)
	}
}

func BenchmarkRemoteKeySet_Keys(b *testing.B) {
	ctx := context.Background()
	iss := newRemoteIssuer(b)
	r := newTestRemote(b, iss, RemoteKeySetConfig{})
	kid := kids(iss)[0]
	if _, err := r.Keys(ctx, kid); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := r.Keys(ctx, kid); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestCacheLifetime(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := map[string]struct {
		h      http.Header
		want   time.Duration
		wantOK bool
	}{
		"None":          {h: http.Header{}},
		"MaxAge":        {h: http.Header{"Cache-Control": {"public, max-age=120"}}, want: 2 * time.Minute, wantOK: true},
		"QuotedMaxAge":  {h: http.Header{"Cache-Control": {`max-age="60"`}}, want: time.Minute, wantOK: true},
		"NoCache":       {h: http.Header{"Cache-Control": {"no-cache"}}, wantOK: true},
		"Negative":      {h: http.Header{"Cache-Control": {"max-age=-5"}}, wantOK: true},
		"Huge":          {h: http.Header{"Cache-Control": {"max-age=99999999999999999"}}, want: 1 << 31 * time.Second, wantOK: true},
		"ExpiresDate":   {h: http.Header{"Expires": {"Tue, 01 Jan 2030 00:10:00 GMT"}, "Date": {"Tue, 01 Jan 2030 00:05:00 GMT"}}, want: 5 * time.Minute, wantOK: true},
		"ExpiresNoDate": {h: http.Header{"Expires": {"Tue, 01 Jan 2030 00:10:00 GMT"}}, want: 10 * time.Minute, wantOK: true},
		"ExpiresBad":    {h: http.Header{"Expires": {"0"}}, wantOK: true},
		"MaxAgeWins":    {h: http.Header{"Cache-Control": {"max-age=1"}, "Expires": {"Tue, 01 Jan 2030 00:10:00 GMT"}}, want: time.Second, wantOK: true},
		// Finding 7: no-store and no-cache win whatever their position.
		"NoStoreFirst":        {h: http.Header{"Cache-Control": {"no-store, max-age=3600"}}, wantOK: true},
		"NoStoreLast":         {h: http.Header{"Cache-Control": {"max-age=3600, no-store"}}, wantOK: true},
		"NoCacheLast":         {h: http.Header{"Cache-Control": {"max-age=3600, No-Cache"}}, wantOK: true},
		"NoStoreOtherLine":    {h: http.Header{"Cache-Control": {"max-age=3600", "no-store"}}, wantOK: true},
		"NoStoreOverExpires":  {h: http.Header{"Cache-Control": {"no-store"}, "Expires": {"Tue, 01 Jan 2030 00:10:00 GMT"}}, wantOK: true},
		"NoCacheFieldNames":   {h: http.Header{"Cache-Control": {`max-age=60, no-cache="Set-Cookie"`}}, want: time.Minute, wantOK: true},
		"FirstMaxAge":         {h: http.Header{"Cache-Control": {"max-age=60", "max-age=3600"}}, want: time.Minute, wantOK: true},
		"MaxAgeMinusAge":      {h: http.Header{"Cache-Control": {"max-age=3600"}, "Age": {"600"}}, want: 50 * time.Minute, wantOK: true},
		"AgeOverMaxAge":       {h: http.Header{"Cache-Control": {"max-age=60"}, "Age": {"600"}}, wantOK: true},
		"InvalidAgeIgnored":   {h: http.Header{"Cache-Control": {"max-age=60"}, "Age": {"ten"}}, want: time.Minute, wantOK: true},
		"NegativeAgeIgnored":  {h: http.Header{"Cache-Control": {"max-age=60"}, "Age": {"-30"}}, want: time.Minute, wantOK: true},
		"HugeAge":             {h: http.Header{"Cache-Control": {"max-age=60"}, "Age": {"99999999999999999999"}}, wantOK: true},
		"ExpiresMinusAge":     {h: http.Header{"Expires": {"Tue, 01 Jan 2030 00:10:00 GMT"}, "Date": {"Tue, 01 Jan 2030 00:05:00 GMT"}, "Age": {"60"}}, want: 4 * time.Minute, wantOK: true},
		"ExpiresAgeTooOld":    {h: http.Header{"Expires": {"Tue, 01 Jan 2030 00:10:00 GMT"}, "Date": {"Tue, 01 Jan 2030 00:05:00 GMT"}, "Age": {"600"}}, wantOK: true},
		"ExpiresBeforeDate":   {h: http.Header{"Expires": {"Tue, 01 Jan 2030 00:00:00 GMT"}, "Date": {"Tue, 01 Jan 2030 00:05:00 GMT"}}, wantOK: true},
		"AgeWithoutLifetime":  {h: http.Header{"Age": {"60"}}},
		"MaxAgeSpaces":        {h: http.Header{"Cache-Control": {" public ,  max-age=90 "}}, want: 90 * time.Second, wantOK: true},
		"MaxAgeInvalidSuffix": {h: http.Header{"Cache-Control": {"max-age=60s"}}, wantOK: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, ok := cacheLifetime(tc.h, now)
			if got != tc.want || ok != tc.wantOK {
				t.Fatalf("cacheLifetime(%v) = %v, %v; want %v, %v", tc.h, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}
