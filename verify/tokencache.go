package verify

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// tokenKey identifies a token in a [tokenCache]. There are two kinds:
//
//   - newTokenKey: the SHA-256 digest of the token. A cache keyed this way
//     never holds the token itself, so a heap dump or a debugger shows no
//     bearer credential; introspection uses it.
//   - newFastTokenKey: a 64-bit seeded hash/maphash of the token. It is only
//     a bucket: a cache keyed this way must store the token in its values and
//     compare it on every hit, so that a collision is a miss and never hands
//     one token's result to another. The JWT verifier uses it, because a hit
//     must cost well under a microsecond and SHA-256 of a 1 KiB JWT does not.
//
// Why SHA-256 and not maphash alone: a key collision would hand one token's
// claims to another token, so the key must be collision resistant even
// against an attacker who can present tokens of their choosing; maphash is
// built against hash flooding, not for that. The full 32-byte digest needs no
// truncation argument. It costs about 100-150 ns for a 32-64-byte opaque
// token and 0.8 µs for a 1 KiB JWT, against 5-100 ns for maphash
// (BenchmarkTokenKey): small next to the HTTP round trip that an
// introspection hit saves, large next to a JWT hit.
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

// newFastTokenKey returns the maphash key of token under seed; see
// [tokenKey] for the equality check it obliges the cache's user to make.
func newFastTokenKey(seed maphash.Seed, token string) tokenKey {
	var k tokenKey
	binary.LittleEndian.PutUint64(k[:8], maphash.String(seed, token))
	return k
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
//   - bounded: it never holds more than its size in entries and, when it
//     has a byte budget (newTokenCacheBytes), never more than that many
//     bytes by the costs its user declares per entry. When a shard is full,
//     an insert evicts with CLOCK (second chance): the hand skips, and
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
	maxBytes int64 // byte budget of the shard; 0 means none
	bytes    int64 // sum of the costs of the entries held
	flights  map[tokenKey]*tokenFlight[V]
	// Keep two shards' locks off one cache line.
	_ [64]byte
}

type tokenCacheEntry[V any] struct {
	key     tokenKey
	value   V     // written only under the shard's write lock
	expires int64 // Unix nanoseconds by the cache clock; written under the write lock
	cost    int64 // bytes charged against the shard's budget; fixed at insert
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
	return newTokenCacheBytes[V](size, 0, now)
}

// newTokenCacheBytes is newTokenCache with a byte budget as well: the costs
// passed to setCost never add up to more than maxBytes (0 means no budget).
// Each shard gets an equal part of both bounds, so an entry that costs more
// than maxBytes/shards is not cached.
func newTokenCacheBytes[V any](size int, maxBytes int64, now func() time.Time) *tokenCache[V] {
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
			maxBytes: maxBytes / int64(n),
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
	return c.getAt(k, c.now().UnixNano())
}

// getAt is get at now, in Unix nanoseconds, for callers that read the clock
// anyway.
func (c *tokenCache[V]) getAt(k tokenKey, now int64) (V, bool) {
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

// setCost is set for an entry that costs cost bytes of the byte budget.
func (c *tokenCache[V]) setCost(k tokenKey, v V, cost int64, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	now := c.now().UnixNano()
	s := c.shard(k)
	s.mu.Lock()
	s.setCostLocked(k, v, cost, now+int64(ttl), now)
	s.mu.Unlock()
}

// setLocked must be called with s.mu held for writing.
func (s *tokenCacheShard[V]) setLocked(k tokenKey, v V, expires, now int64) {
	s.setCostLocked(k, v, 0, expires, now)
}

// setCostLocked must be called with s.mu held for writing.
func (s *tokenCacheShard[V]) setCostLocked(k tokenKey, v V, cost, expires, now int64) {
	if s.maxBytes > 0 && cost > s.maxBytes {
		return // could never fit; evicting everything would not help
	}
	if e := s.entries[k]; e != nil {
		if e.cost == cost {
			e.value, e.expires = v, expires
			return
		}
		s.removeLocked(e)
	}
	e := &tokenCacheEntry[V]{key: k, value: v, expires: expires, cost: cost}
	for len(s.ring) >= s.capacity || s.maxBytes > 0 && s.bytes+cost > s.maxBytes {
		if len(s.ring) == 0 {
			return // capacity 0
		}
		// CLOCK: give each referenced entry a second chance. Readers cannot
		// set flags while the write lock is held, so one full turn clears
		// them all and the loop ends within len(ring)+1 steps.
		for {
			victim := s.ring[s.hand]
			if victim.expires <= now || !victim.ref.Load() {
				break
			}
			victim.ref.Store(false)
			s.hand = (s.hand + 1) % len(s.ring)
		}
		victim := s.ring[s.hand]
		if s.maxBytes == 0 || s.bytes-victim.cost+cost <= s.maxBytes {
			// The common case: the new entry takes the victim's slot.
			delete(s.entries, victim.key)
			s.bytes += cost - victim.cost
			s.ring[s.hand] = e
			s.entries[k] = e
			s.hand = (s.hand + 1) % len(s.ring)
			return
		}
		s.removeAtLocked(s.hand)
	}
	s.ring = append(s.ring, e)
	s.entries[k] = e
	s.bytes += cost
}

// removeLocked drops e, which the shard holds, and must be called with s.mu
// held for writing. It searches the ring: it is for rare paths.
func (s *tokenCacheShard[V]) removeLocked(e *tokenCacheEntry[V]) {
	if i := slices.Index(s.ring, e); i >= 0 {
		s.removeAtLocked(i)
	}
}

// removeAtLocked drops the entry in ring slot i and must be called with s.mu
// held for writing. The last ring slot moves into slot i, so the hand may
// skip one entry in this turn; CLOCK stays an approximation of LRU.
func (s *tokenCacheShard[V]) removeAtLocked(i int) {
	e := s.ring[i]
	last := len(s.ring) - 1
	s.ring[i] = s.ring[last]
	s.ring[last] = nil
	s.ring = s.ring[:last]
	if s.hand >= len(s.ring) {
		s.hand = 0
	}
	delete(s.entries, e.key)
	s.bytes -= e.cost
}

// remove drops the entry for k if stale reports that its value must no
// longer be served. It is the slow path of a hit that failed a check.
func (c *tokenCache[V]) remove(k tokenKey, stale func(V) bool) {
	s := c.shard(k)
	s.mu.Lock()
	if e := s.entries[k]; e != nil && stale(e.value) {
		s.removeLocked(e)
	}
	s.mu.Unlock()
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

// usage returns the number of entries held, live or expired, and the sum of
// their costs.
func (c *tokenCache[V]) usage() (entries int, bytes int64) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		entries += len(s.entries)
		bytes += s.bytes
		s.mu.RUnlock()
	}
	return entries, bytes
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
