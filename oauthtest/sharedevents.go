package oauthtest

import (
	"bytes"
	"context"
	"time"
)

// A sharedTopic holds the SETs published under one topic and the open
// subscriptions, for [SharedStore.Publish] and [SharedStore.Subscribe].
type sharedTopic struct {
	sets []sharedEntry // stored, until they expire
	subs map[*sharedSub]struct{}
}

// A sharedSub is one open subscription: a queue its Subscribe call drains.
type sharedSub struct {
	queue chan []byte
}

// sharedSubQueue bounds what a slow subscriber may have pending; beyond
// it, the subscription fails, as a Redis client that cannot keep up is
// disconnected.
const sharedSubQueue = 1024

// errSharedSlow ends a subscription that fell behind.
var errSharedSlow = &sharedError{"oauthtest: subscriber fell behind"}

type sharedError struct{ msg string }

func (e *sharedError) Error() string { return e.msg }

// Publish stores set under topic for ttl and delivers it to the open
// subscriptions of topic (ssf.Fanout), as redisstore's ZADD and PUBLISH.
func (s *SharedStore) Publish(_ context.Context, topic [32]byte, set []byte, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	t := s.topicLocked(topic)
	now := s.now()
	kept := t.sets[:0]
	for _, e := range t.sets {
		if now.Before(e.expires) {
			kept = append(kept, e)
		}
	}
	t.sets = append(kept, sharedEntry{value: bytes.Clone(set), expires: now.Add(ttl)})
	for sub := range t.subs {
		select {
		case sub.queue <- bytes.Clone(set):
		default:
			close(sub.queue) // fell behind: its Subscribe fails
			delete(t.subs, sub)
		}
	}
	return nil
}

// Subscribe delivers the SETs stored under topic and not expired, then
// each one published, until ctx ends or [SharedStore.SetError] is called
// (ssf.Fanout). It returns ctx's error, or the store's.
func (s *SharedStore) Subscribe(ctx context.Context, topic [32]byte, deliver func(set []byte)) error {
	sub := &sharedSub{queue: make(chan []byte, sharedSubQueue)}
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return err
	}
	t := s.topicLocked(topic)
	t.subs[sub] = struct{}{}
	now := s.now()
	var stored [][]byte
	for _, e := range t.sets {
		if now.Before(e.expires) {
			stored = append(stored, bytes.Clone(e.value))
		}
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(t.subs, sub)
		s.mu.Unlock()
	}()
	for _, set := range stored {
		deliver(set)
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case set, ok := <-sub.queue:
			if !ok {
				s.mu.Lock()
				err := s.err
				s.mu.Unlock()
				if err != nil {
					return err
				}
				return errSharedSlow
			}
			deliver(set)
		}
	}
}

// topicLocked returns the topic named key, creating it. It must be called
// with s.mu held.
func (s *SharedStore) topicLocked(key [32]byte) *sharedTopic {
	if s.topics == nil {
		s.topics = map[[32]byte]*sharedTopic{}
	}
	t := s.topics[key]
	if t == nil {
		t = &sharedTopic{subs: map[*sharedSub]struct{}{}}
		s.topics[key] = t
	}
	return t
}
