package verify

import (
	"hash/maphash"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oauthgate/oauthgate/internal/tokencache"
	"github.com/oauthgate/oauthgate/oauthtest"
)

// BenchmarkIntrospection_CachedHit measures Verify for a token whose active
// result is cached: the request path of every call but the first.
func BenchmarkIntrospection_CachedHit(b *testing.B) {
	// newCached returns a verifier with n active tokens cached.
	newCached := func(b *testing.B, n int) (*Introspection, []string) {
		b.Helper()
		iss := newIntroIssuer(b)
		cfg := introConfig(iss, oauthtest.NewClock(introStart))
		cfg.CacheTTL = time.Hour
		v := newIntro(b, cfg)
		tokens := make([]string, n)
		for i := range tokens {
			tokens[i] = introToken(b, iss)
			if _, err := v.Verify(b.Context(), tokens[i]); err != nil {
				b.Fatal(err)
			}
		}
		return v, tokens
	}
	b.Run("serial", func(b *testing.B) {
		v, tokens := newCached(b, 1)
		ctx := b.Context()
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, err := v.Verify(ctx, tokens[0]); err != nil {
				b.Fatal(err)
			}
		}
	})
	// parallel: every goroutine presents the same hot token, the worst
	// case for lock contention on one shard.
	b.Run("parallel", func(b *testing.B) {
		v, tokens := newCached(b, 1)
		ctx := b.Context()
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := v.Verify(ctx, tokens[0]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	// parallel_spread: goroutines cycle over 1000 cached tokens.
	b.Run("parallel_spread", func(b *testing.B) {
		const n = 1000
		v, tokens := newCached(b, n)
		ctx := b.Context()
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := v.Verify(ctx, tokens[i%n]); err != nil {
					b.Error(err)
					return
				}
				i += 7
			}
		})
	})
}

// BenchmarkTokenKey compares the cache key derivation (SHA-256) with a
// seeded maphash, for an opaque token and for a JWT-sized one.
func BenchmarkTokenKey(b *testing.B) {
	for _, size := range []int{32, 64, 1024, 4096} {
		token := strings.Repeat("x", size)
		b.Run("sha256/"+strconv.Itoa(size), func(b *testing.B) {
			b.ReportAllocs()
			var k tokencache.Key
			for b.Loop() {
				k = tokencache.DigestKey(token)
			}
			_ = k
		})
		b.Run("maphash/"+strconv.Itoa(size), func(b *testing.B) {
			b.ReportAllocs()
			seed := maphash.MakeSeed()
			var k uint64
			for b.Loop() {
				k = maphash.String(seed, token)
			}
			_ = k
		})
	}
}
