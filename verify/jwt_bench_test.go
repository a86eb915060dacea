package verify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/oauthgate/oauthgate/internal/josekeys"
)

// benchAlgs are the algorithms the issue #8 targets are stated for. Each
// benchmark verifies the same realistic RFC 9068 token (ten claims) per alg.
var benchAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA}

func benchPublicKey(alg jose.SignatureAlgorithm) any {
	k := jwtTestKeys()
	switch alg {
	case jose.ES256:
		return k.ec.Public()
	case jose.EdDSA:
		return k.ed.Public()
	}
	return k.rsa.Public()
}

func BenchmarkJWT_Verify(b *testing.B) {
	ks := jwtTestKeySet(b)
	// The cache is off: every iteration checks the signature.
	j := newTestJWT(b, ks, func(c *JWTConfig) { c.DisableCache = true })
	ctx := jwtTestContext(b)
	for _, alg := range benchAlgs {
		b.Run(string(alg), func(b *testing.B) {
			tok := mintJWT(b, jwtMint{alg: alg})
			if _, err := j.Verify(ctx, tok); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := j.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBareGoJOSE is the naive baseline: go-jose's jwt package with its
// double claims decoding.
func BenchmarkBareGoJOSE(b *testing.B) {
	algs, err := josekeys.Allowlist(nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, alg := range benchAlgs {
		b.Run(string(alg), func(b *testing.B) {
			tok := mintJWT(b, jwtMint{alg: alg})
			key := benchPublicKey(alg)
			var extra struct {
				Scope    string `json:"scope"`
				ClientID string `json:"client_id"`
			}
			verify := func() error {
				t, err := josejwt.ParseSigned(tok, algs)
				if err != nil {
					return err
				}
				var c josejwt.Claims
				if err := t.Claims(key, &c, &extra); err != nil {
					return err
				}
				return c.Validate(josejwt.Expected{
					Issuer:      jwtTestIssuer,
					AnyAudience: josejwt.Audience{jwtTestAudience},
					Time:        jwtTestNow,
				})
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

// BenchmarkCryptoFloor is the cost of the signature check alone: hash the
// signing input and verify, with the signature already base64-decoded.
func BenchmarkCryptoFloor(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(string(alg), func(b *testing.B) {
			tok := mintJWT(b, jwtMint{alg: alg})
			dot := strings.LastIndexByte(tok, '.')
			input := []byte(tok[:dot])
			sig, err := base64.RawURLEncoding.DecodeString(tok[dot+1:])
			if err != nil {
				b.Fatal(err)
			}
			var verify func() bool
			switch pub := benchPublicKey(alg).(type) {
			case *rsa.PublicKey:
				verify = func() bool {
					h := sha256.Sum256(input)
					return rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig) == nil
				}
			case *ecdsa.PublicKey:
				verify = func() bool {
					h := sha256.Sum256(input)
					r := new(big.Int).SetBytes(sig[:32])
					s := new(big.Int).SetBytes(sig[32:])
					return ecdsa.Verify(pub, h[:], r, s)
				}
			case ed25519.PublicKey:
				verify = func() bool { return ed25519.Verify(pub, input, sig) }
			}
			if !verify() {
				b.Fatal("signature does not verify")
			}
			b.ReportAllocs()
			for b.Loop() {
				if !verify() {
					b.Fatal("signature does not verify")
				}
			}
		})
	}
}
