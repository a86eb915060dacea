package verify

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/internal/tokencache"
)

// swapKeySet is a KeySet whose contents a test replaces, as a JWKS refresh
// would.
type swapKeySet struct {
	cur   atomic.Pointer[StaticKeySet]
	err   atomic.Pointer[error] // returned instead of keys when set
	calls atomic.Int64
}

func (s *swapKeySet) Keys(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	s.calls.Add(1)
	if err := s.err.Load(); err != nil {
		return nil, *err
	}
	return s.cur.Load().Keys(ctx, kid)
}

func newSwapKeySet(t testing.TB, keys ...jose.JSONWebKey) *swapKeySet {
	t.Helper()
	s := &swapKeySet{}
	s.set(t, keys...)
	return s
}

func (s *swapKeySet) set(t testing.TB, keys ...jose.JSONWebKey) {
	t.Helper()
	ks, err := NewStaticKeySet(keys...)
	if err != nil {
		t.Fatalf("NewStaticKeySet() error = %v", err)
	}
	s.cur.Store(ks)
}

// testClock is a settable clock for JWTConfig.Now.
type testClock struct{ ns atomic.Int64 }

func newTestClock(t time.Time) *testClock {
	c := &testClock{}
	c.ns.Store(t.UnixNano())
	return c
}
func (c *testClock) Now() time.Time       { return time.Unix(0, c.ns.Load()).UTC() }
func (c *testClock) Add(d time.Duration)  { c.ns.Add(int64(d)) }
func (c *testClock) Set(t time.Time)      { c.ns.Store(t.UnixNano()) }
func (j *JWT) cacheEntries() (int, int64) { return j.cache.tokens.Usage() }
func ecJWK(kid string) jose.JSONWebKey {
	return jose.JSONWebKey{Key: jwtTestKeys().ec.Public(), KeyID: kid}
}
func attackerJWK(kid string) jose.JSONWebKey {
	return jose.JSONWebKey{Key: jwtTestKeys().attacker.Public(), KeyID: kid}
}

func TestJWTCache_HitReturnsSameClaims(t *testing.T) {
	t.Parallel()
	tok := mintJWT(t, jwtMint{alg: jose.ES256})
	for _, disable := range []bool{false, true} {
		t.Run(fmt.Sprintf("DisableCache=%v", disable), func(t *testing.T) {
			t.Parallel()
			ctx := jwtTestContext(t) // its own: a parallel subtest may start long after its parent
			ks := newSwapKeySet(t, ecJWK("ec"))
			j := newTestJWT(t, ks, func(c *JWTConfig) { c.DisableCache = disable })
			c1, err := j.Verify(ctx, tok)
			if err != nil {
				t.Fatalf("Verify() error = %v", err)
			}
			c2, err := j.Verify(ctx, tok)
			if err != nil {
				t.Fatalf("second Verify() error = %v", err)
			}
			if same := c1 == c2; same == disable {
				t.Errorf("second Verify() returned the same *Claims = %v, want %v", same, !disable)
			}
			if c2.Subject() != "user-42" || !c2.Scopes().Has("orders.read") || !c2.HasAudience(jwtTestAudience) {
				t.Errorf("second Verify() claims = %+v, want the token's", c2)
			}
			// Both paths ask the key set every time: a hit checks the key is
			// still there.
			if got := ks.calls.Load(); got != 2 {
				t.Errorf("KeySet.Keys calls = %d, want 2", got)
			}
		})
	}
}

// TestJWTCache_TimeClaimsOnHit moves the clock so that a cached token turns
// invalid while its entry is still live: every hit must notice.
func TestJWTCache_TimeClaimsOnHit(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		claims  map[string]any
		move    time.Duration // clock change after the first Verify
		wantErr error
	}{
		// nbf 20s ahead is inside the 30s leeway; after the clock steps back
		// 20s it is 40s ahead.
		"NbfAfterClockStepsBack": {claims: map[string]any{"nbf": jwtTestNow.Add(20 * time.Second).Unix()}, move: -20 * time.Second, wantErr: ErrNotYetValid},
		"IatAfterClockStepsBack": {claims: map[string]any{"iat": jwtTestNow.Add(20 * time.Second).Unix(), "nbf": nil}, move: -20 * time.Second, wantErr: ErrIssuedInFuture},
		"ExpPassed":              {move: time.Hour + 31*time.Second, wantErr: ErrExpired},
		"StillValid":             {move: 10 * time.Minute},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := jwtTestContext(t) // its own: a parallel subtest may start long after its parent
			clock := newTestClock(jwtTestNow)
			j := newTestJWT(t, newSwapKeySet(t, ecJWK("ec")), func(c *JWTConfig) {
				c.Now = clock.Now
				c.CacheMaxTTL = 24 * time.Hour
			})
			tok := mintJWT(t, jwtMint{alg: jose.ES256, claims: tc.claims})
			if _, err := j.Verify(ctx, tok); err != nil {
				t.Fatalf("Verify() error = %v", err)
			}
			clock.Add(tc.move)
			_, err := j.Verify(ctx, tok)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Verify() after clock change = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// TestJWTCache_KeyLeavesSet changes the key set after a token was cached.
func TestJWTCache_KeyLeavesSet(t *testing.T) {
	t.Parallel()
	ecJSON, err := json.Marshal(ecJWK("ec"))
	if err != nil {
		t.Fatal(err)
	}
	var ecCopy jose.JSONWebKey // equal key, new objects: a JWKS refresh
	if err := ecCopy.UnmarshalJSON(ecJSON); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		keys    []jose.JSONWebKey
		wantErr error
		wantHit bool // the entry survives
	}{
		"KidRemoved":        {keys: []jose.JSONWebKey{attackerJWK("other")}, wantErr: ErrUnknownKey},
		"KidNowOtherKey":    {keys: []jose.JSONWebKey{attackerJWK("ec")}, wantErr: ErrSignature},
		"KeyPinnedOtherAlg": {keys: []jose.JSONWebKey{{Key: jwtTestKeys().ec.Public(), KeyID: "ec", Algorithm: string(jose.ES384)}}, wantErr: ErrAlgorithm},
		"SameKeyRefetched":  {keys: []jose.JSONWebKey{ecCopy}, wantHit: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := jwtTestContext(t) // its own: a parallel subtest may start long after its parent
			ks := newSwapKeySet(t, ecJWK("ec"))
			j := newTestJWT(t, ks, nil)
			tok := mintJWT(t, jwtMint{alg: jose.ES256})
			first, err := j.Verify(ctx, tok)
			if err != nil {
				t.Fatalf("Verify() error = %v", err)
			}
			ks.set(t, tc.keys...)
			c, err := j.Verify(ctx, tok)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Verify() after key change = %v, want %v", err, tc.wantErr)
			}
			n, _ := j.cacheEntries()
			if tc.wantHit {
				if c != first || n != 1 {
					t.Errorf("Verify() after refetch: same claims %v, entries %d; want a hit and 1", c == first, n)
				}
			} else if n != 0 {
				t.Errorf("entries after key change = %d, want 0 (dropped)", n)
			}
		})
	}
}

// TestJWTCache_FailuresNotCached checks that neither an outage nor a
// rejection is remembered.
func TestJWTCache_FailuresNotCached(t *testing.T) {
	t.Parallel()
	ctx := jwtTestContext(t)
	ks := newSwapKeySet(t, ecJWK("ec"))
	j := newTestJWT(t, ks, nil)
	tok := mintJWT(t, jwtMint{alg: jose.ES256})

	down := error(&UnavailableError{Op: "fetch JWKS"})
	ks.err.Store(&down)
	if _, err := j.Verify(ctx, tok); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Verify() with the key set down = %v, want ErrUnavailable", err)
	}
	ks.err.Store(nil)
	ks.set(t, attackerJWK("ec"))
	if _, err := j.Verify(ctx, tok); !errors.Is(err, ErrSignature) {
		t.Fatalf("Verify() with the wrong key = %v, want ErrSignature", err)
	}
	if n, _ := j.cacheEntries(); n != 0 {
		t.Fatalf("entries after failures = %d, want 0", n)
	}
	ks.set(t, ecJWK("ec"))
	if _, err := j.Verify(ctx, tok); err != nil {
		t.Fatalf("Verify() once the key is back = %v, want nil", err)
	}
	if n, _ := j.cacheEntries(); n != 1 {
		t.Fatalf("entries after success = %d, want 1", n)
	}
	// An outage while the token is cached is still an outage: the hit path
	// asks the key set too.
	ks.err.Store(&down)
	if _, err := j.Verify(ctx, tok); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("cached Verify() with the key set down = %v, want ErrUnavailable", err)
	}
}

// TestJWTCache_CollisionIsMiss plants an entry for another token under the
// token's hash, as a maphash collision would: the hit must be refused.
func TestJWTCache_CollisionIsMiss(t *testing.T) {
	t.Parallel()
	ctx := jwtTestContext(t)
	ks := newSwapKeySet(t, ecJWK("ec"))
	j := newTestJWT(t, ks, nil)
	tok := mintJWT(t, jwtMint{alg: jose.ES256, claims: map[string]any{"sub": "victim"}})
	planted := &Claims{subject: "attacker", expiry: jwtTestNow.Add(time.Hour)}
	j.cache.tokens.Set(tokencache.FastKey(j.cache.seed, tok), jwtCached{
		token: tok[:len(tok)-1] + "x", claims: planted, kid: "ec", alg: jose.ES256, key: jwtTestKeys().ec.Public(),
	}, 1, time.Hour)
	c, err := j.Verify(ctx, tok)
	if err != nil {
		t.Fatalf("Verify() error = %v", err)
	}
	if c == planted || c.Subject() != "victim" {
		t.Fatalf("Verify() subject = %q, want victim", c.Subject())
	}
}

func TestJWTCache_Config(t *testing.T) {
	t.Parallel()
	ks := jwtTestKeySet(t)
	tests := map[string]struct {
		edit    func(*JWTConfig)
		wantErr string // substring naming the field; "" for success
	}{
		"Defaults":         {edit: func(*JWTConfig) {}},
		"NegativeSize":     {edit: func(c *JWTConfig) { c.CacheSize = -1 }, wantErr: "CacheSize"},
		"NegativeBytes":    {edit: func(c *JWTConfig) { c.CacheMaxBytes = -1 }, wantErr: "CacheMaxBytes"},
		"NegativeTTL":      {edit: func(c *JWTConfig) { c.CacheMaxTTL = -time.Second }, wantErr: "CacheMaxTTL"},
		"Disabled":         {edit: func(c *JWTConfig) { c.DisableCache = true }},
		"DisabledIgnoring": {edit: func(c *JWTConfig) { c.DisableCache, c.CacheSize = true, 5 }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := jwtTestConfig()
			tc.edit(&cfg)
			j, err := NewJWT(ks, cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("NewJWT() error = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewJWT() error = %v", err)
			}
			if (j.cache == nil) != cfg.DisableCache {
				t.Fatalf("cache present = %v, want %v", j.cache != nil, !cfg.DisableCache)
			}
			if j.cache != nil {
				if size, maxBytes := j.cache.tokens.Limits(); j.cache.ttl != defaultJWTCacheMaxTTL || size != defaultJWTCacheSize ||
					maxBytes != defaultJWTCacheMaxBytes {
					t.Errorf("cache defaults: ttl %v, size %d, bytes %d", j.cache.ttl, size, maxBytes)
				}
			}
		})
	}
}

// TestJWTCache_EntryTTL checks that an entry ends at the earlier of exp and
// CacheMaxTTL.
func TestJWTCache_EntryTTL(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		maxTTL   time.Duration
		wantLive time.Duration // entry still live at wantLive-1s, gone at wantLive
	}{
		"MaxTTLFirst": {maxTTL: 10 * time.Minute, wantLive: 10 * time.Minute},
		"ExpFirst":    {maxTTL: 2 * time.Hour, wantLive: time.Hour},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := jwtTestContext(t) // its own: a parallel subtest may start long after its parent
			clock := newTestClock(jwtTestNow)
			j := newTestJWT(t, newSwapKeySet(t, ecJWK("ec")), func(c *JWTConfig) {
				c.Now, c.CacheMaxTTL = clock.Now, tc.maxTTL
			})
			tok := mintJWT(t, jwtMint{alg: jose.ES256})
			if _, err := j.Verify(ctx, tok); err != nil {
				t.Fatal(err)
			}
			k := tokencache.FastKey(j.cache.seed, tok)
			if _, ok := j.cache.tokens.GetAt(k, jwtTestNow.Add(tc.wantLive-time.Second)); !ok {
				t.Errorf("entry gone before %v", tc.wantLive)
			}
			if _, ok := j.cache.tokens.GetAt(k, jwtTestNow.Add(tc.wantLive)); ok {
				t.Errorf("entry live at %v", tc.wantLive)
			}
		})
	}
}

// TestJWTCache_HitAllocatesNothing is the 0-allocation target of issue #8.
func TestJWTCache_HitAllocatesNothing(t *testing.T) {
	ctx := jwtTestContext(t)
	j := newTestJWT(t, jwtTestKeySet(t), nil)
	for _, alg := range benchAlgs {
		tok := mintJWT(t, jwtMint{alg: alg})
		if _, err := j.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := j.Verify(ctx, tok); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: cached Verify() allocations = %v, want 0", alg, allocs)
		}
	}
}

// TestJWTCache_Concurrent hits, misses and key set changes at once, for the
// race detector; every answer must be right for the key set of the moment.
func TestJWTCache_Concurrent(t *testing.T) {
	t.Parallel()
	ctx := jwtTestContext(t)
	ks := newSwapKeySet(t, ecJWK("ec"))
	j := newTestJWT(t, ks, func(c *JWTConfig) { c.CacheSize = 8 })
	toks := make([]string, 16)
	for i := range toks {
		toks[i] = mintJWT(t, jwtMint{alg: jose.ES256, claims: map[string]any{"jti": strconv.Itoa(i)}})
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for n := range 100 {
				i := (n * (g + 1)) % len(toks)
				c, err := j.Verify(ctx, toks[i])
				if err != nil && !errors.Is(err, ErrUnknownKey) {
					t.Errorf("Verify() error = %v", err)
					return
				}
				if err == nil && c.ID() != strconv.Itoa(i) {
					t.Errorf("Verify(token %d) jti = %q, want %d", i, c.ID(), i)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			ks.set(t, attackerJWK("other"))
			ks.set(t, ecJWK("ec"))
		}
	})
	wg.Wait()
	if n, _ := j.cacheEntries(); n > 8 {
		t.Errorf("entries = %d, want at most 8", n)
	}
}

// raceEnabled reports whether the test binary was built with -race.
func raceEnabled() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// TestJWTCache_MillionTokens pushes 1 000 000 distinct valid tokens (of
// realistic size, with their claims) through the cache's insert path and
// checks that it stays within its entry and byte bounds, by its own
// accounting and by the live heap. Signing a million tokens would take
// minutes, so the tokens are synthetic and enter through JWT.store, the
// code Verify runs after a successful verification. Under -race (10-20×
// slower) it pushes 100 000.
func TestJWTCache_MillionTokens(t *testing.T) {
	n := 1_000_000
	if raceEnabled() || testing.Short() {
		n = 100_000
	}
	const (
		size     = 4000
		maxBytes = 4 << 20
	)
	j := newTestJWT(t, jwtTestKeySet(t), func(c *JWTConfig) { c.CacheSize, c.CacheMaxBytes = size, maxBytes })
	key := jwtTestKeys().ec.Public()
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"RS256","kid":"rsa","typ":"at+jwt"}`))
	// An RS256 signature's length, ending, like a real one, in bytes no
	// other token shares.
	sigFor := func(i int) string {
		end := enc.EncodeToString(binary.BigEndian.AppendUint64(nil, uint64(i))) //nolint:gosec // G115: i ≥ 0
		return strings.Repeat("s", 342-len(end)) + end
	}
	payloadFor := func(i int) []byte {
		return []byte(`{"iss":"` + jwtTestIssuer + `","sub":"user-` + strconv.Itoa(i) + `","aud":"` + jwtTestAudience +
			`","exp":1800003600,"iat":1799999940,"nbf":1799999940,"jti":"` + strconv.Itoa(i) +
			`","client_id":"client-7","scope":"orders.read orders.write","tenant":"acme","email":"user@example.com"}`)
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		payload := payloadFor(i)
		blk := &claimsBlock{}
		c := &blk.c
		r := claimReader{aud: &blk.aud}
		if err := r.read(&j.rules, payload, c); err != nil {
			t.Fatalf("read(%d) error = %v", i, err)
		}
		tok := header + "." + enc.EncodeToString(payload) + "." + sigFor(i)
		e := jwtCached{claims: c, kid: "rsa", alg: jose.RS256, key: key, extra: r.extra}
		j.store(tokencache.FastKey(j.cache.seed, tok), tok, e)
		if i%100_000 == 0 {
			if entries, bytes := j.cacheEntries(); entries > size || bytes > maxBytes {
				t.Fatalf("after %d tokens: %d entries, %d bytes; bound %d, %d", i+1, entries, bytes, size, maxBytes)
			}
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	entries, bytes := j.cacheEntries()
	if entries > size || bytes > maxBytes {
		t.Fatalf("after %d tokens: %d entries, %d bytes; bound %d, %d", n, entries, bytes, size, maxBytes)
	}
	if entries < size/2 {
		t.Errorf("after %d tokens: %d entries; the cache should be well used", n, entries)
	}
	// The accounting must not undercount: the live heap the cache holds
	// stays within the bound it claims.
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if grown > maxBytes {
		t.Errorf("live heap grew by %d bytes for %d entries (%d accounted); bound %d", grown, entries, bytes, maxBytes)
	}
	t.Logf("%d tokens: %d entries, %d bytes accounted (%d/entry), heap +%d (%d/entry)",
		n, entries, bytes, bytes/int64(max(entries, 1)), grown, grown/int64(max(entries, 1)))
	runtime.KeepAlive(j)
}

// TestJWTCache_ByteAccounting: what the cache charges for an entry follows
// the memory the entry holds, for claim sets whose decoding allocates
// beyond the payload: arrays of scopes in scope or scp, many audiences, an
// array behind a large claim. The charge is never under 85 % of the live
// heap, or the cache would outgrow CacheMaxBytes, and never over it by more
// than 1 KiB an entry, or the budget would go unused. (The charge counts
// 16 bytes per array element where append's spare capacity makes it up to
// twice that: measured at 6-8 % under the heap for these shapes, Go 1.26.)
func TestJWTCache_ByteAccounting(t *testing.T) {
	list := func(prefix string, n int) string {
		var b strings.Builder
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"%s%03d"`, prefix, i)
		}
		return b.String()
	}
	aud := `"aud":"` + jwtTestAudience + `",`
	shapes := map[string]string{
		"ScopeArray":           aud + `"scope":[` + list("scope.", 200) + `]`,
		"ScpArray":             aud + `"scp":[` + list("scope.", 200) + `]`,
		"ManyAudiences":        `"aud":["` + jwtTestAudience + `",` + list("https://api.example.com/", 199) + `]`,
		"ArrayAfterLargeClaim": aud + `"profile":"` + strings.Repeat("p", 3000) + `","scope":[` + list("s", 20) + `]`,
	}
	const n = 1000
	enc := base64.RawURLEncoding
	key := jwtTestKeys().ec.Public()
	for name, claims := range shapes {
		t.Run(name, func(t *testing.T) {
			j := newTestJWT(t, jwtTestKeySet(t), func(c *JWTConfig) { c.CacheSize, c.CacheMaxBytes = 16*n, 1<<40 })
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for i := range n {
				payload := []byte(`{"iss":"` + jwtTestIssuer + `","exp":1800003600,"jti":"` + strconv.Itoa(i) + `",` + claims + `}`)
				blk := &claimsBlock{}
				c := &blk.c
				c.raw = string(payload)
				r := claimReader{aud: &blk.aud}
				if err := r.read(&j.rules, payload, c); err != nil {
					t.Fatalf("read(%d) error = %v", i, err)
				}
				tok := "h." + enc.EncodeToString(payload) + "." + strconv.Itoa(i)
				j.store(tokencache.FastKey(j.cache.seed, tok), tok, jwtCached{claims: c, kid: "ec", alg: jose.ES256, key: key, extra: r.extra})
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			entries, charged := j.cacheEntries()
			if entries != n {
				t.Fatalf("%d entries cached, want %d", entries, n)
			}
			heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
			if charged < heap*85/100 || charged > heap+n*1024 {
				t.Errorf("%d entries charged %d bytes (%d each) for %d bytes of heap (%d each); want within [85 %%, +1 KiB each]",
					n, charged, charged/n, heap, heap/n)
			}
			runtime.KeepAlive(j)
		})
	}
}
