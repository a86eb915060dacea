package oauthtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// A Transmitter is an in-process Shared Signals transmitter (OpenID SSF
// 1.0) for tests and demos of package ssf; it is not for production use.
// It listens on 127.0.0.1 and serves, under its URL, its transmitter
// configuration metadata (/.well-known/ssf-configuration, whose issuer is
// URL), its JWKS (/jwks) and an RFC 8936 poll endpoint ([Transmitter.PollURL])
// for the SETs queued with [Transmitter.Queue]. [Transmitter.SET] signs a
// Security Event Token (RFC 8417) described by an [Event];
// [Transmitter.Push] delivers one to a receiver by RFC 8935 push
// ([PushTo] in memory).
//
//	tr := oauthtest.NewTransmitter(t)
//	set := tr.SET(t, oauthtest.Event{Audience: "https://api.example.com",
//		Type: ssf.SessionRevoked, Subject: oauthtest.IssSub(iss.URL, "alice")})
//	status, _ := tr.Push(t, receiverURL, set)
//
// A Transmitter is safe for concurrent use.
type Transmitter struct {
	// URL is the transmitter's issuer: the iss of its SETs.
	URL string

	srv *httptest.Server
	now func() time.Time
	// pusher sends Push's requests on connections of its own: those of
	// http.DefaultClient are closed by any httptest.Server.Close, which
	// can break a request about to reuse one (a parallel test's server
	// closing fails this one's push).
	pusher *http.Client

	mu     sync.Mutex
	key    *signingKey
	queue  map[string]string // jti → SET, until acknowledged
	acked  []string
	errs   map[string]map[string]string
	serial int
}

// A TransmitterConfig configures a [Transmitter]. The zero value signs
// with ES256 and reads time.Now.
type TransmitterConfig struct {
	// Algorithm signs the SETs: ES256 (default), RS256 or EdDSA.
	Algorithm jose.SignatureAlgorithm
	// Now is the transmitter's clock, for iat. If nil, time.Now.
	Now func() time.Time
}

// An Event describes a SET for [Transmitter.SET]. Audience and Type are
// required.
type Event struct {
	// Audience is the aud claim: the receiver's audience.
	Audience string
	// Type is the event type URI, such as ssf.SessionRevoked.
	Type string
	// Subject is the subject identifier (RFC 9493), in sub_id; build it
	// with [IssSub], [Email], [Opaque], [JWTID] or [Complex].
	Subject map[string]any
	// SubjectInEvent puts Subject in the event payload's subject member,
	// as CAEP and RISC transmitters did before SSF 1.0, instead of sub_id.
	SubjectInEvent bool
	// Time is the CAEP event_timestamp, if not zero.
	Time time.Time
	// IssuedAt is iat. If zero, the transmitter's clock.
	IssuedAt time.Time
	// ID is jti. If empty, a new random value.
	ID string
	// Claims set, replace or (with a nil value) remove top-level claims,
	// last, so that a receiver's failure paths can be tested.
	Claims map[string]any
	// Header sets, replaces or (nil) removes header parameters; typ is
	// secevent+jwt unless Header says otherwise.
	Header map[string]any
	// Payload adds members to the event payload (reason_admin,
	// current_level, ...).
	Payload map[string]any
}

// IssSub returns an iss_sub subject identifier (RFC 9493 §3.2.5).
func IssSub(iss, sub string) map[string]any {
	return map[string]any{"format": "iss_sub", "iss": iss, "sub": sub}
}

// Email returns an email subject identifier (RFC 9493 §3.2.2).
func Email(email string) map[string]any { return map[string]any{"format": "email", "email": email} }

// Opaque returns an opaque subject identifier (RFC 9493 §3.2.4).
func Opaque(id string) map[string]any { return map[string]any{"format": "opaque", "id": id} }

// JWTID returns a jwt_id subject identifier (SSF 1.0 §3.4.1): one token.
func JWTID(iss, jti string) map[string]any {
	return map[string]any{"format": "jwt_id", "iss": iss, "jti": jti}
}

// Complex returns a complex subject (SSF 1.0 §3.3) of user (nil for none),
// and session and tenant, opaque ids ("" for none).
func Complex(user map[string]any, session, tenant string) map[string]any {
	s := map[string]any{"format": "complex"}
	if user != nil {
		s["user"] = user
	}
	if session != "" {
		s["session"] = Opaque(session)
	}
	if tenant != "" {
		s["tenant"] = Opaque(tenant)
	}
	return s
}

// NewTransmitter starts a [Transmitter] for the test tb, closed by
// tb.Cleanup. A setup problem fails the test.
func NewTransmitter(tb testing.TB, cfg ...TransmitterConfig) *Transmitter {
	tb.Helper()
	tr, err := StartTransmitter(cfg...)
	if err != nil {
		tb.Fatalf("oauthtest.NewTransmitter: %v", err)
		return nil
	}
	tb.Cleanup(tr.Close)
	return tr
}

// StartTransmitter starts a [Transmitter] without a test, for demo
// programs. The caller must call [Transmitter.Close].
func StartTransmitter(cfg ...TransmitterConfig) (*Transmitter, error) {
	var c TransmitterConfig
	for _, x := range cfg {
		if x.Algorithm != "" {
			c.Algorithm = x.Algorithm
		}
		if x.Now != nil {
			c.Now = x.Now
		}
	}
	if c.Algorithm == "" {
		c.Algorithm = jose.ES256
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if !publishable(c.Algorithm) {
		return nil, fmt.Errorf("oauthtest: unsupported TransmitterConfig.Algorithm %q; use ES256, RS256 or EdDSA", c.Algorithm)
	}
	key, err := newSigningKey(c.Algorithm)
	if err != nil {
		return nil, err
	}
	key.kid = "ssf-" + kidFor(c.Algorithm, 1)
	tr := &Transmitter{now: c.Now, key: key, queue: map[string]string{}, errs: map[string]map[string]string{},
		pusher: &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("oauthtest: listen on 127.0.0.1: %w", err)
	}
	tr.URL = "http://" + ln.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/ssf-configuration", tr.serveConfiguration)
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{publicJWK(tr.key)}})
	})
	mux.HandleFunc("POST /poll", tr.servePoll)
	tr.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux}}
	tr.srv.Start()
	return tr, nil
}

// Close stops the server and closes Push's idle connections.
func (tr *Transmitter) Close() {
	tr.srv.Close()
	tr.pusher.CloseIdleConnections()
}

// JWKS returns the transmitter's public key set.
func (tr *Transmitter) JWKS() jose.JSONWebKeySet {
	return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{publicJWK(tr.key)}}
}

// PollURL returns the RFC 8936 poll endpoint.
func (tr *Transmitter) PollURL() string { return tr.URL + "/poll" }

// Client returns an HTTP client for the transmitter's server.
func (tr *Transmitter) Client() *http.Client { return tr.srv.Client() }

func (tr *Transmitter) serveConfiguration(w http.ResponseWriter, _ *http.Request) {
	// SSF 1.0 §7.1.
	writeJSON(w, http.StatusOK, map[string]any{
		"spec_version":               "1_0",
		"issuer":                     tr.URL,
		"jwks_uri":                   tr.URL + "/jwks",
		"delivery_methods_supported": []string{"urn:ietf:rfc:8935", "urn:ietf:rfc:8936"},
	})
}

// SET signs the SET that ev describes. It fails the test tb if ev lacks
// Audience or Type.
func (tr *Transmitter) SET(tb testing.TB, ev Event) string {
	tb.Helper()
	set, err := tr.MintSET(ev)
	if err != nil {
		tb.Fatalf("oauthtest.Transmitter.SET: %v", err)
	}
	return set
}

// MintSET is SET without a test, for demo programs.
func (tr *Transmitter) MintSET(ev Event) (string, error) {
	if ev.Audience == "" || ev.Type == "" {
		return "", errors.New("oauthtest: Event.Audience and Event.Type are required")
	}
	tr.mu.Lock()
	tr.serial++
	n := tr.serial
	tr.mu.Unlock()
	iat := ev.IssuedAt
	if iat.IsZero() {
		iat = tr.now()
	}
	jti := ev.ID
	if jti == "" {
		jti = fmt.Sprintf("set-%d-%s", n, randomHex(4))
	}
	payload := map[string]any{}
	maps.Copy(payload, ev.Payload)
	claims := map[string]any{"iss": tr.URL, "aud": ev.Audience, "iat": iat.Unix(), "jti": jti,
		"events": map[string]any{ev.Type: payload}}
	if ev.Subject != nil {
		if ev.SubjectInEvent {
			payload["subject"] = ev.Subject
		} else {
			claims["sub_id"] = ev.Subject
		}
	}
	if !ev.Time.IsZero() {
		payload["event_timestamp"] = ev.Time.Unix()
	}
	for k, v := range ev.Claims {
		if v == nil {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}
	body, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("oauthtest: encode SET claims: %w", err)
	}
	header := map[string]any{"typ": "secevent+jwt", "kid": tr.key.kid}
	maps.Copy(header, ev.Header)
	so := &jose.SignerOptions{}
	for name, v := range header {
		if v != nil {
			so.WithHeader(jose.HeaderKey(name), v)
		}
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: tr.key.alg, Key: tr.key.priv}, so)
	if err != nil {
		return "", fmt.Errorf("oauthtest: create %s signer: %w", tr.key.alg, err)
	}
	jws, err := signer.Sign(body)
	if err != nil {
		return "", fmt.Errorf("oauthtest: sign SET: %w", err)
	}
	return jws.CompactSerialize()
}

// Push delivers set to the RFC 8935 push endpoint at url and returns the
// response's status and body. A request that fails fails the test tb.
func (tr *Transmitter) Push(tb testing.TB, url, set string) (status int, body []byte) {
	tb.Helper()
	status, body, err := tr.PushContext(context.Background(), url, set)
	if err != nil {
		tb.Fatalf("oauthtest.Transmitter.Push: %v", err)
	}
	return status, body
}

// PushContext is Push without a test, for demo programs.
func (tr *Transmitter) PushContext(ctx context.Context, url, set string) (status int, body []byte, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader([]byte(set)))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/secevent+jwt")
	req.Header.Set("Accept", "application/json")
	resp, err := tr.pusher.Do(req) //nolint:gosec // a test kit's push to a URL the test chose
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, body, err
}

// PushTo delivers set to h, the handler of an RFC 8935 push endpoint, in
// memory, as [Transmitter.Push] does over HTTP, and returns the response's
// status and body: for a receiver inside a testing/synctest bubble, where
// no socket may be used, and for SETs signed elsewhere.
func PushTo(h http.Handler, set string) (status int, body []byte) {
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(set))
	req.Header.Set("Content-Type", "application/secevent+jwt")
	req.Header.Set("Accept", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

// Queue makes set available at the poll endpoint until a poll
// acknowledges it or reports an error for it.
func (tr *Transmitter) Queue(set string) {
	var claims struct {
		JTI string `json:"jti"`
	}
	if jws, err := jose.ParseSignedCompact(set, []jose.SignatureAlgorithm{tr.key.alg}); err == nil {
		_ = json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &claims)
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.queue[claims.JTI] = set
}

// Acknowledged returns the jtis that polls acknowledged, in order, and the
// RFC 8935 error code reported for each refused SET, by jti.
func (tr *Transmitter) Acknowledged() (acked []string, errs map[string]string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	errs = map[string]string{}
	for jti, e := range tr.errs {
		errs[jti] = e["err"]
	}
	return slices.Clone(tr.acked), errs
}

// servePoll is the RFC 8936 §2.4 poll endpoint: it records the
// acknowledgements and errors, then returns up to maxEvents queued SETs.
func (tr *Transmitter) servePoll(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Ack       []string                     `json:"ack"`
		SetErrs   map[string]map[string]string `json:"setErrs"`
		MaxEvents *int                         `json:"maxEvents"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		http.Error(w, "bad poll request", http.StatusBadRequest)
		return
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, jti := range req.Ack {
		delete(tr.queue, jti)
		tr.acked = append(tr.acked, jti)
	}
	for jti, e := range req.SetErrs {
		delete(tr.queue, jti)
		tr.errs[jti] = e
	}
	limit := len(tr.queue)
	if req.MaxEvents != nil {
		limit = min(limit, *req.MaxEvents)
	}
	sets := map[string]string{}
	for _, jti := range slices.Sorted(maps.Keys(tr.queue)) {
		if len(sets) == limit {
			break
		}
		sets[jti] = tr.queue[jti]
	}
	writeJSON(w, http.StatusOK, map[string]any{"sets": sets, "moreAvailable": len(tr.queue) > len(sets)})
}
