package ssf

// An internal test: a watch left registered after stop is never ended
// again (its sync.Once has run), so it changes nothing a caller can see;
// it only holds memory (the claims, the end function and what it
// captures: a stream's context) until the Revocations is dropped. Only
// the registrations themselves show the leak.

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/verify"
)

// registeredWatches returns the number of distinct watches registered in
// r, and of the lookup keys they are registered under.
func registeredWatches(r *Revocations) (watches, keys int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := make(map[*watch]struct{})
	for _, set := range r.watchers {
		for w := range set {
			seen[w] = struct{}{}
		}
	}
	return len(seen), len(r.watchers)
}

// TestWatch_StopUnregisters starts many watches of tokens identified by
// several claims each (so each is registered under several keys, some
// shared), then ends their streams: normally (stop alone), or after a
// revocation ended them (stop after end, as package interceptor does when
// the stream returns). Every stopped watch must be unregistered, or a
// long-running server leaks a watch per stream.
func TestWatch_StopUnregisters(t *testing.T) {
	t.Parallel()
	const n = 200
	tests := map[string]struct {
		revoke bool // a revocation ends the streams before they stop
	}{
		"StreamEnds": {revoke: false},
		"Revoked":    {revoke: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clock := oauthtest.NewClock(time.Now().Truncate(time.Second))
			tr := oauthtest.NewTransmitter(t, oauthtest.TransmitterConfig{Now: clock.Now})
			keys, err := verify.NewStaticKeySet(tr.JWKS().Keys...)
			if err != nil {
				t.Fatal(err)
			}
			rev, err := NewRevocations(RevocationsConfig{Retention: time.Hour, Now: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			recv, err := NewReceiver(rev, Config{Issuer: tr.URL, Audience: fuzzAudience, Keys: keys})
			if err != nil {
				t.Fatal(err)
			}
			iat := strconv.FormatInt(clock.Now().Unix(), 10)
			ended := make([]bool, n) // written by the receiver, within PushTo
			stops := make([]func(), n)
			for i := range n {
				// Ten subjects, each with many streams; every token has its
				// own session and jti, and its subject's email.
				raw := fmt.Sprintf(`{"iss":"https://idp.example.com","sub":"u%d","email":"u%d@example.com","sid":"s%d","jti":"j%d","iat":%s}`,
					i%10, i%10, i, i, iat)
				c, err := verify.ParseClaims([]byte(raw))
				if err != nil {
					t.Fatal(err)
				}
				stops[i] = rev.Watch(c, func() { ended[i] = true })
			}
			if w, _ := registeredWatches(rev); w != n {
				t.Fatalf("registered watches after %d Watch = %d, want %d", n, w, n)
			}
			if tc.revoke {
				clock.Advance(time.Second)
				for u := range 10 {
					set := tr.SET(t, oauthtest.Event{Audience: fuzzAudience, Type: SessionRevoked,
						Subject: oauthtest.Opaque("u" + strconv.Itoa(u))})
					if status, body := oauthtest.PushTo(recv, set); status != http.StatusAccepted {
						t.Fatalf("push = %d %s, want 202", status, body)
					}
				}
			}
			for i, e := range ended {
				if e != tc.revoke {
					t.Fatalf("watch %d ended = %v, want %v", i, e, tc.revoke)
				}
			}
			// Stop half, then the rest: the registrations of the others
			// stay, those of the stopped ones go.
			for i := range n / 2 {
				stops[i]()
			}
			if w, _ := registeredWatches(rev); w != n-n/2 {
				t.Errorf("registered watches after stopping %d of %d = %d, want %d", n/2, n, w, n-n/2)
			}
			for i := n / 2; i < n; i++ {
				stops[i]()
				stops[i]() // twice is fine
			}
			if w, k := registeredWatches(rev); w != 0 || k != 0 {
				t.Errorf("after every stop, %d watches under %d keys are registered, want none", w, k)
			}
		})
	}
}
