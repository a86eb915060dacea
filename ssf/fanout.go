package ssf

import (
	"context"
	"crypto/sha256"
	"errors"
	"time"
)

// A Fanout shares the SETs that one replica's receiver accepted with the
// receivers of the same transmitter on the other replicas, so that an
// event pushed to one replica reaches all of them, and a replica that
// starts later still sees recent events. Package redisstore keeps it in
// Redis (PUBLISH and a set of recent SETs); oauthtest.SharedStore is an
// in-memory one for tests. The SETs are shared as received, signed, and
// every replica verifies them again: the store is trusted with
// availability, not with integrity.
//
// Implementations must be safe for concurrent use.
type Fanout interface {
	// Publish stores set under topic for ttl, for replicas that subscribe
	// later, and delivers it to the subscriptions of topic now open.
	Publish(ctx context.Context, topic [32]byte, set []byte, ttl time.Duration) error
	// Subscribe calls deliver with each SET stored under topic and not
	// expired, and with each SET published under it from the time it
	// subscribed, until ctx ends or the subscription fails, and returns
	// why. A SET may be delivered more than once; deliver is never called
	// concurrently, nor after Subscribe returns.
	Subscribe(ctx context.Context, topic [32]byte, deliver func(set []byte)) error
}

// followRetry is the wait before subscribing again after a failure.
const followRetry = time.Second

// topic returns the Fanout topic of the transmitter's SETs.
func (t *transmitter) topic() [32]byte {
	return sha256.Sum256([]byte("oauthgate ssf transmitter\x00" + t.issuer))
}

// errNoFanout reports a Follow without a Config.Fanout.
var errNoFanout = errors.New("ssf: Follow needs Config.Fanout")

// follow applies the SETs the other replicas accepted until ctx ends.
func (t *transmitter) follow(ctx context.Context) error {
	if t.fanout == nil {
		return errNoFanout
	}
	topic := t.topic()
	for {
		_ = t.fanout.Subscribe(ctx, topic, func(set []byte) {
			// Refused ones (duplicates above all: this replica's own)
			// change nothing.
			_ = t.receive(ctx, string(set), false)
		})
		timer := time.NewTimer(followRetry)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
	}
}

// Follow applies the SETs that the other replicas' receivers of this
// transmitter accepted, shared through Config.Fanout: first those still
// stored, then each as it is published, until ctx ends; it returns ctx's
// error, at once if Config.Fanout is nil. When the shared store fails it
// subscribes again after a second. Run it on a goroutine of its own for
// the life of the server.
func (rc *Receiver) Follow(ctx context.Context) error { return rc.t.follow(ctx) }

// Follow is [Receiver.Follow] for the SETs the other replicas polled.
func (p *Poller) Follow(ctx context.Context) error { return p.t.follow(ctx) }
