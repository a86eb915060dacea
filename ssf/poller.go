package ssf

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/oauthgate/oauthgate/internal/oauthhttp"
	"github.com/oauthgate/oauthgate/verify"
)

// Defaults of a Poller.
const (
	defaultPollInterval  = 5 * time.Second
	defaultPollMaxEvents = 100
	maxPollMaxEvents     = 1000
)

// A Poller fetches one transmitter's SETs from its RFC 8936 poll endpoint
// and applies them to Revocations as a [Receiver] does. Each poll
// acknowledges the SETs the previous one accepted (ack) and reports those
// it refused (setErrs, with the RFC 8935 error codes); a SET whose keys
// could not be fetched is neither, so the transmitter sends it again.
//
// Authenticate to the endpoint through Config.HTTPClient (an oauth2
// client-credentials client, say). A Poller is safe for concurrent use,
// though polls are serialised; Close releases the key set it made.
type Poller struct {
	t         *transmitter
	endpoint  string
	interval  time.Duration
	maxEvents int

	mu   sync.Mutex // serialises polls and guards acks and errs
	acks []string
	errs map[string]errorObject
}

// PollConfig adds to [Config] what a [Poller] needs.
type PollConfig struct {
	// Endpoint is the transmitter's poll endpoint for this receiver's
	// stream (the endpoint_url of its poll delivery, SSF 1.0 §8.1.1).
	// Required; https unless Config.InsecureAllowHTTP allows a loopback
	// http URL.
	Endpoint string
	// Interval is the wait of [Poller.Run] after a poll that returned
	// every available SET, or failed. If zero, 5s is used.
	Interval time.Duration
	// MaxEvents is the most SETs asked for in one poll (maxEvents). If
	// zero, 100 is used; at most 1000.
	MaxEvents int
}

// NewPoller returns a Poller of the transmitter that cfg describes,
// feeding rev from the poll endpoint of pc. It does no network I/O.
func NewPoller(rev *Revocations, cfg Config, pc PollConfig) (*Poller, error) {
	if err := checkEndpoint(pc.Endpoint, cfg.InsecureAllowHTTP); err != nil {
		return nil, err
	}
	switch {
	case pc.Interval < 0:
		return nil, errors.New("ssf: PollConfig.Interval is negative; use 0 for the 5s default")
	case pc.MaxEvents < 0 || pc.MaxEvents > maxPollMaxEvents:
		return nil, errors.New("ssf: PollConfig.MaxEvents must be between 0 (meaning 100) and 1000")
	}
	t, err := newTransmitter(rev, cfg, "NewPoller")
	if err != nil {
		return nil, err
	}
	// A redirect could send the acknowledgements, and the client's
	// credentials, elsewhere.
	client := *t.client
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	t.client = &client
	return &Poller{t: t, endpoint: pc.Endpoint, interval: cmp.Or(pc.Interval, defaultPollInterval),
		maxEvents: cmp.Or(pc.MaxEvents, defaultPollMaxEvents), errs: make(map[string]errorObject)}, nil
}

// checkEndpoint checks a poll endpoint URL with the URL rule of the
// verifiers' fetches (package oauthhttp).
func checkEndpoint(raw string, allowHTTP bool) error {
	if raw == "" {
		return errors.New("ssf: PollConfig.Endpoint is empty")
	}
	if err := oauthhttp.CheckURL(raw, allowHTTP); err != nil {
		return fmt.Errorf("ssf: PollConfig.Endpoint: %w", err)
	}
	if u, _ := url.Parse(raw); u.Fragment != "" {
		return errors.New("ssf: PollConfig.Endpoint has a fragment")
	}
	return nil
}

// Close closes the key set the Poller made (when Config.Keys was nil).
func (p *Poller) Close() error { return p.t.close() }

// pollRequest is the RFC 8936 §2.4 request body.
type pollRequest struct {
	Ack               []string               `json:"ack"`
	SetErrs           map[string]errorObject `json:"setErrs,omitempty"`
	MaxEvents         int                    `json:"maxEvents"`
	ReturnImmediately bool                   `json:"returnImmediately"`
}

// pollResponse is the RFC 8936 §2.5 response body.
type pollResponse struct {
	Sets          map[string]string `json:"sets"`
	MoreAvailable bool              `json:"moreAvailable"`
}

// Poll asks the endpoint once, sending the acknowledgements and errors of
// the previous poll, applies the SETs it returns and reports whether the
// transmitter has more. A failed request returns an error matching
// verify.ErrUnavailable (Op "poll"), and the acknowledgements are sent
// with the next poll.
func (p *Poller) Poll(ctx context.Context) (more bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	body, _ := json.Marshal(pollRequest{Ack: append([]string{}, p.acks...), SetErrs: p.errs,
		MaxEvents: p.maxEvents, ReturnImmediately: true})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.endpoint, bytes.NewReader(body))
	if err != nil {
		return false, pollUnavailable(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := p.t.client.Do(req)
	if err != nil {
		return false, pollUnavailable(err)
	}
	defer resp.Body.Close()
	limit := int64(p.maxEvents)*int64(p.t.maxSize+maxIdentifier+16) + 1024
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	switch mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); {
	case err != nil:
		return false, pollUnavailable(err)
	case resp.StatusCode != http.StatusOK:
		return false, pollUnavailable(fmt.Errorf("status %d", resp.StatusCode))
	case int64(len(raw)) > limit:
		return false, pollUnavailable(errors.New("response too large"))
	case mt != "application/json":
		return false, pollUnavailable(errors.New("response is not application/json"))
	}
	var pr pollResponse
	if err := unmarshal(raw, &pr); err != nil || len(pr.Sets) > p.maxEvents {
		return false, pollUnavailable(errors.New("response is not a poll response"))
	}
	// The request reached the transmitter: its acknowledgements are done.
	p.acks, p.errs = p.acks[:0], make(map[string]errorObject)
	for jti, set := range pr.Sets {
		err := p.t.receive(ctx, set, true)
		se, isSET := errors.AsType[*SETError](err)
		switch {
		case err == nil:
			p.acks = append(p.acks, jti)
		case errors.Is(err, ErrDuplicate):
			p.acks = append(p.acks, jti) // accepted before
		case isSET:
			p.errs[jti] = errorObject{Err: se.Code(), Description: se.Description()}
		default:
			// Keys unavailable: not acknowledged, so sent again.
		}
	}
	return pr.MoreAvailable, nil
}

func pollUnavailable(err error) error { return &verify.UnavailableError{Op: "poll", Err: err} }

// Run polls until ctx ends: again at once while the transmitter has more,
// else after the interval, also after a failure. It returns ctx's error.
func (p *Poller) Run(ctx context.Context) error {
	for {
		more, err := p.Poll(ctx)
		if err == nil && more {
			continue
		}
		t := time.NewTimer(p.interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
