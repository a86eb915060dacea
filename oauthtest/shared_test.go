package oauthtest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/oauthgate/oauthgate/dpop"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/verify"
)

// A SharedStore stands in for both seams.
var (
	_ dpop.ReplayStore          = (*oauthtest.SharedStore)(nil)
	_ verify.IntrospectionCache = (*oauthtest.SharedStore)(nil)
)

// TestSharedStore: the semantics of SET NX PX, GET, SET PX and DEL, each
// kind of entry apart, expiring by the store's clock, and failing while an
// error is set.
func TestSharedStore(t *testing.T) {
	t.Parallel()
	clock := oauthtest.NewClock(time.Unix(1_800_000_000, 0))
	s := oauthtest.NewSharedStore(clock.Now)
	ctx := context.Background()
	k := [32]byte{1}

	for i, want := range []bool{false, true} {
		if replayed, err := s.Record(ctx, k, time.Minute); replayed != want || err != nil {
			t.Fatalf("Record() #%d = %v, %v, want %v", i+1, replayed, err, want)
		}
	}
	if v, err := s.Get(ctx, k); v != nil || err != nil {
		t.Fatalf("Get() of a key only recorded = %q, %v; kinds must not mix", v, err)
	}
	value := []byte("response")
	if err := s.Set(ctx, k, value, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	value[0] = 'X' // copied in
	if v, _ := s.Get(ctx, k); string(v) != "response" {
		t.Fatalf("Get() = %q, want the value as it was set", v)
	}
	for i, want := range []bool{true, false} {
		if locked, err := s.Lock(ctx, k, time.Second); locked != want || err != nil {
			t.Fatalf("Lock() #%d = %v, %v, want %v", i+1, locked, err, want)
		}
	}
	_ = s.Unlock(ctx, k)
	if locked, _ := s.Lock(ctx, k, time.Second); !locked {
		t.Fatal("Lock() after Unlock = false")
	}
	if n := s.Len(); n != 3 {
		t.Errorf("Len() = %d, want 3", n)
	}

	clock.Advance(time.Second) // the lock expires
	if locked, _ := s.Lock(ctx, k, time.Second); !locked {
		t.Error("Lock() after the lock's ttl = false")
	}
	clock.Advance(4 * time.Second) // the value too
	if v, _ := s.Get(ctx, k); v != nil {
		t.Errorf("Get() after the value's ttl = %q, want nil", v)
	}
	clock.Advance(time.Minute) // and the proof
	if replayed, _ := s.Record(ctx, k, time.Minute); replayed {
		t.Error("Record() after the proof's ttl = replayed")
	}

	down := errors.New("down")
	s.SetError(down)
	if _, err := s.Record(ctx, [32]byte{2}, time.Minute); !errors.Is(err, down) {
		t.Errorf("Record() while down = %v, want the error", err)
	}
	if _, err := s.Get(ctx, k); !errors.Is(err, down) {
		t.Errorf("Get() while down = %v, want the error", err)
	}
	s.SetError(nil)
	if replayed, err := s.Record(ctx, k, time.Minute); !replayed || err != nil {
		t.Errorf("Record() after recovery = %v, %v; entries must survive", replayed, err)
	}
}
