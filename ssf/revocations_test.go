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
// old answer: also when nothing is stored at all, the first event being
// over the limit by itself.
func TestLimits(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		maxSubjects int
		subjects    []map[string]any
		wantLen     int
	}{
		"ThirdSubject": {maxSubjects: 2, wantLen: 2,
			subjects: []map[string]any{oauthtest.Opaque("u1"), oauthtest.Opaque("u2"), oauthtest.Opaque("u3")}},
		"FirstEventTooLarge": {maxSubjects: 1, wantLen: 0,
			subjects: []map[string]any{aliases(oauthtest.Opaque("u1"), oauthtest.Opaque("u2"))}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, ssf.RevocationsConfig{MaxSubjects: 10}, ssf.Config{MaxSubjects: tc.maxSubjects})
			in := f.introspection(t)
			tok := f.iss.OpaqueToken(t, oauthtest.Token{Subject: "zoe"})
			if _, err := in.Verify(t.Context(), tok); err != nil {
				t.Fatal(err)
			}
			f.clock.Advance(time.Second)
			for _, s := range tc.subjects {
				f.send(t, oauthtest.Event{Type: ssf.TokenClaimsChange, Subject: s})
			}
			if n, dropped := f.rev.Len(); n != tc.wantLen || dropped != 1 {
				t.Errorf("Len() = %d, %d; want %d, 1", n, dropped, tc.wantLen)
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
		})
	}
}

// TestLimits_Shared: the Revocations' MaxSubjects bounds the subjects of
// all transmitters together: two transmitters may fill it, each under its
// own limit, and the next new subject from either is not stored.
func TestLimits_Shared(t *testing.T) {
	t.Parallel()
	f := newFixture(t, ssf.RevocationsConfig{MaxSubjects: 2}, ssf.Config{MaxSubjects: 2})
	other := oauthtest.NewTransmitter(t, oauthtest.TransmitterConfig{Now: f.clock.Now})
	recv, err := ssf.NewReceiver(f.rev, ssf.Config{Issuer: other.URL, Audience: receiverAudience, InsecureAllowHTTP: true, MaxSubjects: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = recv.Close() })
	f.send(t, oauthtest.Event{Type: ssf.TokenClaimsChange, Subject: oauthtest.Opaque("u1")})
	pushDirect(t, recv, other.SET(t, oauthtest.Event{Audience: receiverAudience, Type: ssf.TokenClaimsChange, Subject: oauthtest.Opaque("u2")}))
	if n, dropped := f.rev.Len(); n != 2 || dropped != 0 {
		t.Fatalf("Len() = %d, %d after a subject from each transmitter; want 2, 0", n, dropped)
	}
	f.send(t, oauthtest.Event{Type: ssf.TokenClaimsChange, Subject: oauthtest.Opaque("u3")})
	if n, dropped := f.rev.Len(); n != 2 || dropped != 1 {
		t.Errorf("Len() = %d, %d after a third subject; want 2, 1", n, dropped)
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

// TestRetention_Sweep: the sweeps that forget expired events keep the
// others, and a second event about a subject keeps it until the retention
// after the later one.
func TestRetention_Sweep(t *testing.T) {
	t.Parallel()
	const retention = 10 * time.Minute // a sweep at most every 75s
	f := newFixture(t, ssf.RevocationsConfig{Retention: retention}, ssf.Config{})
	alice := claimsOf{sub: "alice", iat: f.clock.Now()}.claims(t)
	f.clock.Advance(time.Second)
	revokedAt := f.clock.Now()
	f.send(t, oauthtest.Event{Type: ssf.SessionRevoked, Subject: oauthtest.Opaque("alice")})
	f.clock.Advance(5 * time.Minute)
	f.send(t, oauthtest.Event{Type: ssf.TokenClaimsChange, Subject: oauthtest.Opaque("alice")})
	// After the first event's retention, before the second's: an event
	// acted upon by no one makes the receiver sweep.
	f.clock.Advance(6 * time.Minute)
	f.send(t, oauthtest.Event{Type: "https://example.com/event-type/ignored", Subject: oauthtest.Opaque("carol")})
	if n, _ := f.rev.Len(); n != 1 {
		t.Errorf("Len() = %d, want 1", n)
	}
	if rv := f.rev.Lookup(alice); !rv.Revoked.Equal(revokedAt) {
		t.Errorf("Lookup(alice).Revoked = %v, want %v", rv.Revoked, revokedAt)
	}
}

// TestLimits_Retention: a transmitter's subjects count against its
// MaxSubjects until their retention ends, and no longer; the fail-closed
// mark of an event that was not stored lasts the retention too.
func TestLimits_Retention(t *testing.T) {
	t.Parallel()
	const retention = 10 * time.Minute // a sweep at most every 75s
	f := newFixture(t, ssf.RevocationsConfig{Retention: retention}, ssf.Config{MaxSubjects: 1})
	zoe := claimsOf{sub: "zoe"}.claims(t)
	send := func(who string) {
		t.Helper()
		f.send(t, oauthtest.Event{Type: ssf.TokenClaimsChange, Subject: oauthtest.Opaque(who)})
	}
	start := f.clock.Now()
	send("u1")
	f.clock.Advance(2 * time.Minute)
	send("u2") // over the limit, after a sweep
	mark := f.clock.Now()
	check := func(when string, wantLen int, wantDropped uint64, wantChanged time.Time) {
		t.Helper()
		if n, dropped := f.rev.Len(); n != wantLen || dropped != wantDropped {
			t.Errorf("%s: Len() = %d, %d; want %d, %d", when, n, dropped, wantLen, wantDropped)
		}
		if got := f.rev.Lookup(zoe).Changed; !got.Equal(wantChanged) {
			t.Errorf("%s: Lookup(zoe).Changed = %v, want %v", when, got, wantChanged)
		}
	}
	check("u2 over the limit", 1, 1, mark)
	set := func(tm time.Time) { f.clock.Advance(tm.Sub(f.clock.Now())) }
	set(start.Add(retention + time.Second))
	send("u3") // u1 forgotten: room for u3
	check("after u1's retention", 1, 1, mark)
	set(mark.Add(retention))
	send("u3")
	check("the retention after the mark", 1, 1, mark)
	set(mark.Add(retention + 2*time.Minute))
	send("u3")
	check("after the mark's retention", 1, 1, time.Time{})
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

// TestWatch_Narrowed: a revocation ends only the watches of the tokens it
// concerns: not those of the subject's other sessions, and not a token
// issued after it, even when watched after the revocation.
func TestWatch_Narrowed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, ssf.RevocationsConfig{}, ssf.Config{})
	// Claims as a verifier with Revocations reads them, sid included.
	claims := func(sid string) *verify.Claims {
		u := alice
		u.sid = sid
		c, err := f.verify(t, f.token(t, u))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	var ended [2]atomic.Bool
	for i, sid := range []string{"s1", "s2"} {
		stop := f.rev.Watch(claims(sid), func() { ended[i].Store(true) })
		t.Cleanup(stop)
	}
	f.clock.Advance(time.Second)
	f.send(t, oauthtest.Event{Type: ssf.SessionRevoked, Subject: oauthtest.Complex(oauthtest.IssSub(alice.issuer(), alice.sub), "s1", "")})
	if !ended[0].Load() || ended[1].Load() {
		t.Errorf("watches of sessions s1, s2 ended = %v, %v; want true, false", ended[0].Load(), ended[1].Load())
	}
	f.clock.Advance(time.Second)
	late := false
	stop := f.rev.Watch(claims("s1"), func() { late = true })
	stop()
	if late {
		t.Error("Watch() of a token of session s1 issued after the revocation ended it")
	}
}
