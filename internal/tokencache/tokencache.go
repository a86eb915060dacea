// Package tokencache is the bounded, sharded cache of token verification
// results that the verifiers of package verify share: the JWT verifier's
// verified-token cache and introspection's result cache.
//
// A [Cache] maps a [Key] to a value with its own expiry and, optionally, a
// cost in bytes; it evicts with CLOCK when full and coalesces concurrent
// misses for one key into one fill ([Cache.Do], through package flight).
package tokencache

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oauthgate/oauthgate/internal/flight"
)

// A Key identifies a token in a [Cache]. There are two kinds:
//
//   - [DigestKey]: the SHA-256 digest of the token. A cache keyed this way
//     never holds the token itself, so a heap dump or a debugger shows no
//     bearer credential; introspection uses it.
//   - [FastKey]: a 64-bit seeded hash/maphash of the token's end (its
//     signature, for a JWS) in the first 8 bytes, the rest zero. It is only a bucket: a cache keyed this way must
//     store the token in its values and compare it on every hit, so that a
//     collision is a miss and never hands one token's result to another.
//     The JWT verifier uses it, because a hit must cost well under a
//     microsecond and SHA-256 of a 1 KiB JWT does not.
//
// Why SHA-256 and not maphash alone: a key collision would hand one token's
// claims to another token, so the key must be collision resistant even
// against an attacker who can present tokens of their choosing; maphash is
// built against hash flooding, not for that. The full 32-byte digest needs no
// truncation argument. It costs about 100-150 ns for a 32-64-byte opaque
// token and 0.8 µs for a 1 KiB JWT, against 5-100 ns for maphash
// (BenchmarkJWT_CacheKey in package verify): small next to the HTTP round
// trip that an introspection hit saves, large next to a JWT hit.
//
// Either way the first 8 bytes are uniformly distributed, which is all the
// cache needs to pick a shard.
type Key [sha256.Size]byte

// DigestKey returns the SHA-256 key of token. It does not allocate for
// tokens up to keyStackBuf bytes.
func DigestKey(token string) Key {
	// []byte(token) would allocate for tokens over 32 bytes; a stack buffer
	// avoids that on the request path (Sum256 does not retain its input).
	if len(token) <= keyStackBuf {
		var buf [keyStackBuf]byte
		return sha256.Sum256(buf[:copy(buf[:], token)])
	}
	return sha256.Sum256([]byte(token))
}

// FastKey returns the maphash key of token under seed; see [Key] for the
// equality check it obliges the cache's user to make. It hashes only the
// last fastKeyTail bytes of token.
func FastKey(seed maphash.Seed, token string) Key {
	var k Key
	binary.LittleEndian.PutUint64(k[:8], maphash.String(seed, token[len(token)-min(len(token), fastKeyTail):]))
	return k
}

// fastKeyTail is how many trailing bytes of a token FastKey hashes. A
// compact JWS ends with its signature, and two tokens that verify do not
// share its last 64 characters (48 bytes of signature): the bytes that
// make a token unforgeable tell it from every other as well as the whole
// token would, so a JWT of 1 KiB is hashed for the cost of 64 bytes. A
// shared tail only puts two tokens in one bucket, where the token
// comparison tells them apart; only verified tokens are stored, so
// presenting tokens with a chosen tail floods nothing.
const fastKeyTail = 64

// keyStackBuf covers opaque tokens and typical JWT access tokens.
const keyStackBuf = 2048

// maxShards bounds the number of shards. Sixteen independent locks
// keep hits on different tokens from contending, and each shard still holds
// enough entries for its CLOCK hand to find cold ones.
const maxShards = 16

// A Cache maps token keys to verification results of type V, each with
// its own time to live, and coalesces concurrent misses for one key into a
// single fill (single-flight). It is built for the request path of verifiers:
//
//   - bounded: it never holds more than Config.Size entries and, when it
//     has a byte budget (Config.MaxBytes), never more than that many
//     bytes by the costs its user declares per entry ([Cache.Set]). When a shard is full,
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
// A Cache is safe for concurrent use. Its zero value is not usable; use
// [New].
type Cache[V any] struct {
	cfg    Config
	shards []shard[V]
}

// Config sets the bounds and the clock of a [Cache].
type Config struct {
	// Size is the most entries the cache holds. It must be positive.
	Size int
	// MaxBytes, if positive, is the most bytes the cache holds, by the
	// costs given to [Cache.Set]. 0 means no byte budget. Each shard gets
	// an equal part of Size and MaxBytes, so an entry that costs more
	// than MaxBytes/16 may not be cached.
	MaxBytes int64
	// Now is the clock that entries expire by. It must not be nil.
	Now func() time.Time
}

type shard[V any] struct {
	mu       sync.RWMutex
	entries  map[Key]*entry[V]
	ring     []*entry[V] // CLOCK order; len(ring) == len(entries)
	hand     int         // next ring slot the CLOCK hand examines
	capacity int
	maxBytes int64 // byte budget of the shard; 0 means none
	bytes    int64 // sum of the costs of the entries held
	// evictions counts the entries dropped to make room, for metrics.
	evictions uint64
	flights   flight.Group[Key, V]
	// Keep two shards' locks off one cache line.
	_ [64]byte
}

type entry[V any] struct {
	key     Key
	value   V     // written only under the shard's write lock
	expires int64 // Unix nanoseconds by the cache clock; written under the write lock
	cost    int64 // bytes charged against the shard's budget; fixed at insert
	ref     atomic.Bool
}

// New returns a cache with cfg's bounds and clock.
func New[V any](cfg Config) *Cache[V] {
	n := min(cfg.Size, maxShards)
	c := &Cache[V]{cfg: cfg, shards: make([]shard[V], n)}
	for i := range c.shards {
		capacity := cfg.Size / n
		if i < cfg.Size%n {
			capacity++ // the shards' capacities add up to Size exactly
		}
		c.shards[i] = shard[V]{
			entries:  make(map[Key]*entry[V]),
			capacity: capacity,
			maxBytes: cfg.MaxBytes / int64(n),
		}
	}
	return c
}

// Limits returns the configured bounds: Config.Size and Config.MaxBytes.
func (c *Cache[V]) Limits() (size int, maxBytes int64) { return c.cfg.Size, c.cfg.MaxBytes }

func (c *Cache[V]) shard(k Key) *shard[V] {
	// The first eight bytes of either kind of key are uniform (see Key).
	return &c.shards[binary.LittleEndian.Uint64(k[:8])%uint64(len(c.shards))]
}

// Get returns the live value cached for k.
func (c *Cache[V]) Get(k Key) (V, bool) {
	return c.GetAt(k, c.cfg.Now())
}

// GetAt is Get at now, a reading of the cache's clock, for callers that
// read it anyway. It takes no lock for writing and does not allocate.
func (c *Cache[V]) GetAt(k Key, now time.Time) (V, bool) {
	s := c.shard(k)
	s.mu.RLock()
	v, ok := s.getLocked(k, now.UnixNano())
	s.mu.RUnlock()
	return v, ok
}

// getLocked must be called with s.mu held for reading or writing.
func (s *shard[V]) getLocked(k Key, now int64) (V, bool) {
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

// Set caches v for k until ttl from now, replacing any entry for k, and
// charges cost bytes against the byte budget (0 if the cache has none). A
// ttl <= 0 caches nothing; an entry that costs more than a shard's part of
// the budget is not cached.
func (c *Cache[V]) Set(k Key, v V, cost int64, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	now := c.cfg.Now().UnixNano()
	s := c.shard(k)
	s.mu.Lock()
	s.setLocked(k, v, cost, now+int64(ttl), now)
	s.mu.Unlock()
}

// setLocked must be called with s.mu held for writing.
func (s *shard[V]) setLocked(k Key, v V, cost, expires, now int64) {
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
	e := &entry[V]{key: k, value: v, expires: expires, cost: cost}
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
			s.evictions++
			delete(s.entries, victim.key)
			s.bytes += cost - victim.cost
			s.ring[s.hand] = e
			s.entries[k] = e
			s.hand = (s.hand + 1) % len(s.ring)
			return
		}
		s.evictions++
		s.removeAtLocked(s.hand)
	}
	s.ring = append(s.ring, e)
	s.entries[k] = e
	s.bytes += cost
}

// removeLocked drops e, which the shard holds, and must be called with s.mu
// held for writing. It searches the ring: it is for rare paths.
func (s *shard[V]) removeLocked(e *entry[V]) {
	if i := slices.Index(s.ring, e); i >= 0 {
		s.removeAtLocked(i)
	}
}

// removeAtLocked drops the entry in ring slot i and must be called with s.mu
// held for writing. The last ring slot moves into slot i, so the hand may
// skip one entry in this turn; CLOCK stays an approximation of LRU.
func (s *shard[V]) removeAtLocked(i int) {
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

// Remove drops the entry for k if stale reports that its value must no
// longer be served. It is the slow path of a hit that failed a check;
// stale keeps it from dropping an entry that replaced the one checked.
func (c *Cache[V]) Remove(k Key, stale func(V) bool) {
	s := c.shard(k)
	s.mu.Lock()
	if e := s.entries[k]; e != nil && stale(e.value) {
		s.removeLocked(e)
	}
	s.mu.Unlock()
}

// Do returns the live value cached for k or, on a miss, the result of fill,
// which it caches (at no cost against the byte budget) for the returned
// ttl when fill returns a nil error. Errors are never cached.
//
// Concurrent calls for one key share a single call of fill (single-flight).
// fill runs in its own goroutine with a context that carries ctx's values
// but not its cancellation, so one caller giving up does not fail the
// others; fill must bound its own run time. Each caller waits only as long
// as its own ctx allows and then returns ctx.Err(); a caller whose ctx has
// ended starts no fill.
func (c *Cache[V]) Do(ctx context.Context, k Key, fill func(context.Context) (V, time.Duration, error)) (V, error) {
	if v, ok := c.Get(k); ok {
		return v, nil
	}
	if err := ctx.Err(); err != nil {
		var zero V
		return zero, err
	}
	detached := context.WithoutCancel(ctx)
	call, _ := c.shard(k).flights.Start(k, func() (V, error) {
		// A fill may have ended between the lookup above and Start.
		if v, ok := c.Get(k); ok {
			return v, nil
		}
		v, ttl, err := fill(detached)
		if err == nil {
			// Before the flight ends: a caller that no longer finds the
			// flight finds the entry.
			c.Set(k, v, 0, ttl)
		}
		return v, err
	})
	return call.Wait(ctx)
}

// Usage returns the number of entries held, live or expired, and the sum of
// their costs.
func (c *Cache[V]) Usage() (entries int, bytes int64) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		entries += len(s.entries)
		bytes += s.bytes
		s.mu.RUnlock()
	}
	return entries, bytes
}

// Evictions returns the number of entries dropped so far to make room for
// others: expired or cold entries taken by the CLOCK hand when a shard was
// full. Entries replaced or removed by [Cache.Remove] are not counted.
func (c *Cache[V]) Evictions() uint64 {
	var n uint64
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += s.evictions
		s.mu.RUnlock()
	}
	return n
}
