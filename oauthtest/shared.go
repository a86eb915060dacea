package oauthtest

import (
	"bytes"
	"context"
	"sync"
	"time"
)

// A SharedStore is an in-memory stand-in for the state that the replicas
// of a service share, which package redisstore keeps in Redis: it is a
// dpop.ReplayStore ([SharedStore.Record]) and a verify.IntrospectionCache
// ([SharedStore.Get], [SharedStore.Set], [SharedStore.Lock],
// [SharedStore.Unlock]) and an ssf.Fanout ([SharedStore.Publish],
// [SharedStore.Subscribe]), with the semantics of the commands redisstore
// sends (SET NX PX, GET, SET PX, DEL): atomic, and every entry expiring by
// the store's clock. Give one to several verifiers to test replicas in one
// process, also inside a testing/synctest bubble, where no Redis can run.
// [SharedStore.SetError] makes it fail like a server that is down.
//
// Values are copied in and out. A SharedStore is safe for concurrent use.
type SharedStore struct {
	now func() time.Time

	mu      sync.Mutex
	entries map[sharedKey]sharedEntry // guarded by mu
	err     error                     // guarded by mu
	// sweepAt is the size at which expired entries are dropped, as Redis
	// drops them on its own: entries no one asks for again would pile up.
	sweepAt int // guarded by mu
	// topics hold the SETs of ssf.Fanout (see sharedevents.go).
	topics map[[32]byte]*sharedTopic // guarded by mu
}

// Kinds of entry, as redisstore's name prefixes.
const (
	sharedReplay byte = 'r'
	sharedValue  byte = 'i'
	sharedLock   byte = 'l'
)

type sharedKey struct {
	kind byte
	key  [32]byte
}

type sharedEntry struct {
	value   []byte
	expires time.Time
}

// NewSharedStore returns an empty store whose entries expire by now; if
// now is nil, time.Now is used (the fake clock inside a synctest bubble).
func NewSharedStore(now func() time.Time) *SharedStore {
	if now == nil {
		now = time.Now
	}
	return &SharedStore{now: now, entries: map[sharedKey]sharedEntry{}}
}

// SetError makes every later call fail with err, as calls to a server that
// is down do; SetError(nil) restores normal answers. Entries are kept.
func (s *SharedStore) SetError(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
	if err == nil {
		return
	}
	for _, t := range s.topics { // subscriptions fail, as connections drop
		for sub := range t.subs {
			close(sub.queue)
			delete(t.subs, sub)
		}
	}
}

// Len returns the number of live entries of every kind: recorded proofs,
// introspection values and fill locks.
func (s *SharedStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	now, n := s.now(), 0
	for _, e := range s.entries {
		if now.Before(e.expires) {
			n++
		}
	}
	return n
}

// Record stores key for ttl unless it is stored; replayed reports that it
// was (dpop.ReplayStore).
func (s *SharedStore) Record(_ context.Context, key [32]byte, ttl time.Duration) (replayed bool, err error) {
	stored, err := s.setNX(sharedKey{sharedReplay, key}, nil, ttl)
	return !stored && err == nil, err
}

// Get returns the value stored for key, or nil (verify.IntrospectionCache).
func (s *SharedStore) Get(_ context.Context, key [32]byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	e, ok := s.liveLocked(sharedKey{sharedValue, key})
	if !ok {
		return nil, nil
	}
	return bytes.Clone(e.value), nil
}

// Set stores value for key for ttl, replacing any value
// (verify.IntrospectionCache).
func (s *SharedStore) Set(_ context.Context, key [32]byte, value []byte, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.putLocked(sharedKey{sharedValue, key}, bytes.Clone(value), ttl)
	return nil
}

// Lock takes the fill lock of key for ttl unless it is held
// (verify.IntrospectionCache).
func (s *SharedStore) Lock(_ context.Context, key [32]byte, ttl time.Duration) (locked bool, err error) {
	return s.setNX(sharedKey{sharedLock, key}, nil, ttl)
}

// Unlock releases the fill lock of key (verify.IntrospectionCache).
func (s *SharedStore) Unlock(_ context.Context, key [32]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	delete(s.entries, sharedKey{sharedLock, key})
	return nil
}

// setNX stores value under k for ttl unless a live entry is there.
func (s *SharedStore) setNX(k sharedKey, value []byte, ttl time.Duration) (stored bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return false, s.err
	}
	if _, ok := s.liveLocked(k); ok {
		return false, nil
	}
	s.putLocked(k, value, ttl)
	return true, nil
}

// putLocked stores value under k for ttl and drops expired entries when
// the map has doubled since they were last dropped. It must be called with
// s.mu held.
func (s *SharedStore) putLocked(k sharedKey, value []byte, ttl time.Duration) {
	now := s.now()
	s.entries[k] = sharedEntry{value: value, expires: now.Add(ttl)}
	if len(s.entries) < s.sweepAt {
		return
	}
	for k, e := range s.entries {
		if !now.Before(e.expires) {
			delete(s.entries, k)
		}
	}
	s.sweepAt = max(2*len(s.entries), 1024)
}

// liveLocked returns the entry under k unless it has expired, which it
// then drops. It must be called with s.mu held.
func (s *SharedStore) liveLocked(k sharedKey) (sharedEntry, bool) {
	e, ok := s.entries[k]
	if ok && !s.now().Before(e.expires) {
		delete(s.entries, k)
		return sharedEntry{}, false
	}
	return e, ok
}
