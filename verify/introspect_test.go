package verify

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// introTestTimeout bounds every context in these tests.
const introTestTimeout = 10 * time.Second

const (
	introClientID = "rs:orders/api é"  // needs form-urlencoding
	introSecret   = "s3cr3t:&=+ %/é?#" // likewise; must never show in an error
	introIssuer   = "https://as.example/"
	introAudience = "https://orders.example"
)

// introStart is the fake clock's start: 2025-06-15T14:40:00Z.
var introStart = time.Unix(1_750_000_000, 0)

// introClock is a settable clock for Config.Now.
type introClock struct{ ns atomic.Int64 }

func newIntroClock() *introClock {
	c := &introClock{}
	c.ns.Store(introStart.UnixNano())
	return c
}

func (c *introClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *introClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// introAS is a fake authorization server's introspection endpoint on
// 127.0.0.1. It checks client authentication and the request format, and
// answers from responses (token → JSON body); unknown tokens are inactive.
type introAS struct {
	*httptest.Server
	t         *testing.T
	method    AuthMethod
	requests  atomic.Int64
	responses map[string]string // read-only once started
	// Set by newIntroAS's setup functions, before the server starts.
	before  func(r *http.Request) // runs first in every request, e.g. to block
	handler http.HandlerFunc      // replaces the normal handling after before
}

func newIntroAS(t *testing.T, method AuthMethod, responses map[string]string, setup ...func(*introAS)) *introAS {
	t.Helper()
	as := &introAS{t: t, method: method, responses: responses}
	for _, f := range setup {
		f(as)
	}
	as.Server = httptest.NewServer(http.HandlerFunc(as.serve))
	t.Cleanup(as.Close)
	return as
}

func (as *introAS) serve(w http.ResponseWriter, r *http.Request) {
	as.requests.Add(1)
	if as.before != nil {
		as.before(r)
	}
	if as.handler != nil {
		as.handler(w, r)
		return
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" ||
		r.Header.Get("Accept") != "application/json" {
		as.t.Errorf("request %s Content-Type %q Accept %q, want POST form accepting JSON",
			r.Method, r.Header.Get("Content-Type"), r.Header.Get("Accept"))
	}
	if err := r.ParseForm(); err != nil {
		as.t.Errorf("ParseForm() = %v", err)
	}
	if got := r.PostForm.Get("token_type_hint"); got != "access_token" {
		as.t.Errorf("token_type_hint = %q, want access_token", got)
	}
	if !as.authenticated(r) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":"invalid_client"}`)
		return
	}
	body, ok := as.responses[r.PostForm.Get("token")]
	if !ok {
		body = `{"active":false}`
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = io.WriteString(w, body)
}

// authenticated checks the client credentials exactly as RFC 6749 §2.3.1
// prescribes for as.method.
func (as *introAS) authenticated(r *http.Request) bool {
	switch as.method {
	case ClientSecretBasic:
		want := "Basic " + base64.StdEncoding.EncodeToString(
			[]byte(url.QueryEscape(introClientID)+":"+url.QueryEscape(introSecret)))
		if r.PostForm.Has("client_secret") || r.PostForm.Has("client_id") {
			as.t.Errorf("client_secret_basic request also has credentials in the body")
		}
		return r.Header.Get("Authorization") == want
	case ClientSecretPost:
		if r.Header.Get("Authorization") != "" {
			as.t.Errorf("client_secret_post request has an Authorization header")
		}
		return r.PostForm.Get("client_id") == introClientID && r.PostForm.Get("client_secret") == introSecret
	}
	return false
}

func introConfig(as *introAS, clock *introClock) IntrospectionConfig {
	return IntrospectionConfig{
		Endpoint:          as.URL + "/introspect",
		ClientID:          introClientID,
		ClientSecret:      introSecret,
		AuthMethod:        as.method,
		Issuer:            introIssuer,
		Audiences:         []string{"https://other.example", introAudience},
		HTTPClient:        as.Client(),
		InsecureAllowHTTP: true,
		Now:               clock.Now,
	}
}

func newIntro(t *testing.T, cfg IntrospectionConfig) *Introspection {
	t.Helper()
	i, err := NewIntrospection(cfg)
	if err != nil {
		t.Fatalf("NewIntrospection() error = %v", err)
	}
	return i
}

func introCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), introTestTimeout)
	t.Cleanup(cancel)
	return ctx
}

// introJSON marshals members into a response body, with times relative to
// introStart given as time.Duration.
func introJSON(members map[string]any) string {
	m := make(map[string]any, len(members))
	for k, v := range members {
		if d, ok := v.(time.Duration); ok {
			v = introStart.Add(d).Unix()
		}
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// introActive returns a valid active response with extra members merged in.
func introActive(extra map[string]any) string {
	m := map[string]any{
		"active": true, "iss": introIssuer, "aud": []string{introAudience}, "sub": "alice",
		"client_id": "web", "scope": "orders.read orders.write", "token_type": "Bearer",
		"exp": time.Hour, "iat": -time.Minute, "nbf": -time.Minute, "jti": "j1",
	}
	for k, v := range extra {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return introJSON(m)
}

// assertNoSecrets fails if err's text, in any fmt form, contains the token or
// the client secret.
func assertNoSecrets(t *testing.T, err error, token string) {
	t.Helper()
	for _, s := range []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
		if strings.Contains(s, token) || strings.Contains(s, introSecret) ||
			strings.Contains(s, url.QueryEscape(introSecret)) {
			t.Errorf("error text %q contains the token or the client secret", s)
		}
	}
}

func TestIntrospection_Verify(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		response   string
		wantReason error // nil: accepted
		wantClaim  string
	}{
		"Active":              {response: introActive(nil)},
		"AudienceString":      {response: introActive(map[string]any{"aud": introAudience})},
		"NoAudience":          {response: introActive(map[string]any{"aud": nil})},
		"NoIssuer":            {response: introActive(map[string]any{"iss": nil})},
		"NoExp":               {response: introActive(map[string]any{"exp": nil})},
		"ExpiredWithinLeeway": {response: introActive(map[string]any{"exp": -10 * time.Second})},
		"TokenTypeAccess":     {response: introActive(map[string]any{"token_type": "access_token"})},
		"TokenUseAccess":      {response: introActive(map[string]any{"token_use": "access_token"})},
		"Inactive":            {response: `{"active":false}`, wantReason: ErrInactive, wantClaim: "active"},
		"InactiveWithJunk":    {response: `{"active":false,"scope":"a b"}`, wantReason: ErrInactive},
		"UnknownToken":        {response: "", wantReason: ErrInactive},
		"Expired":             {response: introActive(map[string]any{"exp": -time.Hour}), wantReason: ErrExpired, wantClaim: "exp"},
		"NotYetValid":         {response: introActive(map[string]any{"nbf": time.Hour}), wantReason: ErrNotYetValid, wantClaim: "nbf"},
		"WrongAudience":       {response: introActive(map[string]any{"aud": []string{"https://billing.example"}}), wantReason: ErrAudience, wantClaim: "aud"},
		"EmptyAudience":       {response: introActive(map[string]any{"aud": []string{}}), wantReason: ErrAudience},
		"WrongIssuer":         {response: introActive(map[string]any{"iss": "https://evil.example/"}), wantReason: ErrIssuer, wantClaim: "iss"},
		"RefreshTokenType":    {response: introActive(map[string]any{"token_type": "refresh_token"}), wantReason: ErrType, wantClaim: "token_type"},
		"RefreshTokenUse":     {response: introActive(map[string]any{"token_use": "refresh_token"}), wantReason: ErrType, wantClaim: "token_use"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			token := "tok-" + name + "-Zq81"
			responses := map[string]string{}
			if tc.response != "" {
				responses[token] = tc.response
			}
			as := newIntroAS(t, ClientSecretBasic, responses)
			v := newIntro(t, introConfig(as, newIntroClock()))

			c, err := v.Verify(introCtx(t), token)
			if tc.wantReason == nil {
				if err != nil {
					t.Fatalf("Verify() error = %v, want nil", err)
				}
				if c.Subject() != "alice" || !c.Scopes().Has("orders.write") {
					t.Errorf("Verify() = sub %q scopes %v, want alice with orders.write", c.Subject(), c.Scopes())
				}
				return
			}
			if c != nil {
				t.Errorf("Verify() claims for sub %q, want nil with an error", c.Subject())
			}
			var te *TokenError
			if !errors.Is(err, ErrInvalidToken) || !errors.Is(err, tc.wantReason) || !errors.As(err, &te) {
				t.Fatalf("Verify() error = %v, want a *TokenError matching ErrInvalidToken and %v", err, tc.wantReason)
			}
			if errors.Is(err, ErrUnavailable) {
				t.Errorf("Verify() error = %v also matches ErrUnavailable", err)
			}
			if tc.wantClaim != "" && te.Claim != tc.wantClaim {
				t.Errorf("TokenError.Claim = %q, want %q", te.Claim, tc.wantClaim)
			}
			assertNoSecrets(t, err, token)
		})
	}
}

func TestIntrospection_VerifyMapsClaims(t *testing.T) {
	t.Parallel()
	const token = "opaque-1"
	body := introActive(map[string]any{"username": "alice@example.com", "exp": 1_750_003_600.5})
	as := newIntroAS(t, ClientSecretBasic, map[string]string{token: body})
	v := newIntro(t, introConfig(as, newIntroClock()))

	c, err := v.Verify(introCtx(t), token)
	if err != nil {
		t.Fatalf("Verify() error = %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Issuer", c.Issuer(), introIssuer},
		{"Subject", c.Subject(), "alice"},
		{"ClientID", c.ClientID(), "web"},
		{"ID", c.ID(), "j1"},
		{"Audience", fmt.Sprint(c.Audience()), fmt.Sprint([]string{introAudience})},
		{"Scopes", c.Scopes().String(), "orders.read orders.write"},
		{"Expiry", c.Expiry().UnixMilli(), introStart.Add(time.Hour).UnixMilli() + 500},
		// UTC, as from a JWT: one NumericDate reader.
		{"IssuedAt", c.IssuedAt(), introStart.Add(-time.Minute).UTC()},
		{"NotBefore", c.NotBefore(), introStart.Add(-time.Minute).UTC()},
		{"ExpiryLocation", c.Expiry().Location(), time.UTC},
		{"Raw", string(c.Raw()), body},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("Claims.%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
	var extra struct {
		Username string `json:"username"`
	}
	if err := c.Decode(&extra); err != nil || extra.Username != "alice@example.com" {
		t.Errorf("Decode() = %+v, %v, want username alice@example.com", extra, err)
	}
}

// introUnavailableCase is an endpoint that cannot answer for the token.
type introUnavailableCase struct {
	server func(*introAS)             // before the server starts
	config func(*IntrospectionConfig) // optional
	down   bool                       // close the server before the call
}

func introUnavailableCases() map[string]introUnavailableCase {
	respond := func(status int, contentType, body string) introUnavailableCase {
		return introUnavailableCase{server: func(as *introAS) {
			as.handler = func(w http.ResponseWriter, _ *http.Request) {
				if contentType != "" {
					w.Header().Set("Content-Type", contentType)
				}
				w.WriteHeader(status)
				_, _ = io.WriteString(w, body)
			}
		}}
	}
	const js = "application/json"
	return map[string]introUnavailableCase{
		"Down": {down: true},
		"Slow": {
			server: func(as *introAS) {
				as.handler = func(_ http.ResponseWriter, r *http.Request) {
					// Once the body is read, the server notices the client
					// hanging up and cancels r.Context().
					_, _ = io.Copy(io.Discard, r.Body)
					select {
					case <-r.Context().Done():
					case <-time.After(introTestTimeout):
					}
				}
			},
			config: func(c *IntrospectionConfig) { c.Timeout = 100 * time.Millisecond },
		},
		// A wrong secret: the server rejects our credentials, not the token.
		"Status401": {config: func(c *IntrospectionConfig) { c.ClientSecret = introSecret + "-old" }},
		"Status500": respond(http.StatusInternalServerError, js, `{"error":"server_error"}`),
		"Status503": respond(http.StatusServiceUnavailable, "text/plain", "busy"),
		"Status400": respond(http.StatusBadRequest, js, `{"error":"invalid_request","error_description":"bad"}`),
		"Redirect": {server: func(as *introAS) {
			// Following the redirect would reach an endpoint that accepts.
			as.handler = func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/introspect" {
					http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
					return
				}
				w.Header().Set("Content-Type", js)
				_, _ = io.WriteString(w, introActive(nil))
			}
		}},
		"HTMLBody":        respond(http.StatusOK, "text/html", "<html>login</html>"),
		"NoContentType":   respond(http.StatusOK, "", `{"active":true}`),
		"MalformedJSON":   respond(http.StatusOK, js, `{"active":true,`),
		"JSONArray":       respond(http.StatusOK, js, `[{"active":true}]`),
		"JSONNull":        respond(http.StatusOK, js, `null`),
		"MissingActive":   respond(http.StatusOK, js, `{"sub":"alice"}`),
		"ActiveString":    respond(http.StatusOK, js, `{"active":"true"}`),
		"ActiveNull":      respond(http.StatusOK, js, `{"active":null}`),
		"ActiveCapital":   respond(http.StatusOK, js, `{"Active":true}`),
		"ExpString":       respond(http.StatusOK, js, `{"active":true,"exp":"tomorrow"}`),
		"ExpOutOfRange":   respond(http.StatusOK, js, `{"active":true,"exp":1e300}`),
		"AudNumber":       respond(http.StatusOK, js, `{"active":true,"aud":42}`),
		"SubNumber":       respond(http.StatusOK, js, `{"active":true,"sub":42}`),
		"ScopeBadChar":    respond(http.StatusOK, js, `{"active":true,"scope":"a\"b"}`),
		"Oversized":       respond(http.StatusOK, js, `{"active":true,"pad":"`+strings.Repeat("x", 2048)+`"}`),
		"OversizedStatus": respond(http.StatusBadGateway, js, strings.Repeat(" ", 1<<20)),
	}
}

func TestIntrospection_VerifyUnavailable(t *testing.T) {
	t.Parallel()
	for name, tc := range introUnavailableCases() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			token := "tok-" + name + "-Zq81"
			var setup []func(*introAS)
			if tc.server != nil {
				setup = append(setup, tc.server)
			}
			as := newIntroAS(t, ClientSecretBasic, map[string]string{token: introActive(nil)}, setup...)
			cfg := introConfig(as, newIntroClock())
			cfg.MaxResponseSize = 1024
			if tc.config != nil {
				tc.config(&cfg)
			}
			v := newIntro(t, cfg)
			if tc.down {
				as.Close()
			}

			for call := 1; call <= 2; call++ {
				c, err := v.Verify(introCtx(t), token)
				var ue *UnavailableError
				if !errors.Is(err, ErrUnavailable) || !errors.As(err, &ue) || ue.Op != "introspect" {
					t.Fatalf("Verify() #%d = %v, %v, want an *UnavailableError{Op: introspect}", call, c, err)
				}
				if errors.Is(err, ErrInvalidToken) || c != nil {
					t.Errorf("Verify() #%d = %v, %v, must not be an invalid token", call, c, err)
				}
				assertNoSecrets(t, err, token)
			}
			// Failures are never cached: both calls reached the server.
			if got := as.requests.Load(); !tc.down && got != 2 {
				t.Errorf("requests = %d after two calls, want 2 (failures must not be cached)", got)
			}
		})
	}
}

func TestIntrospection_ClientAuth(t *testing.T) {
	t.Parallel()
	for _, method := range []AuthMethod{ClientSecretBasic, ClientSecretPost} {
		t.Run(method.String(), func(t *testing.T) {
			t.Parallel()
			as := newIntroAS(t, method, map[string]string{"tok": introActive(nil)})
			// introAS.authenticated checks the exact encoding; a mismatch
			// yields 401 and so ErrUnavailable.
			if _, err := newIntro(t, introConfig(as, newIntroClock())).Verify(introCtx(t), "tok"); err != nil {
				t.Fatalf("Verify() with %v error = %v, want nil", method, err)
			}

			cfg := introConfig(as, newIntroClock())
			cfg.ClientSecret = "wrong"
			_, err := newIntro(t, cfg).Verify(introCtx(t), "tok")
			if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "invalid_client") {
				t.Errorf("Verify() with a wrong secret error = %v, want ErrUnavailable naming 401 invalid_client", err)
			}
		})
	}
}

func TestIntrospection_Cache(t *testing.T) {
	t.Parallel()
	type step struct {
		advance      time.Duration
		wantRequests int64
		wantReason   error
	}
	tests := map[string]struct {
		response string
		cfg      func(*IntrospectionConfig)
		steps    []step
	}{
		"ActiveUntilCacheTTL": {
			response: introActive(nil),
			cfg:      func(c *IntrospectionConfig) { c.CacheTTL = 10 * time.Second },
			steps:    []step{{0, 1, nil}, {0, 1, nil}, {9 * time.Second, 1, nil}, {time.Second, 2, nil}, {0, 2, nil}},
		},
		"DefaultCacheTTL": {
			response: introActive(nil),
			steps:    []step{{0, 1, nil}, {4 * time.Second, 1, nil}, {time.Second, 2, nil}},
		},
		"CappedByExp": {
			// exp in 3s, CacheTTL 1m: the entry ends at exp. After exp
			// the server still says active; within the leeway the token
			// passes but is not cached, and past it, it is expired.
			response: introActive(map[string]any{"exp": 3 * time.Second}),
			cfg:      func(c *IntrospectionConfig) { c.CacheTTL = time.Minute },
			steps: []step{
				{0, 1, nil}, {2 * time.Second, 1, nil}, {2 * time.Second, 2, nil}, {0, 3, nil},
				{time.Minute, 4, ErrExpired}, {0, 4, ErrExpired},
			},
		},
		"HitRechecksTime": {
			// A clock stepping back makes a cached token not yet valid.
			response: introActive(nil),
			cfg:      func(c *IntrospectionConfig) { c.CacheTTL = time.Minute },
			steps:    []step{{0, 1, nil}, {-2 * time.Minute, 1, ErrNotYetValid}},
		},
		"InactiveBriefly": {
			response: `{"active":false}`,
			steps: []step{
				{0, 1, ErrInactive}, {500 * time.Millisecond, 1, ErrInactive},
				{500 * time.Millisecond, 2, ErrInactive}, {0, 2, ErrInactive},
			},
		},
		"RejectedBriefly": {
			response: introActive(map[string]any{"aud": "https://billing.example"}),
			cfg:      func(c *IntrospectionConfig) { c.NegativeCacheTTL = 5 * time.Second },
			steps:    []step{{0, 1, ErrAudience}, {4 * time.Second, 1, ErrAudience}, {time.Second, 2, ErrAudience}},
		},
		"CacheDisabled": {
			response: introActive(nil),
			cfg:      func(c *IntrospectionConfig) { c.CacheTTL = -1 },
			steps:    []step{{0, 1, nil}, {0, 2, nil}},
		},
		"NegativeCacheDisabled": {
			response: `{"active":false}`,
			cfg:      func(c *IntrospectionConfig) { c.NegativeCacheTTL = -1 },
			steps:    []step{{0, 1, ErrInactive}, {0, 2, ErrInactive}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			as := newIntroAS(t, ClientSecretBasic, map[string]string{"tok": tc.response})
			clock := newIntroClock()
			cfg := introConfig(as, clock)
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			v := newIntro(t, cfg)
			var prev *Claims
			var prevRequests int64
			for n, s := range tc.steps {
				clock.Advance(s.advance)
				c, err := v.Verify(introCtx(t), "tok")
				if s.wantReason == nil && err != nil || s.wantReason != nil && !errors.Is(err, s.wantReason) {
					t.Fatalf("step %d: Verify() error = %v, want %v", n, err, s.wantReason)
				}
				if got := as.requests.Load(); got != s.wantRequests {
					t.Fatalf("step %d: requests = %d, want %d", n, got, s.wantRequests)
				}
				if s.wantReason == nil && prev != nil && s.wantRequests == prevRequests && c != prev {
					t.Errorf("step %d: a cache hit returned different claims", n)
				}
				prev, prevRequests = c, s.wantRequests
			}
		})
	}
}

func TestIntrospection_Coalesces(t *testing.T) {
	t.Parallel()
	const callers = 100
	var started atomic.Int64
	as := newIntroAS(t, ClientSecretBasic, map[string]string{"tok": introActive(nil)}, func(as *introAS) {
		as.before = func(*http.Request) {
			// Hold the one request until every caller is on its way, then
			// a little longer so each has joined the flight.
			deadline := time.Now().Add(introTestTimeout)
			for started.Load() < callers && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
	cfg := introConfig(as, newIntroClock())
	cfg.CacheTTL = -1 // no caching: only coalescing can explain a single request
	v := newIntro(t, cfg)

	ctx := introCtx(t)
	results := make([]*Claims, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for n := range callers {
		wg.Go(func() {
			started.Add(1)
			results[n], errs[n] = v.Verify(ctx, "tok")
		})
	}
	wg.Wait()
	for n := range callers {
		if errs[n] != nil || results[n] != results[0] {
			t.Fatalf("caller %d: Verify() = %p, %v, want the shared claims %p", n, results[n], errs[n], results[0])
		}
	}
	if got := as.requests.Load(); got != 1 {
		t.Errorf("requests = %d for %d concurrent calls, want 1", got, callers)
	}
}

func TestIntrospection_CoalescedCallersOwnContext(t *testing.T) {
	t.Parallel()
	arrived, release := make(chan struct{}), make(chan struct{})
	as := newIntroAS(t, ClientSecretBasic, map[string]string{"tok": introActive(nil)}, func(as *introAS) {
		as.before = func(*http.Request) {
			close(arrived)
			select {
			case <-release:
			case <-time.After(introTestTimeout):
			}
		}
	})
	v := newIntro(t, introConfig(as, newIntroClock()))

	// The first caller starts the request, then gives up.
	firstCtx, cancelFirst := context.WithCancel(introCtx(t))
	firstErr := make(chan error, 1)
	go func() { _, err := v.Verify(firstCtx, "tok"); firstErr <- err }()
	<-arrived

	// A second caller joins; its deadline passes while the request hangs.
	shortCtx, cancelShort := context.WithTimeout(introCtx(t), 20*time.Millisecond)
	defer cancelShort()
	if _, err := v.Verify(shortCtx, "tok"); !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Verify() past its deadline error = %v, want ErrUnavailable and DeadlineExceeded", err)
	}

	// A third caller joins and waits; the first one cancels.
	third := make(chan error, 1)
	go func() { _, err := v.Verify(introCtx(t), "tok"); third <- err }()
	cancelFirst()
	if err := <-firstErr; !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Verify() error = %v, want ErrUnavailable and Canceled", err)
	}
	close(release)
	// The first caller's cancellation did not fail the shared request.
	if err := <-third; err != nil {
		t.Errorf("third Verify() error = %v, want nil", err)
	}
	if got := as.requests.Load(); got != 1 {
		t.Errorf("requests = %d, want 1", got)
	}
}

// introRoundTripper answers requests in memory.
type introRoundTripper func(*http.Request) (*http.Response, error)

func (f introRoundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// introMemoryClient answers every introspection request in memory with
// body(token). It expects client_secret_basic, whose form starts with the
// token.
func introMemoryClient(body func(token string) string) *http.Client {
	return &http.Client{Transport: introRoundTripper(func(r *http.Request) (*http.Response, error) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		token, _, _ := strings.Cut(strings.TrimPrefix(string(b), "token="), "&")
		return &http.Response{
			StatusCode: http.StatusOK,
			Header:     http.Header{"Content-Type": {"application/json"}},
			Body:       io.NopCloser(strings.NewReader(body(token))),
			Request:    r,
		}, nil
	})}
}

// TestIntrospection_CacheBound uses fewer tokens under -race (raceEnabled),
// which makes the HTTP and JSON work of a miss about ten times slower.
func TestIntrospection_CacheBound(t *testing.T) {
	t.Parallel()
	const (
		size = 1000
		hot  = "hot-token"
	)
	tokens := 100_000
	if raceEnabled() {
		tokens = 30_000 // 30 times the bound; 100 000 take about 6s under -race
	}
	var hotRequests atomic.Int64
	v := newIntro(t, IntrospectionConfig{
		Endpoint:     "https://as.example/introspect",
		ClientID:     introClientID,
		ClientSecret: introSecret,
		Audiences:    []string{introAudience},
		CacheTTL:     time.Minute,
		CacheSize:    size,
		Now:          newIntroClock().Now,
		HTTPClient: introMemoryClient(func(token string) string {
			if token == hot {
				hotRequests.Add(1)
			}
			return `{"active":true}`
		}),
	})
	ctx, cancel := context.WithTimeout(t.Context(), 10*introTestTimeout)
	defer cancel()
	for n := range tokens {
		if _, err := v.Verify(ctx, "tok-"+strconv.Itoa(n)); err != nil {
			t.Fatalf("Verify(#%d) error = %v", n, err)
		}
		// A token used between every two misses stays cached (CLOCK).
		if _, err := v.Verify(ctx, hot); err != nil {
			t.Fatalf("Verify(hot) error = %v", err)
		}
		if n%1000 == 0 {
			if got, _ := v.cache.Usage(); got > size {
				t.Fatalf("after %d tokens the cache holds %d entries, want at most %d", n+1, got, size)
			}
		}
	}
	if got, _ := v.cache.Usage(); got != size {
		t.Errorf("cache holds %d entries after %d tokens, want exactly %d", got, tokens, size)
	}
	if got := hotRequests.Load(); got != 1 {
		t.Errorf("hot token introspected %d times, want 1", got)
	}
}

func TestIntrospection_VerifyRejectsWithoutRequest(t *testing.T) {
	t.Parallel()
	as := newIntroAS(t, ClientSecretBasic, nil)
	v := newIntro(t, introConfig(as, newIntroClock()))
	tests := map[string]struct {
		token string
		want  error
	}{
		"Empty":    {"", ErrMalformed},
		"TooLarge": {strings.Repeat("a", maxIntrospectToken+1), ErrTooLarge},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := v.Verify(introCtx(t), tc.token); !errors.Is(err, tc.want) || !errors.Is(err, ErrInvalidToken) {
				t.Errorf("Verify() error = %v, want %v", err, tc.want)
			}
		})
	}
	if got := as.requests.Load(); got != 0 {
		t.Errorf("requests = %d, want 0", got)
	}
}

func TestIntrospection_TLS(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, introActive(nil))
	}))
	t.Cleanup(srv.Close)
	v := newIntro(t, IntrospectionConfig{
		Endpoint: srv.URL, ClientID: "rs", ClientSecret: "x", Audiences: []string{introAudience},
		HTTPClient: srv.Client(), Now: newIntroClock().Now,
	})
	if _, err := v.Verify(introCtx(t), "tok"); err != nil {
		t.Fatalf("Verify() over TLS error = %v", err)
	}
}

func TestNewIntrospection(t *testing.T) {
	t.Parallel()
	valid := func() IntrospectionConfig {
		return IntrospectionConfig{
			Endpoint: "https://as.example/introspect", ClientID: "rs", ClientSecret: introSecret,
			Audiences: []string{introAudience},
		}
	}
	tests := map[string]struct {
		edit    func(*IntrospectionConfig)
		wantErr string // substring naming the field; "" means valid
	}{
		"Valid":                 {edit: func(*IntrospectionConfig) {}},
		"ValidPost":             {edit: func(c *IntrospectionConfig) { c.AuthMethod = ClientSecretPost }},
		"ValidLoopbackHTTP":     {edit: func(c *IntrospectionConfig) { c.Endpoint = "http://127.0.0.1:8080/i"; c.InsecureAllowHTTP = true }},
		"ValidLocalhostHTTP":    {edit: func(c *IntrospectionConfig) { c.Endpoint = "http://localhost/i"; c.InsecureAllowHTTP = true }},
		"ValidIPv6LoopbackHTTP": {edit: func(c *IntrospectionConfig) { c.Endpoint = "http://[::1]:9/i"; c.InsecureAllowHTTP = true }},
		"ValidLimits": {edit: func(c *IntrospectionConfig) {
			c.CacheTTL, c.NegativeCacheTTL, c.Leeway = time.Hour, time.Hour, 5*time.Minute
		}},
		"NoEndpoint":          {edit: func(c *IntrospectionConfig) { c.Endpoint = "" }, wantErr: "Endpoint"},
		"RelativeEndpoint":    {edit: func(c *IntrospectionConfig) { c.Endpoint = "/introspect" }, wantErr: "Endpoint"},
		"BadURL":              {edit: func(c *IntrospectionConfig) { c.Endpoint = "https://%zz" }, wantErr: "Endpoint"},
		"HTTP":                {edit: func(c *IntrospectionConfig) { c.Endpoint = "http://127.0.0.1/i" }, wantErr: "InsecureAllowHTTP"},
		"HTTPRemote":          {edit: func(c *IntrospectionConfig) { c.Endpoint = "http://as.example/i"; c.InsecureAllowHTTP = true }, wantErr: "loopback"},
		"FTP":                 {edit: func(c *IntrospectionConfig) { c.Endpoint = "ftp://as.example/i" }, wantErr: "https"},
		"UserInfo":            {edit: func(c *IntrospectionConfig) { c.Endpoint = "https://rs:pw@as.example/i" }, wantErr: "user information"},
		"Fragment":            {edit: func(c *IntrospectionConfig) { c.Endpoint = "https://as.example/i#x" }, wantErr: "fragment"},
		"NoClientID":          {edit: func(c *IntrospectionConfig) { c.ClientID = "" }, wantErr: "ClientID"},
		"NoSecret":            {edit: func(c *IntrospectionConfig) { c.ClientSecret = "" }, wantErr: "ClientSecret"},
		"UnknownAuthMethod":   {edit: func(c *IntrospectionConfig) { c.AuthMethod = 7 }, wantErr: "AuthMethod"},
		"NoAudiences":         {edit: func(c *IntrospectionConfig) { c.Audiences = nil }, wantErr: "Audiences"},
		"EmptyAudience":       {edit: func(c *IntrospectionConfig) { c.Audiences = []string{"a", ""} }, wantErr: "Audiences"},
		"NegativeTimeout":     {edit: func(c *IntrospectionConfig) { c.Timeout = -1 }, wantErr: "Timeout"},
		"NegativeMaxResponse": {edit: func(c *IntrospectionConfig) { c.MaxResponseSize = -1 }, wantErr: "MaxResponseSize"},
		"HugeCacheTTL":        {edit: func(c *IntrospectionConfig) { c.CacheTTL = time.Hour + 1 }, wantErr: "CacheTTL"},
		"HugeNegativeTTL":     {edit: func(c *IntrospectionConfig) { c.NegativeCacheTTL = 2 * time.Hour }, wantErr: "NegativeCacheTTL"},
		"NegativeLeeway":      {edit: func(c *IntrospectionConfig) { c.Leeway = -time.Second }, wantErr: "Leeway"},
		"HugeLeeway":          {edit: func(c *IntrospectionConfig) { c.Leeway = time.Hour }, wantErr: "Leeway"},
		"NegativeCacheSize":   {edit: func(c *IntrospectionConfig) { c.CacheSize = -1 }, wantErr: "CacheSize"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := valid()
			tc.edit(&cfg)
			v, err := NewIntrospection(cfg)
			if tc.wantErr == "" {
				if err != nil || v == nil {
					t.Fatalf("NewIntrospection() = %v, %v, want a verifier", v, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "verify: ") {
				t.Fatalf("NewIntrospection() error = %v, want one naming %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), introSecret) || strings.Contains(err.Error(), "pw@") {
				t.Errorf("NewIntrospection() error %q leaks a credential", err)
			}
		})
	}
}

func TestNewIntrospection_CopiesConfig(t *testing.T) {
	t.Parallel()
	as := newIntroAS(t, ClientSecretBasic, map[string]string{"tok": introActive(nil)})
	cfg := introConfig(as, newIntroClock())
	v := newIntro(t, cfg)
	// Neither editing the config afterwards nor the redirect policy we set
	// reaches the caller's values.
	cfg.Audiences[1] = "https://changed.example"
	if as.Client().CheckRedirect != nil {
		t.Errorf("NewIntrospection modified the caller's http.Client")
	}
	if _, err := v.Verify(introCtx(t), "tok"); err != nil {
		t.Errorf("Verify() after editing the config error = %v, want nil", err)
	}
}

func TestSecret(t *testing.T) {
	t.Parallel()
	s := Secret(introSecret)
	cfg := IntrospectionConfig{ClientSecret: s}
	var js bytes.Buffer
	if err := json.NewEncoder(&js).Encode(struct{ ClientSecret Secret }{s}); err != nil {
		t.Fatal(err)
	}
	var text, jsonLog bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("cfg", "secret", s, "cfg", cfg)
	slog.New(slog.NewJSONHandler(&jsonLog, nil)).Info("cfg", "secret", s)
	forms := map[string]string{
		"String":      s.String(),
		"%v":          fmt.Sprintf("%v", s),
		"%s":          fmt.Sprintf("%s", s),
		"%q":          fmt.Sprintf("%q", s),
		"%x":          fmt.Sprintf("%x", s),
		"%#v":         fmt.Sprintf("%#v", s),
		"config %+v":  fmt.Sprintf("%+v", cfg),
		"config %#v":  fmt.Sprintf("%#v", cfg),
		"config JSON": js.String(),
		"slog text":   text.String(),
		"slog JSON":   jsonLog.String(),
	}
	for name, got := range forms {
		if strings.Contains(got, introSecret) || strings.Contains(got, "s3cr3t") || strings.Contains(got, "733363") {
			t.Errorf("%s = %q, leaks the secret", name, got)
		}
		if !strings.Contains(got, "[REDACTED]") {
			t.Errorf("%s = %q, want [REDACTED]", name, got)
		}
	}
	if string(s) != introSecret {
		t.Errorf("string(Secret) = %q, want the value", string(s))
	}
}

// TestIntrospection_PrintRedactsSecret is the regression test of finding 6:
// no value derived from the client secret (the secret, its form encoding,
// the Basic credentials in base64) may show when the verifier itself is
// printed or logged.
func TestIntrospection_PrintRedactsSecret(t *testing.T) {
	t.Parallel()
	basic := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(introClientID) + ":" + url.QueryEscape(introSecret)))
	leaks := map[string]string{
		"secret":             introSecret,
		"url-encoded secret": url.QueryEscape(introSecret),
		"basic credentials":  basic,
		"base64 of secret":   base64.StdEncoding.EncodeToString([]byte(introSecret)),
	}
	for _, method := range []AuthMethod{ClientSecretBasic, ClientSecretPost} {
		t.Run(method.String(), func(t *testing.T) {
			t.Parallel()
			v := newIntro(t, IntrospectionConfig{
				Endpoint: "https://as.example/introspect", ClientID: introClientID, ClientSecret: introSecret,
				AuthMethod: method, Audiences: []string{introAudience},
			})
			var text, js bytes.Buffer
			slog.New(slog.NewTextHandler(&text, nil)).Info("verifier", "v", v, "deref", *v)
			slog.New(slog.NewJSONHandler(&js, nil)).Info("verifier", "v", v, "deref", *v)
			forms := map[string]string{
				"%v":        fmt.Sprintf("%v", v),
				"%+v":       fmt.Sprintf("%+v", v),
				"%#v":       fmt.Sprintf("%#v", v),
				"%+v deref": fmt.Sprintf("%+v", *v),
				"%#v deref": fmt.Sprintf("%#v", *v),
				"slog text": text.String(),
				"slog JSON": js.String(),
			}
			for form, out := range forms {
				for what, leak := range leaks {
					if strings.Contains(out, leak) {
						t.Errorf("%s of an *Introspection shows the %s: %s", form, what, out)
					}
				}
			}
		})
	}
}
