package dpop

import (
	"context"
	"time"
)

// replayStoreSkew is added to how long a [ReplayStore] keeps a proof, for
// the clocks of the replicas that share it: a replica whose clock is
// behind accepts a proof a little longer than the one that recorded it.
const replayStoreSkew = 5 * time.Second

// A ReplayStore remembers proofs for [Verifier.Record] outside the
// process, so that replicas behind one load balancer refuse a proof that
// any of them accepted (RFC 9449 §11.1 asks the resource server, not each
// process, to detect replays). Package redisstore, a module of its own,
// implements it on Redis or Valkey.
//
// A ReplayStore must be safe for concurrent use, and its Record atomic:
// of any number of calls for one key, from any replica, exactly one
// reports replayed false until the key expires.
type ReplayStore interface {
	// Record stores key for ttl unless it is stored already; replayed
	// reports that it was. key is the SHA-256 digest of the proof key's
	// thumbprint and the proof's jti, never the proof: a store that names
	// entries by it must key it with a secret of its own first (HMAC), so
	// that whoever can read or write the store can neither tell which
	// proofs were used nor block a client's next proof in advance. ttl
	// covers the proof's acceptance window (see [Config].ReplayStore).
	//
	// An error means the proof could not be checked: Record fails closed
	// with [ErrReplayStoreUnavailable], unless the error matches
	// [ErrInProcessFallback]. Record must return soon after ctx is done;
	// it should bound its own wait much more tightly, since every DPoP
	// call waits for it.
	Record(ctx context.Context, key [32]byte, ttl time.Duration) (replayed bool, err error)
}

// storeTTL is how long a store keeps a proof with the given iat recorded
// at now: until no replica can accept it any more (iat + window by its own
// clock), plus replayStoreSkew. It is at most 2×window + replayStoreSkew.
func (v *Verifier) storeTTL(iat int64, now time.Time) time.Duration {
	return max(time.Unix(iat, 0).Add(v.window).Sub(now), 0) + replayStoreSkew
}
