package ssf_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/ssf"
	"github.com/oauthgate/oauthgate/verify"
)

// TestPoller queues good and bad SETs at the transmitter's poll endpoint:
// one poll applies the good ones, the next acknowledges them and reports
// the bad ones with their RFC 8935 codes.
func TestPoller(t *testing.T) {
	t.Parallel()
	f := newFixture(t, ssf.RevocationsConfig{}, ssf.Config{})
	p, err := ssf.NewPoller(f.rev, ssf.Config{Issuer: f.tr.URL, Audience: receiverAudience, InsecureAllowHTTP: true},
		ssf.PollConfig{Endpoint: f.tr.PollURL(), MaxEvents: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	tok := f.token(t, alice)
	f.clock.Advance(time.Second)
	good := f.tr.SET(t, oauthtest.Event{Audience: receiverAudience, ID: "a-good", Type: ssf.SessionRevoked, Subject: oauthtest.Opaque("alice")})
	other := f.tr.SET(t, oauthtest.Event{Audience: receiverAudience, ID: "b-other", Type: ssf.TokenClaimsChange, Subject: oauthtest.Opaque("carol")})
	bad := f.tr.SET(t, oauthtest.Event{Audience: "https://elsewhere.example.com", ID: "c-bad", Type: ssf.SessionRevoked, Subject: oauthtest.Opaque("bob")})
	for _, s := range []string{good, other, bad} {
		f.tr.Queue(s)
	}
	ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
	defer cancel()
	more, err := p.Poll(ctx)
	if err != nil || !more {
		t.Fatalf("first Poll() = %v, %v; want true, nil", more, err)
	}
	if _, err := f.verify(t, tok); !errors.Is(err, verify.ErrRevoked) {
		t.Errorf("Verify(alice) after the poll error = %v, want ErrRevoked", err)
	}
	for range 2 {
		if _, err := p.Poll(ctx); err != nil {
			t.Fatalf("Poll() error = %v", err)
		}
	}
	acked, errs := f.tr.Acknowledged()
	slices.Sort(acked)
	if !slices.Equal(acked, []string{"a-good", "b-other"}) || errs["c-bad"] != "invalid_audience" || len(errs) != 1 {
		t.Errorf("Acknowledged() = %v, %v; want [a-good b-other], map[c-bad:invalid_audience]", acked, errs)
	}
	if n, _ := f.rev.Len(); n != 2 {
		t.Errorf("Len() = %d, want 2", n)
	}
}

// TestPoller_Run polls on its interval under synctest and stops with its
// context.
func TestPoller_Run(t *testing.T) {
	t.Parallel()
	keys := transmitterKeys(t)
	synctest.Test(t, func(t *testing.T) {
		rev, err := ssf.NewRevocations(ssf.RevocationsConfig{Retention: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		polls := 0
		client := &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
			polls++
			rec := httptest.NewRecorder()
			rec.Header().Set("Content-Type", "application/json")
			_, _ = rec.WriteString(`{"sets":{},"moreAvailable":false}`)
			return rec.Result(), nil
		})}
		p, err := ssf.NewPoller(rev, ssf.Config{Issuer: "https://idp.example.com", Audience: receiverAudience, Keys: keys, HTTPClient: client},
			ssf.PollConfig{Endpoint: "https://idp.example.com/poll", Interval: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- p.Run(ctx) }()
		time.Sleep(150 * time.Second) // fake time: polls at 0, 1m, 2m
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run() = %v, want context.Canceled", err)
		}
		if polls != 3 {
			t.Errorf("polls = %d, want 3", polls)
		}
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestPoller_Unavailable: a poll endpoint that fails yields
// verify.ErrUnavailable.
func TestPoller_Unavailable(t *testing.T) {
	t.Parallel()
	tests := map[string]http.HandlerFunc{
		"Status500": func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) },
		"NotJSON":   func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("hello")) },
		"Redirect":  func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/elsewhere", http.StatusFound) },
		"NotResponse": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`[1]`))
		},
	}
	for name, h := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			rev, _ := ssf.NewRevocations(ssf.RevocationsConfig{Retention: time.Hour})
			keys := transmitterKeys(t)
			p, err := ssf.NewPoller(rev, ssf.Config{Issuer: "https://idp.example.com", Audience: receiverAudience, Keys: keys, InsecureAllowHTTP: true},
				ssf.PollConfig{Endpoint: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Poll(t.Context()); !errors.Is(err, verify.ErrUnavailable) {
				t.Errorf("Poll() error = %v, want ErrUnavailable", err)
			}
		})
	}
}

// transmitterKeys returns the key set of a new transmitter.
func transmitterKeys(t *testing.T) *verify.StaticKeySet {
	t.Helper()
	_, keys := newTransmitter(t)
	return keys
}

// newTransmitter returns a new transmitter and its key set.
func newTransmitter(t *testing.T) (*oauthtest.Transmitter, *verify.StaticKeySet) {
	t.Helper()
	tr := oauthtest.NewTransmitter(t)
	keys, err := verify.NewStaticKeySet(tr.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	return tr, keys
}
