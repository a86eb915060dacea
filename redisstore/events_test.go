package redisstore_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/redisstore"
	"github.com/oauthgate/oauthgate/redisstore/internal/redistest"
	"github.com/oauthgate/oauthgate/ssf"
	"github.com/oauthgate/oauthgate/verify"
)

const ssfAudience = "https://api.example.com/ssf"

// An ssfReplica is one process of a fleet receiving Shared Signals events
// through its own connection to the shared Redis.
type ssfReplica struct {
	rev  *ssf.Revocations
	recv *ssf.Receiver
}

func newSSFReplica(t *testing.T, tr *oauthtest.Transmitter, keys verify.KeySet, prefix string) *ssfReplica {
	t.Helper()
	store, _ := newStore(t, nil, func(c *redisstore.Config) { c.Prefix = prefix })
	return newSSFReplicaOn(t, tr, keys, store)
}

// newSSFReplicaOn is newSSFReplica sharing through store.
func newSSFReplicaOn(t *testing.T, tr *oauthtest.Transmitter, keys verify.KeySet, store *redisstore.Store) *ssfReplica {
	t.Helper()
	rev, err := ssf.NewRevocations(ssf.RevocationsConfig{Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	recv, err := ssf.NewReceiver(rev, ssf.Config{Issuer: tr.URL, Audience: ssfAudience, Keys: keys, Fanout: store})
	if err != nil {
		t.Fatal(err)
	}
	return &ssfReplica{rev: rev, recv: recv}
}

// follow runs the replica's Follow until the test ends.
func (r *ssfReplica) follow(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.recv.Follow(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Follow() = %v, want context.Canceled", err)
		}
	})
}

// revokedCh returns a channel closed when alice's tokens (without iat:
// every one) are revoked on the replica.
func (r *ssfReplica) revokedCh(t *testing.T) <-chan struct{} {
	ch := make(chan struct{})
	claims, err := verify.ParseClaims([]byte(`{"iss":"https://idp.example.com","sub":"alice"}`))
	if err != nil {
		t.Fatal(err)
	}
	stop := r.rev.Watch(claims, func() { close(ch) })
	t.Cleanup(stop)
	return ch
}

func waitFor(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(testTimeout):
		t.Fatalf("%s: not within %v", what, testTimeout)
	}
}

// TestFanout_Redis: an event pushed to one replica reaches another
// through Redis, and a replica that starts after it.
func TestFanout_Redis(t *testing.T) {
	t.Parallel()
	tr := oauthtest.NewTransmitter(t)
	keys, err := verify.NewStaticKeySet(tr.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	_, prefix := newStore(t, nil, nil)
	a, b := newSSFReplica(t, tr, keys, prefix), newSSFReplica(t, tr, keys, prefix)
	bRevoked := b.revokedCh(t)
	a.follow(t)
	b.follow(t)

	srv := httptest.NewServer(a.recv)
	t.Cleanup(srv.Close)
	set := tr.SET(t, oauthtest.Event{Audience: ssfAudience, Type: ssf.SessionRevoked, Subject: oauthtest.Opaque("alice")})
	if status, body := tr.Push(t, srv.URL, set); status != http.StatusAccepted {
		t.Fatalf("Push() = %d %s, want 202", status, body)
	}
	waitFor(t, "replica b sees the event", bRevoked)

	late := newSSFReplica(t, tr, keys, prefix)
	lateRevoked := late.revokedCh(t)
	late.follow(t)
	waitFor(t, "a replica started after the event sees it", lateRevoked)
	if n, _ := late.rev.Len(); n != 1 {
		t.Errorf("late replica Len() = %d, want 1", n)
	}
}

// TestFanout_RedisDown: while Redis is down, a pushed SET cannot be shared
// and is answered 503, applied nowhere, so the transmitter sends it again;
// once Redis is back, the retry is accepted.
func TestFanout_RedisDown(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	tr := oauthtest.NewTransmitter(t)
	keys, err := verify.NewStaticKeySet(tr.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	store, _ := newStore(t, srv, withTimeout)
	r := newSSFReplicaOn(t, tr, keys, store)
	rev := r.rev
	push := httptest.NewServer(r.recv)
	t.Cleanup(push.Close)
	set := tr.SET(t, oauthtest.Event{Audience: ssfAudience, Type: ssf.SessionRevoked, Subject: oauthtest.Opaque("alice")})

	srv.Kill()
	if status, body := tr.Push(t, push.URL, set); status != http.StatusServiceUnavailable {
		t.Fatalf("Push() while Redis is down = %d %s, want 503", status, body)
	}
	if n, _ := rev.Len(); n != 0 {
		t.Fatalf("Len() = %d after a SET that could not be shared, want 0", n)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the retried push is accepted", func() bool {
		status, _ := tr.Push(t, push.URL, set)
		return status == http.StatusAccepted
	})
	if n, _ := rev.Len(); n != 1 {
		t.Errorf("Len() = %d after the retry, want 1", n)
	}
}
