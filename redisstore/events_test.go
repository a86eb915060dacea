package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valkey-io/valkey-go"

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

// TestPublish_KeepsNewest: a late replica finds the newest 10 000 SETs of
// a topic, no more (the store's bound) and no fewer.
func TestPublish_KeepsNewest(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("publishes 10 001 SETs")
	}
	store, _ := newStore(t, nil, nil)
	ctx := testContext(t)
	var topic [32]byte
	copy(topic[:], "TestPublish_KeepsNewest")
	const published = 10_001
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < published; i += 8 {
				if err := store.Publish(ctx, topic, []byte(fmt.Sprintf("set-%05d", i)), time.Hour); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Publish() = %v", err)
	}

	// Subscribe delivers the stored SETs in one go once its subscription
	// is live; "end", published on the live channel after them, shows
	// that no more come.
	var mu sync.Mutex
	stored := map[string]bool{}
	var endOnce sync.Once
	ended := make(chan struct{})
	subCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- store.Subscribe(subCtx, topic, func(set []byte) {
			if string(set) == "end" {
				endOnce.Do(func() { close(ended) })
				return
			}
			mu.Lock()
			stored[string(set)] = true
			mu.Unlock()
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(stored)
	}
	eventually(t, "a late subscriber gets 10 000 stored SETs", func() bool { return count() >= 10_000 })
	if err := store.Publish(ctx, topic, []byte("end"), time.Hour); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the SET published last", ended)
	if n := count(); n != 10_000 {
		t.Fatalf("a late subscriber got %d stored SETs, want the newest 10 000", n)
	}
}

// TestPublish_PartialFailure: a Publish whose SET was stored but not
// published (here an account without PUBLISH rights) fails, so the
// receiver answers 503 and the transmitter sends it again.
func TestPublish_PartialFailure(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	srv.MustCommand(t, "ACL", "SETUSER", "nopublish", "on", ">secret-password", "~*", "&*", "+@all", "-publish")
	c, err := valkey.NewClient(valkey.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true,
		Username: "nopublish", Password: "secret-password"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	store, err := redisstore.New(c, redisstore.Config{Secret: testSecret, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var topic [32]byte
	err = store.Publish(testContext(t), topic, []byte("set"), time.Hour)
	if err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Fatalf("Publish() without PUBLISH rights = %v, want the server's NOPERM", err)
	}
}

// TestSubscribe_Failures: Subscribe ends with the server's error, never nil
// and never hanging, when it cannot publish its marker or subscribe (an
// account without PUBLISH or SUBSCRIBE rights) and when the server goes
// away under a live subscription.
func TestSubscribe_Failures(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	// A SET is stored on the topic: a Subscribe that failed to subscribe
	// must not deliver it.
	var topic [32]byte
	plain, err := redisstore.New(newClient(t, srv), redisstore.Config{Secret: testSecret, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.Publish(testContext(t), topic, []byte("stored"), time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, command := range []string{"publish", "subscribe"} {
		user := "no" + command
		srv.MustCommand(t, "ACL", "SETUSER", user, "on", ">secret-password", "~*", "&*", "+@all", "-"+command)
		c, err := valkey.NewClient(valkey.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true,
			Username: user, Password: "secret-password"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		limited, err := redisstore.New(c, redisstore.Config{Secret: testSecret, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		err = limited.Subscribe(testContext(t), topic, func([]byte) { t.Errorf("a SET was delivered without %s rights", command) })
		if err == nil || !strings.Contains(err.Error(), "NOPERM") {
			t.Fatalf("Subscribe() without %s rights = %v, want the server's NOPERM", command, err)
		}
	}

	// A SET published before the subscription is delivered from the
	// stored ones, after the subscription is live: then Subscribe only
	// waits on it.
	// The client does not retry a subscription that lost its connection
	// (valkey-go's default tries again for about ten seconds).
	retryless, err := valkey.NewClient(valkey.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true, DisableRetry: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(retryless.Close)
	store, err := redisstore.New(retryless, redisstore.Config{Secret: testSecret, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Publish(testContext(t), topic, []byte("stored"), time.Hour); err != nil {
		t.Fatal(err)
	}
	live := make(chan struct{})
	var once sync.Once
	done := make(chan error, 1)
	go func() {
		done <- store.Subscribe(testContext(t), topic, func([]byte) { once.Do(func() { close(live) }) })
	}()
	waitFor(t, "the stored SET", live)
	srv.Kill()
	select {
	case err := <-done:
		if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Subscribe() after the server went away = %v, want the connection's failure", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("Subscribe() still running after the server went away")
	}
}
