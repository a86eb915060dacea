package verify

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"
)

// tokenKey identifies a token in a [tokenCache]: the SHA-256 digest of the
// token. The cache never holds the token itself, so a heap dump or a debugger
// shows no bearer credential.
//
// Why SHA-256 and not hash/maphash with a per-cache seed: a key collision
// would hand one token's claims to another token, so the key must be
// collision resistant even against an attacker who can present tokens of
// their choosing; maphash is built against hash flooding, not for that. The
// full 32-byte digest needs no truncation argument. It costs about 100-150 ns
// for a 32-64-byte opaque token and 0.8 µs for a 1 KiB JWT, against 5-100 ns
// for maphash (BenchmarkTokenKey): small next to the HTTP round trip or
// signature check that a hit saves.
type tokenKey [sha256.Size]byte

// newTokenKey returns the cache key of token. It does not allocate for
// tokens up to tokenKeyStackBuf bytes.
func newTokenKey(token string) tokenKey {
	// []byte(token) would allocate for tokens over 32 bytes; a stack buffer
	// avoids that on the request path (Sum256 does not retain its input).
	if len(token) <= tokenKeyStackBuf {
		var buf [tokenKeyStackBuf]byte
		return sha256.Sum256(buf[:copy(buf[:], token)])
	}
	return sha256.Sum256([]byte(token))
}

// tokenKeyStackBuf covers opaque tokens and typical JWT access tokens.
const tokenKeyStackBuf = 2048

// tokenCacheMaxShards bounds the number of shards. Sixteen independent locks
// keep hits on different tokens from contending, and each shard still holds
// enough entries for its CLOCK hand to find cold ones.
const tokenCacheMaxShards = 16

// A tokenCache maps token keys to verification results of type V, each with
// its own time to live, and coalesces concurrent misses for one key into a
// single fill (single-flight). It is built for the request path of verifiers:
//
//   - bounded: it never holds more than its size in entries. When a shard is
//     full, an insert evicts with CLOCK (second chance): the hand skips, and
//     clears, entries hit since it last passed, and takes the first expired or
//     unreferenced one. It approximates LRU at O(1) amortised cost and a
//     flood of one-off tokens mostly evicts itself, not the hot entries;
//   - sharded by key, each shard behind a sync.RWMutex: a hit takes one read
//     lock and sets an atomic flag only when it is not already set, so
//     parallel hits neither serialise nor bounce a cache line;
//   - expiry is checked on every lookup against the injected clock; expired
//     entries are not returned and are replaced first.
//
// A tokenCache is safe for concurrent use. Its zero value is not usable; use
// newTokenCache.
type tokenCache[V any] struct {
	now    func() time.Time
	shards []tokenCacheShard[V]
}

type tokenCacheShard[V any] struct {
	mu       sync.RWMutex
	entries  map[tokenKey]*tokenCacheEntry[V]
	ring     []*tokenCacheEntry[V] // CLOCK order; len(ring) == len(entries)
	hand     int                   // next ring slot the CLOCK hand examines
	capacity int
	flights  map[tokenKey]*tokenFlight[V]
	// Keep two shards' locks off one cache line.
	_ [64]byte
}

type tokenCacheEntry[V any] struct {
	key     tokenKey
	value   V     // written only under the shard's write lock
	expires int64 // Unix nanoseconds by the cache clock; written under the write lock
	ref     atomic.Bool
}

// A tokenFlight is one fill in progress. value and err are written before
// done is closed and read only after.
type tokenFlight[V any] struct {
	done  chan struct{}
	value V
	err   error
}

// newTokenCache returns a cache holding at most size entries (size > 0),
// whose expiry times are read from now.
func newTokenCache[V any](size int, now func() time.Time) *tokenCache[V] {
	n := min(size, tokenCacheMaxShards)
	c := &tokenCache[V]{now: now, shards: make([]tokenCacheShard[V], n)}
	for i := range c.shards {
		capacity := size / n
		if i < size%n {
			capacity++ // the shards' capacities add up to size exactly
		}
		c.shards[i] = tokenCacheShard[V]{
			entries:  make(map[tokenKey]*tokenCacheEntry[V]),
			capacity: capacity,
			flights:  make(map[tokenKey]*tokenFlight[V]),
		}
	}
	return c
}

func (c *tokenCache[V]) shard(k tokenKey) *tokenCacheShard[V] {
	// The key is a SHA-256 digest: any eight bytes of it are uniform.
	return &c.shards[binary.LittleEndian.Uint64(k[:8])%uint64(len(c.shards))]
}

// get returns the live value cached for k.
func (c *tokenCache[V]) get(k tokenKey) (V, bool) {
	now := c.now().UnixNano()
	s := c.shard(k)
	s.mu.RLock()
	v, ok := s.getLocked(k, now)
	s.mu.RUnlock()
	return v, ok
}

// getLocked must be called with s.mu held for reading or writing.
func (s *tokenCacheShard[V]) getLocked(k tokenKey, now int64) (V, bool) {
	e := s.entries[k]
	if e == nil || now >= e.expires {
		var zero V
		return zero, false
	}
	if !e.ref.Load() { // a plain load keeps hot entries' cache lines shared
		e.ref.Store(true)
	}
	return e.value, true
}

// set caches v for k until ttl from now. A ttl <= 0 caches nothing.
func (c *tokenCache[V]) set(k tokenKey, v V, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	now := c.now().UnixNano()
	s := c.shard(k)
	s.mu.Lock()
	s.setLocked(k, v, now+int64(ttl), now)
	s.mu.Unlock()
}

// setLocked must be called with s.mu held for writing.
func (s *tokenCacheShard[V]) setLocked(k tokenKey, v V, expires, now int64) {
	if e := s.entries[k]; e != nil {
		e.value, e.expires = v, expires
		return
	}
	e := &tokenCacheEntry[V]{key: k, value: v, expires: expires}
	if len(s.ring) < s.capacity {
		s.ring = append(s.ring, e)
		s.entries[k] = e
		return
	}
	if len(s.ring) == 0 {
		return
	}
	// CLOCK: give each referenced entry a second chance. Readers cannot set
	// flags while the write lock is held, so one full turn clears them all
	// and the loop ends within len(ring)+1 steps.
	for {
		victim := s.ring[s.hand]
		if victim.expires <= now || !victim.ref.Load() {
			break
		}
		victim.ref.Store(false)
		s.hand = (s.hand + 1) % len(s.ring)
	}
	delete(s.entries, s.ring[s.hand].key)
	s.ring[s.hand] = e
	s.entries[k] = e
	s.hand = (s.hand + 1) % len(s.ring)
}

// do returns the live value cached for k or, on a miss, the result of fill,
// which it caches for the returned ttl when fill returns a nil error. Errors
// are never cached.
//
// Concurrent calls for one key share a single call of fill (single-flight).
// fill runs in its own goroutine with a context that carries ctx's values
// but not its cancellation, so one caller giving up does not fail the
// others; fill must bound its own run time. Each caller waits only as long
// as its own ctx allows and then returns ctx.Err().
func (c *tokenCache[V]) do(ctx context.Context, k tokenKey, fill func(context.Context) (V, time.Duration, error)) (V, error) {
	s := c.shard(k)
	now := c.now().UnixNano()
	s.mu.Lock()
	// Re-check under the write lock: a fill may have finished since the
	// caller's own lookup.
	if v, ok := s.getLocked(k, now); ok {
		s.mu.Unlock()
		return v, nil
	}
	f := s.flights[k]
	if f == nil {
		if err := ctx.Err(); err != nil {
			s.mu.Unlock()
			var zero V
			return zero, err
		}
		f = &tokenFlight[V]{done: make(chan struct{})}
		s.flights[k] = f
		go c.fly(context.WithoutCancel(ctx), s, k, f, fill)
	}
	s.mu.Unlock()

	select {
	case <-f.done:
		return f.value, f.err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

func (c *tokenCache[V]) fly(ctx context.Context, s *tokenCacheShard[V], k tokenKey, f *tokenFlight[V], fill func(context.Context) (V, time.Duration, error)) {
	v, ttl, err := fill(ctx)
	now := c.now().UnixNano()
	s.mu.Lock()
	if err == nil && ttl > 0 {
		s.setLocked(k, v, now+int64(ttl), now)
	}
	// Cache and flight change together: a caller arriving after this either
	// hits the entry or, for an uncached result, starts a fresh fill.
	delete(s.flights, k)
	s.mu.Unlock()
	f.value, f.err = v, err
	close(f.done)
}

// len returns the number of entries held, live or expired.
func (c *tokenCache[V]) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.entries)
		s.mu.RUnlock()
	}
	return n
}
