package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valkey-io/valkey-go"
)

// Limits of the shared SETs.
const (
	kindEvents = "e:"
	// maxSharedSETs bounds the SETs kept for late replicas per topic; the
	// oldest go first. ssf bounds the subjects its Revocations hold.
	maxSharedSETs = 10_000
	// markerPrefix starts the messages a subscriber sends itself to learn
	// that its subscription is active; a SET never starts with it.
	markerPrefix = "oauthgate-sync:"
	// syncEvery is how often a subscriber repeats its marker until it
	// comes back.
	syncEvery = 50 * time.Millisecond
)

// Publish implements ssf.Fanout: the SET goes into a sorted set named
// after the topic (Prefix + "e:" + HMAC), scored by when it expires,
// whose expired and excess members (beyond 10 000, the oldest) are
// dropped and which itself expires after ttl; then it is published on a
// channel of the same name. The five commands are sent in one round trip,
// bounded by Timeout. SETs are signed by their transmitter and verified by
// every replica, so the store needs no tag for them.
func (s *Store) Publish(ctx context.Context, topic [32]byte, set []byte, ttl time.Duration) error {
	name := s.name(kindEvents, topic)
	now := time.Now()
	c := s.client.B()
	cmds := valkey.Commands{
		c.Zadd().Key(name).ScoreMember().ScoreMember(float64(now.Add(ttl).UnixMilli()), valkey.BinaryString(set)).Build(),
		c.Zremrangebyscore().Key(name).Min("-inf").Max("(" + strconv.FormatInt(now.UnixMilli(), 10)).Build(),
		c.Zremrangebyrank().Key(name).Start(0).Stop(-(maxSharedSETs + 1)).Build(),
		c.Pexpire().Key(name).Milliseconds(millis(ttl)).Build(),
		c.Publish().Channel(name).Message(valkey.BinaryString(set)).Build(),
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	start := time.Now()
	var err error
	for _, res := range s.client.DoMulti(ctx, cmds...) {
		if err = res.Error(); err != nil {
			break
		}
	}
	s.metrics.record(opPublish, start, err)
	if err != nil {
		return fmt.Errorf("redisstore: publish: %w", err)
	}
	return nil
}

// Subscribe implements ssf.Fanout: it subscribes to the topic's channel,
// waits until a marker it publishes there comes back (so that no SET
// published from then on is missed), reads the SETs of the sorted set that
// have not expired, and delivers them, then each SET published, until ctx
// ends or the connection fails. It returns ctx's error or the failure. A
// SET published while it reads the stored ones may be delivered twice.
func (s *Store) Subscribe(ctx context.Context, topic [32]byte, deliver func(set []byte)) error {
	name := s.name(kindEvents, topic)
	var nonce [8]byte
	_, _ = rand.Read(nonce[:]) // never fails (Go 1.24+)
	marker := markerPrefix + hex.EncodeToString(nonce[:])

	var mu sync.Mutex // serialises deliver; done forbids it after return
	done := false
	send := func(set []byte) {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			deliver(set)
		}
	}
	defer func() {
		mu.Lock()
		done = true
		mu.Unlock()
	}()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	synced := make(chan struct{})
	var once sync.Once
	errc := make(chan error, 1)
	go func() {
		errc <- s.client.Receive(ctx, s.client.B().Subscribe().Channel(name).Build(), func(m valkey.PubSubMessage) {
			switch {
			case m.Message == marker:
				once.Do(func() { close(synced) })
			case strings.HasPrefix(m.Message, markerPrefix):
			default:
				send([]byte(m.Message))
			}
		})
	}()
	if err := s.sync(ctx, name, marker, synced, errc); err != nil {
		cancel()
		<-errc
		return err
	}
	stored, err := s.stored(ctx, name)
	if err != nil {
		cancel()
		<-errc
		return err
	}
	for _, set := range stored {
		send(set)
	}
	err = <-errc
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("redisstore: subscribe: %w", cmpErr(err))
}

// sync publishes marker on name until it comes back on the subscription
// (synced), the subscription fails (errc) or ctx ends.
func (s *Store) sync(ctx context.Context, name, marker string, synced <-chan struct{}, errc chan error) error {
	tick := time.NewTicker(syncEvery)
	defer tick.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, s.timeout)
		err := s.client.Do(pctx, s.client.B().Publish().Channel(name).Message(marker).Build()).Error()
		cancel()
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("redisstore: subscribe: %w", err)
		}
		select {
		case <-synced:
			return nil
		case err := <-errc:
			errc <- err // for the caller's wait
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("redisstore: subscribe: %w", cmpErr(err))
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// stored returns the SETs under name that have not expired.
func (s *Store) stored(ctx context.Context, name string) ([][]byte, error) {
	var sets [][]byte
	cmd := s.client.B().Zrangebyscore().Key(name).Min(strconv.FormatInt(time.Now().UnixMilli(), 10)).Max("+inf").Build()
	err := s.do(ctx, opEvents, cmd, func(res valkey.ValkeyResult) error {
		members, err := res.AsStrSlice()
		if err != nil {
			return errReply
		}
		for _, m := range members {
			sets = append(sets, []byte(m))
		}
		return nil
	})
	return sets, err
}

// cmpErr names a subscription that ended without an error.
func cmpErr(err error) error {
	if err == nil {
		return errors.New("subscription ended")
	}
	return err
}
