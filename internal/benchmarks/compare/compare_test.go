package compare

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/oauthgate/oauthgate/interceptor"
	"github.com/oauthgate/oauthgate/internal/b64url"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

// The token of internal/benchmarks: same issuer, audience, method and
// claims (RFC 9068, ten claims).
const (
	issuer   = "https://auth.example.com/"
	audience = "https://library.example.com"
	getBook  = "/oauthgatetest.v1.LibraryService/GetBook"
)

var algs = []jose.SignatureAlgorithm{jose.RS256, jose.ES256}

type fixture struct {
	priv   map[jose.SignatureAlgorithm]crypto.Signer
	tokens map[jose.SignatureAlgorithm]string
	keys   *verify.StaticKeySet
	policy *scopes.Policy
}

var getFixture = sync.OnceValues(func() (*fixture, error) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	f := &fixture{
		priv:   map[jose.SignatureAlgorithm]crypto.Signer{jose.RS256: rk, jose.ES256: ek},
		tokens: map[jose.SignatureAlgorithm]string{},
	}
	now := time.Now()
	claims, err := json.Marshal(map[string]any{
		"iss": issuer, "sub": "user-42", "aud": audience,
		"exp": now.Add(24 * time.Hour).Unix(), "iat": now.Unix(), "nbf": now.Unix(),
		"jti": "b6a8f3c2-7d1e-4c55-9a0b-3f2e1d4c5b6a", "client_id": "library-web",
		"scope": "library.read library.write", "tenant": "acme",
	})
	if err != nil {
		return nil, err
	}
	var jwks []jose.JSONWebKey
	for _, alg := range algs {
		kid := "k-" + string(alg)
		jwks = append(jwks, jose.JSONWebKey{Key: f.priv[alg].Public(), KeyID: kid, Use: "sig"})
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: f.priv[alg]},
			(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", kid))
		if err != nil {
			return nil, err
		}
		jws, err := signer.Sign(claims)
		if err != nil {
			return nil, err
		}
		if f.tokens[alg], err = jws.CompactSerialize(); err != nil {
			return nil, err
		}
	}
	if f.keys, err = verify.NewStaticKeySet(jwks...); err != nil {
		return nil, err
	}
	if f.policy, err = scopes.NewPolicy(scopes.FromFiles(testpb.File_oauthgatetest_v1_library_proto)); err != nil {
		return nil, err
	}
	return f, nil
})

func loadFixture(tb testing.TB) *fixture {
	tb.Helper()
	f, err := getFixture()
	if err != nil {
		tb.Fatalf("fixture: %v", err)
	}
	return f
}

// An impl checks the fixture token of one algorithm once and reports
// whether it passed.
type impl struct {
	name string
	fn   func() bool
}

// impls are the contenders for alg, each doing the work a resource server
// needs per call: signature, iss, aud, exp, nbf, iat, scope and client_id.
func impls(tb testing.TB, f *fixture, alg jose.SignatureAlgorithm) []impl {
	tb.Helper()
	tok := f.tokens[alg]
	pub := f.priv[alg].Public()
	j, err := verify.NewJWT(f.keys, verify.JWTConfig{Issuer: issuer, Audiences: []string{audience}, DisableCache: true})
	if err != nil {
		tb.Fatal(err)
	}
	gate, err := interceptor.New(j, f.policy)
	if err != nil {
		tb.Fatal(err)
	}
	info := &grpc.UnaryServerInfo{FullMethod: getBook}
	handler := func(ctx context.Context, _ any) (any, error) {
		if _, ok := interceptor.FromContext(ctx); !ok {
			return nil, context.Canceled
		}
		return nil, nil
	}
	ctx := metadata.NewIncomingContext(tb.Context(), metadata.Pairs("authorization", "Bearer "+tok))
	return []impl{
		// BenchmarkAuthorize's uncached path: bearer extraction,
		// verification, rule, scopes, context.
		{"oauthgate-authorize", func() bool { _, err := gate.Unary(ctx, nil, info, handler); return err == nil }},
		{"oauthgate-verify", func() bool { _, err := j.Verify(ctx, tok); return err == nil }},
		{"golang-jwt", golangJWT(tok, alg, pub)},
		{"gojose-naive", goJOSENaive(tok, alg, pub)},
		{"sketch-header-memo", headerMemoSketch(f.keys, tok)},
		{"floor", cryptoFloor(tb, tok, pub)},
	}
}

// accessClaims are the claims the golang-jwt and naive go-jose contenders
// decode: the registered ones plus what authorization reads.
type accessClaims struct {
	jwt.RegisteredClaims
	Scope    string `json:"scope"`
	ClientID string `json:"client_id"`
}

// golangJWT is golang-jwt v5's parse-and-validate as its documentation
// shows it: one Parser with the checks a resource server needs, the key
// found by kid, the typ checked as RFC 9068 requires.
func golangJWT(tok string, alg jose.SignatureAlgorithm, pub any) func() bool {
	p := jwt.NewParser(jwt.WithValidMethods([]string{string(alg)}), jwt.WithIssuer(issuer), jwt.WithAudience(audience),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(time.Minute))
	keys := map[string]any{"k-" + string(alg): pub}
	keyFunc := func(t *jwt.Token) (any, error) {
		if t.Header["typ"] != "at+jwt" {
			return nil, errors.New("typ is not at+jwt")
		}
		kid, _ := t.Header["kid"].(string)
		if k, ok := keys[kid]; ok {
			return k, nil
		}
		return nil, errors.New("unknown kid")
	}
	return func() bool {
		var c accessClaims
		t, err := p.ParseWithClaims(tok, &c, keyFunc)
		return err == nil && t.Valid && c.Scope != ""
	}
}

// goJOSENaive is go-jose's jwt package used as its documentation shows:
// parse, verify and decode the claims, validate.
func goJOSENaive(tok string, alg jose.SignatureAlgorithm, pub any) func() bool {
	return func() bool {
		t, err := josejwt.ParseSigned(tok, []jose.SignatureAlgorithm{alg})
		if err != nil || len(t.Headers) != 1 || t.Headers[0].KeyID != "k-"+string(alg) {
			return false
		}
		var c josejwt.Claims
		var extra struct {
			Scope    string `json:"scope"`
			ClientID string `json:"client_id"`
		}
		if err := t.Claims(pub, &c, &extra); err != nil {
			return false
		}
		return c.ValidateWithLeeway(josejwt.Expected{Issuer: issuer, AnyAudience: josejwt.Audience{audience}, Time: time.Now()}, time.Minute) == nil &&
			extra.Scope != ""
	}
}

// headerMemoSketch is a sketch of the change internal/benchmarks/README.md
// proposes for verify/jwt.go, to measure its gain; it is not oauthgate's
// code. Access tokens of one issuer share their protected header segment
// byte for byte, so go-jose's parse of it (JSON into a map, then each
// value unmarshalled again) is kept per segment, and each token is checked
// with DetachedVerify over its own payload and signature: go-jose still
// verifies every signature, over a signing input built from the same
// header bytes. The claims go through oauthgate's reader
// (verify.ParseClaims) and the checks of a resource server.
func headerMemoSketch(keys verify.KeySet, tok string) func() bool {
	type parsed struct {
		segment string
		sig     jose.Signature // Signature bytes left empty
	}
	var memo *parsed // one slot: the real change would keep a bounded table
	ctx := context.Background()
	return func() bool {
		if !b64url.CanonicalCompact(tok) {
			return false
		}
		segment, rest, _ := strings.Cut(tok, ".")
		payloadSeg, sigSeg, _ := strings.Cut(rest, ".")
		if memo == nil || memo.segment != segment {
			jws, err := jose.ParseSignedCompact(tok, algs)
			if err != nil || len(jws.Signatures) != 1 {
				return false
			}
			sig := jws.Signatures[0]
			if typ, _ := sig.Protected.ExtraHeaders[jose.HeaderType].(string); typ != "at+jwt" {
				return false
			}
			sig.Signature = nil
			memo = &parsed{segment: strings.Clone(segment), sig: sig}
		}
		payload, err := base64.RawURLEncoding.DecodeString(payloadSeg)
		if err != nil {
			return false
		}
		sig := memo.sig
		if sig.Signature, err = base64.RawURLEncoding.DecodeString(sigSeg); err != nil {
			return false
		}
		ks, err := keys.Keys(ctx, sig.Protected.KeyID)
		if err != nil || len(ks) == 0 {
			return false
		}
		if (jose.JSONWebSignature{Signatures: []jose.Signature{sig}}).DetachedVerify(payload, ks[0].Key) != nil {
			return false
		}
		c, err := verify.ParseClaims(payload)
		if err != nil {
			return false
		}
		now := time.Now()
		return c.Issuer() == issuer && c.HasAudience(audience) && now.Before(c.Expiry().Add(time.Minute)) &&
			!now.Before(c.NotBefore().Add(-time.Minute)) && c.Scopes().Has("library.read")
	}
}

// cryptoFloor is the signature check alone, as in internal/benchmarks:
// SHA-256 of the signing input and the crypto/* verification, with the
// signature already decoded.
func cryptoFloor(tb testing.TB, tok string, pub any) func() bool {
	tb.Helper()
	dot := strings.LastIndexByte(tok, '.')
	input := []byte(tok[:dot])
	sig, err := base64.RawURLEncoding.DecodeString(tok[dot+1:])
	if err != nil {
		tb.Fatal(err)
	}
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		return func() bool {
			h := sha256.Sum256(input)
			return rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig) == nil
		}
	case *ecdsa.PublicKey:
		return func() bool {
			h := sha256.Sum256(input)
			r := new(big.Int).SetBytes(sig[:32])
			s := new(big.Int).SetBytes(sig[32:])
			return ecdsa.Verify(pub, h[:], r, s)
		}
	}
	tb.Fatalf("no floor for %T", pub)
	return nil
}

// BenchmarkParity runs each contender on its own (benchstat-friendly,
// with allocations) and, in mode=interleaved, all of them in alternating
// batches within one loop, reporting each one's time per call and its
// ratio to the floor and to golang-jwt, so that machine drift cancels out.
// The target of issue #18: oauthgate-authorize ≤ 1.00× golang-jwt.
func BenchmarkParity(b *testing.B) {
	f := loadFixture(b)
	for _, alg := range algs {
		cs := impls(b, f, alg)
		for _, c := range cs {
			b.Run("alg="+string(alg)+"/impl="+c.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if !c.fn() {
						b.Fatal("token does not verify")
					}
				}
			})
		}
		b.Run("alg="+string(alg)+"/mode=interleaved", func(b *testing.B) {
			const batch = 8
			d := make([]time.Duration, len(cs))
			for i := 0; b.Loop(); i++ {
				for k := range cs {
					which := (i + k) % len(cs)
					start := time.Now()
					for range batch {
						if !cs[which].fn() {
							b.Fatal("token does not verify")
						}
					}
					d[which] += time.Since(start)
				}
			}
			calls := float64(b.N) * batch
			by := map[string]time.Duration{}
			for k, c := range cs {
				by[c.name] = d[k]
				b.ReportMetric(float64(d[k].Nanoseconds())/calls, c.name+"-ns/call")
			}
			for _, c := range cs {
				if c.name != "floor" {
					b.ReportMetric(float64(by[c.name])/float64(by["floor"]), c.name+"/floor")
				}
			}
			b.ReportMetric(float64(by["oauthgate-authorize"])/float64(by["golang-jwt"]), "authorize/golang-jwt")
		})
	}
}

// TestContenders checks that every contender accepts the fixture token and
// rejects it with one flipped signature bit, so that none skips a check
// the others make.
func TestContenders(t *testing.T) {
	f := loadFixture(t)
	for _, alg := range algs {
		for _, c := range impls(t, f, alg) {
			if !c.fn() {
				t.Errorf("%s %s: rejects the fixture token", alg, c.name)
			}
		}
		good := f.tokens[alg]
		dot := strings.LastIndexByte(good, '.')
		sig, err := base64.RawURLEncoding.DecodeString(good[dot+1:])
		if err != nil {
			t.Fatal(err)
		}
		sig[len(sig)/2] ^= 1
		f2 := *f
		f2.tokens = map[jose.SignatureAlgorithm]string{alg: good[:dot+1] + base64.RawURLEncoding.EncodeToString(sig)}
		for _, c := range impls(t, &f2, alg) {
			if c.fn() {
				t.Errorf("%s %s: accepts a token with a corrupted signature", alg, c.name)
			}
		}
	}
}
