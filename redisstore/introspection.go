package redisstore

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"time"

	"github.com/valkey-io/valkey-go"
)

// tagSize is the length of the tag after every introspection value.
const tagSize = sha256.Size

// Get implements [verify.IntrospectionCache] with one GET. The value must
// carry the tag that [Store.Set] put after it, an HMAC under the Secret
// of the key and the value; one without (written by anyone who lacks the
// Secret, or damaged) is counted (oauthgate.redis.commands, result
// bad_value) and reported as absent, so the Introspection asks the
// authorization server and overwrites it. An error makes the
// Introspection ask the authorization server; it is counted as a fallback.
func (s *Store) Get(ctx context.Context, key [32]byte) ([]byte, error) {
	var v []byte
	err := s.do(ctx, opGet, s.client.B().Get().Key(s.name(kindValue, key)).Build(), func(res valkey.ValkeyResult) error {
		if valkey.IsValkeyNil(res.Error()) {
			return nil
		}
		raw, err := res.AsBytes()
		if err != nil {
			return errReply
		}
		if len(raw) < tagSize {
			return errBadValue
		}
		body, tag := raw[:len(raw)-tagSize], raw[len(raw)-tagSize:]
		var want [tagSize]byte
		if !hmac.Equal(tag, s.values.sum(want[:0], key[:], body)) {
			return errBadValue
		}
		v = body
		return nil
	})
	switch {
	case errors.Is(err, errBadValue):
		return nil, nil // absent: the Introspection asks and overwrites it
	case err != nil:
		s.metrics.fellBack(opGet)
		return nil, err
	}
	return v, nil
}

// Set implements [verify.IntrospectionCache] with one SET with PX, so the
// entry expires with the result it holds. The value is stored with its
// tag (see [Store.Get]).
func (s *Store) Set(ctx context.Context, key [32]byte, value []byte, ttl time.Duration) error {
	v := make([]byte, len(value), len(value)+tagSize)
	copy(v, value)
	v = s.values.sum(v, key[:], value)
	cmd := s.client.B().Set().Key(s.name(kindValue, key)).Value(valkey.BinaryString(v)).PxMilliseconds(millis(ttl)).Build()
	return s.do(ctx, opSet, cmd, expectOK)
}

// Lock implements [verify.IntrospectionCache] with one SET NX PX on an
// entry of its own, which expires after ttl if its holder never unlocks
// it. An error makes the Introspection ask the authorization server; it is
// counted as a fallback.
func (s *Store) Lock(ctx context.Context, key [32]byte, ttl time.Duration) (locked bool, err error) {
	cmd := s.client.B().Set().Key(s.name(kindLock, key)).Value("1").Nx().PxMilliseconds(millis(ttl)).Build()
	err = s.do(ctx, opLock, cmd, func(res valkey.ValkeyResult) error {
		if valkey.IsValkeyNil(res.Error()) {
			return nil // held by another
		}
		locked = true
		return expectOK(res)
	})
	if err != nil {
		s.metrics.fellBack(opLock)
	}
	return locked && err == nil, err
}

// Unlock implements [verify.IntrospectionCache] with one DEL of the lock
// entry.
func (s *Store) Unlock(ctx context.Context, key [32]byte) error {
	return s.do(ctx, opUnlock, s.client.B().Del().Key(s.name(kindLock, key)).Build(), nil)
}
