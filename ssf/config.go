package ssf

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/internal/josekeys"
	"github.com/oauthgate/oauthgate/verify"
)

// Defaults and limits of [Config].
const (
	defaultLeeway      = 30 * time.Second
	maxLeeway          = 5 * time.Minute
	defaultMaxSETSize  = 64 << 10
	defaultTxSubjects  = 10_000
	maxRecentJTIs      = 10_000
	defaultHTTPTimeout = 10 * time.Second
)

// Config configures the receipt of one transmitter's Security Event
// Tokens, by push ([NewReceiver]) or poll ([NewPoller]). Issuer and
// Audience are required; every other field has a secure default. It must
// not be modified after it is passed to NewReceiver or NewPoller.
type Config struct {
	// Issuer is the transmitter's issuer: the exact iss of its SETs, and
	// where its configuration metadata is found
	// (/.well-known/ssf-configuration, SSF 1.0 §7.2) when Keys is nil.
	// Required.
	Issuer string
	// Audience identifies this receiver: a SET's aud must hold it (RFC
	// 8417 §2.2). Required.
	Audience string
	// Keys verify the SETs' signatures. If nil, a verify.RemoteKeySet is
	// made with Transmitter Issuer (the jwks_uri of the transmitter's
	// configuration metadata), HTTPClient and InsecureAllowHTTP; Close
	// closes it.
	Keys verify.KeySet
	// Algorithms is the allowlist of JWS algorithms, as in
	// verify.JWTConfig: if empty, the asymmetric algorithms of RFC 7518
	// and EdDSA; HMAC and none are refused.
	Algorithms []jose.SignatureAlgorithm
	// MaxAge is the oldest iat accepted: an older SET is refused as
	// expired. If zero, the Revocations' Retention is used, beyond which an
	// event would change nothing; it may not exceed it.
	MaxAge time.Duration
	// Leeway is the clock skew tolerated for iat, exp and event times. If
	// zero, 30s is used; negative or over 5m is an error.
	Leeway time.Duration
	// MaxSubjects bounds the subjects this transmitter's events may make
	// the Revocations remember; beyond it, an event makes every
	// verification stale instead (see "Limits" in the package
	// documentation). If zero, 10 000 is used, or the Revocations'
	// MaxSubjects if that is smaller; it may not exceed it.
	MaxSubjects int
	// MaxSETSize caps a SET in bytes, and a push request's body. If zero,
	// 64 KiB is used.
	MaxSETSize int
	// HTTPClient makes the requests: key discovery and fetches when Keys
	// is nil, and a Poller's polls. If nil, a client with a 10s timeout
	// and a transport of its own is used. Redirects are never followed by
	// a Poller.
	HTTPClient *http.Client
	// InsecureAllowHTTP permits http URLs on a loopback host (Issuer, the
	// discovered jwks_uri, a Poller's endpoint), for tests.
	InsecureAllowHTTP bool
	// Fanout, if set, shares every SET accepted here with the replicas
	// that run [Receiver.Follow] or [Poller.Follow] on the same Fanout, and
	// keeps it for MaxAge for replicas that start later. A SET is applied
	// only once it is shared: if Publish fails, it is answered with 503
	// (push) or not acknowledged (poll), so the transmitter sends it
	// again. If nil, events reach this process only.
	Fanout Fanout
}

// A transmitter checks the SETs of one transmitter and applies them to
// Revocations: the part that Receiver and Poller share.
type transmitter struct {
	rev         *Revocations
	issuer      string
	audience    string
	keys        verify.KeySet
	closer      io.Closer // the key set made here, or nil
	algorithms  []jose.SignatureAlgorithm
	maxAge      time.Duration
	leeway      time.Duration
	maxSubjects int
	maxSize     int
	client      *http.Client
	allowHTTP   bool
	now         func() time.Time
	fanout      Fanout

	mu    sync.Mutex
	seen  map[string]time.Time // jti → iat, while a replay could be accepted
	order []seenJTI            // by arrival, to forget the oldest
}

// newTransmitter validates cfg for rev; who names the constructor in
// errors.
func newTransmitter(rev *Revocations, cfg Config, who string) (*transmitter, error) {
	switch {
	case rev == nil:
		return nil, fmt.Errorf("ssf: %s needs Revocations; use NewRevocations", who)
	case cfg.Issuer == "":
		return nil, errors.New("ssf: Config.Issuer is empty; set it to the transmitter's issuer, the iss of its SETs")
	case cfg.Audience == "":
		return nil, errors.New("ssf: Config.Audience is empty; a receiver must check the aud of every SET (RFC 8417 §2.2)")
	case cfg.MaxAge < 0 || cfg.MaxAge > rev.retention:
		return nil, fmt.Errorf("ssf: Config.MaxAge must be between 0 (meaning the Revocations' Retention) and the Retention, %v", rev.retention)
	case cfg.Leeway < 0 || cfg.Leeway > maxLeeway:
		return nil, errors.New("ssf: Config.Leeway must be between 0 (meaning 30s) and 5m")
	case cfg.MaxSubjects < 0 || cfg.MaxSubjects > rev.max:
		return nil, fmt.Errorf("ssf: Config.MaxSubjects must be between 0 (meaning 10000) and the Revocations' MaxSubjects, %d", rev.max)
	case cfg.MaxSETSize < 0:
		return nil, errors.New("ssf: Config.MaxSETSize is negative; use 0 for the 64 KiB default")
	}
	if s, ok := cfg.Keys.(*verify.StaticKeySet); ok && s == nil {
		return nil, errors.New("ssf: Config.Keys is a nil *verify.StaticKeySet")
	}
	algs, err := josekeys.Allowlist(cfg.Algorithms)
	if err != nil {
		return nil, fmt.Errorf("ssf: Config.Algorithms %w", err)
	}
	client := cfg.HTTPClient
	if client == nil {
		// A transport of its own: http.DefaultTransport's idle connections
		// are anyone's to close.
		client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: defaultHTTPTimeout}
	}
	t := &transmitter{
		rev:         rev,
		issuer:      cfg.Issuer,
		audience:    cfg.Audience,
		keys:        cfg.Keys,
		algorithms:  algs,
		maxAge:      cmp.Or(cfg.MaxAge, rev.retention),
		leeway:      cmp.Or(cfg.Leeway, defaultLeeway),
		maxSubjects: cmp.Or(cfg.MaxSubjects, min(defaultTxSubjects, rev.max)),
		maxSize:     cmp.Or(cfg.MaxSETSize, defaultMaxSETSize),
		client:      client,
		allowHTTP:   cfg.InsecureAllowHTTP,
		now:         rev.now,
		seen:        make(map[string]time.Time),
		fanout:      cfg.Fanout,
	}
	if t.keys == nil {
		ks, err := verify.NewRemoteKeySet(verify.RemoteKeySetConfig{Transmitter: cfg.Issuer,
			HTTPClient: cfg.HTTPClient, InsecureAllowHTTP: cfg.InsecureAllowHTTP, Now: rev.now})
		if err != nil {
			return nil, fmt.Errorf("ssf: Config.Issuer: %w", err)
		}
		t.keys, t.closer = ks, ks
	}
	return t, nil
}

// receive verifies the SET raw and applies it, all or nothing; with share
// (a SET from the transmitter, not from the Fanout) it first shares it
// through the Fanout, if any. A SET refused, or that could not be shared,
// leaves no trace; an accepted one's jti is remembered so that a replay is
// refused with ErrDuplicate.
func (t *transmitter) receive(ctx context.Context, raw string, share bool) error {
	changes, jti, err := t.verifySET(ctx, raw)
	if err != nil {
		return err
	}
	t.mu.Lock()
	if _, dup := t.seen[jti]; dup {
		t.mu.Unlock()
		return setError(ErrDuplicate, "jti")
	}
	t.rememberLocked(jti)
	t.mu.Unlock()
	if share && t.fanout != nil {
		if err := t.fanout.Publish(ctx, t.topic(), []byte(raw), t.maxAge); err != nil {
			t.mu.Lock()
			delete(t.seen, jti) // not applied: the transmitter sends it again
			t.mu.Unlock()
			return &verify.UnavailableError{Op: "share SET", Err: err}
		}
	}
	ended := t.rev.add(t.issuer, t.maxSubjects, changes)
	for _, w := range ended {
		w.end()
	}
	return nil
}

// rememberLocked records jti, forgetting those too old to be accepted
// again and, beyond maxRecentJTIs, the oldest: applying an event twice
// changes nothing, so a forgotten jti costs only the work of a replay.
func (t *transmitter) rememberLocked(jti string) {
	now := t.now()
	for len(t.order) > 0 {
		oldest := t.order[0]
		if len(t.order) < maxRecentJTIs && now.Sub(oldest.at) <= t.maxAge+t.leeway {
			break
		}
		// A jti forgotten after a failed share and seen again has a newer
		// record: keep it.
		if t.seen[oldest.jti].Equal(oldest.at) {
			delete(t.seen, oldest.jti)
		}
		t.order[0] = seenJTI{}
		t.order = t.order[1:]
	}
	t.seen[jti] = now
	t.order = append(t.order, seenJTI{jti, now})
}

// A seenJTI is a jti accepted at a time.
type seenJTI struct {
	jti string
	at  time.Time
}

// close closes the key set made for the transmitter, if any.
func (t *transmitter) close() error {
	if t.closer == nil {
		return nil
	}
	return t.closer.Close()
}
