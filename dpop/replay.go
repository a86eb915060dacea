package dpop

import (
	"crypto/sha256"
	"hash/maphash"
	"sync"
	"time"
)

// replayShards is the number of independently locked parts of a replay
// cache.
const replayShards = 16

// A replayCache remembers the proofs (key thumbprint and jti) accepted
// within the acceptance window. A proof is acceptable for at most 2×window
// after it arrives (its iat may lie window in the future), so each shard
// keeps three generations of window each and drops the oldest as time
// moves on: an entry lives at least 2×window. Each generation is a map
// sized for its share of the bound and cleared, not reallocated, when
// reused, so a lookup allocates nothing once the maps have grown. When the
// current generation of a shard is full, or holds as many proofs of one key
// as a key may have, new proofs are refused (fail closed) rather than
// letting a replay through.
//
// Shards are chosen by a hash seeded with a secret of the process, so that
// no client can aim its proofs at one shard (STYLE R34).
type replayCache struct {
	window time.Duration
	seed   maphash.Seed
	shards [replayShards]replayShard
}

type replayShard struct {
	mu   sync.Mutex
	gens [3]map[[32]byte]struct{}
	// perKey counts the entries of each key (by keyHash) in gens[2].
	perKey map[uint64]int
	start  int64 // start of gens[0], in windows since the epoch
	max    int   // entries per generation
	maxKey int   // entries of one key per generation
	_      [32]byte
}

// newReplayCache returns a cache for size proofs per window, of which one
// key may hold keyLimit.
func newReplayCache(size, keyLimit int, window time.Duration) *replayCache {
	c := &replayCache{window: window, seed: maphash.MakeSeed()}
	per := max(size/replayShards, 1)
	perKey := min(max((keyLimit+replayShards-1)/replayShards, 1), per)
	for i := range c.shards {
		s := &c.shards[i]
		s.max, s.maxKey = per, perKey
		for g := range s.gens {
			s.gens[g] = make(map[[32]byte]struct{}, per)
		}
		s.perKey = make(map[uint64]int)
	}
	return c
}

// replayKey identifies a proof: its key's thumbprint and its jti.
func replayKey(jkt, jti string) [32]byte {
	var buf [256]byte
	if len(jkt)+1+len(jti) <= len(buf) {
		n := copy(buf[:], jkt)
		buf[n] = 0
		n++
		n += copy(buf[n:], jti)
		return sha256.Sum256(buf[:n])
	}
	return sha256.Sum256([]byte(jkt + "\x00" + jti))
}

// record records the proof k of the key with thumbprint jkt at now, unless
// it is there already (replayed) or there is no room for it (full).
func (c *replayCache) record(jkt string, k [32]byte, now time.Time) (replayed, full bool) {
	s := &c.shards[maphash.Bytes(c.seed, k[:])%replayShards]
	kh := maphash.String(c.seed, jkt)
	w := now.UnixNano() / int64(c.window)
	s.mu.Lock()
	defer s.mu.Unlock()
	// gens[0] covers window start, gens[1] start+1, gens[2] start+2: the
	// current one.
	if w > s.start+4 { // idle for long: everything is old
		for g := range s.gens {
			clear(s.gens[g])
		}
		clear(s.perKey)
		s.start = w - 2
	}
	for w > s.start+2 {
		clear(s.gens[0])
		s.gens[0], s.gens[1], s.gens[2] = s.gens[1], s.gens[2], s.gens[0]
		clear(s.perKey)
		s.start++
	}
	for g := range s.gens {
		if _, ok := s.gens[g][k]; ok {
			return true, false
		}
	}
	cur := s.gens[2]
	if len(cur) >= s.max || s.perKey[kh] >= s.maxKey {
		return false, true
	}
	cur[k] = struct{}{}
	s.perKey[kh]++
	return false, false
}
