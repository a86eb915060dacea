package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/oauthgate/oauthgate/oauthtest"
)

// spyShared is an oauthtest.SharedStore that remembers what was set, for
// tests that look at what the shared cache holds.
type spyShared struct {
	*oauthtest.SharedStore
	mu   sync.Mutex
	sets map[[32]byte][]byte // the last value set for each key
	n    int                 // calls of Set
}

func newSpyShared(now func() time.Time) *spyShared {
	return &spyShared{SharedStore: oauthtest.NewSharedStore(now), sets: map[[32]byte][]byte{}}
}

func (s *spyShared) Set(ctx context.Context, key [32]byte, v []byte, ttl time.Duration) error {
	s.mu.Lock()
	s.sets[key], s.n = bytes.Clone(v), s.n+1
	s.mu.Unlock()
	return s.SharedStore.Set(ctx, key, v, ttl)
}

// sharedReplicas returns n verifiers of iss sharing cache, on clock.
func sharedReplicas(t *testing.T, iss *oauthtest.Issuer, cache IntrospectionCache, clock func() time.Time, n int) []*Introspection {
	t.Helper()
	out := make([]*Introspection, n)
	for r := range out {
		cfg := introConfig(iss, oauthtest.NewClock(introStart))
		cfg.Now = clock
		cfg.SharedCache = cache
		out[r] = newIntro(t, cfg)
	}
	return out
}

// TestIntrospection_SharedCache: replicas sharing a second-level cache ask
// the authorization server once per token per CacheTTL between them; a
// revocation one replica learns of at its refresh is what all of them
// answer from then on; the cache holds neither the token nor its plain
// digest.
func TestIntrospection_SharedCache(t *testing.T) {
	t.Parallel()
	iss := newIntroIssuer(t)
	clock := oauthtest.NewClock(introStart)
	shared := newSpyShared(clock.Now)
	replicas := sharedReplicas(t, iss, shared, clock.Now, 3)
	token := introToken(t, iss)
	ctx := introCtx(t)

	verifyAll := func(t *testing.T, wantErr error) {
		t.Helper()
		for r, v := range replicas {
			for range 3 {
				c, err := v.Verify(ctx, token)
				if !errors.Is(err, wantErr) || err == nil && c.Subject() != "alice" {
					t.Fatalf("replica %d: Verify() = %v, %v, want error %v", r, c, err, wantErr)
				}
			}
		}
	}
	verifyAll(t, nil)
	if got := introRequests(iss); got != 1 {
		t.Errorf("3 replicas × 3 calls: %d introspection requests, want 1", got)
	}
	clock.Advance(4 * time.Second)
	verifyAll(t, nil)
	clock.Advance(2 * time.Second) // past the 5s CacheTTL
	verifyAll(t, nil)
	if got := introRequests(iss); got != 2 {
		t.Errorf("after one CacheTTL: %d introspection requests, want 2", got)
	}

	iss.Revoke(token)
	clock.Advance(6 * time.Second)
	if _, err := replicas[1].Verify(ctx, token); !errors.Is(err, ErrInactive) {
		t.Fatalf("replica 2 after revocation and CacheTTL: Verify() = %v, want ErrInactive", err)
	}
	verifyAll(t, ErrInactive)
	if got := introRequests(iss); got != 3 {
		t.Errorf("after the revocation: %d introspection requests, want 3", got)
	}

	shared.mu.Lock()
	defer shared.mu.Unlock()
	plain := sha256.Sum256([]byte(token))
	for k, v := range shared.sets {
		if k == plain || bytes.Contains(v, []byte(token)) {
			t.Errorf("shared cache holds the token or its plain digest")
		}
	}
}

// TestIntrospection_SharedCacheFailures: whatever the shared cache does
// wrong, a replica asks the authorization server itself and never rejects
// a good token: errors on every call, and values it did not write.
func TestIntrospection_SharedCacheFailures(t *testing.T) {
	t.Parallel()
	t.Run("Errors", func(t *testing.T) {
		t.Parallel()
		iss := newIntroIssuer(t)
		clock := oauthtest.NewClock(introStart)
		shared := newSpyShared(clock.Now)
		shared.SetError(errors.New("shared cache down"))
		replicas := sharedReplicas(t, iss, shared, clock.Now, 3)
		token := introToken(t, iss)
		for r, v := range replicas {
			if _, err := v.Verify(introCtx(t), token); err != nil {
				t.Errorf("replica %d: Verify() = %v, want the token accepted", r, err)
			}
		}
		if got := introRequests(iss); got != 3 {
			t.Errorf("3 replicas without their shared cache: %d requests, want one each", got)
		}
	})
	for name, value := range map[string][]byte{
		"Empty":       {},
		"Version":     append([]byte{2}, make([]byte, 8)...),
		"NotResponse": append([]byte{sharedVersion, 0, 0, 0, 0, 0, 0, 0, 0}, "{]"...),
		"NoActive":    append([]byte{sharedVersion, 0, 0, 0, 0, 0, 0, 0, 0}, `{"sub":"mallory"}`...),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			iss := newIntroIssuer(t)
			clock := oauthtest.NewClock(introStart)
			shared := newSpyShared(clock.Now)
			v := sharedReplicas(t, iss, shared, clock.Now, 1)[0]
			token := introToken(t, iss)
			_ = shared.Set(context.Background(), v.shared.key(token), value, time.Minute)
			if _, err := v.Verify(introCtx(t), token); err != nil {
				t.Errorf("Verify() over a bad shared value = %v, want the token accepted", err)
			}
			if got := introRequests(iss); got != 1 {
				t.Errorf("requests = %d, want 1", got)
			}
			if shared.n != 2 {
				t.Errorf("the bad value was not replaced by the answer")
			}
		})
	}
}

// sharedByLongWriter returns a shared cache holding the answer for token
// that a verifier with a CacheTTL of a minute fetched from iss at the
// clock's start.
func sharedByLongWriter(t *testing.T) (*oauthtest.Issuer, *oauthtest.Clock, *spyShared, string) {
	t.Helper()
	iss := newIntroIssuer(t)
	clock := oauthtest.NewClock(introStart)
	shared := newSpyShared(clock.Now)
	token := introToken(t, iss)
	long := introConfig(iss, clock)
	long.CacheTTL, long.SharedCache = time.Minute, shared
	if _, err := newIntro(t, long).Verify(introCtx(t), token); err != nil {
		t.Fatal(err)
	}
	return iss, clock, shared, token
}

// TestIntrospection_SharedCacheStaleValue: a value is used no longer than
// the reader's own CacheTTL after it was fetched, even if the shared cache
// keeps it longer, as a replica with a longer CacheTTL would have it.
func TestIntrospection_SharedCacheStaleValue(t *testing.T) {
	t.Parallel()
	iss, clock, shared, token := sharedByLongWriter(t)
	short := sharedReplicas(t, iss, shared, clock.Now, 1)[0] // CacheTTL 5s
	clock.Advance(4 * time.Second)
	if _, err := short.Verify(introCtx(t), token); err != nil || introRequests(iss) != 1 {
		t.Fatalf("within 5s: Verify() = %v with %d requests, want a shared hit", err, introRequests(iss))
	}
	clock.Advance(2 * time.Second)
	if _, err := short.Verify(introCtx(t), token); err != nil || introRequests(iss) != 2 {
		t.Fatalf("6s after the fetch: Verify() = %v with %d requests, want a request of its own", err, introRequests(iss))
	}
}

// TestIntrospection_SharedCacheLock: replicas that miss one token at once
// wait for the one that asks; a lock whose holder died holds the others up
// no longer than the lock's life (1 s), after which one of them asks.
func TestIntrospection_SharedCacheLock(t *testing.T) {
	t.Parallel()
	t.Run("Concurrent", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			iss := newIntroIssuer(t)
			iss.SetFault(oauthtest.EndpointIntrospection, oauthtest.Fault{Delay: 300 * time.Millisecond})
			shared := newSpyShared(time.Now)
			replicas := sharedReplicas(t, iss, shared, func() time.Time { return introStart }, 5)
			token := introToken(t, iss)
			ctx := introCtx(t)
			var wg sync.WaitGroup
			for _, v := range replicas {
				for range 4 {
					wg.Go(func() {
						if _, err := v.Verify(ctx, token); err != nil {
							t.Errorf("Verify() = %v", err)
						}
					})
				}
			}
			wg.Wait()
			if got := introRequests(iss); got != 1 {
				t.Errorf("5 replicas × 4 concurrent calls: %d requests, want 1", got)
			}
		})
	})
	t.Run("DeadHolder", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			iss := newIntroIssuer(t)
			shared := newSpyShared(time.Now)
			v := sharedReplicas(t, iss, shared, func() time.Time { return introStart }, 1)[0]
			token := introToken(t, iss)
			// A replica took the lock and died.
			if ok, _ := shared.Lock(context.Background(), v.shared.key(token), sharedLockTTL); !ok {
				t.Fatal("Lock() = false")
			}
			start := time.Now()
			if _, err := v.Verify(introCtx(t), token); err != nil {
				t.Fatalf("Verify() = %v", err)
			}
			if d := time.Since(start); d < sharedLockTTL || d > sharedLockTTL+sharedPollMax {
				t.Errorf("waited %v for a dead holder, want the lock's %v (+ one poll)", d, sharedLockTTL)
			}
			if got := introRequests(iss); got != 1 {
				t.Errorf("requests = %d, want 1", got)
			}
		})
	})
	t.Run("HolderFails", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			iss := newIntroIssuer(t)
			iss.SetFault(oauthtest.EndpointIntrospection, oauthtest.Fault{Status: 503})
			shared := newSpyShared(time.Now)
			replicas := sharedReplicas(t, iss, shared, func() time.Time { return introStart }, 2)
			token := introToken(t, iss)
			for r, v := range replicas {
				if _, err := v.Verify(introCtx(t), token); !errors.Is(err, ErrUnavailable) {
					t.Errorf("replica %d: Verify() = %v, want ErrUnavailable", r, err)
				}
			}
			if n := shared.Len(); n != 0 {
				t.Errorf("a failed request left %d locks or values, want none", n)
			}
		})
	})
}

// TestIntrospection_SharedCacheNothingToShare: an answer no replica may
// reuse (a token at or past its exp but inside the leeway: accepted now,
// cached for no time) is not written to the shared cache, and its fill lock
// is released at once, so the next replica asks without waiting for it.
func TestIntrospection_SharedCacheNothingToShare(t *testing.T) {
	t.Parallel()
	for name, expiry := range map[string]time.Time{
		"AtExp":   introStart,
		"PastExp": introStart.Add(-10 * time.Second),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				iss := newIntroIssuer(t)
				shared := newSpyShared(time.Now)
				replicas := sharedReplicas(t, iss, shared, func() time.Time { return introStart }, 2)
				token := introToken(t, iss, oauthtest.Token{Expiry: expiry})
				for r, v := range replicas {
					start := time.Now()
					if _, err := v.Verify(introCtx(t), token); err != nil {
						t.Fatalf("replica %d: Verify() = %v, want the token accepted inside the leeway", r, err)
					}
					if d := time.Since(start); d != 0 {
						t.Errorf("replica %d waited %v for the fill lock, want no wait", r, d)
					}
				}
				if shared.n != 0 {
					t.Errorf("Set called %d times for an answer that expires at once, want none", shared.n)
				}
				if got := introRequests(iss); got != 2 {
					t.Errorf("requests = %d, want one per replica", got)
				}
			})
		})
	}
}

// TestIntrospection_SharedCacheTTLBoundary: exactly the reader's CacheTTL
// after a value was fetched, the value is stale for it, though a writer
// with a longer CacheTTL keeps it in the shared cache: the reader asks.
func TestIntrospection_SharedCacheTTLBoundary(t *testing.T) {
	t.Parallel()
	iss, clock, shared, token := sharedByLongWriter(t)
	clock.Advance(5 * time.Second)
	short := sharedReplicas(t, iss, shared, clock.Now, 1)[0] // CacheTTL 5s
	if _, err := short.Verify(introCtx(t), token); err != nil || introRequests(iss) != 2 {
		t.Fatalf("5s after the fetch: Verify() = %v with %d requests, want a request of its own", err, introRequests(iss))
	}
}

// TestIntrospection_SharedCacheValueSize: a shared value is held to the
// reader's own response size limit: a response of exactly MaxResponseSize
// bytes that another replica stored is used, one byte more is not (the
// reader asks itself).
func TestIntrospection_SharedCacheValueSize(t *testing.T) {
	t.Parallel()
	const limit = 2048
	iss := newIntroIssuer(t)
	clock := oauthtest.NewClock(introStart)
	shared := newSpyShared(clock.Now)
	token := introToken(t, iss)
	writer := sharedReplicas(t, iss, shared, clock.Now, 1)[0]
	if _, err := writer.Verify(introCtx(t), token); err != nil {
		t.Fatal(err)
	}
	key := writer.shared.key(token)
	stored := shared.sets[key] // version, fetch time, response
	if len(stored) < 10 || stored[9] != '{' {
		t.Fatalf("stored value %q, want a header and a JSON object", stored)
	}
	for _, tc := range []struct {
		size     int
		requests int
	}{{limit, 1}, {limit + 1, 2}} {
		// The same response, with white space after its "{" up to size.
		v := append(bytes.Clone(stored[:10]), bytes.Repeat([]byte(" "), tc.size-(len(stored)-9))...)
		v = append(v, stored[10:]...)
		if err := shared.Set(context.Background(), key, v, time.Minute); err != nil {
			t.Fatal(err)
		}
		_ = shared.Unlock(context.Background(), key) // the writer's fill lock, long expired
		cfg := introConfig(iss, clock)
		cfg.SharedCache, cfg.MaxResponseSize = shared, limit
		if _, err := newIntro(t, cfg).Verify(introCtx(t), token); err != nil || introRequests(iss) != tc.requests {
			t.Errorf("a stored response of %d bytes, limit %d: Verify() = %v with %d requests, want %d", tc.size, limit, err, introRequests(iss), tc.requests)
		}
	}
}

// valueAndError is a shared cache whose Get returns the value stored
// together with an error, as a cache might on a partial failure.
type valueAndError struct{ *oauthtest.SharedStore }

func (c valueAndError) Get(ctx context.Context, key [32]byte) ([]byte, error) {
	v, _ := c.SharedStore.Get(ctx, key)
	return v, errors.New("replica lagging")
}

// TestIntrospection_SharedCacheGetError: on an error from Get, whatever
// value came with it, the reader asks the authorization server itself.
func TestIntrospection_SharedCacheGetError(t *testing.T) {
	t.Parallel()
	iss := newIntroIssuer(t)
	clock := oauthtest.NewClock(introStart)
	store := oauthtest.NewSharedStore(clock.Now)
	token := introToken(t, iss)
	if _, err := sharedReplicas(t, iss, store, clock.Now, 1)[0].Verify(introCtx(t), token); err != nil {
		t.Fatal(err)
	}
	reader := sharedReplicas(t, iss, valueAndError{store}, clock.Now, 1)[0]
	if _, err := reader.Verify(introCtx(t), token); err != nil || introRequests(iss) != 2 {
		t.Fatalf("Verify() = %v with %d requests, want the token accepted with a request of its own", err, introRequests(iss))
	}
}
