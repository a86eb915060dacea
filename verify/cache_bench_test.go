package verify

import (
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/internal/josekeys"
	"github.com/oauthgate/oauthgate/internal/tokencache"
)

// BenchmarkGoJOSECompact is the go-jose work JWT.Verify builds on: parse
// the compact JWS and check its signature with the right key. Allocations
// of BenchmarkJWT_Verify above these are what oauthgate adds.
func BenchmarkGoJOSECompact(b *testing.B) {
	algs, err := josekeys.Allowlist(nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, alg := range benchAlgs {
		b.Run(string(alg), func(b *testing.B) {
			tok := mintJWT(b, jwtMint{alg: alg})
			key := benchPublicKey(alg)
			verify := func() error {
				jws, err := jose.ParseSignedCompact(tok, algs)
				if err != nil {
					return err
				}
				_, err = jws.Verify(key)
				return err
			}
			if err := verify(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := verify(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkJWT_CacheHit is Verify answered from the verified-token cache:
// a maphash of the token, a shard read lock, a comparison of the token, the
// key set lookup and the time checks. The target is ≤ 300 ns, 0 allocs.
func BenchmarkJWT_CacheHit(b *testing.B) {
	ks := jwtTestKeySet(b)
	j := newTestJWT(b, ks, nil)
	ctx := jwtTestContext(b)
	for _, alg := range benchAlgs {
		b.Run(string(alg), func(b *testing.B) {
			tok := mintJWT(b, jwtMint{alg: alg})
			if _, err := j.Verify(ctx, tok); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := j.Verify(ctx, tok); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkJWT_CacheKey compares the two ways to key a JWT in the cache,
// for the RS256 test token: SHA-256 (what introspection uses) and the
// seeded maphash the JWT cache uses, plus the whole-token comparison a
// maphash hit needs.
func BenchmarkJWT_CacheKey(b *testing.B) {
	tok := mintJWT(b, jwtMint{alg: jose.RS256})
	other := string([]byte(tok))
	j := newTestJWT(b, jwtTestKeySet(b), nil)
	b.Run("sha256", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = tokencache.DigestKey(tok)
		}
	})
	b.Run("maphash+compare", func(b *testing.B) {
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			_ = tokencache.FastKey(j.cache.seed, tok)
			if tok == other {
				n++
			}
		}
		if n == 0 {
			b.Fatal("token comparison failed")
		}
	})
}
