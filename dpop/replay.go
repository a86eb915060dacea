package dpop

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"
)

// replayShards is the number of independently locked parts of a replay
// cache.
const replayShards = 16

// A replayCache remembers the proofs (key thumbprint and jti) seen within
// the acceptance window. A proof is acceptable for at most 2×window after
// it arrives (its iat may lie window in the future), so each shard keeps
// three generations of window each and drops the oldest as time moves on:
// an entry lives at least 2×window. Each generation is a map sized for its
// share of the bound and cleared, not reallocated, when reused, so a lookup
// allocates nothing once the maps have grown. When the current generation
// of a shard is full, new proofs are refused (fail closed) rather than
// letting a replay through.
type replayCache struct {
	window time.Duration
	shards [replayShards]replayShard
}

type replayShard struct {
	mu    sync.Mutex
	gens  [3]map[[32]byte]struct{}
	start int64 // start of gens[0], in windows since the epoch
	max   int   // entries per generation
	_     [40]byte
}

func newReplayCache(size int, window time.Duration) *replayCache {
	c := &replayCache{window: window}
	per := max(size/replayShards, 1)
	for i := range c.shards {
		s := &c.shards[i]
		s.max = per
		for g := range s.gens {
			s.gens[g] = make(map[[32]byte]struct{}, per)
		}
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

// seen records k at now and reports whether it was already there. full
// reports that it could not be recorded.
func (c *replayCache) seen(k [32]byte, now time.Time) (replayed, full bool) {
	s := &c.shards[binary.LittleEndian.Uint64(k[:8])%replayShards]
	w := now.UnixNano() / int64(c.window)
	s.mu.Lock()
	defer s.mu.Unlock()
	// gens[0] covers window start, gens[1] start+1, gens[2] start+2: the
	// current one.
	if w > s.start+4 { // idle for long: everything is old
		for g := range s.gens {
			clear(s.gens[g])
		}
		s.start = w - 2
	}
	for w > s.start+2 {
		clear(s.gens[0])
		s.gens[0], s.gens[1], s.gens[2] = s.gens[1], s.gens[2], s.gens[0]
		s.start++
	}
	for g := range s.gens {
		if _, ok := s.gens[g][k]; ok {
			return true, false
		}
	}
	cur := s.gens[2]
	if len(cur) >= s.max {
		return false, true
	}
	cur[k] = struct{}{}
	return false, false
}
