package tokencache

import (
	"context"
	"errors"
	"hash/maphash"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestTokenCache_Expiry(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		ttl     time.Duration
		advance time.Duration
		wantHit bool
	}{
		"Fresh":           {ttl: time.Second, advance: 0, wantHit: true},
		"JustBeforeTTL":   {ttl: time.Second, advance: time.Second - 1, wantHit: true},
		"AtTTL":           {ttl: time.Second, advance: time.Second, wantHit: false},
		"AfterTTL":        {ttl: time.Second, advance: time.Hour, wantHit: false},
		"ZeroTTLNotSaved": {ttl: 0, advance: 0, wantHit: false},
		"NegativeTTL":     {ttl: -time.Second, advance: 0, wantHit: false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clock := newTestClock()
			c := New[string](Config{Size: 10, Now: clock.Now})
			k := DigestKey("tok")
			c.Set(k, "v", 0, tc.ttl)
			clock.Advance(tc.advance)
			if v, ok := c.Get(k); ok != tc.wantHit || ok && v != "v" {
				t.Errorf("get() = %q, %v, want hit %v", v, ok, tc.wantHit)
			}
			if _, ok := c.Get(DigestKey("other")); ok {
				t.Errorf("get(other key) hit")
			}
		})
	}
}

func TestTokenCache_Bound(t *testing.T) {
	t.Parallel()
	for _, size := range []int{1, 5, 16, 17, 100, 1000} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			t.Parallel()
			c := New[int](Config{Size: size, Now: newTestClock().Now})
			for n := range 20 * size {
				c.Set(DigestKey(strconv.Itoa(n)), n, 0, time.Hour)
				if got := c.len(); got > size {
					t.Fatalf("len() = %d after %d inserts, want at most %d", got, n+1, size)
				}
			}
			if got := c.len(); got != size {
				t.Errorf("len() = %d after %d inserts, want %d (full)", got, 20*size, size)
			}
			// Every insert into a full shard evicted one entry.
			if got, want := c.Evictions(), uint64(19*size); got != want {
				t.Errorf("Evictions() = %d after %d inserts, want %d", got, 20*size, want)
			}
			// The latest insert is always kept.
			last := 20*size - 1
			if v, ok := c.Get(DigestKey(strconv.Itoa(last))); !ok || v != last {
				t.Errorf("get(latest) = %d, %v, want %d", v, ok, last)
			}
		})
	}
}

func TestTokenCache_UpdateInPlace(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	c := New[string](Config{Size: 1, Now: clock.Now})
	k := DigestKey("tok")
	c.Set(k, "old", 0, time.Second)
	c.Set(k, "new", 0, time.Minute)
	clock.Advance(2 * time.Second)
	if v, ok := c.Get(k); !ok || v != "new" || c.len() != 1 {
		t.Errorf("get() = %q, %v with len %d, want the replacement and one entry", v, ok, c.len())
	}
}

// TestTokenCache_Clock checks the eviction order on one shard.
func TestTokenCache_Clock(t *testing.T) {
	t.Parallel()
	const now = 1000
	tests := map[string]struct {
		hit       []string // looked up after a, b, c are inserted
		expired   string   // made expired before d is inserted
		wantEvict string
	}{
		"OldestUnreferenced":   {wantEvict: "a"},
		"SecondChance":         {hit: []string{"a"}, wantEvict: "b"},
		"AllReferenced":        {hit: []string{"a", "b", "c"}, wantEvict: "a"},
		"ExpiredBeforeColdest": {hit: []string{"a", "b"}, expired: "b", wantEvict: "b"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := &shard[string]{
				entries:  map[Key]*entry[string]{},
				capacity: 3,
			}
			for _, v := range []string{"a", "b", "c"} {
				s.setLocked(DigestKey(v), v, 0, now+10, now)
			}
			for _, v := range tc.hit {
				s.getLocked(DigestKey(v), now)
			}
			if tc.expired != "" {
				s.entries[DigestKey(tc.expired)].expires = now
			}
			s.setLocked(DigestKey("d"), "d", 0, now+10, now)
			for _, v := range []string{"a", "b", "c", "d"} {
				_, present := s.entries[DigestKey(v)]
				if want := v != tc.wantEvict; present != want {
					t.Errorf("after inserting d, %s present = %v, want %v", v, present, want)
				}
			}
			if len(s.ring) != 3 || len(s.entries) != 3 {
				t.Errorf("ring %d, entries %d, want 3 and 3", len(s.ring), len(s.entries))
			}
		})
	}
}

func TestTokenCache_DoCoalesces(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := New[int](Config{Size: 10, Now: time.Now})
		k := DigestKey("tok")
		var fills atomic.Int64
		fill := func(context.Context) (int, time.Duration, error) {
			fills.Add(1)
			time.Sleep(time.Second)
			return 42, time.Minute, nil
		}
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				if v, err := c.Do(t.Context(), k, fill); v != 42 || err != nil {
					t.Errorf("do() = %d, %v, want 42", v, err)
				}
			})
		}
		// Every caller is now blocked on the one flight.
		synctest.Wait()
		if got := fills.Load(); got != 1 {
			t.Errorf("fill started %d times for 10 waiting callers, want 1", got)
		}
		wg.Wait()
		if v, ok := c.Get(k); !ok || v != 42 {
			t.Errorf("get() after do = %d, %v, want the cached 42", v, ok)
		}
		if _, err := c.Do(t.Context(), k, fill); err != nil || fills.Load() != 1 {
			t.Errorf("do() on a cached key filled again (%d fills), err %v", fills.Load(), err)
		}
	})
}

func TestTokenCache_DoCallerContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := New[int](Config{Size: 10, Now: time.Now})
		k := DigestKey("tok")
		var fillCancelled atomic.Bool
		fill := func(ctx context.Context) (int, time.Duration, error) {
			time.Sleep(time.Second)
			fillCancelled.Store(ctx.Err() != nil)
			return 7, time.Minute, nil
		}
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		if _, err := c.Do(ctx, k, fill); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("do() error = %v, want DeadlineExceeded", err)
		}
		if waited := time.Since(start); waited != 100*time.Millisecond {
			t.Errorf("do() returned after %v, want at its own 100ms deadline", waited)
		}
		// The flight goes on without the caller and fills the cache.
		synctest.Wait()
		time.Sleep(time.Second)
		synctest.Wait()
		if fillCancelled.Load() {
			t.Errorf("fill's context was cancelled with its caller")
		}
		if v, ok := c.Get(k); !ok || v != 7 {
			t.Errorf("get() = %d, %v, want 7 cached by the abandoned flight", v, ok)
		}

		// A caller whose context has already ended starts nothing.
		done, cancelDone := context.WithCancel(t.Context())
		cancelDone()
		called := false
		if _, err := c.Do(done, DigestKey("other"), func(context.Context) (int, time.Duration, error) {
			called = true
			return 0, time.Minute, nil
		}); !errors.Is(err, context.Canceled) || called {
			t.Errorf("do(cancelled ctx) = %v, fill called %v; want Canceled without a fill", err, called)
		}
	})
}

func TestTokenCache_DoErrorsNotCached(t *testing.T) {
	t.Parallel()
	c := New[int](Config{Size: 10, Now: newTestClock().Now})
	k := DigestKey("tok")
	errDown := errors.New("down")
	fills := 0
	fill := func(context.Context) (int, time.Duration, error) {
		fills++
		return 0, time.Minute, errDown
	}
	for range 2 {
		if _, err := c.Do(t.Context(), k, fill); !errors.Is(err, errDown) {
			t.Fatalf("do() error = %v, want %v", err, errDown)
		}
	}
	if fills != 2 || c.len() != 0 {
		t.Errorf("fills = %d, len = %d, want 2 fills and nothing cached", fills, c.len())
	}
}

func TestTokenCache_Concurrent(t *testing.T) {
	t.Parallel()
	const size = 64
	clock := newTestClock()
	c := New[int](Config{Size: size, Now: clock.Now})
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for n := range 2000 {
				k := DigestKey(strconv.Itoa((n * (g + 1)) % 300))
				switch n % 3 {
				case 0:
					c.Get(k)
				case 1:
					c.Set(k, n, 0, time.Duration(n%5)*time.Second)
				default:
					if _, err := c.Do(ctx, k, func(context.Context) (int, time.Duration, error) {
						return n, time.Second, nil
					}); err != nil {
						t.Errorf("do() error = %v", err)
						return
					}
				}
				if n%100 == 0 {
					clock.Advance(time.Second)
				}
			}
		})
	}
	wg.Wait()
	if got := c.len(); got > size {
		t.Errorf("len() = %d, want at most %d", got, size)
	}
}

func TestDigestKey(t *testing.T) {
	t.Parallel()
	if a1, a2 := DigestKey("a"), DigestKey("a"); a1 != a2 {
		t.Errorf("DigestKey is not deterministic")
	}
	if DigestKey("a") == DigestKey("b") || DigestKey("") == DigestKey("a") {
		t.Errorf("distinct tokens share a key")
	}
}

func TestFastKey(t *testing.T) {
	t.Parallel()
	seed := maphash.MakeSeed()
	if a1, a2 := FastKey(seed, "a"), FastKey(seed, "a"); a1 != a2 {
		t.Errorf("FastKey is not deterministic")
	}
	if FastKey(seed, "a") == FastKey(seed, "b") {
		t.Errorf("distinct tokens share a key")
	}
	if k := FastKey(seed, "a"); [24]byte(k[8:]) != [24]byte{} {
		t.Errorf("FastKey sets bytes past the first 8")
	}
	// It hashes the last fastKeyTail bytes, a JWS's signature: tokens
	// that differ there differ in key; tokens that differ only before it
	// share one, which the cache's token comparison resolves.
	head, tail := strings.Repeat("h", 900), strings.Repeat("s", fastKeyTail)
	if FastKey(seed, head+tail) == FastKey(seed, head+tail[1:]+"t") {
		t.Errorf("tokens that differ in their last byte share a key")
	}
	if FastKey(seed, head+tail) != FastKey(seed, "x"+head[1:]+tail) {
		t.Errorf("FastKey hashes more than the last %d bytes", fastKeyTail)
	}
}

func TestCache_SetCostAndRemove(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	c := New[string](Config{Size: 16, MaxBytes: 16 * 100, Now: clock.Now})
	if size, maxBytes := c.Limits(); size != 16 || maxBytes != 1600 {
		t.Errorf("Limits() = %d, %d, want 16, 1600", size, maxBytes)
	}
	k := DigestKey("tok")
	c.Set(k, "v", 60, time.Minute)
	if n, b := c.Usage(); n != 1 || b != 60 {
		t.Errorf("Usage() = %d, %d, want 1 entry of 60 bytes", n, b)
	}
	c.Set(DigestKey("big"), "too big", 101, time.Minute) // over a shard's 100 bytes
	if _, ok := c.Get(DigestKey("big")); ok {
		t.Errorf("an entry over a shard's byte budget was cached")
	}
	c.Remove(k, func(v string) bool { return v != "v" })
	if _, ok := c.GetAt(k, clock.Now()); !ok {
		t.Errorf("Remove() dropped an entry its stale func kept")
	}
	c.Remove(k, func(v string) bool { return v == "v" })
	if n, b := c.Usage(); n != 0 || b != 0 {
		t.Errorf("Usage() after Remove = %d, %d, want 0, 0", n, b)
	}
}

// len returns the number of entries held, live or expired.
func (c *Cache[V]) len() int {
	n, _ := c.Usage()
	return n
}

// testTimeout bounds every context in these tests.
const testTimeout = 10 * time.Second

// testClock is a settable clock for Config.Now. (Package oauthtest has
// the public one, but it imports verify, which imports this package.)
type testClock struct{ ns atomic.Int64 }

func newTestClock() *testClock {
	c := &testClock{}
	c.ns.Store(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}

func (c *testClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *testClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
