package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/valkey-io/valkey-go"

	"github.com/oauthgate/oauthgate/dpop"
)

// Record implements [dpop.ReplayStore] with one round trip: SET name 1 NX
// PX ttl, which stores the entry unless it exists, atomically on the
// server, and lets it expire with the proof's acceptance window. It fails
// closed: any error, including a reply that took longer than Timeout, is
// returned, and dpop refuses the proof with dpop.ErrReplayStoreUnavailable;
// with InsecureLocalReplayFallback the error matches
// dpop.ErrInProcessFallback instead.
func (s *Store) Record(ctx context.Context, key [32]byte, ttl time.Duration) (replayed bool, err error) {
	cmd := s.client.B().Set().Key(s.name(kindReplay, key)).Value("1").Nx().PxMilliseconds(millis(ttl)).Build()
	err = s.do(ctx, opReplay, cmd, func(res valkey.ValkeyResult) error {
		if valkey.IsValkeyNil(res.Error()) {
			replayed = true // NX: the entry exists
			return nil
		}
		return expectOK(res)
	})
	if err != nil && s.fallback {
		s.metrics.fellBack(opReplay)
		return false, fmt.Errorf("%w: %w", dpop.ErrInProcessFallback, err)
	}
	return replayed, err
}

// millis returns d in whole milliseconds, rounded up and at least 1, for
// PX: an entry must not expire before d has passed.
func millis(d time.Duration) int64 {
	return max(int64((d+time.Millisecond-1)/time.Millisecond), 1)
}
