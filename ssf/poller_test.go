package ssf_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
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

// TestPoller_Run: under synctest, Run polls again at once while the
// transmitter has more SETs, else after the interval (5s by default), also
// after a failure, and stops with its context.
func TestPoller_Run(t *testing.T) {
	t.Parallel()
	keys := transmitterKeys(t)
	const (
		more = iota // 200, moreAvailable true
		done        // 200, moreAvailable false
		fail        // 500
	)
	tests := map[string]struct {
		interval time.Duration
		polls    []int           // the transmitter's answers; ctx ends after the last
		want     []time.Duration // when each poll comes, after Run starts
	}{
		"Interval":        {interval: time.Minute, polls: []int{done, done, done}, want: []time.Duration{0, time.Minute, 2 * time.Minute}},
		"DefaultInterval": {polls: []int{done, done, done}, want: []time.Duration{0, 5 * time.Second, 10 * time.Second}},
		"MoreAtOnce": {interval: time.Minute, polls: []int{more, more, done, done},
			want: []time.Duration{0, 0, 0, time.Minute}},
		"FailureWaits": {interval: time.Minute, polls: []int{fail, done, more, done},
			want: []time.Duration{0, time.Minute, 2 * time.Minute, 2 * time.Minute}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				rev, err := ssf.NewRevocations(ssf.RevocationsConfig{Retention: time.Hour})
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				start := time.Now()
				var got []time.Duration
				client := &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
					got = append(got, time.Since(start))
					if err := r.Context().Err(); err != nil {
						return nil, err // a poll after the end: wrong, but not a busy loop
					}
					answer := tc.polls[min(len(got), len(tc.polls))-1]
					if len(got) >= len(tc.polls) {
						cancel()
					}
					rec := httptest.NewRecorder()
					if answer == fail {
						rec.WriteHeader(http.StatusInternalServerError)
						return rec.Result(), nil
					}
					rec.Header().Set("Content-Type", "application/json")
					_, _ = fmt.Fprintf(rec, `{"sets":{},"moreAvailable":%t}`, answer == more)
					return rec.Result(), nil
				})}
				p, err := ssf.NewPoller(rev, ssf.Config{Issuer: "https://idp.example.com", Audience: receiverAudience, Keys: keys, HTTPClient: client},
					ssf.PollConfig{Endpoint: "https://idp.example.com/poll", Interval: tc.interval})
				if err != nil {
					t.Fatal(err)
				}
				if err := p.Run(ctx); !errors.Is(err, context.Canceled) {
					t.Errorf("Run() = %v, want context.Canceled", err)
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("polls at %v, want %v", got, tc.want)
				}
			})
		})
	}
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

// TestPoller_ResponseSize: a poll response is read up to the room for
// MaxEvents SETs of Config.MaxSETSize bytes under jtis of 1024 bytes (the
// longest a SET may have) with 16 bytes of JSON around each, plus 1 KiB:
// a full response is read, and each SET in it answered; a response a byte
// over that room is refused as unavailable, and nothing is acknowledged.
func TestPoller_ResponseSize(t *testing.T) {
	t.Parallel()
	keys := transmitterKeys(t)
	const maxSET, maxJTI = 100, 1024
	room := func(maxEvents int) int { return maxEvents*(maxSET+maxJTI+16) + 1024 }
	// padded returns a poll response with no SETs, of n bytes.
	padded := func(n int) string {
		const head, tail = `{"sets":{},`, `"moreAvailable":false}`
		return head + strings.Repeat(" ", n-len(head)-len(tail)) + tail
	}
	// full returns a poll response with n SETs of maxSET bytes under jtis
	// of maxJTI bytes.
	full := func(n int) string {
		sets := make(map[string]string, n)
		for i := range n {
			jti := fmt.Sprintf("%0*d", maxJTI, i)
			sets[jti] = strings.Repeat("x", maxSET)
		}
		b, err := json.Marshal(map[string]any{"sets": sets, "moreAvailable": false})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	tests := map[string]struct {
		maxEvents   int
		body        string
		wantErr     error
		wantSetErrs int // reported by the next poll
	}{
		"Full":      {maxEvents: 100, body: full(100), wantSetErrs: 100},
		"AtLimit":   {maxEvents: 1, body: padded(room(1))},
		"OverLimit": {maxEvents: 1, body: padded(room(1) + 1), wantErr: verify.ErrUnavailable},
		"TooMany":   {maxEvents: 99, body: full(100), wantErr: verify.ErrUnavailable},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var requests []pollRequest
			client := &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
				var req pollRequest
				if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
					t.Errorf("poll request: %v", err)
				}
				requests = append(requests, req)
				rec := httptest.NewRecorder()
				rec.Header().Set("Content-Type", "application/json")
				if len(requests) == 1 {
					_, _ = rec.WriteString(tc.body)
				} else {
					_, _ = rec.WriteString(padded(100))
				}
				return rec.Result(), nil
			})}
			rev, err := ssf.NewRevocations(ssf.RevocationsConfig{Retention: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			p, err := ssf.NewPoller(rev, ssf.Config{Issuer: "https://idp.example.com", Audience: receiverAudience, Keys: keys,
				HTTPClient: client, MaxSETSize: maxSET}, ssf.PollConfig{Endpoint: "https://idp.example.com/poll", MaxEvents: tc.maxEvents})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Poll(t.Context()); !errors.Is(err, tc.wantErr) {
				t.Fatalf("Poll() of %d bytes error = %v, want %v", len(tc.body), err, tc.wantErr)
			}
			if _, err := p.Poll(t.Context()); err != nil {
				t.Fatalf("second Poll() error = %v", err)
			}
			second := requests[1]
			if len(second.SetErrs) != tc.wantSetErrs || len(second.Ack) != 0 {
				t.Errorf("second poll sent %d setErrs, %d acks; want %d, 0", len(second.SetErrs), len(second.Ack), tc.wantSetErrs)
			}
			for jti, e := range second.SetErrs {
				// Not a compact JWS: no member named.
				if e.Err != "invalid_request" || e.Description != "malformed SET" {
					t.Errorf("setErrs[%.8s…] = %+v, want invalid_request, malformed SET", jti, e)
					break
				}
			}
		})
	}
}

// pollRequest is what a transmitter reads from an RFC 8936 §2.4 poll.
type pollRequest struct {
	Ack     []string `json:"ack"`
	SetErrs map[string]struct {
		Err         string `json:"err"`
		Description string `json:"description"`
	} `json:"setErrs"`
}
