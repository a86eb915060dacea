package oauthtest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/oauthtest"
)

const sessionRevoked = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"

// parseSET verifies set with tr's key and returns its header and claims.
func parseSET(t *testing.T, tr *oauthtest.Transmitter, set string) (jose.Header, map[string]any) {
	t.Helper()
	jws, err := jose.ParseSignedCompact(set, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("ParseSignedCompact() error = %v", err)
	}
	payload, err := jws.Verify(tr.JWKS().Keys[0].Key)
	if err != nil {
		t.Fatalf("Verify() error = %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return jws.Signatures[0].Protected, claims
}

func TestTransmitter_SET(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	tr := oauthtest.NewTransmitter(t, oauthtest.TransmitterConfig{Now: func() time.Time { return now }})
	h, c := parseSET(t, tr, tr.SET(t, oauthtest.Event{Audience: "rs", Type: sessionRevoked, Subject: oauthtest.Opaque("alice"),
		Time: now.Add(-time.Minute), ID: "j1"}))
	events, _ := c["events"].(map[string]any)
	ev, _ := events[sessionRevoked].(map[string]any)
	sub, _ := c["sub_id"].(map[string]any)
	switch {
	case h.ExtraHeaders[jose.HeaderType] != "secevent+jwt" || h.KeyID != tr.JWKS().Keys[0].KeyID:
		t.Errorf("header = %+v, want typ secevent+jwt and the transmitter's kid", h)
	case c["iss"] != tr.URL || c["aud"] != "rs" || c["jti"] != "j1" || c["iat"] != float64(now.Unix()):
		t.Errorf("claims = %v, want iss, aud rs, jti j1, iat now", c)
	case sub["format"] != "opaque" || sub["id"] != "alice":
		t.Errorf("sub_id = %v, want opaque alice", sub)
	case ev["event_timestamp"] != float64(now.Add(-time.Minute).Unix()):
		t.Errorf("event = %v, want event_timestamp a minute ago", ev)
	}

	h, c = parseSET(t, tr, tr.SET(t, oauthtest.Event{Audience: "rs", Type: sessionRevoked, Subject: oauthtest.Email("a@example.com"),
		SubjectInEvent: true, Claims: map[string]any{"iat": nil}, Header: map[string]any{"typ": "JWT"}}))
	events, _ = c["events"].(map[string]any)
	ev, _ = events[sessionRevoked].(map[string]any)
	if _, has := c["iat"]; has || c["sub_id"] != nil || ev["subject"] == nil || h.ExtraHeaders[jose.HeaderType] != "JWT" {
		t.Errorf("SET with overrides = %+v %v, want no iat, the subject in the event, typ JWT", h, c)
	}
	if _, err := tr.MintSET(oauthtest.Event{Type: sessionRevoked}); err == nil {
		t.Error("MintSET() without Audience succeeded")
	}
}

func TestTransmitter_Endpoints(t *testing.T) {
	t.Parallel()
	tr := oauthtest.NewTransmitter(t)
	resp, err := tr.Client().Get(tr.URL + "/.well-known/ssf-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	err = json.NewDecoder(resp.Body).Decode(&cfg)
	resp.Body.Close()
	if err != nil || cfg.Issuer != tr.URL || cfg.JWKSURI != tr.URL+"/jwks" {
		t.Errorf("ssf-configuration = %+v, %v; want issuer and jwks_uri", cfg, err)
	}

	for _, id := range []string{"a", "b", "c"} {
		tr.Queue(tr.SET(t, oauthtest.Event{Audience: "rs", Type: sessionRevoked, ID: id}))
	}
	poll := func(body string) (sets map[string]string, more bool) {
		t.Helper()
		resp, err := tr.Client().Post(tr.PollURL(), "application/json", bytes.NewReader([]byte(body)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r struct {
			Sets          map[string]string `json:"sets"`
			MoreAvailable bool              `json:"moreAvailable"`
		}
		b, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("poll answer %s: %v", b, err)
		}
		return r.Sets, r.MoreAvailable
	}
	if sets, more := poll(`{"maxEvents":2}`); len(sets) != 2 || !more {
		t.Errorf("first poll = %d SETs, more %v; want 2, true", len(sets), more)
	}
	if sets, more := poll(`{"ack":["a"],"setErrs":{"b":{"err":"invalid_key","description":"x"}},"maxEvents":10}`); len(sets) != 1 || more || sets["c"] == "" {
		t.Errorf("second poll = %v, more %v; want only c", sets, more)
	}
	acked, errs := tr.Acknowledged()
	if !slices.Equal(acked, []string{"a"}) || errs["b"] != "invalid_key" {
		t.Errorf("Acknowledged() = %v, %v; want [a], b: invalid_key", acked, errs)
	}
}

func TestPushTo(t *testing.T) {
	t.Parallel()
	tr := oauthtest.NewTransmitter(t)
	set := tr.SET(t, oauthtest.Event{Audience: "rs", Type: sessionRevoked})
	var got string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = r.Method + " " + r.Header.Get("Content-Type") + " " + string(b)
		w.WriteHeader(http.StatusAccepted)
	})
	if status, _ := oauthtest.PushTo(h, set); status != http.StatusAccepted || got != "POST application/secevent+jwt "+set {
		t.Errorf("PushTo() = %d, request %q; want 202 and a POST of the SET", status, got)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	if status, _ := tr.Push(t, srv.URL, set); status != http.StatusAccepted {
		t.Errorf("Push() = %d, want 202", status)
	}
}

// TestTransmitter_PushOwnConnections: Push keeps its connections out of
// http.DefaultTransport, whose idle connections every
// httptest.Server.Close closes, sometimes under a request about to reuse
// one (a parallel test's server closing failed this one's push): a push
// after such a close goes out on the connection of the push before it.
func TestTransmitter_PushOwnConnections(t *testing.T) {
	t.Parallel()
	tr := oauthtest.NewTransmitter(t)
	from := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		from <- r.RemoteAddr
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	for i := range 2 {
		if status, _ := tr.Push(t, srv.URL, "x"); status != http.StatusAccepted {
			t.Fatalf("push %d = %d, want 202", i, status)
		}
		// What another test's httptest.Server.Close does.
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	}
	if first, second := <-from, <-from; first != second {
		t.Errorf("pushes came from %s, then %s; want one connection", first, second)
	}
}
