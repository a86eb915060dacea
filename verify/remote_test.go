package verify

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

const remoteTestTimeout = 10 * time.Second

// remoteTestKey returns a fresh signing key with the given kid, and its public
// half: P-256 if kid starts with "ec", else Ed25519.
func remoteTestKey(t testing.TB, kid string) (priv, pub jose.JSONWebKey) {
	t.Helper()
	var k any
	alg := jose.EdDSA
	if strings.HasPrefix(kid, "ec") {
		ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k, alg = ec, jose.ES256
	} else {
		_, ed, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k = ed
	}
	priv = jose.JSONWebKey{Key: k, KeyID: kid, Algorithm: string(alg), Use: "sig"}
	return priv, priv.Public()
}

// Modes of jwksServer.
const (
	jwksModeOK      = "ok"
	jwksModeDown    = "down"    // connection closed without a response
	jwksMode500     = "500"     // HTTP 500
	jwksModeGarbage = "garbage" // 200 with a body that is not JSON
	jwksModeNotJWKS = "notjwks" // 200 with JSON that is not a JWK set
	jwksModeNoKeys  = "nokeys"  // 200 with a JWKS holding only a symmetric key
	jwksModeHuge    = "huge"    // 200 with a 10 MB body
	jwksModeSlow    = "slow"    // no answer until the request is cancelled
)

// jwksServer is a JWKS endpoint on 127.0.0.1 whose behaviour a test
// switches at run time.
type jwksServer struct {
	*httptest.Server
	requests atomic.Int64

	mu           sync.Mutex
	keys         []jose.JSONWebKey
	mode         string
	cacheControl string
	expires      string
}

func newJWKSServer(t testing.TB, keys ...jose.JSONWebKey) *jwksServer {
	t.Helper()
	s := &jwksServer{keys: keys, mode: jwksModeOK}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) URL() string { return s.Server.URL + "/jwks" }

func (s *jwksServer) setKeys(keys ...jose.JSONWebKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = keys
}

func (s *jwksServer) setMode(m string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = m
}

func (s *jwksServer) setHeaders(cacheControl, expires string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cacheControl, s.expires = cacheControl, expires
}

func (s *jwksServer) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	s.mu.Lock()
	mode, keys, cc, exp := s.mode, s.keys, s.cacheControl, s.expires
	s.mu.Unlock()
	switch mode {
	case jwksModeDown:
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	case jwksMode500:
		http.Error(w, "boom", http.StatusInternalServerError)
	case jwksModeGarbage:
		fmt.Fprint(w, "<html>not json</html>")
	case jwksModeNotJWKS:
		fmt.Fprint(w, `{"issuer":"https://example.com"}`)
	case jwksModeNoKeys:
		fmt.Fprint(w, `{"keys":[{"kty":"oct","kid":"hmac","k":"c2VjcmV0c2VjcmV0c2VjcmV0"}]}`)
	case jwksModeHuge:
		w.Header().Set("Content-Type", "application/json")
		chunk := strings.Repeat(" ", 1<<16)
		for range 10 << 20 / len(chunk) {
			if _, err := fmt.Fprint(w, chunk); err != nil {
				return
			}
		}
	case jwksModeSlow:
		<-r.Context().Done()
	default:
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		if exp != "" {
			w.Header().Set("Expires", exp)
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: keys})
	}
}

// remoteClock is a settable clock for Config.Now.
type remoteClock struct {
	mu  sync.Mutex
	now time.Time
}

func newRemoteClock() *remoteClock {
	return &remoteClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *remoteClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *remoteClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newTestRemote builds a key set for srv with cfg's other fields, closed at
// the end of the test. Backoff retries are pushed out of the test's reach
// unless the test sets r.jitter itself before the first Keys call.
func newTestRemote(t testing.TB, srv *jwksServer, cfg RemoteKeySetConfig) *RemoteKeySet {
	t.Helper()
	if cfg.URL == "" && cfg.Issuer == "" {
		cfg.URL = srv.URL()
	}
	cfg.InsecureAllowHTTP = true
	r, err := NewRemoteKeySet(cfg)
	if err != nil {
		t.Fatalf("NewRemoteKeySet() error = %v", err)
	}
	r.jitter = func(time.Duration) time.Duration { return time.Hour }
	t.Cleanup(func() { r.Close() })
	return r
}

func remoteTestContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), remoteTestTimeout)
	t.Cleanup(cancel)
	return ctx
}

func remoteWantKID(t testing.TB, r *RemoteKeySet, ctx context.Context, kid string) {
	t.Helper()
	keys, err := r.Keys(ctx, kid)
	if err != nil {
		t.Fatalf("Keys(%q) error = %v, want nil", kid, err)
	}
	if len(keys) != 1 || keys[0].KeyID != kid || !keys[0].IsPublic() {
		t.Fatalf("Keys(%q) = %d keys, want the public key %q", kid, len(keys), kid)
	}
}

func remoteWantErr(t testing.TB, r *RemoteKeySet, ctx context.Context, kid string, want error) error {
	t.Helper()
	_, err := r.Keys(ctx, kid)
	if !errors.Is(err, want) {
		t.Fatalf("Keys(%q) error = %v, want %v", kid, err, want)
	}
	return err
}

func remoteWantRequests(t testing.TB, srv *jwksServer, want int64) {
	t.Helper()
	if got := srv.requests.Load(); got != want {
		t.Fatalf("server saw %d requests, want %d", got, want)
	}
}

func TestRemoteKeySet_FetchOnDemand(t *testing.T) {
	t.Parallel()
	ctx := remoteTestContext(t)
	_, pub1 := remoteTestKey(t, "k1")
	_, pub2 := remoteTestKey(t, "ec2")
	srv := newJWKSServer(t, pub1, pub2)
	r := newTestRemote(t, srv, RemoteKeySetConfig{Now: newRemoteClock().Now})

	remoteWantRequests(t, srv, 0) // the constructor does no network I/O
	if r.Ready() {
		t.Fatal("Ready() = true before any fetch")
	}
	remoteWantKID(t, r, ctx, "k1")
	remoteWantRequests(t, srv, 1)
	for range 100 {
		remoteWantKID(t, r, ctx, "k1")
		remoteWantKID(t, r, ctx, "ec2")
	}
	all, err := r.Keys(ctx, "")
	if err != nil || len(all) != 2 {
		t.Fatalf(`Keys("") = %d keys, %v; want 2, nil`, len(all), err)
	}
	remoteWantRequests(t, srv, 1) // known kids never fetch
	if !r.Ready() {
		t.Fatal("Ready() = false after a good fetch")
	}
	// Private keys in the document are served as their public half.
	priv3, _ := remoteTestKey(t, "k3")
	srv.setKeys(priv3)
	r2 := newTestRemote(t, srv, RemoteKeySetConfig{})
	remoteWantKID(t, r2, ctx, "k3")
}

func TestRemoteKeySet_Rotation(t *testing.T) {
	t.Parallel()
	ctx := remoteTestContext(t)
	clock := newRemoteClock()
	_, pub1 := remoteTestKey(t, "k1")
	_, pub2 := remoteTestKey(t, "key2")
	srv := newJWKSServer(t, pub1)
	r := newTestRemote(t, srv, RemoteKeySetConfig{Now: clock.Now, UnknownKeyCooldown: time.Minute})

	remoteWantKID(t, r, ctx, "k1")
	remoteWantRequests(t, srv, 1)

	// Within the cooldown of the first fetch, an unknown kid fails fast.
	remoteWantErr(t, r, ctx, "key2", ErrUnknownKey)
	remoteWantRequests(t, srv, 1)

	// The server rotates: key2 replaces k1. Once the cooldown has passed,
	// the first token signed with key2 costs exactly one fetch.
	srv.setKeys(pub2)
	clock.Advance(time.Minute)
	remoteWantKID(t, r, ctx, "key2")
	remoteWantRequests(t, srv, 2)
	remoteWantKID(t, r, ctx, "key2")
	remoteWantRequests(t, srv, 2)

	// k1 left the document, so it left the set; asking again within the
	// cooldown does not fetch.
	err := remoteWantErr(t, r, ctx, "k1", ErrUnknownKey)
	var te *TokenError
	if !errors.As(err, &te) || te.Claim != "kid" || !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("Keys(k1) error = %#v, want a *TokenError for kid", err)
	}
	remoteWantRequests(t, srv, 2)
}

func TestRemoteKeySet_UnknownKidFlood(t *testing.T) {
	t.Parallel()
	ctx := remoteTestContext(t)
	clock := newRemoteClock()
	_, pub1 := remoteTestKey(t, "k1")
	srv := newJWKSServer(t, pub1)
	r := newTestRemote(t, srv, RemoteKeySetConfig{Now: clock.Now})

	for _, phase := range []string{"no set yet", "set present"} {
		before := srv.requests.Load()
		const n = 1000
		var wg sync.WaitGroup
		errs := make(chan error, n)
		start := time.Now()
		for i := range n {
			wg.Go(func() {
				_, err := r.Keys(ctx, fmt.Sprintf("made-up-%d", i))
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: %d concurrent Keys calls took %v, want < 2s", phase, n, d)
		}
		if got := srv.requests.Load() - before; got != 1 {
			t.Errorf("%s: %d unknown kids caused %d fetches, want 1", phase, n, got)
		}
		for err := range errs {
			if !errors.Is(err, ErrUnknownKey) {
				t.Fatalf("%s: Keys(made-up) error = %v, want %v", phase, err, ErrUnknownKey)
			}
		}
		clock.Advance(r.cfg.UnknownKeyCooldown)
	}
	remoteWantKID(t, r, ctx, "k1")
}

func TestRemoteKeySet_DownAtStartRecovers(t *testing.T) {
	t.Parallel()
	ctx := remoteTestContext(t)
	_, pub1 := remoteTestKey(t, "k1")
	srv := newJWKSServer(t, pub1)
	srv.setMode(jwksModeDown)
	r := newTestRemote(t, srv, RemoteKeySetConfig{
		MinRefresh: 20 * time.Millisecond,
		MaxRefresh: time.Hour,
	})
	r.jitter = func(d time.Duration) time.Duration { return d }

	err := remoteWantErr(t, r, ctx, "k1", ErrUnavailable)
	var ue *UnavailableError
	if !errors.As(err, &ue) || ue.Op != "fetch JWKS" || ue.Err == nil || errors.Is(err, ErrInvalidToken) {
		t.Fatalf("Keys() error = %#v, want an *UnavailableError with a cause", err)
	}
	if !strings.Contains(err.Error(), srv.URL()) {
		t.Errorf("Keys() error = %q, want it to name the URL", err)
	}
	// Within the cooldown, Keys does not fetch but reports the outage.
	n := srv.requests.Load()
	remoteWantErr(t, r, ctx, "k1", ErrUnavailable)
	if r.Ready() {
		t.Fatal("Ready() = true while the endpoint is down")
	}
	// The background loop keeps retrying (backoff capped at MinRefresh).
	deadline := time.Now().Add(2 * time.Second)
	for srv.requests.Load() < n+2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if srv.requests.Load() < n+2 {
		t.Fatalf("no background retries: %d requests", srv.requests.Load())
	}
	srv.setMode(jwksModeOK)
	if err := r.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady() = %v, want nil once the endpoint is up", err)
	}
	remoteWantKID(t, r, ctx, "k1")
}

func TestRemoteKeySet_WaitReadyTimeout(t *testing.T) {
	t.Parallel()
	_, pub1 := remoteTestKey(t, "k1")
	srv := newJWKSServer(t, pub1)
	srv.setMode(jwksMode500)
	r := newTestRemote(t, srv, RemoteKeySetConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := r.WaitReady(ctx)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitReady() = %v, want ErrUnavailable and DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), "500") {
		t.Errorf("WaitReady() = %q, want it to report the last fetch error", err)
	}
}

func TestRemoteKeySet_BadResponsesKeepLastGoodSet(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{jwksModeDown, jwksMode500, jwksModeGarbage, jwksModeNotJWKS, jwksModeNoKeys, jwksModeHuge, jwksModeSlow} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			ctx := remoteTestContext(t)
			clock := newRemoteClock()
			_, pub1 := remoteTestKey(t, "k1")
			_, pub2 := remoteTestKey(t, "key2")
			srv := newJWKSServer(t, pub1)
			r := newTestRemote(t, srv, RemoteKeySetConfig{
				Now:      clock.Now,
				Timeout:  200 * time.Millisecond,
				MaxStale: 2 * time.Hour,
			})
			remoteWantKID(t, r, ctx, "k1")

			// The server breaks while rotating to key2. The refetch for
			// key2 fails: that is "cannot check now", not a bad token.
			srv.setKeys(pub2)
			srv.setMode(mode)
			clock.Advance(r.cfg.UnknownKeyCooldown)
			start := time.Now()
			remoteWantErr(t, r, ctx, "key2", ErrUnavailable)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("failed fetch took %v, want about Timeout", d)
			}
			// (Go's transport retries a GET once when a reused
			// connection is closed under it, so "down" may count twice.)
			if n := srv.requests.Load(); n < 2 || n > 3 {
				t.Fatalf("server saw %d requests, want 2 (or 3)", n)
			}
			// The last good set is still served, up to MaxStale after it
			// was fetched.
			remoteWantKID(t, r, ctx, "k1")
			clock.Advance(2*time.Hour - r.cfg.UnknownKeyCooldown - time.Second)
			remoteWantKID(t, r, ctx, "k1")
			if !r.Ready() {
				t.Fatal("Ready() = false within MaxStale")
			}
			clock.Advance(time.Second)
			err := remoteWantErr(t, r, ctx, "k1", ErrUnavailable)
			if errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Keys() error = %v matches ErrInvalidToken", err)
			}
			if r.Ready() {
				t.Fatal("Ready() = true after MaxStale")
			}
			// The endpoint comes back: the set recovers.
			srv.setMode(jwksModeOK)
			clock.Advance(r.cfg.UnknownKeyCooldown)
			remoteWantKID(t, r, ctx, "key2")
			remoteWantErr(t, r, ctx, "k1", ErrUnknownKey)
		})
	}
}

func TestRemoteKeySet_RefreshSchedule(t *testing.T) {
	t.Parallel()
	clock := newRemoteClock()
	tests := map[string]struct {
		cacheControl, expires string
		want                  time.Duration // delay before the background refresh
	}{
		"MaxAge":           {cacheControl: "public, max-age=600", want: 540 * time.Second},
		"MaxAgeClampedUp":  {cacheControl: "max-age=5", want: 54 * time.Second},
		"MaxAgeClampedDn":  {cacheControl: "max-age=86400", want: 54 * time.Minute},
		"NoStore":          {cacheControl: "no-store", want: 54 * time.Second},
		"InvalidMaxAge":    {cacheControl: "max-age=soon", want: 54 * time.Second},
		"Expires":          {expires: "in 10m", want: 9 * time.Minute},
		"MaxAgeOverExpire": {cacheControl: "max-age=300", expires: "in 10m", want: 270 * time.Second},
		"NoHeaders":        {want: 54 * time.Minute},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := remoteTestContext(t)
			_, pub1 := remoteTestKey(t, "k1")
			srv := newJWKSServer(t, pub1)
			exp := tc.expires
			if exp != "" {
				// Relative to the server's Date header, whatever the clocks.
				exp = time.Now().Add(10 * time.Minute).UTC().Format(http.TimeFormat)
			}
			srv.setHeaders(tc.cacheControl, exp)
			r := newTestRemote(t, srv, RemoteKeySetConfig{Now: clock.Now, MinRefresh: time.Minute, MaxRefresh: time.Hour})
			scheduled := make(chan time.Duration, 10)
			r.onSchedule = func(d time.Duration) { scheduled <- d }
			remoteWantKID(t, r, ctx, "k1")
			select {
			case got := <-scheduled:
				// Expires has whole-second precision.
				if diff := got - tc.want; diff < -time.Second || diff > time.Second {
					t.Fatalf("refresh scheduled after %v, want %v", got, tc.want)
				}
			case <-ctx.Done():
				t.Fatal("no refresh scheduled")
			}
		})
	}
}

func TestRemoteKeySet_BackgroundRefreshDropsRemovedKeys(t *testing.T) {
	t.Parallel()
	ctx := remoteTestContext(t)
	_, pub1 := remoteTestKey(t, "k1")
	_, pub2 := remoteTestKey(t, "key2")
	srv := newJWKSServer(t, pub1, pub2)
	srv.setHeaders("max-age=0", "")
	r := newTestRemote(t, srv, RemoteKeySetConfig{
		MinRefresh: 50 * time.Millisecond,
		MaxRefresh: time.Second,
	})
	remoteWantKID(t, r, ctx, "key2")
	srv.setKeys(pub1)
	// The refresh happens in the background, with no Keys call to prompt
	// it, 45ms (90% of MinRefresh) after the fetch.
	deadline := time.Now().Add(2 * time.Second)
	for srv.requests.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if srv.requests.Load() < 2 {
		t.Fatal("no background refresh within 2s")
	}
	for {
		_, err := r.Keys(ctx, "key2")
		if errors.Is(err, ErrUnknownKey) {
			break
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("Keys(key2) error = %v, want %v after the refresh", err, ErrUnknownKey)
		}
		time.Sleep(5 * time.Millisecond)
	}
	remoteWantKID(t, r, ctx, "k1")
}

func TestNewRemoteKeySet_Config(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		cfg     RemoteKeySetConfig
		wantErr string // substring; "" for success
	}{
		"HTTPS":                {cfg: RemoteKeySetConfig{URL: "https://auth.example.com/jwks"}},
		"HTTPSIssuer":          {cfg: RemoteKeySetConfig{Issuer: "https://auth.example.com/tenant"}},
		"HTTPRefused":          {cfg: RemoteKeySetConfig{URL: "http://127.0.0.1:8080/jwks"}, wantErr: "https is required"},
		"HTTPLoopbackAllowed":  {cfg: RemoteKeySetConfig{URL: "http://127.0.0.1:8080/jwks", InsecureAllowHTTP: true}},
		"HTTPLocalhostAllowed": {cfg: RemoteKeySetConfig{URL: "http://localhost/jwks", InsecureAllowHTTP: true}},
		"HTTPIPv6Loopback":     {cfg: RemoteKeySetConfig{URL: "http://[::1]:9/jwks", InsecureAllowHTTP: true}},
		"HTTPRemoteRefused":    {cfg: RemoteKeySetConfig{URL: "http://auth.example.com/jwks", InsecureAllowHTTP: true}, wantErr: "not loopback"},
		"HTTPLookalikeRefused": {cfg: RemoteKeySetConfig{URL: "http://localhost.example.com/jwks", InsecureAllowHTTP: true}, wantErr: "not loopback"},
		"HTTPIssuerRefused":    {cfg: RemoteKeySetConfig{Issuer: "http://auth.example.com"}, wantErr: "https is required"},
		"OtherScheme":          {cfg: RemoteKeySetConfig{URL: "file:///etc/jwks.json"}, wantErr: "URL"},
		"Relative":             {cfg: RemoteKeySetConfig{URL: "/jwks"}, wantErr: "absolute"},
		"Neither":              {cfg: RemoteKeySetConfig{}, wantErr: "needs URL"},
		"Both":                 {cfg: RemoteKeySetConfig{URL: "https://a.example/jwks", Issuer: "https://a.example"}, wantErr: "exactly one"},
		"IssuerWithQuery":      {cfg: RemoteKeySetConfig{Issuer: "https://a.example/?tenant=1"}, wantErr: "query"},
		"NegativeTimeout":      {cfg: RemoteKeySetConfig{URL: "https://a.example/jwks", Timeout: -1}, wantErr: "Timeout is negative"},
		"MinOverMax":           {cfg: RemoteKeySetConfig{URL: "https://a.example/jwks", MinRefresh: 2 * time.Hour}, wantErr: "MinRefresh"},
		"StaleUnderMax":        {cfg: RemoteKeySetConfig{URL: "https://a.example/jwks", MaxStale: time.Minute}, wantErr: "MaxStale"},
		"HugeResponseSize":     {cfg: RemoteKeySetConfig{URL: "https://a.example/jwks", MaxResponseSize: 1 << 30}, wantErr: "MaxResponseSize"},
		"NegativeResponseSize": {cfg: RemoteKeySetConfig{URL: "https://a.example/jwks", MaxResponseSize: -1}, wantErr: "MaxResponseSize"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r, err := NewRemoteKeySet(tc.cfg)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("NewRemoteKeySet() error = %v, want nil", err)
				}
				r.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "verify: ") {
				t.Fatalf("NewRemoteKeySet() error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestRemoteKeySet_Defaults(t *testing.T) {
	t.Parallel()
	r, err := NewRemoteKeySet(RemoteKeySetConfig{URL: "https://auth.example.com/jwks"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := r.cfg
	if got.Timeout != 5*time.Second || got.MaxResponseSize != 1<<20 || got.MinRefresh != time.Minute ||
		got.MaxRefresh != time.Hour || got.UnknownKeyCooldown != 30*time.Second || got.MaxStale != 24*time.Hour {
		t.Fatalf("defaults = %+v", got)
	}
	if r.client == http.DefaultClient || r.client.Timeout != 5*time.Second {
		t.Fatalf("default client has timeout %v, want 5s and not http.DefaultClient", r.client.Timeout)
	}
}

func TestRemoteKeySet_TLSAndRedirects(t *testing.T) {
	t.Parallel()
	ctx := remoteTestContext(t)
	_, pub1 := remoteTestKey(t, "k1")
	plain := newJWKSServer(t, pub1)
	tls := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/jwks":
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub1}})
		default: // a redirect from https down to http
			http.Redirect(w, r, plain.URL(), http.StatusFound)
		}
	}))
	t.Cleanup(tls.Close)

	r, err := NewRemoteKeySet(RemoteKeySetConfig{URL: tls.URL + "/jwks", HTTPClient: tls.Client()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	remoteWantKID(t, r, ctx, "k1")

	// The caller's client follows a redirect from https to http; the
	// answer is refused because the final URL breaks the policy.
	r2, err := NewRemoteKeySet(RemoteKeySetConfig{URL: tls.URL + "/redirect", HTTPClient: tls.Client()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r2.Close() })
	if err := remoteWantErr(t, r2, ctx, "k1", ErrUnavailable); !strings.Contains(err.Error(), "redirect") {
		t.Fatalf("Keys() error = %v, want the redirect refused", err)
	}
	remoteWantRequests(t, plain, 0) // the policy refused the redirect before following it

	// The default client does not even follow a redirect to http on a
	// host that is not loopback, InsecureAllowHTTP or not.
	redirector := httptest.NewServer(http.RedirectHandler("http://keys.example.com/jwks", http.StatusFound))
	t.Cleanup(redirector.Close)
	r3 := newTestRemote(t, plain, RemoteKeySetConfig{URL: redirector.URL})
	if err := remoteWantErr(t, r3, ctx, "k1", ErrUnavailable); !strings.Contains(err.Error(), "not loopback") {
		t.Fatalf("Keys() error = %v, want the redirect refused", err)
	}
}

func TestRemoteKeySet_Backoff(t *testing.T) {
	t.Parallel()
	r, err := NewRemoteKeySet(RemoteKeySetConfig{URL: "https://a.example/jwks", MinRefresh: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.jitter = func(d time.Duration) time.Duration { return d }
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for i, w := range want {
		r.mu.Lock()
		r.failures = i + 1
		got := r.nextDelayLocked()
		r.mu.Unlock()
		if got != w {
			t.Errorf("delay after %d failures = %v, want %v", i+1, got, w)
		}
	}
	for _, d := range []time.Duration{0, 1, 2, time.Second, time.Hour} {
		for range 100 {
			if got := fullJitter(d); got < d/2 || got > d {
				t.Fatalf("fullJitter(%v) = %v, want within [%v, %v]", d, got, d/2, d)
			}
		}
	}
}

func TestRemoteKeySet_Close(t *testing.T) {
	// Not parallel: it counts goroutines.
	ctx := remoteTestContext(t)
	before := runtime.NumGoroutine()
	func() {
		_, pub1 := remoteTestKey(t, "k1")
		srv := httptest.NewServer(nil)
		js := &jwksServer{keys: []jose.JSONWebKey{pub1}, mode: jwksModeOK, Server: srv}
		srv.Config.Handler = http.HandlerFunc(js.serve)
		defer srv.Close()
		clock := newRemoteClock()
		r, err := NewRemoteKeySet(RemoteKeySetConfig{URL: js.URL(), InsecureAllowHTTP: true, Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		remoteWantKID(t, r, ctx, "k1")

		// A caller waits on a fetch that hangs; Close ends both.
		js.setMode(jwksModeSlow)
		clock.Advance(r.cfg.UnknownKeyCooldown)
		waiting := make(chan error, 1)
		go func() {
			_, err := r.Keys(ctx, "other") // unknown kid after the cooldown: fetches
			waiting <- err
		}()
		for js.requests.Load() < 2 && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		if err := r.Close(); err != nil {
			t.Fatalf("Close() = %v", err)
		}
		if err := <-waiting; !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Keys() during Close error = %v, want %v", err, ErrUnavailable)
		}
		if err := r.Close(); err != nil {
			t.Fatalf("second Close() = %v", err)
		}
		remoteWantErr(t, r, ctx, "k1", ErrUnavailable)
		if r.Ready() {
			t.Fatal("Ready() = true after Close")
		}
		if err := r.WaitReady(ctx); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("WaitReady() after Close = %v, want %v", err, ErrUnavailable)
		}
	}()
	var after int
	for range 200 {
		if after = runtime.NumGoroutine(); after <= before {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	buf := make([]byte, 1<<16)
	t.Fatalf("%d goroutines before, %d after Close:\n%s", before, after, buf[:runtime.Stack(buf, true)])
}

func TestRemoteKeySet_ContextCancelled(t *testing.T) {
	t.Parallel()
	_, pub1 := remoteTestKey(t, "k1")
	srv := newJWKSServer(t, pub1)
	srv.setMode(jwksModeSlow)
	r := newTestRemote(t, srv, RemoteKeySetConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := r.Keys(ctx, "k1")
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Keys() error = %v, want ErrUnavailable and DeadlineExceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Keys() returned after %v, want about 50ms", d)
	}
}

func TestRemoteKeySet_KeysAllocs(t *testing.T) {
	ctx := remoteTestContext(t)
	_, pub1 := remoteTestKey(t, "k1")
	srv := newJWKSServer(t, pub1)
	r := newTestRemote(t, srv, RemoteKeySetConfig{})
	remoteWantKID(t, r, ctx, "k1")
	if n := testing.AllocsPerRun(1000, func() { _, _ = r.Keys(ctx, "k1") }); n != 0 {
		t.Fatalf("Keys(known kid) allocates %v times, want 0", n)
	}
}

func BenchmarkRemoteKeySet_Keys(b *testing.B) {
	ctx := context.Background()
	_, pub1 := remoteTestKey(b, "k1")
	srv := newJWKSServer(b, pub1)
	r := newTestRemote(b, srv, RemoteKeySetConfig{})
	if _, err := r.Keys(ctx, "k1"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := r.Keys(ctx, "k1"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestCacheLifetime(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := map[string]struct {
		h      http.Header
		want   time.Duration
		wantOK bool
	}{
		"None":          {h: http.Header{}},
		"MaxAge":        {h: http.Header{"Cache-Control": {"public, max-age=120"}}, want: 2 * time.Minute, wantOK: true},
		"QuotedMaxAge":  {h: http.Header{"Cache-Control": {`max-age="60"`}}, want: time.Minute, wantOK: true},
		"NoCache":       {h: http.Header{"Cache-Control": {"no-cache"}}, wantOK: true},
		"Negative":      {h: http.Header{"Cache-Control": {"max-age=-5"}}, wantOK: true},
		"Huge":          {h: http.Header{"Cache-Control": {"max-age=99999999999999999"}}, wantOK: true},
		"ExpiresDate":   {h: http.Header{"Expires": {"Tue, 01 Jan 2030 00:10:00 GMT"}, "Date": {"Tue, 01 Jan 2030 00:05:00 GMT"}}, want: 5 * time.Minute, wantOK: true},
		"ExpiresNoDate": {h: http.Header{"Expires": {"Tue, 01 Jan 2030 00:10:00 GMT"}}, want: 10 * time.Minute, wantOK: true},
		"ExpiresBad":    {h: http.Header{"Expires": {"0"}}, wantOK: true},
		"MaxAgeWins":    {h: http.Header{"Cache-Control": {"max-age=1"}, "Expires": {"Tue, 01 Jan 2030 00:10:00 GMT"}}, want: time.Second, wantOK: true},
		// Finding 7: no-store and no-cache win whatever their position.
		"NoStoreFirst":        {h: http.Header{"Cache-Control": {"no-store, max-age=3600"}}, wantOK: true},
		"NoStoreLast":         {h: http.Header{"Cache-Control": {"max-age=3600, no-store"}}, wantOK: true},
		"NoCacheLast":         {h: http.Header{"Cache-Control": {"max-age=3600, No-Cache"}}, wantOK: true},
		"NoStoreOtherLine":    {h: http.Header{"Cache-Control": {"max-age=3600", "no-store"}}, wantOK: true},
		"NoStoreOverExpires":  {h: http.Header{"Cache-Control": {"no-store"}, "Expires": {"Tue, 01 Jan 2030 00:10:00 GMT"}}, wantOK: true},
		"NoCacheFieldNames":   {h: http.Header{"Cache-Control": {`max-age=60, no-cache="Set-Cookie"`}}, want: time.Minute, wantOK: true},
		"FirstMaxAge":         {h: http.Header{"Cache-Control": {"max-age=60", "max-age=3600"}}, want: time.Minute, wantOK: true},
		"MaxAgeMinusAge":      {h: http.Header{"Cache-Control": {"max-age=3600"}, "Age": {"600"}}, want: 50 * time.Minute, wantOK: true},
		"AgeOverMaxAge":       {h: http.Header{"Cache-Control": {"max-age=60"}, "Age": {"600"}}, wantOK: true},
		"InvalidAgeIgnored":   {h: http.Header{"Cache-Control": {"max-age=60"}, "Age": {"ten"}}, want: time.Minute, wantOK: true},
		"NegativeAgeIgnored":  {h: http.Header{"Cache-Control": {"max-age=60"}, "Age": {"-30"}}, want: time.Minute, wantOK: true},
		"HugeAge":             {h: http.Header{"Cache-Control": {"max-age=60"}, "Age": {"99999999999999999999"}}, wantOK: true},
		"ExpiresMinusAge":     {h: http.Header{"Expires": {"Tue, 01 Jan 2030 00:10:00 GMT"}, "Date": {"Tue, 01 Jan 2030 00:05:00 GMT"}, "Age": {"60"}}, want: 4 * time.Minute, wantOK: true},
		"ExpiresAgeTooOld":    {h: http.Header{"Expires": {"Tue, 01 Jan 2030 00:10:00 GMT"}, "Date": {"Tue, 01 Jan 2030 00:05:00 GMT"}, "Age": {"600"}}, wantOK: true},
		"ExpiresBeforeDate":   {h: http.Header{"Expires": {"Tue, 01 Jan 2030 00:00:00 GMT"}, "Date": {"Tue, 01 Jan 2030 00:05:00 GMT"}}, wantOK: true},
		"AgeWithoutLifetime":  {h: http.Header{"Age": {"60"}}},
		"MaxAgeSpaces":        {h: http.Header{"Cache-Control": {" public ,  max-age=90 "}}, want: 90 * time.Second, wantOK: true},
		"MaxAgeInvalidSuffix": {h: http.Header{"Cache-Control": {"max-age=60s"}}, wantOK: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, ok := cacheLifetime(tc.h, now)
			if name == "Huge" {
				tc.want = got // just must not overflow to a negative value
				if got <= 0 {
					t.Fatalf("cacheLifetime() = %v, want a large positive duration", got)
				}
			}
			if got != tc.want || ok != tc.wantOK {
				t.Fatalf("cacheLifetime(%v) = %v, %v; want %v, %v", tc.h, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestIsLoopback(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST": true, "127.0.0.1": true, "127.1.2.3": true, "::1": true,
		"localhost.example.com": false, "10.0.0.1": false, "example.com": false, "": false,
	} {
		if got := isLoopback(host); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}
