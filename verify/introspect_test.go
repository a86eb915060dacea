package verify

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/oauthgate/oauthgate/oauthtest"
)

// introTestTimeout bounds every context in these tests.
const introTestTimeout = 10 * time.Second

const (
	introClientID = "rs:orders/api é"  // needs form-urlencoding
	introSecret   = "s3cr3t:&=+ %/é?#" // likewise; must never show in an error
	introAudience = "https://orders.example"
	// introSkew is how far the authorization server's clock lags the
	// verifier's: the server keeps reporting active tokens that the
	// verifier must find expired, which only a verifier that re-checks
	// exp and nbf itself rejects.
	introSkew = 2 * time.Hour
)

// introStart is the verifier's clock's start: 2025-06-15T14:40:00Z.
var introStart = time.Unix(1_750_000_000, 0)

// newIntroIssuer returns an in-memory authorization server that accepts
// introClientID and introSecret, with a clock introSkew behind introStart.
func newIntroIssuer(t testing.TB, opts ...oauthtest.IssuerConfig) *oauthtest.Issuer {
	t.Helper()
	return oauthtest.NewIssuer(t, append([]oauthtest.IssuerConfig{
		{
			InMemory:     true,
			ClientID:     introClientID,
			ClientSecret: introSecret,
			Now:          func() time.Time { return introStart.Add(-introSkew) },
		},
	}, opts...)...)
}

// introToken mints an opaque token that iss reports active, with claims a
// verifier configured by introConfig accepts at introStart: sub alice,
// client_id web, scopes orders.read and orders.write, aud introAudience,
// exp in an hour, iat and nbf a minute ago, jti j1. opts apply after.
func introToken(t testing.TB, iss *oauthtest.Issuer, opts ...oauthtest.Token) string {
	t.Helper()
	return iss.OpaqueToken(t, append([]oauthtest.Token{
		{
			Subject:  "alice",
			ClientID: "web",
			Scopes:   []string{"orders.read", "orders.write"},
			Audience: []string{introAudience},
			Expiry:   introStart.Add(time.Hour),
			Claims: map[string]any{
				"iat": introStart.Add(-time.Minute).Unix(),
				"nbf": introStart.Add(-time.Minute).Unix(),
				"jti": "j1",
			},
		},
	}, opts...)...)
}

func introConfig(iss *oauthtest.Issuer, clock *oauthtest.Clock) IntrospectionConfig {
	return IntrospectionConfig{
		Endpoint:     iss.EndpointURL(oauthtest.EndpointIntrospection),
		ClientID:     introClientID,
		ClientSecret: introSecret,
		Issuer:       iss.URL,
		Audiences:    []string{"https://other.example", introAudience},
		HTTPClient:   iss.Client(),
		Now:          clock.Now,
	}
}

func newIntro(t testing.TB, cfg IntrospectionConfig) *Introspection {
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

func introRequests(iss *oauthtest.Issuer) int { return iss.Requests(oauthtest.EndpointIntrospection) }

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
	type opts = []oauthtest.Token
	tests := map[string]struct {
		token      opts // nil: a token the issuer never minted
		fault      oauthtest.Fault
		revoke     bool
		wantReason error // nil: accepted
		wantClaim  string
	}{
		"Active":              {token: opts{}},
		"AudienceArray":       {token: opts{oauthtest.Token{Audience: []string{"https://x.example", introAudience}}}},
		"NoAudience":          {token: opts{oauthtest.Token{Audience: []string{}}}},
		"NoIssuer":            {token: opts{oauthtest.Token{Claims: map[string]any{"iss": nil}}}},
		"NoExp":               {token: opts{oauthtest.Token{Claims: map[string]any{"exp": nil}}}},
		"ExpiredWithinLeeway": {token: opts{oauthtest.Token{Expiry: introStart.Add(-10 * time.Second)}}},
		"TokenTypeAccess":     {token: opts{oauthtest.Token{Claims: map[string]any{"token_type": "access_token"}}}},
		"TokenUseAccess":      {token: opts{oauthtest.Token{Claims: map[string]any{"token_use": "access_token"}}}},
		"Inactive":            {token: opts{}, revoke: true, wantReason: ErrInactive, wantClaim: "active"},
		"InactiveWithJunk": {
			token: opts{}, fault: oauthtest.Fault{Status: http.StatusOK, ContentType: "application/json", Body: `{"active":false,"scope":"a b"}`},
			wantReason: ErrInactive,
		},
		"UnknownToken":     {wantReason: ErrInactive},
		"Expired":          {token: opts{oauthtest.Token{Expiry: introStart.Add(-time.Hour)}}, wantReason: ErrExpired, wantClaim: "exp"},
		"NotYetValid":      {token: opts{oauthtest.Token{Claims: map[string]any{"nbf": introStart.Add(time.Hour).Unix()}}}, wantReason: ErrNotYetValid, wantClaim: "nbf"},
		"WrongAudience":    {token: opts{oauthtest.Token{Audience: []string{"https://billing.example"}}}, wantReason: ErrAudience, wantClaim: "aud"},
		"EmptyAudience":    {token: opts{oauthtest.Token{Claims: map[string]any{"aud": []string{}}}}, wantReason: ErrAudience},
		"WrongIssuer":      {token: opts{oauthtest.Token{Issuer: "https://evil.example/"}}, wantReason: ErrIssuer, wantClaim: "iss"},
		"RefreshTokenType": {token: opts{oauthtest.Token{Claims: map[string]any{"token_type": "refresh_token"}}}, wantReason: ErrType, wantClaim: "token_type"},
		"RefreshTokenUse":  {token: opts{oauthtest.Token{Claims: map[string]any{"token_use": "refresh_token"}}}, wantReason: ErrType, wantClaim: "token_use"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			iss := newIntroIssuer(t)
			token := "never-minted-Zq81"
			if tc.token != nil {
				token = introToken(t, iss, tc.token...)
			}
			if tc.revoke {
				iss.Revoke(token)
			}
			iss.SetFault(oauthtest.EndpointIntrospection, tc.fault)
			v := newIntro(t, introConfig(iss, oauthtest.NewClock(introStart)))

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
	iss := newIntroIssuer(t)
	token := introToken(t, iss, oauthtest.Token{Claims: map[string]any{"username": "alice@example.com", "exp": 1_750_003_600.5}})
	v := newIntro(t, introConfig(iss, oauthtest.NewClock(introStart)))

	c, err := v.Verify(introCtx(t), token)
	if err != nil {
		t.Fatalf("Verify() error = %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Issuer", c.Issuer(), iss.URL},
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
		{"RawIsJSON", json.Valid(c.Raw()), true},
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
	fault  oauthtest.Fault
	config func(*IntrospectionConfig) // optional
}

func introUnavailableCases() map[string]introUnavailableCase {
	respond := func(status int, contentType, body string) introUnavailableCase {
		return introUnavailableCase{fault: oauthtest.Fault{Status: status, ContentType: contentType, Body: body}}
	}
	const js = "application/json"
	return map[string]introUnavailableCase{
		"Down": {fault: oauthtest.Fault{Down: true}},
		"Slow": {
			fault:  oauthtest.Fault{Delay: time.Hour},
			config: func(c *IntrospectionConfig) { c.Timeout = 100 * time.Millisecond },
		},
		// A wrong secret: the server rejects our credentials, not the token.
		"Status401": {config: func(c *IntrospectionConfig) { c.ClientSecret = introSecret + "-old" }},
		"Status500": respond(http.StatusInternalServerError, js, `{"error":"server_error"}`),
		"Status503": respond(http.StatusServiceUnavailable, "text/plain", "busy"),
		"Status400": respond(http.StatusBadRequest, js, `{"error":"invalid_request","error_description":"malformed form"}`),
		// Following the redirect would send the credentials and the token on.
		"Redirect":        {fault: oauthtest.Fault{Location: "/elsewhere"}},
		"HTMLBody":        respond(http.StatusOK, "text/html", "<html>login</html>"),
		"NoContentType":   respond(http.StatusOK, "", `{"active":true}`),
		"JSONSuffixType":  respond(http.StatusOK, "application/token-introspection+json", `{"active":true}`),
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
			synctest.Test(t, func(t *testing.T) {
				iss := newIntroIssuer(t)
				token := introToken(t, iss)
				iss.SetFault(oauthtest.EndpointIntrospection, tc.fault)
				cfg := introConfig(iss, oauthtest.NewClock(introStart))
				cfg.MaxResponseSize = 1024
				if tc.config != nil {
					tc.config(&cfg)
				}
				v := newIntro(t, cfg)

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
					for _, body := range []string{"busy", "login", "malformed form"} {
						if strings.Contains(err.Error(), body) {
							t.Errorf("Verify() error %q quotes the response body", err)
						}
					}
				}
				// Failures are never cached, and never retried: both calls
				// reached the server once.
				if got := introRequests(iss); got != 2 {
					t.Errorf("requests = %d after two calls, want 2 (failures must not be cached)", got)
				}
			})
		})
	}
}

func TestIntrospection_ClientAuth(t *testing.T) {
	t.Parallel()
	for _, method := range []AuthMethod{ClientSecretBasic, ClientSecretPost} {
		t.Run(method.String(), func(t *testing.T) {
			t.Parallel()
			// The issuer checks the exact encoding of RFC 6749 §2.3.1; the
			// id and secret need form-encoding. A mismatch yields 401.
			iss := newIntroIssuer(t)
			cfg := introConfig(iss, oauthtest.NewClock(introStart))
			cfg.AuthMethod = method
			if _, err := newIntro(t, cfg).Verify(introCtx(t), introToken(t, iss)); err != nil {
				t.Fatalf("Verify() with %v error = %v, want nil", method, err)
			}

			cfg.ClientSecret = "wrong"
			_, err := newIntro(t, cfg).Verify(introCtx(t), introToken(t, iss))
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
		wantRequests int
		wantReason   error
	}
	tests := map[string]struct {
		token  []oauthtest.Token
		revoke bool
		cfg    func(*IntrospectionConfig)
		steps  []step
	}{
		"ActiveUntilCacheTTL": {
			cfg:   func(c *IntrospectionConfig) { c.CacheTTL = 10 * time.Second },
			steps: []step{{0, 1, nil}, {0, 1, nil}, {9 * time.Second, 1, nil}, {time.Second, 2, nil}, {0, 2, nil}},
		},
		"DefaultCacheTTL": {
			steps: []step{{0, 1, nil}, {4 * time.Second, 1, nil}, {time.Second, 2, nil}},
		},
		"CappedByExp": {
			// exp in 3s, CacheTTL 1m: the entry ends at exp. After exp
			// the server still says active; within the leeway the token
			// passes but is not cached, and past it, it is expired.
			token: []oauthtest.Token{{Expiry: introStart.Add(3 * time.Second)}},
			cfg:   func(c *IntrospectionConfig) { c.CacheTTL = time.Minute },
			steps: []step{
				{0, 1, nil}, {2 * time.Second, 1, nil}, {2 * time.Second, 2, nil}, {0, 3, nil},
				{time.Minute, 4, ErrExpired}, {0, 4, ErrExpired},
			},
		},
		"HitRechecksTime": {
			// A clock stepping back makes a cached token not yet valid.
			cfg:   func(c *IntrospectionConfig) { c.CacheTTL = time.Minute },
			steps: []step{{0, 1, nil}, {-2 * time.Minute, 1, ErrNotYetValid}},
		},
		"InactiveBriefly": {
			revoke: true,
			steps: []step{
				{0, 1, ErrInactive}, {500 * time.Millisecond, 1, ErrInactive},
				{500 * time.Millisecond, 2, ErrInactive}, {0, 2, ErrInactive},
			},
		},
		"RejectedBriefly": {
			token: []oauthtest.Token{{Audience: []string{"https://billing.example"}}},
			cfg:   func(c *IntrospectionConfig) { c.NegativeCacheTTL = 5 * time.Second },
			steps: []step{{0, 1, ErrAudience}, {4 * time.Second, 1, ErrAudience}, {time.Second, 2, ErrAudience}},
		},
		"CacheDisabled": {
			cfg:   func(c *IntrospectionConfig) { c.CacheTTL = -1 },
			steps: []step{{0, 1, nil}, {0, 2, nil}},
		},
		"NegativeCacheDisabled": {
			revoke: true,
			cfg:    func(c *IntrospectionConfig) { c.NegativeCacheTTL = -1 },
			steps:  []step{{0, 1, ErrInactive}, {0, 2, ErrInactive}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			iss := newIntroIssuer(t)
			token := introToken(t, iss, tc.token...)
			if tc.revoke {
				iss.Revoke(token)
			}
			clock := oauthtest.NewClock(introStart)
			cfg := introConfig(iss, clock)
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			v := newIntro(t, cfg)
			var prev *Claims
			var prevRequests int
			for n, s := range tc.steps {
				clock.Advance(s.advance)
				c, err := v.Verify(introCtx(t), token)
				if s.wantReason == nil && err != nil || s.wantReason != nil && !errors.Is(err, s.wantReason) {
					t.Fatalf("step %d: Verify() error = %v, want %v", n, err, s.wantReason)
				}
				if got := introRequests(iss); got != s.wantRequests {
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
	synctest.Test(t, func(t *testing.T) {
		const callers = 100
		iss := newIntroIssuer(t)
		token := introToken(t, iss)
		// The one request takes a second of fake time, long enough for
		// every caller to join it.
		iss.SetFault(oauthtest.EndpointIntrospection, oauthtest.Fault{Delay: time.Second})
		cfg := introConfig(iss, oauthtest.NewClock(introStart))
		cfg.CacheTTL = -1 // no caching: only coalescing can explain a single request
		v := newIntro(t, cfg)

		ctx := introCtx(t)
		results := make([]*Claims, callers)
		errs := make([]error, callers)
		var wg sync.WaitGroup
		start := time.Now()
		for n := range callers {
			wg.Go(func() { results[n], errs[n] = v.Verify(ctx, token) })
		}
		synctest.Wait() // every caller waits for the one request
		if got := introRequests(iss); got != 1 {
			t.Errorf("requests = %d for %d concurrent calls, want 1", got, callers)
		}
		wg.Wait()
		if d := time.Since(start); d != time.Second {
			t.Errorf("callers waited %v, want the request's 1s", d)
		}
		for n := range callers {
			if errs[n] != nil || results[n] != results[0] {
				t.Fatalf("caller %d: Verify() = %p, %v, want the shared claims %p", n, results[n], errs[n], results[0])
			}
		}
		if got := introRequests(iss); got != 1 {
			t.Errorf("requests = %d for %d concurrent calls, want 1", got, callers)
		}
	})
}

func TestIntrospection_CoalescedCallersOwnContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		iss := newIntroIssuer(t)
		token := introToken(t, iss)
		// Slow, but within the default 5s Timeout of a request.
		iss.SetFault(oauthtest.EndpointIntrospection, oauthtest.Fault{Delay: 3 * time.Second})
		v := newIntro(t, introConfig(iss, oauthtest.NewClock(introStart)))

		// The first caller starts the request, then gives up.
		firstCtx, cancelFirst := context.WithCancel(introCtx(t))
		firstErr := make(chan error, 1)
		go func() { _, err := v.Verify(firstCtx, token); firstErr <- err }()
		synctest.Wait()

		// A second caller joins; its deadline passes while the request hangs.
		shortCtx, cancelShort := context.WithTimeout(introCtx(t), 20*time.Millisecond)
		defer cancelShort()
		start := time.Now()
		if _, err := v.Verify(shortCtx, token); !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Verify() past its deadline error = %v, want ErrUnavailable and DeadlineExceeded", err)
		}
		if d := time.Since(start); d != 20*time.Millisecond {
			t.Errorf("Verify() with a 20ms deadline returned after %v", d)
		}

		// A third caller joins and waits; the first one cancels.
		third := make(chan error, 1)
		go func() { _, err := v.Verify(introCtx(t), token); third <- err }()
		synctest.Wait()
		cancelFirst()
		if err := <-firstErr; !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled Verify() error = %v, want ErrUnavailable and Canceled", err)
		}
		// The first caller's cancellation did not fail the shared request.
		if err := <-third; err != nil {
			t.Errorf("third Verify() error = %v, want nil", err)
		}
		if d := time.Since(start); d != 3*time.Second {
			t.Errorf("the shared request ended %v after it started, want 3s", d)
		}
		if got := introRequests(iss); got != 1 {
			t.Errorf("requests = %d, want 1", got)
		}
	})
}

// TestIntrospection_CacheBound uses fewer tokens under -race (raceEnabled),
// which makes the HTTP and JSON work of a miss about ten times slower.
func TestIntrospection_CacheBound(t *testing.T) {
	t.Parallel()
	const size = 1000
	tokens := 100_000
	if raceEnabled() {
		tokens = 30_000 // 30 times the bound
	}
	iss := newIntroIssuer(t)
	hot := introToken(t, iss)
	cfg := introConfig(iss, oauthtest.NewClock(introStart))
	// Tokens the issuer never minted are inactive: remembered like
	// active ones, for a minute here.
	cfg.CacheTTL, cfg.NegativeCacheTTL, cfg.CacheSize = time.Minute, time.Minute, size
	v := newIntro(t, cfg)
	ctx, cancel := context.WithTimeout(t.Context(), 10*introTestTimeout)
	defer cancel()
	for n := range tokens {
		if _, err := v.Verify(ctx, "tok-"+strconv.Itoa(n)); !errors.Is(err, ErrInactive) {
			t.Fatalf("Verify(#%d) error = %v, want %v", n, err, ErrInactive)
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
	// One request per distinct token: the hot one was introspected once.
	if got := introRequests(iss); got != tokens+1 {
		t.Errorf("requests = %d for %d distinct tokens, want %d", got, tokens+1, tokens+1)
	}
}

func TestIntrospection_VerifyRejectsWithoutRequest(t *testing.T) {
	t.Parallel()
	iss := newIntroIssuer(t)
	v := newIntro(t, introConfig(iss, oauthtest.NewClock(introStart)))
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
	if got := introRequests(iss); got != 0 {
		t.Errorf("requests = %d, want 0", got)
	}
}

// TestIntrospection_TLS runs over a real TLS connection on 127.0.0.1, with
// both client authentication methods.
func TestIntrospection_TLS(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{
		TLS:          true,
		ClientID:     introClientID,
		ClientSecret: introSecret,
		Now:          func() time.Time { return introStart.Add(-introSkew) },
	})
	for _, method := range []AuthMethod{ClientSecretBasic, ClientSecretPost} {
		cfg := introConfig(iss, oauthtest.NewClock(introStart))
		cfg.AuthMethod = method
		if _, err := newIntro(t, cfg).Verify(introCtx(t), introToken(t, iss)); err != nil {
			t.Fatalf("Verify() over TLS with %v error = %v", method, err)
		}
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
	iss := newIntroIssuer(t)
	cfg := introConfig(iss, oauthtest.NewClock(introStart))
	v := newIntro(t, cfg)
	// Neither editing the config afterwards nor the redirect policy we set
	// reaches the caller's values.
	cfg.Audiences[1] = "https://changed.example"
	if iss.Client().CheckRedirect != nil {
		t.Errorf("NewIntrospection modified the caller's http.Client")
	}
	if _, err := v.Verify(introCtx(t), introToken(t, iss)); err != nil {
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

// TestIntrospection_Authorities reads the configured authority claims of
// a response with the JWT's rules: precedence, nested paths, strict types.
func TestIntrospection_Authorities(t *testing.T) {
	t.Parallel()
	iss := newIntroIssuer(t)
	tests := map[string]struct {
		token   []oauthtest.Token
		want    string
		wantErr error
	}{
		"Roles":       {token: []oauthtest.Token{{Claims: map[string]any{"roles": []string{"orders.admin"}}}}, want: "orders.admin"},
		"RealmRoles":  {token: []oauthtest.Token{{Claims: map[string]any{"realm_access": map[string]any{"roles": []string{"orders.audit"}}}}}, want: "orders.audit"},
		"ScopeUnused": {token: nil, want: ""},
		// A broken member makes the response broken, as for any other.
		"RolesNumber": {token: []oauthtest.Token{{Claims: map[string]any{"roles": 7}}}, wantErr: ErrUnavailable},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := introConfig(iss, oauthtest.NewClock(introStart))
			cfg.Authorities = []ClaimPath{{"roles"}, {"realm_access", "roles"}}
			v := newIntro(t, cfg)
			c, err := v.Verify(introCtx(t), introToken(t, iss, tc.token...))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Verify() error = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil || c.Scopes().String() != tc.want {
				t.Fatalf("Verify() = %v, %v; want scopes %q", c.Scopes(), err, tc.want)
			}
		})
	}
	cfg := introConfig(iss, nil)
	cfg.Authorities = []ClaimPath{{"active"}}
	if _, err := NewIntrospection(cfg); err == nil || !strings.Contains(err.Error(), "IntrospectionConfig.Authorities[0]") {
		t.Errorf("NewIntrospection(Authorities: active) error = %v, want one naming the field", err)
	}
}

// newFaultyIntro returns an in-memory issuer and a verifier of it with a
// 1 KiB MaxResponseSize and config applied (if not nil). The verifier is
// made ready by a verification where config allows it (a wrong secret
// does not), so that a failure must make it not ready; then the endpoint
// starts showing fault.
func newFaultyIntro(t *testing.T, fault oauthtest.Fault, config func(*IntrospectionConfig)) (*oauthtest.Issuer, *Introspection) {
	t.Helper()
	iss := newIntroIssuer(t)
	cfg := introConfig(iss, oauthtest.NewClock(introStart))
	cfg.MaxResponseSize = 1024
	if config != nil {
		config(&cfg)
	}
	v := newIntro(t, cfg)
	_, err := v.Verify(introCtx(t), introToken(t, iss))
	if got := v.Ready(); got != (err == nil) {
		t.Fatalf("Ready() = %v after Verify() error = %v", got, err)
	}
	iss.SetFault(oauthtest.EndpointIntrospection, fault)
	return iss, v
}

// TestIntrospection_Ready follows Ready through verifications: false until
// the endpoint answered once, true after any well-formed answer, false
// after every kind of failure that makes a token unverifiable.
func TestIntrospection_Ready(t *testing.T) {
	t.Parallel()
	t.Run("Answers", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			iss := newIntroIssuer(t)
			v := newIntro(t, introConfig(iss, oauthtest.NewClock(introStart)))
			if v.Ready() {
				t.Fatal("Ready() = true before any request, want false")
			}
			if _, err := v.Verify(introCtx(t), "never-issued"); !errors.Is(err, ErrInactive) {
				t.Fatalf("Verify(unknown) error = %v, want ErrInactive", err)
			}
			if !v.Ready() {
				t.Fatal("Ready() = false after an inactive answer, want true")
			}
			iss.SetFault(oauthtest.EndpointIntrospection, oauthtest.Fault{Status: http.StatusServiceUnavailable})
			if _, err := v.Verify(introCtx(t), introToken(t, iss)); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("Verify() during an outage error = %v, want ErrUnavailable", err)
			}
			if v.Ready() {
				t.Fatal("Ready() = true after a 503, want false")
			}
			iss.SetFault(oauthtest.EndpointIntrospection, oauthtest.Fault{})
			if _, err := v.Verify(introCtx(t), introToken(t, iss, oauthtest.Token{Subject: "bob"})); err != nil {
				t.Fatalf("Verify() error = %v", err)
			}
			if !v.Ready() {
				t.Fatal("Ready() = false after an active answer, want true")
			}
		})
	})
	for name, tc := range introUnavailableCases() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				iss, v := newFaultyIntro(t, tc.fault, tc.config)
				if _, err := v.Verify(introCtx(t), introToken(t, iss, oauthtest.Token{Subject: "bob"})); !errors.Is(err, ErrUnavailable) {
					t.Fatalf("Verify() error = %v, want ErrUnavailable", err)
				}
				if v.Ready() {
					t.Error("Ready() = true after the endpoint failed, want false")
				}
			})
		})
	}
	// A refused connection needs a real socket: outside a bubble.
	t.Run("Refused", func(t *testing.T) {
		t.Parallel()
		up := newIntroIssuer(t)
		down := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{ClientID: introClientID, ClientSecret: introSecret})
		cfg := introConfig(down, oauthtest.NewClock(introStart))
		cfg.InsecureAllowHTTP = true
		down.Close() // nothing listens on its port any more
		v := newIntro(t, cfg)
		// Ready through the in-memory issuer's transport first: the
		// transport serves any URL.
		v.client.Transport = up.Client().Transport
		if _, err := v.Verify(introCtx(t), "never-issued"); !errors.Is(err, ErrInactive) || !v.Ready() {
			t.Fatalf("Verify(unknown) error = %v, Ready() = %v, want ErrInactive and true", err, v.Ready())
		}
		v.client.Transport = down.Client().Transport
		if _, err := v.Verify(introCtx(t), "another"); !errors.Is(err, ErrUnavailable) || !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("Verify() error = %v, want ErrUnavailable and ECONNREFUSED", err)
		}
		if v.Ready() {
			t.Error("Ready() = true after a refused connection, want false")
		}
	})
}

// TestIntrospection_ReadyCallerContext checks that a verification or a
// probe that fails only because its caller gave up changes nothing, while
// the verification's request, which goes on for the cache, counts when it
// ends.
func TestIntrospection_ReadyCallerContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		iss := newIntroIssuer(t)
		// Slow, but within the default 5s Timeout of a request.
		iss.SetFault(oauthtest.EndpointIntrospection, oauthtest.Fault{Delay: 3 * time.Second})
		v := newIntro(t, introConfig(iss, oauthtest.NewClock(introStart)))

		short, cancel := context.WithTimeout(introCtx(t), time.Second)
		defer cancel()
		if _, err := v.Verify(short, introToken(t, iss)); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Verify() past its deadline error = %v, want DeadlineExceeded", err)
		}
		if v.Ready() {
			t.Fatal("Ready() = true while the request is in flight, want false")
		}
		time.Sleep(2 * time.Second) // fake time: the detached request ends
		synctest.Wait()
		if !v.Ready() {
			t.Fatal("Ready() = false after the detached request was answered, want true")
		}

		// Ready now; callers that give up must not make it false.
		canceled, cancelNow := context.WithCancel(introCtx(t))
		cancelNow()
		if _, err := v.Verify(canceled, introToken(t, iss, oauthtest.Token{Subject: "bob"})); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Verify(canceled ctx) error = %v, want ErrUnavailable", err)
		}
		short, cancel = context.WithTimeout(introCtx(t), time.Second)
		defer cancel()
		if err := v.Probe(short); !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Probe() past its deadline error = %v, want ErrUnavailable and DeadlineExceeded", err)
		}
		if !v.Ready() {
			t.Error("Ready() = false after callers gave up, want true")
		}
	})
}

// TestIntrospection_ReadyCacheHits checks that answers from the cache do
// not change Ready either way.
func TestIntrospection_ReadyCacheHits(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		iss := newIntroIssuer(t)
		v := newIntro(t, introConfig(iss, oauthtest.NewClock(introStart)))
		cached := introToken(t, iss)
		verify := func(token string, wantHit bool, wantErr error) {
			t.Helper()
			_, hit, err := v.verifyCacheHit(introCtx(t), token)
			if hit != wantHit || !errors.Is(err, wantErr) {
				t.Fatalf("verifyCacheHit() = hit %v, error %v, want hit %v, error %v", hit, err, wantHit, wantErr)
			}
		}
		verify(cached, false, nil)
		iss.SetFault(oauthtest.EndpointIntrospection, oauthtest.Fault{Down: true})
		verify(introToken(t, iss, oauthtest.Token{Subject: "bob"}), false, ErrUnavailable)
		verify(cached, true, nil)
		if v.Ready() {
			t.Fatal("Ready() = true after a cache hit during an outage, want false")
		}
		iss.SetFault(oauthtest.EndpointIntrospection, oauthtest.Fault{})
		if err := v.Probe(introCtx(t)); err != nil {
			t.Fatalf("Probe() error = %v", err)
		}
		iss.SetFault(oauthtest.EndpointIntrospection, oauthtest.Fault{Down: true})
		verify(cached, true, nil)
		if !v.Ready() {
			t.Fatal("Ready() = false after a cache hit, want true")
		}
	})
}

func TestIntrospection_Probe(t *testing.T) {
	t.Parallel()
	type probeCase struct {
		fault     oauthtest.Fault
		config    func(*IntrospectionConfig)
		wantErr   error // nil: the probe succeeds
		wantReady bool
	}
	const js = "application/json"
	tests := map[string]probeCase{
		"Inactive": {wantReady: true},
		// A server that calls anything active is broken, whatever the
		// claims it adds.
		"ActiveAnything":      {fault: oauthtest.Fault{Status: http.StatusOK, ContentType: js, Body: `{"active":true}`}, wantErr: errProbeActive},
		"ActiveOtherAudience": {fault: oauthtest.Fault{Status: http.StatusOK, ContentType: js, Body: `{"active":true,"aud":"https://elsewhere.example"}`}, wantErr: errProbeActive},
		"ActiveExpired":       {fault: oauthtest.Fault{Status: http.StatusOK, ContentType: js, Body: `{"active":true,"exp":1}`}, wantErr: errProbeActive},
		"ActiveRefreshToken":  {fault: oauthtest.Fault{Status: http.StatusOK, ContentType: js, Body: `{"active":true,"token_type":"refresh_token"}`}, wantErr: errProbeActive},
	}
	for name, tc := range introUnavailableCases() {
		tests[name] = probeCase{fault: tc.fault, config: tc.config, wantErr: ErrUnavailable}
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				iss, v := newFaultyIntro(t, tc.fault, tc.config)
				before := introRequests(iss)

				for call := 1; call <= 2; call++ {
					err := v.Probe(introCtx(t))
					var ue *UnavailableError
					switch {
					case tc.wantErr == nil && err != nil:
						t.Fatalf("Probe() #%d error = %v, want nil", call, err)
					case tc.wantErr != nil && (!errors.Is(err, tc.wantErr) || !errors.As(err, &ue) || ue.Op != "introspect"):
						t.Fatalf("Probe() #%d error = %v, want an *UnavailableError{Op: introspect} matching %v", call, err, tc.wantErr)
					case errors.Is(err, ErrInvalidToken):
						t.Fatalf("Probe() #%d error = %v, must not be an invalid token", call, err)
					}
					if err != nil {
						assertNoSecrets(t, err, introSecret)
					}
					if got := v.Ready(); got != tc.wantReady {
						t.Errorf("Ready() after Probe() #%d = %v, want %v", call, got, tc.wantReady)
					}
				}
				// Never cached: each probe is a request.
				if got := introRequests(iss) - before; got != 2 {
					t.Errorf("requests = %d for two probes, want 2", got)
				}
			})
		})
	}
}

// A formRecorder records the introspection forms sent through it.
type formRecorder struct {
	next  http.RoundTripper
	mu    sync.Mutex
	forms []url.Values
}

func (r *formRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := req.GetBody()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	_, _ = b.ReadFrom(body)
	form, err := url.ParseQuery(b.String())
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.forms = append(r.forms, form)
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

// TestIntrospection_ProbeValue checks what a probe sends: a fresh 32-byte
// random value each time, with the token_type_hint and credentials of a
// verification, and that no error quotes it.
func TestIntrospection_ProbeValue(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const probes = 4
		iss := newIntroIssuer(t)
		rec := &formRecorder{next: iss.Client().Transport}
		cfg := introConfig(iss, oauthtest.NewClock(introStart))
		cfg.AuthMethod = ClientSecretPost
		cfg.HTTPClient = &http.Client{Transport: rec}
		v := newIntro(t, cfg)

		var errs []error
		for n := range probes {
			switch n {
			case 1:
				iss.SetFault(oauthtest.EndpointIntrospection, oauthtest.Fault{Status: http.StatusOK, ContentType: "application/json", Body: `{"active":true}`})
			case 2:
				iss.SetFault(oauthtest.EndpointIntrospection, oauthtest.Fault{Status: http.StatusBadGateway})
			case 3:
				iss.SetFault(oauthtest.EndpointIntrospection, oauthtest.Fault{})
			}
			errs = append(errs, v.Probe(introCtx(t)))
		}
		if errs[0] != nil || errs[1] == nil || errs[2] == nil || errs[3] != nil {
			t.Fatalf("Probe() errors = %v, want nil, an error, an error, nil", errs)
		}
		if len(rec.forms) != probes {
			t.Fatalf("%d requests for %d probes", len(rec.forms), probes)
		}
		seen := map[string]bool{}
		for n, form := range rec.forms {
			value := form.Get("token")
			if raw, err := base64.RawURLEncoding.Strict().DecodeString(value); err != nil || len(raw) != 32 {
				t.Errorf("probe %d sent token %q, want 32 bytes in unpadded base64url", n, value)
			}
			if seen[value] {
				t.Errorf("probe %d repeated the value of an earlier probe", n)
			}
			seen[value] = true
			if got := form.Get("token_type_hint"); got != "access_token" {
				t.Errorf("probe %d token_type_hint = %q, want access_token", n, got)
			}
			if form.Get("client_id") != introClientID || form.Get("client_secret") != introSecret {
				t.Errorf("probe %d lacks the client credentials", n)
			}
			for _, err := range errs {
				if err != nil {
					assertNoSecrets(t, err, value)
				}
			}
		}
	})
}

// countingProvider is a MeterProvider whose Int64Counters count their
// Adds by instrument name and oauthgate.result; every other instrument is
// a no-op.
type countingProvider struct {
	noop.MeterProvider
	m *countingMeter
}

func (p countingProvider) Meter(string, ...metric.MeterOption) metric.Meter { return p.m }

type countingMeter struct {
	noop.Meter
	mu     sync.Mutex
	counts map[string]int64 // "name" or "name/result"
}

func (m *countingMeter) Int64Counter(name string, _ ...metric.Int64CounterOption) (metric.Int64Counter, error) {
	return countingCounter{m: m, name: name}, nil
}

type countingCounter struct {
	noop.Int64Counter
	m    *countingMeter
	name string
}

func (c countingCounter) Enabled(context.Context) bool { return true }

func (c countingCounter) Add(_ context.Context, n int64, opts ...metric.AddOption) {
	key := c.name
	attrs := metric.NewAddConfig(opts).Attributes()
	if r, ok := attrs.Value(keyFetchResult); ok {
		key += "/" + r.AsString()
	}
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	c.m.counts[key] += n
}

// TestIntrospection_ProbeMetrics checks that probes count as introspection
// requests, by result, and never as cache lookups.
func TestIntrospection_ProbeMetrics(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		iss := newIntroIssuer(t)
		m := &countingMeter{counts: map[string]int64{}}
		cfg := introConfig(iss, oauthtest.NewClock(introStart))
		cfg.MeterProvider = countingProvider{m: m}
		v := newIntro(t, cfg)
		if err := v.Probe(introCtx(t)); err != nil {
			t.Fatalf("Probe() error = %v", err)
		}
		iss.SetFault(oauthtest.EndpointIntrospection, oauthtest.Fault{Status: http.StatusBadGateway})
		if err := v.Probe(introCtx(t)); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Probe() error = %v, want ErrUnavailable", err)
		}
		iss.SetFault(oauthtest.EndpointIntrospection, oauthtest.Fault{Status: http.StatusOK, ContentType: "application/json", Body: `{"active":true}`})
		if err := v.Probe(introCtx(t)); !errors.Is(err, errProbeActive) {
			t.Fatalf("Probe() error = %v, want errProbeActive", err)
		}
		want := map[string]int64{
			metricIntrospectRequests + "/" + introspectInactive: 1,
			metricIntrospectRequests + "/" + fetchStatus:        1,
			metricIntrospectRequests + "/" + fetchOther:         1,
		}
		if !maps.Equal(m.counts, want) {
			t.Errorf("counters after probes = %v, want %v", m.counts, want)
		}
		// The cache's lookups are atomic counts behind observable counters.
		if h, ms := v.metrics.hits.Load(), v.metrics.misses.Load(); h != 0 || ms != 0 {
			t.Errorf("cache lookups after probes = %d hits, %d misses, want none", h, ms)
		}
		// A verification, by contrast, is a cache lookup too.
		iss.SetFault(oauthtest.EndpointIntrospection, oauthtest.Fault{})
		if _, err := v.Verify(introCtx(t), introToken(t, iss)); err != nil {
			t.Fatalf("Verify() error = %v", err)
		}
		want[metricIntrospectRequests+"/"+introspectActive] = 1
		if !maps.Equal(m.counts, want) {
			t.Errorf("counters after a verification = %v, want %v", m.counts, want)
		}
		if h, ms := v.metrics.hits.Load(), v.metrics.misses.Load(); h != 0 || ms != 1 {
			t.Errorf("cache lookups after a verification = %d hits, %d misses, want 1 miss", h, ms)
		}
	})
}
