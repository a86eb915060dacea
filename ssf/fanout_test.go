package ssf_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/ssf"
	"github.com/oauthgate/oauthgate/verify"
)

// A replica is one process of a fleet: its Revocations and its receiver.
type replica struct {
	rev  *ssf.Revocations
	recv *ssf.Receiver
}

func newReplica(t *testing.T, tr *oauthtest.Transmitter, keys verify.KeySet, fanout ssf.Fanout) *replica {
	t.Helper()
	rev, err := ssf.NewRevocations(ssf.RevocationsConfig{Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	recv, err := ssf.NewReceiver(rev, ssf.Config{Issuer: tr.URL, Audience: receiverAudience, Keys: keys, Fanout: fanout})
	if err != nil {
		t.Fatal(err)
	}
	return &replica{rev: rev, recv: recv}
}

func (r *replica) follow(t *testing.T, ctx context.Context) {
	go func() {
		if err := r.recv.Follow(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("Follow() = %v, want context.Canceled", err)
		}
	}()
}

// revoked reports whether the replica refuses alice's token of a minute
// ago.
func (r *replica) revoked(t *testing.T) bool {
	t.Helper()
	return !r.rev.Lookup(claimsOf{sub: "alice", iat: time.Now().Add(-time.Minute)}.claims(t)).Revoked.IsZero()
}

// TestFanout: an event pushed to one replica reaches the others that
// follow the shared store, and a replica that starts later; a SET that
// cannot be shared is answered 503 and applied nowhere.
func TestFanout(t *testing.T) {
	t.Parallel()
	tr, keys := newTransmitter(t)
	synctest.Test(t, func(t *testing.T) {
		store := oauthtest.NewSharedStore(nil)
		a, b := newReplica(t, tr, keys, store), newReplica(t, tr, keys, store)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		a.follow(t, ctx)
		b.follow(t, ctx)
		synctest.Wait()
		time.Sleep(time.Minute)

		store.SetError(errors.New("redis down"))
		set := tr.SET(t, oauthtest.Event{Audience: receiverAudience, Type: ssf.SessionRevoked, Subject: oauthtest.Opaque("alice")})
		if code := pushCode(a.recv, set); code != http.StatusServiceUnavailable {
			t.Fatalf("push while the store is down = %d, want 503", code)
		}
		if a.revoked(t) {
			t.Fatal("a SET that could not be shared was applied")
		}
		store.SetError(nil)
		time.Sleep(2 * time.Second) // the followers subscribe again
		if code := pushCode(a.recv, set); code != http.StatusAccepted {
			t.Fatalf("push (retried by the transmitter) = %d, want 202", code)
		}
		synctest.Wait()
		if !a.revoked(t) || !b.revoked(t) {
			t.Errorf("revoked on a, b = %v, %v; want true, true", a.revoked(t), b.revoked(t))
		}
		late := newReplica(t, tr, keys, store)
		late.follow(t, ctx)
		synctest.Wait()
		if !late.revoked(t) {
			t.Error("a replica started after the event does not see it")
		}
		cancel()
		synctest.Wait()
	})
}
