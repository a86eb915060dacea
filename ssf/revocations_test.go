package ssf_test

import (
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/ssf"
	"github.com/oauthgate/oauthgate/verify"
)

// introspection returns an introspection verifier of f's issuer that
// consults f's Revocations.
func (f *fixture) introspection(t *testing.T) *verify.Introspection {
	t.Helper()
	in, err := verify.NewIntrospection(verify.IntrospectionConfig{
		Endpoint: f.iss.EndpointURL(oauthtest.EndpointIntrospection), ClientID: f.iss.ClientID,
		ClientSecret: verify.Secret(f.iss.ClientSecret), Audiences: []string{oauthtest.DefaultAudience},
		InsecureAllowHTTP: true, CacheTTL: time.Hour, Now: f.clock.Now, Revocations: f.rev,
	})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// TestIntrospection: an event makes a cached introspection answer stale,
// and the authorization server's new answer decides; a revocation refuses
// the token whatever the answer.
func TestIntrospection(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		typ          string
		wantRequests int // introspection requests after the event, over two calls
		wantErr      error
	}{
		"TokenClaimsChange":    {typ: ssf.TokenClaimsChange, wantRequests: 1},
		"AssuranceLevelChange": {typ: ssf.AssuranceLevelChange, wantRequests: 1},
		"SessionRevoked":       {typ: ssf.SessionRevoked, wantErr: verify.ErrRevoked},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, ssf.RevocationsConfig{}, ssf.Config{})
			in := f.introspection(t)
			tok := f.iss.OpaqueToken(t, oauthtest.Token{Subject: "alice"})
			other := f.iss.OpaqueToken(t, oauthtest.Token{Subject: "bob"})
			for _, x := range []string{tok, other} {
				if _, err := in.Verify(t.Context(), x); err != nil {
					t.Fatalf("Verify() error = %v", err)
				}
			}
			before := f.iss.Requests(oauthtest.EndpointIntrospection)
			f.clock.Advance(time.Second)
			f.send(t, oauthtest.Event{Type: tc.typ, Subject: oauthtest.IssSub(f.iss.URL, "alice")})
			f.clock.Advance(time.Second)
			for range 2 {
				if _, err := in.Verify(t.Context(), tok); !errors.Is(err, tc.wantErr) {
					t.Fatalf("Verify(alice) error = %v, want %v", err, tc.wantErr)
				}
			}
			if _, err := in.Verify(t.Context(), other); err != nil {
				t.Errorf("Verify(bob) error = %v", err)
			}
			if got := f.iss.Requests(oauthtest.EndpointIntrospection) - before; got != tc.wantRequests {
				t.Errorf("introspection requests after the event = %d, want %d", got, tc.wantRequests)
			}
		})
	}
}

// TestLimits: an event beyond a transmitter's MaxSubjects is not stored;
// every cached verification becomes stale instead, never accepted on the
// old answer.
func TestLimits(t *testing.T) {
	t.Parallel()
	f := newFixture(t, ssf.RevocationsConfig{MaxSubjects: 10}, ssf.Config{MaxSubjects: 2})
	in := f.introspection(t)
	tok := f.iss.OpaqueToken(t, oauthtest.Token{Subject: "zoe"})
	if _, err := in.Verify(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Second)
	for _, who := range []string{"u1", "u2", "u3"} {
		f.send(t, oauthtest.Event{Type: ssf.TokenClaimsChange, Subject: oauthtest.Opaque(who)})
	}
	if n, dropped := f.rev.Len(); n != 2 || dropped != 1 {
		t.Errorf("Len() = %d, %d; want 2, 1", n, dropped)
	}
	f.clock.Advance(time.Second)
	before := f.iss.Requests(oauthtest.EndpointIntrospection)
	for range 2 {
		if _, err := in.Verify(t.Context(), tok); err != nil {
			t.Fatalf("Verify(zoe) error = %v", err)
		}
	}
	if got := f.iss.Requests(oauthtest.EndpointIntrospection) - before; got != 1 {
		t.Errorf("introspection requests after the overflow = %d, want 1 (stale, then cached)", got)
	}
}

// TestRetention: events are forgotten after the retention; by then every
// token issued before them has expired.
func TestRetention(t *testing.T) {
	t.Parallel()
	f := newFixture(t, ssf.RevocationsConfig{Retention: 10 * time.Minute}, ssf.Config{})
	f.send(t, oauthtest.Event{Type: ssf.SessionRevoked, Subject: oauthtest.Opaque("alice")})
	f.clock.Advance(11 * time.Minute)
	f.send(t, oauthtest.Event{Type: ssf.SessionRevoked, Subject: oauthtest.Opaque("bob")})
	if n, _ := f.rev.Len(); n != 1 {
		t.Errorf("Len() = %d after the retention, want 1", n)
	}
	// A long-lived token of alice's, issued before the event, is no
	// longer refused: the retention was set shorter than its life.
	c := &claimsOf{sub: "alice", iat: f.clock.Now().Add(-20 * time.Minute)}
	if rv := f.rev.Lookup(c.claims(t)); !rv.IsZero() {
		t.Errorf("Lookup(alice) = %+v after the retention, want zero", rv)
	}
}

// claimsOf builds claims for Lookup and Watch.
type claimsOf struct {
	sub string
	iat time.Time
}

func (c claimsOf) claims(t *testing.T) *verify.Claims {
	t.Helper()
	raw := `{"iss":"https://idp.example.com","sub":"` + c.sub + `"`
	if !c.iat.IsZero() {
		raw += `,"iat":` + strconv.FormatInt(c.iat.Unix(), 10)
	}
	claims, err := verify.ParseClaims([]byte(raw + "}"))
	if err != nil {
		t.Fatal(err)
	}
	return claims
}

// TestWatch: a revocation ends the watches of its subject's tokens issued
// before it, within the push; other subjects' and newer tokens' watches
// stay; stop ends the subscription.
func TestWatch(t *testing.T) {
	t.Parallel()
	f := newFixture(t, ssf.RevocationsConfig{}, ssf.Config{})
	now := f.clock.Now()
	var ended [4]atomic.Bool
	stops := []func(){
		f.rev.Watch(claimsOf{sub: "alice", iat: now}.claims(t), func() { ended[0].Store(true) }),
		f.rev.Watch(claimsOf{sub: "bob", iat: now}.claims(t), func() { ended[1].Store(true) }),
		f.rev.Watch(claimsOf{sub: "alice", iat: now.Add(time.Hour)}.claims(t), func() { ended[2].Store(true) }),
	}
	stopped := f.rev.Watch(claimsOf{sub: "alice", iat: now}.claims(t), func() { ended[3].Store(true) })
	stopped()
	f.clock.Advance(time.Second)
	f.send(t, oauthtest.Event{Type: ssf.SessionRevoked, Subject: oauthtest.Opaque("alice")})
	want := [4]bool{true, false, false, false}
	for i := range ended {
		if ended[i].Load() != want[i] {
			t.Errorf("watch %d ended = %v, want %v", i, ended[i].Load(), want[i])
		}
	}
	// Watching a token revoked already ends at once.
	late := false
	stop := f.rev.Watch(claimsOf{sub: "alice", iat: now}.claims(t), func() { late = true })
	if !late {
		t.Error("Watch() of a revoked token did not end it")
	}
	stop()
	for _, s := range stops {
		s()
		s() // twice is fine
	}
}

// TestWatch_Synctest: the end comes from the receiver's goroutine, without
// waiting on a timer.
func TestWatch_Synctest(t *testing.T) {
	t.Parallel()
	tr, keys := newTransmitter(t)
	synctest.Test(t, func(t *testing.T) {
		r := newReplica(t, tr, keys, nil)
		done := make(chan struct{})
		stop := r.rev.Watch(claimsOf{sub: "alice", iat: time.Now()}.claims(t), func() { close(done) })
		defer stop()
		time.Sleep(time.Second)
		set := tr.SET(t, oauthtest.Event{Audience: receiverAudience, Type: ssf.SessionRevoked, Subject: oauthtest.Opaque("alice")})
		start := time.Now()
		go pushDirect(t, r.recv, set)
		<-done
		if d := time.Since(start); d > 0 {
			t.Errorf("the watch ended %v after the push, want at once", d)
		}
	})
}

// pushDirect delivers set to h without a network and wants it accepted.
func pushDirect(t testing.TB, h http.Handler, set string) {
	t.Helper()
	if status, body := oauthtest.PushTo(h, set); status != http.StatusAccepted {
		t.Errorf("push = %d %s, want 202", status, body)
	}
}
