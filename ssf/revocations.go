package ssf

import (
	"cmp"
	"errors"
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oauthgate/oauthgate/verify"
)

// Defaults and limits of [RevocationsConfig].
const (
	defaultMaxSubjects = 100_000
	maxRetention       = 7 * 24 * time.Hour
	// revocationShards spreads the entries over locks, so that lookups on
	// many cores rarely share one.
	revocationShards = 16
)

// RevocationsConfig configures [Revocations]. It must not be modified
// after it is passed to [NewRevocations].
type RevocationsConfig struct {
	// Retention is how long an event is remembered after the time it
	// happened: set it to the longest lifetime of the tokens the verifiers
	// accept (their exp minus iat, plus the leeway), after which every
	// token issued before the event has expired anyway. Required; at most
	// 7 days.
	Retention time.Duration
	// MaxSubjects bounds the subjects remembered, over all transmitters.
	// An event that would exceed it (or its transmitter's
	// [Config].MaxSubjects) is not stored; instead every verification made
	// until then becomes stale, so that the verifiers verify every token
	// afresh (fail closed to "re-verify", see "Limits" in the package
	// documentation). If zero, 100 000 is used.
	MaxSubjects int
	// Now returns the current time. If nil, time.Now is used.
	Now func() time.Time
}

// Revocations are the events that receivers ([Receiver], [Poller])
// accepted, remembered for the verifiers by subject. Set it in
// verify.JWTConfig.Revocations or verify.IntrospectionConfig.Revocations:
// it implements [verify.Revocations]. Several receivers, one per
// transmitter, may feed one Revocations.
//
// A Revocations is safe for concurrent use. It starts no goroutine:
// expired events are dropped while new ones are added.
type Revocations struct {
	retention time.Duration
	max       int
	now       func() time.Time
	seed      maphash.Seed

	// filter holds the hash of every entry; nil while there is none, which
	// with everyChanged 0 is the fast path.
	filter atomic.Pointer[filter]
	// kinds has bit 1<<k set while entries of kind k may exist; a lookup
	// skips the others.
	kinds atomic.Uint32
	// issuer is the hash of the first issuer looked up.
	issuer atomic.Pointer[issuerMemo]
	// generation changes after every event stored (see Generation).
	generation atomic.Uint64
	// everyChanged, in Unix nanoseconds, makes every verification made
	// until then stale: the fail-closed answer to an event that could not
	// be stored.
	everyChanged atomic.Int64

	shards [revocationShards]revocationShard

	mu        sync.Mutex     // serialises writers: counts, sweeps, watchers
	count     int            // entries in all shards
	perTx     map[string]int // entries by transmitter
	kindCount [kindCount]int
	lastSweep time.Time
	dropped   atomic.Uint64
	watchers  map[uint64]map[*watch]struct{}
}

type revocationShard struct {
	mu      sync.RWMutex
	entries map[uint64][]*entry
}

// An entry is what is known of one subject: the latest event time of
// each kind, and the conditions of a complex subject.
type entry struct {
	m       match
	rev     verify.Revocation
	expires time.Time // latest event time plus retention
	tx      string    // the transmitter that added it
}

// NewRevocations returns empty Revocations for cfg, or an error naming
// the field at fault.
func NewRevocations(cfg RevocationsConfig) (*Revocations, error) {
	switch {
	case cfg.Retention <= 0:
		return nil, errors.New("ssf: RevocationsConfig.Retention must be positive; set it to the longest lifetime of the tokens your verifiers accept")
	case cfg.Retention > maxRetention:
		return nil, fmt.Errorf("ssf: RevocationsConfig.Retention %v is over the %v limit", cfg.Retention, maxRetention)
	case cfg.MaxSubjects < 0:
		return nil, errors.New("ssf: RevocationsConfig.MaxSubjects is negative; use 0 for the default of 100000")
	}
	r := &Revocations{
		retention: cfg.Retention,
		max:       cmp.Or(cfg.MaxSubjects, defaultMaxSubjects),
		now:       cfg.Now,
		seed:      maphash.MakeSeed(),
		perTx:     make(map[string]int),
		watchers:  make(map[uint64]map[*watch]struct{}),
	}
	if r.now == nil {
		r.now = time.Now
	}
	for i := range r.shards {
		r.shards[i].entries = make(map[uint64][]*entry)
	}
	return r, nil
}

var _ verify.Revocations = (*Revocations)(nil)

// Lookup returns the latest events that concern the token with claims c
// (see [verify.Revocation]). It is called by the verifiers on every
// verification: with no event stored it costs two atomic loads; with
// events of other subjects, a hash of each of the token's identifying
// claims and a lock-free filter test each, and no allocation.
func (r *Revocations) Lookup(c *verify.Claims) verify.Revocation {
	f := r.filter.Load()
	every := r.everyChanged.Load()
	if f == nil && every == 0 {
		return verify.Revocation{}
	}
	var out verify.Revocation
	if every != 0 {
		out.Changed = time.Unix(0, every)
	}
	if f == nil {
		return out
	}
	kinds := r.kinds.Load()
	iss, sub := c.Issuer(), c.Subject()
	var hIss uint64
	if iss != "" && kinds&(1<<kindIssSub|1<<kindJTI) != 0 {
		hIss = r.issuerHash(iss)
	}
	if sub != "" && kinds&(1<<kindIssSub|1<<kindOpaque) != 0 {
		hSub := maphash.String(r.seed, sub)
		if h := mix(kindIssSub, hIss, hSub); hIss != 0 && kinds&(1<<kindIssSub) != 0 && f.has(h) {
			r.probe(lookupKey{kindIssSub, iss, sub}, h, c, &out)
		}
		if h := mix(kindOpaque, 0, hSub); kinds&(1<<kindOpaque) != 0 && f.has(h) {
			r.probe(lookupKey{kindOpaque, "", sub}, h, c, &out)
		}
	}
	if jti := c.ID(); jti != "" && hIss != 0 && kinds&(1<<kindJTI) != 0 {
		if h := mix(kindJTI, hIss, maphash.String(r.seed, jti)); f.has(h) {
			r.probe(lookupKey{kindJTI, iss, jti}, h, c, &out)
		}
	}
	if kinds&(1<<kindEmail|1<<kindSession|1<<kindTenant) != 0 {
		r.lookupOthers(f, kinds, c, &out)
	}
	return out
}

// An issuerMemo is the hash of the first issuer looked up: most servers
// accept one, and comparing its name is cheaper than hashing it.
type issuerMemo struct {
	iss string
	h   uint64
}

// issuerHash returns maphash.String(r.seed, iss), from the memo when iss
// is the first issuer seen. Only the first is stored, so that tokens of
// several issuers cost a hash each but never an allocation.
func (r *Revocations) issuerHash(iss string) uint64 {
	if m := r.issuer.Load(); m != nil && m.iss == iss {
		return m.h
	}
	h := maphash.String(r.seed, iss)
	if r.issuer.Load() == nil {
		r.issuer.CompareAndSwap(nil, &issuerMemo{iss: strings.Clone(iss), h: h})
	}
	return h
}

// lookupOthers is Lookup for the claims that few tokens carry.
func (r *Revocations) lookupOthers(f *filter, kinds uint32, c *verify.Claims, out *verify.Revocation) {
	for _, k := range [...]struct {
		kind kind
		v    string
	}{{kindEmail, c.Email()}, {kindSession, c.SessionID()}, {kindTenant, c.Tenant()}} {
		if k.v == "" || kinds&(1<<k.kind) == 0 {
			continue
		}
		if h := mix(k.kind, 0, maphash.String(r.seed, k.v)); f.has(h) {
			r.probe(lookupKey{k.kind, "", k.v}, h, c, out)
		}
	}
}

// probe folds into out the entries for key k, whose hash is h, that
// concern c.
func (r *Revocations) probe(k lookupKey, h uint64, c *verify.Claims, out *verify.Revocation) {
	s := &r.shards[h%revocationShards]
	s.mu.RLock()
	defer s.mu.RUnlock()
	var now time.Time
	for _, e := range s.entries[h] {
		if !e.m.matches(k, c) {
			continue
		}
		if now.IsZero() {
			now = r.now()
		}
		if now.After(e.expires) {
			continue
		}
		out.Revoked = later(out.Revoked, e.rev.Revoked)
		out.Changed = later(out.Changed, e.rev.Changed)
		out.Assurance = later(out.Assurance, e.rev.Assurance)
	}
}

// filterWords is the size of a filter: 2^18 bits, 32 KiB, so that with
// 100 000 subjects about a third of the lookups of other subjects' tokens
// take a shard's read lock, and with 1 000 fewer than one in 200.
const filterWords = 1 << 12

// A filter is a one-hash Bloom filter of the entries' hashes: a lookup
// whose hash has no bit set needs no lock. Bits are only added; a sweep
// replaces the filter.
type filter [filterWords]atomic.Uint64

func (f *filter) add(h uint64) { f[(h>>6)%filterWords].Or(1 << (h & 63)) }

func (f *filter) has(h uint64) bool { return f[(h>>6)%filterWords].Load()&(1<<(h&63)) != 0 }

// mix combines the hashes of a key's strings (ha is 0 for a key of one
// string) and its kind into the key's hash.
func mix(k kind, ha, hb uint64) uint64 {
	x := ha*0x9E3779B97F4A7C15 ^ hb ^ (uint64(k)+1)*0xC2B2AE3D27D4EB4F
	return x ^ x>>29
}

// Generation returns a number that changes whenever an event is stored,
// after Lookup sees it (and when a limit makes every verification stale).
// The verifiers of package verify use it to skip Lookup on a cache hit
// whose last Lookup found nothing at the same generation, so that the
// check of a cached token costs two atomic loads while no event arrives.
func (r *Revocations) Generation() uint64 { return r.generation.Load() }

// Len returns the number of subjects remembered, and the number of events
// that could not be stored because a limit was reached (each made every
// verification stale instead).
func (r *Revocations) Len() (subjects int, dropped uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.count, r.dropped.Load()
}

// hash returns the key of the entries of kind k for a and b, as Lookup
// computes it.
func (r *Revocations) hash(k kind, a, b string) uint64 {
	var ha uint64
	if a != "" {
		ha = maphash.String(r.seed, a)
	}
	return mix(k, ha, maphash.String(r.seed, b))
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// add stores the events of one SET from transmitter tx, all or nothing:
// if the subjects would exceed a limit, nothing is stored and every
// verification made until now becomes stale instead. It returns the
// watches to end (streams whose token an event revoked), for the caller to
// end outside the lock.
func (r *Revocations) add(tx string, txMax int, changes []change) []*watch {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if now.Sub(r.lastSweep) > r.retention/8 {
		r.sweepLocked(now)
	}
	// Count the new subjects first: all or nothing.
	fresh := 0
	for i := range changes {
		if r.findLocked(&changes[i].m) == nil {
			fresh++
		}
	}
	if r.count+fresh > r.max || r.perTx[tx]+fresh > txMax {
		r.dropped.Add(1)
		r.everyChanged.Store(now.UnixNano())
		r.generation.Add(1)
		return nil
	}
	if len(changes) == 0 {
		return nil // an event acted upon by no one: nothing changed
	}
	defer r.generation.Add(1) // after the entries are visible
	var ended []*watch
	for i := range changes {
		ch := &changes[i]
		expires := ch.at.Add(r.retention)
		if e := r.findLocked(&ch.m); e != nil {
			r.mergeLocked(e, ch, expires)
		} else {
			e := &entry{m: ch.m, expires: expires, tx: tx}
			ch.apply(&e.rev)
			h := r.hash(ch.m.kind, ch.m.a, ch.m.b)
			s := &r.shards[h%revocationShards]
			s.mu.Lock()
			s.entries[h] = append(s.entries[h], e)
			s.mu.Unlock()
			r.kinds.Or(1 << ch.m.kind)
			f := r.filter.Load()
			if f == nil {
				f = new(filter)
				r.filter.Store(f)
			}
			f.add(h)
			r.count++
			r.perTx[tx]++
			r.kindCount[ch.m.kind]++
		}
		if ch.effect == effectRevoke {
			ended = r.endWatchesLocked(&ch.m, ch, ended)
		}
	}
	return ended
}

// mergeLocked folds the change ch into the existing entry e.
func (r *Revocations) mergeLocked(e *entry, ch *change, expires time.Time) {
	h := r.hash(e.m.kind, e.m.a, e.m.b)
	s := &r.shards[h%revocationShards]
	s.mu.Lock()
	ch.apply(&e.rev)
	e.expires = later(e.expires, expires)
	s.mu.Unlock()
}

// findLocked returns the entry for exactly m, or nil.
func (r *Revocations) findLocked(m *match) *entry {
	h := r.hash(m.kind, m.a, m.b)
	s := &r.shards[h%revocationShards]
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, e := range s.entries[h] {
		if e.m == *m {
			return e
		}
	}
	return nil
}

// sweepLocked drops the entries that expired by now.
func (r *Revocations) sweepLocked(now time.Time) {
	r.lastSweep = now
	if every := r.everyChanged.Load(); every != 0 && now.Sub(time.Unix(0, every)) > r.retention {
		r.everyChanged.Store(0)
	}
	f := new(filter)
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		for h, list := range s.entries {
			kept := list[:0]
			for _, e := range list {
				if now.After(e.expires) {
					r.count--
					r.perTx[e.tx]--
					r.kindCount[e.m.kind]--
					continue
				}
				kept = append(kept, e)
			}
			if len(kept) == 0 {
				delete(s.entries, h)
			} else {
				clear(list[len(kept):])
				s.entries[h] = kept
				f.add(h)
			}
		}
		s.mu.Unlock()
	}
	for tx, n := range r.perTx {
		if n == 0 {
			delete(r.perTx, tx)
		}
	}
	var kinds uint32
	for k, n := range r.kindCount {
		if n > 0 {
			kinds |= 1 << k
		}
	}
	r.kinds.Store(kinds)
	if r.count == 0 {
		f = nil
	}
	r.filter.Store(f)
}
