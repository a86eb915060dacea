package dpop_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/dpop"
	"github.com/oauthgate/oauthgate/oauthtest"
)

// rawProof returns a compact JWS of header and claims with sig as its
// signature: a proof no library would sign, as an attacker sends it.
func rawProof(t *testing.T, header, claims map[string]any, sig []byte) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(header) + "." + enc(claims) + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// rsaJWK is the public JWK of an RSA key with modulus n and exponent e.
func rsaJWK(n *big.Int, e int64) map[string]any {
	return map[string]any{
		"kty": "RSA",
		"n":   base64.RawURLEncoding.EncodeToString(n.Bytes()),
		"e":   base64.RawURLEncoding.EncodeToString(big.NewInt(e).Bytes()),
	}
}

// TestCheck_ProofKey: the key in a proof's header is the client's choice,
// checked before anything else costs the server work: no key, a key that
// is not one, and RSA keys that are expensive to verify with (an exponent
// other than 65537, more than 4096 bits) are refused with ErrKey before
// the signature is checked; a key within the limits gets as far as the
// signature.
func TestCheck_ProofKey(t *testing.T) {
	t.Parallel()
	claims := map[string]any{"jti": "j1", "htm": "POST", "htu": testURI, "iat": testNow.Unix()}
	bits := func(n int) *big.Int { // an odd modulus of n bits
		m := new(big.Int).Lsh(big.NewInt(1), uint(n-1))
		return m.Add(m, big.NewInt(1))
	}
	sig := make([]byte, 512)
	_, _ = rand.Read(sig)
	tests := map[string]struct {
		header map[string]any
		want   error
	}{
		"NoJWK":       {header: map[string]any{"typ": "dpop+jwt", "alg": "ES256"}, want: dpop.ErrKey},
		"JWKNull":     {header: map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": nil}, want: dpop.ErrKey},
		"JWKEmpty":    {header: map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": map[string]any{}}, want: dpop.ErrMalformed},
		"RSAExp3":     {header: map[string]any{"typ": "dpop+jwt", "alg": "RS256", "jwk": rsaJWK(bits(2048), 3)}, want: dpop.ErrKey},
		"RSAExp2^31":  {header: map[string]any{"typ": "dpop+jwt", "alg": "RS256", "jwk": rsaJWK(bits(2048), 1<<31-1)}, want: dpop.ErrKey},
		"RSAExp65539": {header: map[string]any{"typ": "dpop+jwt", "alg": "PS256", "jwk": rsaJWK(bits(2048), 65539)}, want: dpop.ErrKey},
		// go-jose itself refuses to parse moduli over its MaxRSAModulusBits
		// (4096); TestCheck_RSAModulusLimit checks the verifier's own limit.
		"RSA4097Bits": {header: map[string]any{"typ": "dpop+jwt", "alg": "RS256", "jwk": rsaJWK(bits(4097), 65537)}, want: dpop.ErrMalformed},
		"RSA4096Bits": {header: map[string]any{"typ": "dpop+jwt", "alg": "RS256", "jwk": rsaJWK(bits(4096), 65537)}, want: dpop.ErrSignature},
		"RSA2048Bits": {header: map[string]any{"typ": "dpop+jwt", "alg": "RS256", "jwk": rsaJWK(bits(2048), 65537)}, want: dpop.ErrSignature},
		"RSA2047Bits": {header: map[string]any{"typ": "dpop+jwt", "alg": "RS256", "jwk": rsaJWK(bits(2047), 65537)}, want: dpop.ErrAlgorithm},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			v := newVerifier(t, nil)
			p, err := v.Check(rawProof(t, tc.header, claims, sig), dpop.Request{Method: "POST", URIs: []string{testURI}})
			if !errors.Is(err, tc.want) || p.Thumbprint() != "" {
				t.Fatalf("Check() = %q, %v; want %v", p.Thumbprint(), err, tc.want)
			}
		})
	}
}

// TestCheck_RSAModulusLimit: the verifier's limit of 4096 bits holds even
// where a program raises go-jose's own parsing limit. It changes that
// package variable, so it does not run in parallel.
func TestCheck_RSAModulusLimit(t *testing.T) {
	defer func(old int) { jose.MaxRSAModulusBits = old }(jose.MaxRSAModulusBits)
	jose.MaxRSAModulusBits = 16384
	claims := map[string]any{"jti": "j1", "htm": "POST", "htu": testURI, "iat": testNow.Unix()}
	sig := make([]byte, 1024)
	for _, n := range []int{4097, 8192, 16384} {
		m := new(big.Int).Lsh(big.NewInt(1), uint(n-1))
		m.Add(m, big.NewInt(1))
		v := newVerifier(t, nil)
		header := map[string]any{"typ": "dpop+jwt", "alg": "RS256", "jwk": rsaJWK(m, 65537)}
		if _, err := v.Check(rawProof(t, header, claims, sig), dpop.Request{Method: "POST", URIs: []string{testURI}}); !errors.Is(err, dpop.ErrKey) {
			t.Errorf("Check(RSA key of %d bits) = %v, want ErrKey", n, err)
		}
	}
}

// TestCheck_SizeLimit: a proof of 8 KiB is checked, one byte more is
// refused before it is parsed, however valid.
func TestCheck_SizeLimit(t *testing.T) {
	t.Parallel()
	key := oauthtest.NewDPoPKey(t, jose.ES256, func() time.Time { return testNow })
	req := dpop.Request{Method: "POST", URIs: []string{testURI}, AccessToken: testToken}
	// sized returns a valid proof of exactly n bytes, padded by a claim
	// and a header parameter (base64url cannot make every length with one).
	sized := func(n int) string {
		mk := func(pad, hpad int) string {
			return key.Proof(t, "POST", testURI, testToken, oauthtest.Proof{
				Claims: map[string]any{"pad": strings.Repeat("x", pad)},
				Header: map[string]any{"x": strings.Repeat("y", hpad)},
			})
		}
		for hpad := range 4 {
			for pad := max((n-len(mk(0, hpad)))*3/4-8, 0); ; pad++ {
				if p := mk(pad, hpad); len(p) >= n {
					if len(p) == n {
						return p
					}
					break
				}
			}
		}
		t.Fatalf("no proof of %d bytes", n)
		return ""
	}
	v := newVerifier(t, nil)
	if _, err := accept(v, sized(8192), req); err != nil {
		t.Errorf("Check(8192-byte proof) = %v, want nil", err)
	}
	if _, err := v.Check(sized(8193), req); !errors.Is(err, dpop.ErrMalformed) {
		t.Errorf("Check(8193-byte proof) = %v, want ErrMalformed", err)
	}
}

// TestCheck_DoesNotRecord: checking a proof leaves no trace; only Record
// makes it good once. Anonymous callers, whose tokens are never verified,
// cannot fill the replay cache.
func TestCheck_DoesNotRecord(t *testing.T) {
	t.Parallel()
	v := newVerifier(t, func(c *dpop.Config) { c.ReplayCacheSize = 16 })
	key := oauthtest.NewDPoPKey(t, jose.ES256, func() time.Time { return testNow })
	req := dpop.Request{Method: "POST", URIs: []string{testURI}, AccessToken: testToken}
	// A flood of valid proofs, checked and never recorded.
	for range 200 {
		if _, err := v.Check(key.Proof(t, "POST", testURI, testToken), req); err != nil {
			t.Fatal(err)
		}
	}
	proof := key.Proof(t, "POST", testURI, testToken)
	for range 2 {
		if _, err := v.Check(proof, req); err != nil {
			t.Fatalf("Check() again = %v; a check must not record", err)
		}
	}
	if _, err := accept(v, proof, req); err != nil {
		t.Fatalf("Record() after a flood of checks = %v", err)
	}
	if _, err := accept(v, proof, req); !errors.Is(err, dpop.ErrReplayed) {
		t.Fatalf("Record() of a recorded proof = %v, want ErrReplayed", err)
	}
}

// TestRecord_Unchecked: a Proof that Check did not return is refused, and
// a cancelled context is reported, not ignored.
func TestRecord_Unchecked(t *testing.T) {
	t.Parallel()
	v := newVerifier(t, nil)
	if err := v.Record(context.Background(), dpop.Proof{}); !errors.Is(err, dpop.ErrMalformed) {
		t.Errorf("Record(Proof{}) = %v, want ErrMalformed", err)
	}
	key := oauthtest.NewDPoPKey(t, jose.ES256, func() time.Time { return testNow })
	p, err := v.Check(key.Proof(t, "POST", testURI, ""), dpop.Request{Method: "POST", URIs: []string{testURI}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := v.Record(ctx, p); !errors.Is(err, context.Canceled) {
		t.Errorf("Record(cancelled) = %v, want context.Canceled", err)
	}
	if err := v.Record(context.Background(), p); err != nil {
		t.Errorf("Record() after a cancelled attempt = %v; the attempt must not have recorded", err)
	}
}

// TestRecord_KeyLimit: one key may hold only its share of the replay
// cache; past it, that key's proofs are refused while other keys' proofs
// are still accepted, and the key's share is free again a window later.
func TestRecord_KeyLimit(t *testing.T) {
	t.Parallel()
	now := testNow
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	v := newVerifier(t, func(c *dpop.Config) { c.ReplayCacheSize = 1600; c.ReplayKeyLimit = 160; c.Now = clock })
	greedy := oauthtest.NewDPoPKey(t, jose.ES256, clock)
	req := dpop.Request{Method: "POST", URIs: []string{testURI}, AccessToken: testToken}
	var accepted, full int
	for i := range 800 {
		_, err := accept(v, greedy.Proof(t, "POST", testURI, testToken, oauthtest.Proof{Claims: map[string]any{"jti": fmt.Sprint("g", i)}}), req)
		switch {
		case err == nil:
			accepted++
		case errors.Is(err, dpop.ErrReplayCacheFull):
			full++
		default:
			t.Fatal(err)
		}
	}
	// The limit is split over the 16 shards, 10 each; 800 proofs spread by
	// a seeded hash fill every shard's share (a shard gets fewer than 10 of
	// them with a probability under 1e-12).
	if accepted != 160 || full != 640 {
		t.Errorf("one key: %d accepted, %d refused of 800; want its limit of 160", accepted, full)
	}
	for i := range 20 {
		other := oauthtest.NewDPoPKey(t, jose.ES256, clock)
		if _, err := accept(v, other.Proof(t, "POST", testURI, testToken), req); err != nil {
			t.Fatalf("another key's proof %d = %v, want accepted", i, err)
		}
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	if _, err := accept(v, greedy.Proof(t, "POST", testURI, testToken), req); err != nil {
		t.Errorf("the key's proof a window later = %v, want accepted", err)
	}
}

// TestVerify_ReplayAnywhereInWindow: a proof whose iat lies a window in
// the future stays acceptable for two windows after it arrives, wherever in
// the cache's window it arrives, and so must stay remembered that long,
// also when nothing else touches the cache in between.
func TestVerify_ReplayAnywhereInWindow(t *testing.T) {
	t.Parallel()
	for _, offset := range []time.Duration{0, time.Second, 30 * time.Second, 59 * time.Second, 59*time.Second + 999*time.Millisecond} {
		for _, d := range []time.Duration{time.Second, 30 * time.Second, 60 * time.Second, 61 * time.Second, 90 * time.Second, 118 * time.Second} {
			t.Run(fmt.Sprint(offset, "+", d), func(t *testing.T) {
				t.Parallel()
				start := testNow.Add(offset) // testNow starts a window
				now := start
				var mu sync.Mutex
				clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
				v := newVerifier(t, func(c *dpop.Config) { c.Now = clock })
				key := oauthtest.NewDPoPKey(t, jose.ES256, clock)
				req := dpop.Request{Method: "POST", URIs: []string{testURI}, AccessToken: testToken}
				iat := start.Add(59 * time.Second).Truncate(time.Second)
				p := key.Proof(t, "POST", testURI, testToken, oauthtest.Proof{Claims: map[string]any{"iat": iat.Unix()}})
				if _, err := accept(v, p, req); err != nil {
					t.Fatal(err)
				}
				mu.Lock()
				now = start.Add(d)
				mu.Unlock()
				if now.Sub(iat) > time.Minute {
					t.Fatalf("bad row: the proof is stale at +%v", d)
				}
				if _, err := accept(v, p, req); !errors.Is(err, dpop.ErrReplayed) {
					t.Fatalf("replay %v after arrival = %v, want ErrReplayed", d, err)
				}
			})
		}
	}
}

// TestRecord_Bounds: a cache of n proofs per window holds exactly n, and
// by default one key may hold a quarter of them; both are split evenly
// over the 16 shards.
func TestRecord_Bounds(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		size, keyLimit, keys, want int
	}{
		"CacheFull":       {size: 32, keyLimit: 32, keys: 4, want: 32},
		"DefaultKeyLimit": {size: 64, keys: 1, want: 16},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			v := newVerifier(t, func(c *dpop.Config) { c.ReplayCacheSize, c.ReplayKeyLimit = tc.size, tc.keyLimit })
			var keys []*oauthtest.DPoPKey
			for range tc.keys {
				keys = append(keys, oauthtest.NewDPoPKey(t, jose.ES256, func() time.Time { return testNow }))
			}
			req := dpop.Request{Method: "POST", URIs: []string{testURI}, AccessToken: testToken}
			accepted := 0
			for i := range 640 { // ~40 a shard: every shard fills
				key := keys[i%len(keys)]
				_, err := accept(v, key.Proof(t, "POST", testURI, testToken, oauthtest.Proof{Claims: map[string]any{"jti": fmt.Sprint("j", i)}}), req)
				switch {
				case err == nil:
					accepted++
				case !errors.Is(err, dpop.ErrReplayCacheFull):
					t.Fatal(err)
				}
			}
			if accepted != tc.want {
				t.Errorf("accepted %d of 640 proofs, want %d", accepted, tc.want)
			}
		})
	}
}

// TestNew_Bounds: every Config limit accepts its boundary value and
// refuses the next one, so a limit cannot drift by one unnoticed.
func TestNew_Bounds(t *testing.T) {
	t.Parallel()
	key16 := []byte("0123456789abcdef")
	for name, tc := range map[string]struct {
		cfg dpop.Config
		ok  bool
	}{
		"WindowMax":             {cfg: dpop.Config{Window: 10 * time.Minute}, ok: true},
		"WindowOverMax":         {cfg: dpop.Config{Window: 10*time.Minute + 1}},
		"KeyLimitAll":           {cfg: dpop.Config{ReplayCacheSize: 64, ReplayKeyLimit: 64}, ok: true},
		"KeyLimitOverCache":     {cfg: dpop.Config{ReplayCacheSize: 64, ReplayKeyLimit: 65}},
		"KeyLimitDefaultCache":  {cfg: dpop.Config{ReplayKeyLimit: 100_000}, ok: true},
		"KeyLimitOverDefault":   {cfg: dpop.Config{ReplayKeyLimit: 100_001}},
		"KeyLimitNegative":      {cfg: dpop.Config{ReplayKeyLimit: -1}},
		"NoncePeriodMin":        {cfg: dpop.Config{NoncePeriod: 10 * time.Second}, ok: true},
		"NoncePeriodUnderMin":   {cfg: dpop.Config{NoncePeriod: 10*time.Second - 1}},
		"NonceKeyMin":           {cfg: dpop.Config{NoncePeriod: time.Minute, NonceKey: key16}, ok: true},
		"NonceKeyUnderMin":      {cfg: dpop.Config{NoncePeriod: time.Minute, NonceKey: key16[:15]}},
		"NonceKeyWithoutPeriod": {cfg: dpop.Config{NonceKey: key16}, ok: true},
	} {
		if _, err := dpop.New(tc.cfg); (err == nil) != tc.ok {
			t.Errorf("%s: New() error = %v, want ok %v", name, err, tc.ok)
		}
	}
	// A jti of 128 bytes is the longest accepted.
	v := newVerifier(t, nil)
	key := oauthtest.NewDPoPKey(t, jose.ES256, func() time.Time { return testNow })
	req := dpop.Request{Method: "POST", URIs: []string{testURI}, AccessToken: testToken}
	if _, err := accept(v, key.Proof(t, "POST", testURI, testToken, oauthtest.Proof{Claims: map[string]any{"jti": strings.Repeat("j", 128)}}), req); err != nil {
		t.Errorf("a jti of 128 bytes: %v", err)
	}
}
