package ssf_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/ssf"
	"github.com/oauthgate/oauthgate/verify"
)

const (
	// receiverAudience is the aud of the SETs the receivers accept.
	receiverAudience = "https://api.example.com/ssf"
	// tenantIssuer is the multi-tenant issuer template of the tokens, so
	// that tenants can be tested.
	tenantIssuer = "https://login.example.com/{tenant}/v2.0"
	// defaultTestTimeout bounds the contexts of the tests.
	defaultTestTimeout = 10 * time.Second
)

// A fixture is an identity provider that issues tokens and transmits
// events, and a resource server that receives them by push.
type fixture struct {
	clock *oauthtest.Clock
	iss   *oauthtest.Issuer
	tr    *oauthtest.Transmitter
	rev   *ssf.Revocations
	push  string       // the push endpoint's URL
	http  *http.Client // a client of its own, for the push endpoint
	jwt   *verify.JWT
}

// A user is the claims that identify a subject in its tokens.
type user struct {
	sub, sid, email, tenant, jti string
}

var (
	alice = user{sub: "alice", sid: "s-alice", email: "alice@example.com", tenant: "t1", jti: "j-alice"}
	bob   = user{sub: "bob", sid: "s-bob", email: "bob@example.com", tenant: "t2", jti: "j-bob"}
)

func (u user) issuer() string { return strings.Replace(tenantIssuer, "{tenant}", u.tenant, 1) }

func newFixture(t *testing.T, rc ssf.RevocationsConfig, cfg ssf.Config) *fixture {
	t.Helper()
	f := &fixture{clock: oauthtest.NewClock(time.Now().Truncate(time.Second))}
	f.iss = oauthtest.NewIssuer(t, oauthtest.IssuerConfig{Now: f.clock.Now})
	f.tr = oauthtest.NewTransmitter(t, oauthtest.TransmitterConfig{Now: f.clock.Now})
	rc.Now = f.clock.Now
	if rc.Retention == 0 {
		rc.Retention = time.Hour
	}
	var err error
	if f.rev, err = ssf.NewRevocations(rc); err != nil {
		t.Fatalf("NewRevocations() error = %v", err)
	}
	cfg.Issuer, cfg.Audience, cfg.InsecureAllowHTTP = f.tr.URL, receiverAudience, true
	recv, err := ssf.NewReceiver(f.rev, cfg)
	if err != nil {
		t.Fatalf("NewReceiver() error = %v", err)
	}
	t.Cleanup(func() { _ = recv.Close() })
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	f.push, f.http = srv.URL, srv.Client()
	keys, err := verify.NewStaticKeySet(f.iss.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	f.jwt, err = verify.NewJWT(keys, verify.JWTConfig{Issuer: tenantIssuer, Tenants: []string{"t1", "t2"},
		Audiences: []string{oauthtest.DefaultAudience}, Now: f.clock.Now, Revocations: f.rev})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// token mints a token of u, with acr "mfa".
func (f *fixture) token(t *testing.T, u user) string {
	t.Helper()
	return f.iss.Token(t, oauthtest.Token{Subject: u.sub, Issuer: u.issuer(), Claims: map[string]any{
		"sid": u.sid, "email": u.email, "tid": u.tenant, "jti": u.jti, "acr": "mfa"}})
}

// send pushes ev and fails the test unless the receiver accepts it.
func (f *fixture) send(t *testing.T, ev oauthtest.Event) {
	t.Helper()
	if ev.Audience == "" {
		ev.Audience = receiverAudience
	}
	if status, body := f.tr.Push(t, f.push, f.tr.SET(t, ev)); status != http.StatusAccepted {
		t.Fatalf("Push() = %d %s, want 202", status, body)
	}
}

func (f *fixture) verify(t *testing.T, tok string) (*verify.Claims, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
	defer cancel()
	return f.jwt.Verify(ctx, tok)
}

// subjects are the subject formats, each naming alice.
var subjects = map[string]func(u user) map[string]any{
	"IssSub": func(u user) map[string]any { return oauthtest.IssSub(u.issuer(), u.sub) },
	"Email":  func(u user) map[string]any { return oauthtest.Email(u.email) },
	"Opaque": func(u user) map[string]any { return oauthtest.Opaque(u.sub) },
	"JWTID":  func(u user) map[string]any { return oauthtest.JWTID(u.issuer(), u.jti) },
	"Aliases": func(u user) map[string]any {
		return aliases(oauthtest.Email("nobody@example.com"), oauthtest.Opaque(u.sub))
	},
	"ComplexUserSession": func(u user) map[string]any {
		return oauthtest.Complex(oauthtest.IssSub(u.issuer(), u.sub), u.sid, "")
	},
	"ComplexUserTenant": func(u user) map[string]any { return oauthtest.Complex(oauthtest.Email(u.email), "", u.tenant) },
	"ComplexSession":    func(u user) map[string]any { return oauthtest.Complex(nil, u.sid, "") },
	"ComplexTenant":     func(u user) map[string]any { return oauthtest.Complex(nil, "", u.tenant) },
}

func aliases(ids ...map[string]any) map[string]any {
	return map[string]any{"format": "aliases", "identifiers": ids}
}

// TestEvents sends every event type about alice in every subject format,
// and checks what happens to alice's token issued before the event (from
// the cache: it was verified before), to bob's, and to a token of alice
// issued after the event.
func TestEvents(t *testing.T) {
	t.Parallel()
	type outcome int
	const (
		revoked  outcome = iota // refused with ErrRevoked
		kept                    // accepted unchanged
		stepDown                // accepted without acr
	)
	events := map[string]outcome{
		ssf.SessionRevoked:       revoked,
		ssf.CredentialChange:     revoked,
		ssf.AccountDisabled:      revoked,
		ssf.AccountPurged:        revoked,
		ssf.SessionsRevoked:      revoked,
		ssf.TokenClaimsChange:    kept,
		ssf.AssuranceLevelChange: stepDown,
	}
	for typ, want := range events {
		for format, subject := range subjects {
			name := typ[strings.LastIndex(typ, "/")+1:] + "/" + format
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				f := newFixture(t, ssf.RevocationsConfig{}, ssf.Config{})
				old, other := f.token(t, alice), f.token(t, bob)
				for _, tok := range []string{old, other} {
					if _, err := f.verify(t, tok); err != nil {
						t.Fatalf("Verify() before the event error = %v", err)
					}
				}
				f.clock.Advance(time.Second)
				f.send(t, oauthtest.Event{Type: typ, Subject: subject(alice)})
				f.clock.Advance(time.Second)
				newer := f.token(t, alice)

				c, err := f.verify(t, old)
				switch want {
				case revoked:
					if !errors.Is(err, verify.ErrRevoked) || !errors.Is(err, verify.ErrInvalidToken) {
						t.Errorf("Verify(alice's old token) error = %v, want ErrRevoked", err)
					}
				case kept:
					if err != nil || c.ACR() != "mfa" {
						t.Errorf("Verify(alice's old token) = acr %q, %v; want mfa, nil", acr(c), err)
					}
				case stepDown:
					if err != nil || c.ACR() != "" || !c.AuthTime().IsZero() {
						t.Errorf("Verify(alice's old token) = acr %q, %v; want no acr, nil", acr(c), err)
					}
				}
				for who, tok := range map[string]string{"bob's token": other, "alice's newer token": newer} {
					if c, err := f.verify(t, tok); err != nil || c.ACR() != "mfa" {
						t.Errorf("Verify(%s) = acr %q, %v; want mfa, nil", who, acr(c), err)
					}
				}
			})
		}
	}
}

func acr(c *verify.Claims) string {
	if c == nil {
		return "<nil>"
	}
	return c.ACR()
}

// TestRefused sends SETs that must be refused, and checks the RFC 8935
// answer and that nothing changed.
func TestRefused(t *testing.T) {
	t.Parallel()
	revoke := oauthtest.Event{Type: ssf.SessionRevoked, Subject: oauthtest.Opaque("alice")}
	with := func(mod func(*oauthtest.Event)) func(*fixture, *testing.T) string {
		return func(f *fixture, t *testing.T) string {
			ev := revoke
			ev.Audience = receiverAudience
			mod(&ev)
			return f.tr.SET(t, ev)
		}
	}
	tests := map[string]struct {
		set         func(*fixture, *testing.T) string
		contentType string
		wantStatus  int
		wantErr     string
		wantDesc    string // if set, the description the transmitter reads
	}{
		"Forged": {set: func(f *fixture, t *testing.T) string {
			other := oauthtest.NewTransmitter(t)
			return other.SET(t, oauthtest.Event{Audience: receiverAudience, Type: ssf.SessionRevoked,
				Subject: oauthtest.Opaque("alice"), Claims: map[string]any{"iss": f.tr.URL},
				Header: map[string]any{"kid": f.tr.JWKS().Keys[0].KeyID}})
		}, wantErr: "invalid_key"},
		"TamperedPayload": {set: func(f *fixture, t *testing.T) string {
			set := with(func(*oauthtest.Event) {})(f, t)
			parts := strings.Split(set, ".")
			other := strings.Split(with(func(e *oauthtest.Event) { e.Subject = oauthtest.Opaque("bob") })(f, t), ".")
			return parts[0] + "." + other[1] + "." + parts[2]
		}, wantErr: "invalid_key"},
		"WrongAudience": {set: with(func(e *oauthtest.Event) { e.Audience = "https://other.example.com" }), wantErr: "invalid_audience",
			wantDesc: "wrong SET audience (aud)"},
		"WrongIssuer":     {set: with(func(e *oauthtest.Event) { e.Claims = map[string]any{"iss": "https://evil.example.com"} }), wantErr: "invalid_issuer"},
		"Expired":         {set: with(func(e *oauthtest.Event) { e.IssuedAt = time.Now().Add(-2 * time.Hour) }), wantErr: "invalid_request"},
		"ExpPassed":       {set: with(func(e *oauthtest.Event) { e.Claims = map[string]any{"exp": time.Now().Add(-time.Hour).Unix()} }), wantErr: "invalid_request"},
		"IssuedInFuture":  {set: with(func(e *oauthtest.Event) { e.IssuedAt = time.Now().Add(time.Hour) }), wantErr: "invalid_request"},
		"EventInFuture":   {set: with(func(e *oauthtest.Event) { e.Time = time.Now().Add(time.Hour) }), wantErr: "invalid_request"},
		"NoIat":           {set: with(func(e *oauthtest.Event) { e.Claims = map[string]any{"iat": nil} }), wantErr: "invalid_request"},
		"NoJTI":           {set: with(func(e *oauthtest.Event) { e.Claims = map[string]any{"jti": nil} }), wantErr: "invalid_request"},
		"NoEvents":        {set: with(func(e *oauthtest.Event) { e.Claims = map[string]any{"events": map[string]any{}} }), wantErr: "invalid_request"},
		"EventsNotObject": {set: with(func(e *oauthtest.Event) { e.Claims = map[string]any{"events": []string{ssf.SessionRevoked}} }), wantErr: "invalid_request"},
		"AccessTokenType": {set: with(func(e *oauthtest.Event) { e.Header = map[string]any{"typ": "at+jwt"} }), wantErr: "invalid_request"},
		"NoType":          {set: with(func(e *oauthtest.Event) { e.Header = map[string]any{"typ": nil} }), wantErr: "invalid_request"},
		"Crit":            {set: with(func(e *oauthtest.Event) { e.Header = map[string]any{"crit": []string{"exp"}, "exp": 1} }), wantErr: "invalid_request"},
		"UnknownFormat":   {set: with(func(e *oauthtest.Event) { e.Subject = map[string]any{"format": "phone_number", "phone_number": "+1"} }), wantErr: "invalid_request"},
		"NoSubject":       {set: with(func(e *oauthtest.Event) { e.Subject = nil }), wantErr: "invalid_request"},
		"EmptySub":        {set: with(func(e *oauthtest.Event) { e.Subject = oauthtest.IssSub("https://idp", "") }), wantErr: "invalid_request"},
		"AliasesEmpty":    {set: with(func(e *oauthtest.Event) { e.Subject = map[string]any{"format": "aliases", "identifiers": []any{}} }), wantErr: "invalid_request"},
		"ComplexSessionNotOpaque": {set: with(func(e *oauthtest.Event) {
			e.Subject = map[string]any{"format": "complex", "user": oauthtest.Opaque("alice"), "session": map[string]any{"format": "email", "id": "s1"}}
		}), wantErr: "invalid_request"},
		"ComplexSessionEmptyID": {set: with(func(e *oauthtest.Event) {
			e.Subject = map[string]any{"format": "complex", "user": oauthtest.Opaque("alice"), "session": oauthtest.Opaque("")}
		}), wantErr: "invalid_request"},
		"ComplexNoMembers": {set: with(func(e *oauthtest.Event) { e.Subject = map[string]any{"format": "complex"} }), wantErr: "invalid_request"},
		"ComplexIssSubSession": {set: with(func(e *oauthtest.Event) {
			e.Subject = map[string]any{"format": "complex", "session": oauthtest.IssSub("a", "b")}
		}), wantErr: "invalid_request"},
		"SubjectMismatch": {set: with(func(e *oauthtest.Event) {
			e.Claims = map[string]any{"sub_id": oauthtest.Opaque("alice")}
			e.SubjectInEvent, e.Subject = true, oauthtest.Opaque("bob")
		}), wantErr: "invalid_request"},
		"DuplicateClaim": {set: func(f *fixture, t *testing.T) string {
			return f.tr.SET(t, oauthtest.Event{Audience: receiverAudience, Type: ssf.SessionRevoked,
				Subject: oauthtest.Opaque("alice"), Claims: map[string]any{"Iss": "x"}})
		}, wantStatus: http.StatusAccepted}, // names are case-sensitive: Iss is another claim
		"NotJWS": {set: func(*fixture, *testing.T) string { return "not a token" }, wantErr: "invalid_request",
			wantDesc: "malformed SET"},
		"Whitespace": {set: func(f *fixture, t *testing.T) string { return with(func(*oauthtest.Event) {})(f, t) + "\n" }, wantErr: "invalid_request"},
		"WrongContentType": {set: with(func(*oauthtest.Event) {}), contentType: "application/jwt",
			wantErr: "invalid_request", wantDesc: "malformed SET (content-type)"},
		"TooLarge": {set: with(func(e *oauthtest.Event) { e.Payload = map[string]any{"pad": strings.Repeat("x", 70<<10)} }),
			wantErr: "invalid_request"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, ssf.RevocationsConfig{}, ssf.Config{})
			tok := f.token(t, alice)
			ct := tc.contentType
			if ct == "" {
				ct = "application/secevent+jwt"
			}
			status, body := f.post(t, ct, tc.set(f, t))
			want := cmpOr(tc.wantStatus, http.StatusBadRequest)
			if status != want {
				t.Fatalf("POST = %d %s, want %d", status, body, want)
			}
			if want != http.StatusBadRequest {
				return
			}
			var e struct{ Err, Description string }
			if err := json.Unmarshal(body, &e); err != nil || e.Err != tc.wantErr || e.Description == "" {
				t.Errorf("error body = %s, want err %q and a description", body, tc.wantErr)
			}
			if tc.wantDesc != "" && e.Description != tc.wantDesc {
				t.Errorf("error description = %q, want %q", e.Description, tc.wantDesc)
			}
			if n, _ := f.rev.Len(); n != 0 {
				t.Errorf("Len() = %d after a refused SET, want 0", n)
			}
			if _, err := f.verify(t, tok); err != nil {
				t.Errorf("Verify(alice) after a refused SET error = %v", err)
			}
		})
	}
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// post sends body to the push endpoint with f's own client: not
// http.DefaultClient, whose idle connections any httptest.Server.Close in
// a parallel test closes, sometimes under a request about to reuse one.
func (f *fixture) post(t *testing.T, contentType, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, f.push, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := f.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// TestReplay sends one SET twice: the second is refused and changes
// nothing.
func TestReplay(t *testing.T) {
	t.Parallel()
	f := newFixture(t, ssf.RevocationsConfig{}, ssf.Config{})
	set := f.tr.SET(t, oauthtest.Event{Audience: receiverAudience, Type: ssf.TokenClaimsChange, Subject: oauthtest.Opaque("alice")})
	if status, body := f.tr.Push(t, f.push, set); status != http.StatusAccepted {
		t.Fatalf("first Push() = %d %s, want 202", status, body)
	}
	status, body := f.tr.Push(t, f.push, set)
	if status != http.StatusBadRequest || !strings.Contains(string(body), `"invalid_request"`) || !strings.Contains(string(body), "duplicate") {
		t.Errorf("replayed Push() = %d %s, want 400 invalid_request, duplicate", status, body)
	}
	if n, dropped := f.rev.Len(); n != 1 || dropped != 0 {
		t.Errorf("Len() = %d, %d; want 1, 0", n, dropped)
	}
}

// TestReceiver_Method checks that only POST is served.
func TestReceiver_Method(t *testing.T) {
	t.Parallel()
	f := newFixture(t, ssf.RevocationsConfig{}, ssf.Config{})
	resp, err := f.http.Get(f.push) //nolint:noctx // a test against a local server
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodPost {
		t.Errorf("GET = %d Allow %q, want 405 Allow POST", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// TestAlgorithms: SETs signed with every algorithm the kit signs are
// verified through discovery.
func TestAlgorithms(t *testing.T) {
	t.Parallel()
	for _, alg := range []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA} {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			tr := oauthtest.NewTransmitter(t, oauthtest.TransmitterConfig{Algorithm: alg})
			rev, err := ssf.NewRevocations(ssf.RevocationsConfig{Retention: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			recv, err := ssf.NewReceiver(rev, ssf.Config{Issuer: tr.URL, Audience: receiverAudience, InsecureAllowHTTP: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = recv.Close() })
			srv := httptest.NewServer(recv)
			t.Cleanup(srv.Close)
			set := tr.SET(t, oauthtest.Event{Audience: receiverAudience, Type: ssf.SessionRevoked, Subject: oauthtest.Opaque("alice")})
			if status, body := tr.Push(t, srv.URL, set); status != http.StatusAccepted {
				t.Fatalf("Push() = %d %s, want 202", status, body)
			}
		})
	}
}

// TestKeysUnavailable: a transmitter whose keys cannot be fetched gets
// 503, which it retries, and nothing changes.
func TestKeysUnavailable(t *testing.T) {
	t.Parallel()
	rev, err := ssf.NewRevocations(ssf.RevocationsConfig{Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	tr := oauthtest.NewTransmitter(t)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	recv, err := ssf.NewReceiver(rev, ssf.Config{Issuer: dead.URL, Audience: receiverAudience, InsecureAllowHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = recv.Close() })
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	set := tr.SET(t, oauthtest.Event{Audience: receiverAudience, Type: ssf.SessionRevoked, Subject: oauthtest.Opaque("alice"),
		Claims: map[string]any{"iss": dead.URL}})
	if status, body := tr.Push(t, srv.URL, set); status != http.StatusServiceUnavailable {
		t.Errorf("Push() = %d %s, want 503", status, body)
	}
	if n, _ := rev.Len(); n != 0 {
		t.Errorf("Len() = %d, want 0", n)
	}
}

// TestEvents_SeveralIssuers: an event that names its subject with an
// issuer (iss_sub, jwt_id) concerns that issuer's tokens whichever
// issuer's tokens were checked first; the other issuer's tokens stay
// valid.
func TestEvents_SeveralIssuers(t *testing.T) {
	t.Parallel()
	for format, subject := range map[string]func(u user) map[string]any{
		"IssSub": subjects["IssSub"],
		"JWTID":  subjects["JWTID"],
	} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, ssf.RevocationsConfig{}, ssf.Config{})
			aliceTok, bobTok := f.token(t, alice), f.token(t, bob)
			f.clock.Advance(time.Second)
			f.send(t, oauthtest.Event{Type: ssf.SessionRevoked, Subject: subject(bob)})
			// alice's issuer (tenant t1) is checked first; the event is
			// about bob of tenant t2.
			if _, err := f.verify(t, aliceTok); err != nil {
				t.Errorf("Verify(alice) error = %v, want nil", err)
			}
			if _, err := f.verify(t, bobTok); !errors.Is(err, verify.ErrRevoked) {
				t.Errorf("Verify(bob) error = %v, want ErrRevoked", err)
			}
		})
	}
}

// TestBounds: a SET at each limit is accepted and one a unit over it is
// refused with 400, changing nothing: the jti and every identifier of a
// subject up to 1024 bytes, up to 16 events in a SET, up to 16 aliases.
func TestBounds(t *testing.T) {
	t.Parallel()
	id := func(n int) string { return strings.Repeat("x", n) }
	events := func(n int) map[string]any {
		ev := map[string]any{ssf.SessionRevoked: map[string]any{}}
		for i := 1; i < n; i++ {
			ev[fmt.Sprintf("https://example.com/event-type/%d", i)] = map[string]any{}
		}
		return ev
	}
	opaques := func(n int) map[string]any {
		ids := make([]map[string]any, n)
		for i := range ids {
			ids[i] = oauthtest.Opaque(fmt.Sprintf("user-%d", i))
		}
		return aliases(ids...)
	}
	tests := map[string]func(n int) oauthtest.Event{
		"JTI":       func(n int) oauthtest.Event { return oauthtest.Event{ID: id(n)} },
		"Events":    func(n int) oauthtest.Event { return oauthtest.Event{Claims: map[string]any{"events": events(n)}} },
		"Aliases":   func(n int) oauthtest.Event { return oauthtest.Event{Subject: opaques(n)} },
		"IssSubIss": func(n int) oauthtest.Event { return oauthtest.Event{Subject: oauthtest.IssSub(id(n), "alice")} },
		"IssSubSub": func(n int) oauthtest.Event { return oauthtest.Event{Subject: oauthtest.IssSub("https://idp", id(n))} },
		"JWTIDIss":  func(n int) oauthtest.Event { return oauthtest.Event{Subject: oauthtest.JWTID(id(n), "j")} },
		"JWTIDJTI":  func(n int) oauthtest.Event { return oauthtest.Event{Subject: oauthtest.JWTID("https://idp", id(n))} },
		"Email":     func(n int) oauthtest.Event { return oauthtest.Event{Subject: oauthtest.Email(id(n))} },
		"Opaque":    func(n int) oauthtest.Event { return oauthtest.Event{Subject: oauthtest.Opaque(id(n))} },
		"Session":   func(n int) oauthtest.Event { return oauthtest.Event{Subject: oauthtest.Complex(nil, id(n), "")} },
		"Tenant":    func(n int) oauthtest.Event { return oauthtest.Event{Subject: oauthtest.Complex(nil, "", id(n))} },
		"UserSession": func(n int) oauthtest.Event {
			return oauthtest.Event{Subject: oauthtest.Complex(oauthtest.Opaque("alice"), id(n), "")}
		},
	}
	limits := map[string]int{"Events": 16, "Aliases": 16}
	for name, event := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			limit := cmpOr(limits[name], 1024)
			f := newFixture(t, ssf.RevocationsConfig{}, ssf.Config{MaxSubjects: 100})
			var stored int
			for _, n := range []int{limit, limit + 1} {
				ev := event(n)
				ev.Audience, ev.Type = receiverAudience, ssf.SessionRevoked
				if ev.Subject == nil {
					ev.Subject = oauthtest.Opaque("alice")
				}
				status, body := f.tr.Push(t, f.push, f.tr.SET(t, ev))
				if want := map[bool]int{true: http.StatusAccepted, false: http.StatusBadRequest}[n == limit]; status != want {
					t.Fatalf("Push(%d) = %d %s, want %d", n, status, body, want)
				}
				if n == limit {
					stored, _ = f.rev.Len()
				}
			}
			if n, _ := f.rev.Len(); stored == 0 || n != stored {
				t.Errorf("Len() = %d after the SET at the limit, %d after the one over it; want some, unchanged", stored, n)
			}
		})
	}
}

// TestBounds_Size: a SET of exactly Config.MaxSETSize bytes is accepted,
// and refused by a receiver whose limit is a byte less.
func TestBounds_Size(t *testing.T) {
	t.Parallel()
	tr := oauthtest.NewTransmitter(t)
	set := tr.SET(t, oauthtest.Event{Audience: receiverAudience, Type: ssf.SessionRevoked, Subject: oauthtest.Opaque("alice")})
	for _, tc := range []struct {
		max  int
		want int
	}{{len(set), http.StatusAccepted}, {len(set) - 1, http.StatusBadRequest}} {
		rev, err := ssf.NewRevocations(ssf.RevocationsConfig{Retention: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		recv, err := ssf.NewReceiver(rev, ssf.Config{Issuer: tr.URL, Audience: receiverAudience, InsecureAllowHTTP: true, MaxSETSize: tc.max})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = recv.Close() })
		if status, body := oauthtest.PushTo(recv, set); status != tc.want {
			t.Errorf("MaxSETSize %d: push of %d bytes = %d %s, want %d", tc.max, len(set), status, body, tc.want)
		}
	}
}

// TestEvents_Narrowed: a complex subject's session and tenant narrow the
// event to the tokens of that session and tenant; a token that does not
// name its session may be of it, and is revoked.
func TestEvents_Narrowed(t *testing.T) {
	t.Parallel()
	type tok struct{ sid, tenant string }
	tests := map[string]struct {
		subject map[string]any
		revoked []tok
		kept    []tok
	}{
		"UserSession": {subject: oauthtest.Complex(oauthtest.IssSub(alice.issuer(), alice.sub), alice.sid, ""),
			revoked: []tok{{sid: alice.sid, tenant: "t1"}, {tenant: "t1"}}, kept: []tok{{sid: "s-other", tenant: "t1"}}},
		"UserTenant": {subject: oauthtest.Complex(oauthtest.Email(alice.email), "", "t1"),
			revoked: []tok{{sid: alice.sid, tenant: "t1"}}, kept: []tok{{sid: alice.sid, tenant: "t2"}}},
		"SessionTenant": {subject: oauthtest.Complex(nil, alice.sid, "t1"),
			revoked: []tok{{sid: alice.sid, tenant: "t1"}}, kept: []tok{{sid: alice.sid, tenant: "t2"}, {sid: "s-other", tenant: "t1"}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, ssf.RevocationsConfig{}, ssf.Config{})
			mint := func(k tok) string {
				u := alice
				u.tenant = k.tenant
				claims := map[string]any{"email": u.email, "tid": u.tenant}
				if k.sid != "" {
					claims["sid"] = k.sid
				}
				return f.iss.Token(t, oauthtest.Token{Subject: u.sub, Issuer: u.issuer(), Claims: claims})
			}
			revoked, kept := make([]string, len(tc.revoked)), make([]string, len(tc.kept))
			for i, k := range tc.revoked {
				revoked[i] = mint(k)
			}
			for i, k := range tc.kept {
				kept[i] = mint(k)
			}
			f.clock.Advance(time.Second)
			f.send(t, oauthtest.Event{Type: ssf.SessionRevoked, Subject: tc.subject})
			for i, tok := range revoked {
				if _, err := f.verify(t, tok); !errors.Is(err, verify.ErrRevoked) {
					t.Errorf("Verify(%+v) error = %v, want ErrRevoked", tc.revoked[i], err)
				}
			}
			for i, tok := range kept {
				if _, err := f.verify(t, tok); err != nil {
					t.Errorf("Verify(%+v) error = %v, want nil", tc.kept[i], err)
				}
			}
		})
	}
}

// TestEvents_SubjectPlace: a SET may name its subject in sub_id (SSF
// 1.0), in the event (CAEP and RISC before SSF 1.0, sub_id absent or
// null), or in both, the same JSON value written another way.
func TestEvents_SubjectPlace(t *testing.T) {
	t.Parallel()
	tests := map[string]map[string]any{
		"InEvent":            nil,
		"InEventSubIDNull":   {"sub_id": json.RawMessage(`null`)},
		"BothWrittenAnother": {"sub_id": json.RawMessage(`{ "id": "alice", "format": "opaque" }`)},
	}
	for name, claims := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, ssf.RevocationsConfig{}, ssf.Config{})
			tok := f.token(t, alice)
			f.clock.Advance(time.Second)
			f.send(t, oauthtest.Event{Type: ssf.SessionRevoked, Subject: oauthtest.Opaque(alice.sub), SubjectInEvent: true, Claims: claims})
			if _, err := f.verify(t, tok); !errors.Is(err, verify.ErrRevoked) {
				t.Errorf("Verify(alice) error = %v, want ErrRevoked", err)
			}
		})
	}
}

// TestReplay_Window: a SET's jti is remembered as long as the SET could be
// accepted again: the MaxAge after its receipt and the leeway its iat may
// be ahead, here while another transmitter's SETs come in between.
func TestReplay_Window(t *testing.T) {
	t.Parallel()
	f := newFixture(t, ssf.RevocationsConfig{}, ssf.Config{}) // MaxAge: the hour of Retention; Leeway: 30s
	ahead := oauthtest.Event{Audience: receiverAudience, Type: ssf.TokenClaimsChange, Subject: oauthtest.Opaque("alice"),
		IssuedAt: f.clock.Now().Add(30 * time.Second)}
	set := f.tr.SET(t, ahead)
	if status, body := f.tr.Push(t, f.push, set); status != http.StatusAccepted {
		t.Fatalf("Push() = %d %s, want 202", status, body)
	}
	f.clock.Advance(time.Hour + 30*time.Second) // the SET is still within MaxAge of its iat
	f.send(t, oauthtest.Event{Type: ssf.TokenClaimsChange, Subject: oauthtest.Opaque("bob")})
	status, body := f.tr.Push(t, f.push, set)
	if status != http.StatusBadRequest || !strings.Contains(string(body), "duplicate") {
		t.Errorf("replayed Push() an hour and 30 s later = %d %s, want 400 duplicate", status, body)
	}
}

// TestReceiver_CloseWithKeys: Close of a Receiver given its Keys closes
// nothing and succeeds.
func TestReceiver_CloseWithKeys(t *testing.T) {
	t.Parallel()
	tr, keys := newTransmitter(t)
	if err := newReplica(t, tr, keys, nil).recv.Close(); err != nil {
		t.Errorf("Close() error = %v", err)
	}
}

// TestReplay_Bound: the jti memory holds the 10 000 most recent SETs: a
// replay of the last 10 000 is refused, and the oldest beyond them is
// forgotten (applying its event again changes nothing).
func TestReplay_Bound(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("signs and receives 10 001 SETs")
	}
	f := newFixture(t, ssf.RevocationsConfig{}, ssf.Config{})
	recv, err := ssf.NewReceiver(f.rev, ssf.Config{Issuer: f.tr.URL, Audience: receiverAudience, InsecureAllowHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = recv.Close() })
	const n = 10_001
	sets := make([]string, n)
	for i := range sets {
		sets[i] = f.tr.SET(t, oauthtest.Event{Audience: receiverAudience, Type: "https://example.com/event-type/ignored"})
		if status, body := oauthtest.PushTo(recv, sets[i]); status != http.StatusAccepted {
			t.Fatalf("push %d = %d %s, want 202", i, status, body)
		}
	}
	if status, body := oauthtest.PushTo(recv, sets[1]); status != http.StatusBadRequest || !strings.Contains(string(body), "duplicate") {
		t.Errorf("replay of the second SET = %d %s, want 400 duplicate", status, body)
	}
	if status, body := oauthtest.PushTo(recv, sets[0]); status != http.StatusAccepted {
		t.Errorf("replay of the first SET, beyond the 10 000 = %d %s, want 202", status, body)
	}
}
