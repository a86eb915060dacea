package ssf

// An internal test: the default HTTP client's transport is the network,
// and a goroutine waiting on a socket is not durably blocked in a
// synctest bubble, so fake time would never reach the timeout. The test
// keeps the client a Poller made from a Config without HTTPClient, with
// its timeout, and replaces only its transport (the network) with one
// that answers late or never: http.Client's own deadline then runs on
// the bubble's clock.

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/verify"
)

// lateTransport answers a poll with no SETs after its delay, or, if the
// delay is negative, never: it returns when the request's context ends.
type lateTransport time.Duration

func (d lateTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	var answer <-chan time.Time
	if d >= 0 {
		answer = time.After(time.Duration(d))
	}
	select {
	case <-r.Context().Done():
		return nil, r.Context().Err()
	case <-answer:
	}
	rec := httptest.NewRecorder()
	rec.Header().Set("Content-Type", "application/json")
	_, _ = rec.WriteString(`{"sets":{},"moreAvailable":false}`)
	return rec.Result(), nil
}

// TestConfig_DefaultClientTimeout: with no Config.HTTPClient, a poll of a
// transmitter that answers in 9s succeeds, and one that never answers
// fails with verify.ErrUnavailable after 10s instead of hanging the
// Poller. Without the timeout, NeverAnswers would wait for ever, which
// synctest reports at once as a deadlock.
func TestConfig_DefaultClientTimeout(t *testing.T) {
	t.Parallel()
	tr := oauthtest.NewTransmitter(t)
	keys, err := verify.NewStaticKeySet(tr.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		answer  time.Duration // negative: never
		wantErr error
		want    time.Duration // how long Poll takes
	}{
		"AnswersIn9s":  {answer: 9 * time.Second, want: 9 * time.Second},
		"NeverAnswers": {answer: -1, wantErr: verify.ErrUnavailable, want: 10 * time.Second},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				rev, err := NewRevocations(RevocationsConfig{Retention: time.Hour})
				if err != nil {
					t.Fatal(err)
				}
				p, err := NewPoller(rev, Config{Issuer: "https://idp.example.com", Audience: fuzzAudience, Keys: keys},
					PollConfig{Endpoint: "https://idp.example.com/poll"})
				if err != nil {
					t.Fatal(err)
				}
				if own := p.t.client.Transport; own == nil || own == http.DefaultTransport {
					t.Errorf("default client's transport = %v, want one of its own", own)
				}
				p.t.client.Transport = lateTransport(tc.answer)
				start := time.Now()
				_, err = p.Poll(t.Context())
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("Poll() error = %v, want %v", err, tc.wantErr)
				}
				if d := time.Since(start); d != tc.want {
					t.Errorf("Poll() took %v, want %v", d, tc.want)
				}
				if timeout, ok := errors.AsType[interface {
					error
					Timeout() bool
				}](err); tc.wantErr != nil && (!ok || !timeout.Timeout()) {
					t.Errorf("Poll() error = %v, want the client's timeout", err)
				}
			})
		})
	}
}
