package benchmarks

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/test/bufconn"

	"github.com/oauthgate/oauthgate/interceptor"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/scopeset"
	"github.com/oauthgate/oauthgate/verify"
)

const (
	issuer   = "https://auth.example.com/"
	audience = "https://library.example.com"
	getBook  = "/oauthgatetest.v1.LibraryService/GetBook"
	// clients is the number of concurrent callers in mode=parallel.
	clients = 16
)

// algs are the algorithms the targets of issue #8 are stated for.
var algs = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA}

// fixture is the keys and one realistic access token (RFC 9068, ten
// claims) per algorithm. Key generation is slow, so it is built once.
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
	_, dk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	f := &fixture{
		priv:   map[jose.SignatureAlgorithm]crypto.Signer{jose.RS256: rk, jose.ES256: ek, jose.EdDSA: dk},
		tokens: map[jose.SignatureAlgorithm]string{},
	}
	var jwks []jose.JSONWebKey
	now := time.Now()
	for _, alg := range algs {
		kid := "k-" + string(alg)
		jwks = append(jwks, jose.JSONWebKey{Key: f.priv[alg].Public(), KeyID: kid, Use: "sig"})
		if f.tokens[alg], err = signToken(alg, f.priv[alg], fixtureClaims(now)); err != nil {
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

// fixtureClaims is the claim set of every fixture token.
func fixtureClaims(now time.Time) map[string]any {
	return map[string]any{
		"iss": issuer, "sub": "user-42", "aud": audience,
		"exp": now.Add(24 * time.Hour).Unix(), "iat": now.Unix(), "nbf": now.Unix(),
		"jti": "b6a8f3c2-7d1e-4c55-9a0b-3f2e1d4c5b6a", "client_id": "library-web",
		"scope": "library.read library.write", "tenant": "acme",
	}
}

// signToken signs claims as an RFC 9068 access token with the fixture key
// of alg.
func signToken(alg jose.SignatureAlgorithm, key crypto.Signer, claims map[string]any) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "k-"+string(alg)))
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

func loadFixture(tb testing.TB) *fixture {
	tb.Helper()
	f, err := getFixture()
	if err != nil {
		tb.Fatalf("fixture: %v", err)
	}
	return f
}

// newJWT returns oauthgate's JWT verifier for the fixture, cache on or off.
func newJWT(tb testing.TB, f *fixture, cached bool) *verify.JWT {
	tb.Helper()
	j, err := verify.NewJWT(f.keys, verify.JWTConfig{Issuer: issuer, Audiences: []string{audience}, DisableCache: !cached})
	if err != nil {
		tb.Fatal(err)
	}
	return j
}

func newGate(tb testing.TB, f *fixture, cached bool) *interceptor.Interceptor {
	tb.Helper()
	gate, err := interceptor.New(newJWT(tb, f, cached), f.policy)
	if err != nil {
		tb.Fatal(err)
	}
	return gate
}

type library struct {
	testpb.UnimplementedLibraryServiceServer
}

func (library) GetBook(_ context.Context, req *testpb.GetBookRequest) (*testpb.GetBookResponse, error) {
	return &testpb.GetBookResponse{Name: req.GetName()}, nil
}

// serve starts the library behind gate (none if nil) on transport
// ("bufconn" or "tcp", 127.0.0.1) and returns a client; it stops with tb.
func serve(tb testing.TB, transport string, gate *interceptor.Interceptor) testpb.LibraryServiceClient {
	tb.Helper()
	var opts []grpc.ServerOption
	if gate != nil {
		opts = append(opts, grpc.ChainUnaryInterceptor(gate.Unary))
	}
	srv := grpc.NewServer(opts...)
	testpb.RegisterLibraryServiceServer(srv, library{})
	dial := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	var lis net.Listener
	target := "passthrough:///bufnet"
	if transport == "tcp" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		lis, target = l, l.Addr().String()
	} else {
		bl := bufconn.Listen(1 << 20)
		lis = bl
		dial = append(dial, grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return bl.DialContext(ctx)
		}))
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	conn, err := grpc.NewClient(target, dial...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = conn.Close()
		srv.Stop()
		<-done
	})
	return testpb.NewLibraryServiceClient(conn)
}

// authConfigs are the auth= dimension of BenchmarkUnary. "none" still
// sends the token, so that every configuration moves the same bytes.
type authConfig struct {
	name   string
	alg    jose.SignatureAlgorithm
	gate   bool
	cached bool
}

func authConfigs() []authConfig {
	cs := []authConfig{{name: "none", alg: jose.RS256}}
	for _, alg := range algs {
		cs = append(cs,
			authConfig{name: string(alg) + "-uncached", alg: alg, gate: true},
			authConfig{name: string(alg) + "-cached", alg: alg, gate: true, cached: true})
	}
	return cs
}

func BenchmarkUnary(b *testing.B) {
	f := loadFixture(b)
	for _, transport := range []string{"bufconn", "tcp"} {
		for _, ac := range authConfigs() {
			var gate *interceptor.Interceptor
			if ac.gate {
				gate = newGate(b, f, ac.cached)
			}
			client := serve(b, transport, gate)
			ctx := metadata.AppendToOutgoingContext(b.Context(), "authorization", "Bearer "+f.tokens[ac.alg])
			req := &testpb.GetBookRequest{Name: "dune"}
			name := "transport=" + transport + "/auth=" + ac.name
			b.Run(name+"/mode=serial", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := client.GetBook(ctx, req); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(name+"/mode=parallel", func(b *testing.B) {
				b.ReportAllocs()
				// RunParallel starts parallelism×GOMAXPROCS goroutines.
				procs := runtime.GOMAXPROCS(0)
				b.SetParallelism((clients + procs - 1) / procs)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := client.GetBook(ctx, req); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

// BenchmarkThroughputRatio measures the cached target directly: every
// client goroutine alternates calls between a server without auth and one
// through oauthgate with a warm verified-token cache, both on 127.0.0.1,
// so that machine drift hits both alike. It reports throughput-ratio, the
// no-auth time per call divided by the protected one (target ≥ 0.97).
func BenchmarkThroughputRatio(b *testing.B) {
	f := loadFixture(b)
	none := serve(b, "tcp", nil)
	for _, alg := range algs {
		gated := serve(b, "tcp", newGate(b, f, true))
		ctx := metadata.AppendToOutgoingContext(b.Context(), "authorization", "Bearer "+f.tokens[alg])
		b.Run("transport=tcp/auth="+string(alg)+"-cached/mode=parallel", func(b *testing.B) {
			throughputRatio(b, ctx, none, gated)
		})
	}
}

// BenchmarkThroughputRatioMTLS is BenchmarkThroughputRatio over mutual TLS,
// with an ES256 token bound to the client's certificate (RFC 8705): every
// protected call also holds the cached token to its binding, the
// certificate's thumbprint against cnf (target ≥ 0.97).
func BenchmarkThroughputRatioMTLS(b *testing.B) {
	f := loadFixture(b)
	certs := oauthtest.NewCertificates(b)
	claims := fixtureClaims(time.Now())
	claims["cnf"] = map[string]string{"x5t#S256": verify.CertificateThumbprint(certs.Client.Leaf)}
	tok, err := signToken(jose.ES256, f.priv[jose.ES256], claims)
	if err != nil {
		b.Fatal(err)
	}
	register := func(s *grpc.Server) { testpb.RegisterLibraryServiceServer(s, library{}) }
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(certs.ServerTLSConfig())))
	register(srv)
	none := testpb.NewLibraryServiceClient(oauthtest.ServeGRPCTCP(b, srv, certs.DialOption(&certs.Client)))
	srv2 := grpc.NewServer(grpc.Creds(credentials.NewTLS(certs.ServerTLSConfig())), grpc.ChainUnaryInterceptor(newGate(b, f, true).Unary))
	register(srv2)
	gated := testpb.NewLibraryServiceClient(oauthtest.ServeGRPCTCP(b, srv2, certs.DialOption(&certs.Client)))
	ctx := metadata.AppendToOutgoingContext(b.Context(), "authorization", "Bearer "+tok)
	b.Run("transport=mtls/auth=ES256-bound-cached/mode=parallel", func(b *testing.B) {
		throughputRatio(b, ctx, none, gated)
	})
}

// throughputRatio alternates the calls of clients goroutines between none
// and gated, after one call to warm gated's cache, and reports
// throughput-ratio.
func throughputRatio(b *testing.B, ctx context.Context, none, gated testpb.LibraryServiceClient) {
	req := &testpb.GetBookRequest{Name: "dune"}
	call := func(c testpb.LibraryServiceClient) func() error {
		return func() error { _, err := c.GetBook(ctx, req); return err }
	}
	alternate(b, call(none), call(gated))
}

// alternate warms gated with one call, then alternates the calls of
// clients goroutines between none and gated and reports throughput-ratio,
// the time per call of none divided by gated's, so that the drift of a
// shared machine hits both alike.
func alternate(b *testing.B, none, gated func() error) {
	b.Helper()
	if err := gated(); err != nil { // warm the cache
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var tNone, tGated atomic.Int64
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((clients + procs - 1) / procs)
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			call, total := none, &tNone
			if i%2 == 1 {
				call, total = gated, &tGated
			}
			start := time.Now()
			if err := call(); err != nil {
				b.Error(err)
				return
			}
			total.Add(int64(time.Since(start)))
		}
	})
	if tGated.Load() > 0 {
		b.ReportMetric(float64(tNone.Load())/float64(tGated.Load()), "throughput-ratio")
	}
}

// BenchmarkAuthorize is the interceptor's whole per-call work for a
// protected method, without a transport: bearer extraction from incoming
// metadata, verification, rule lookup, scope check and the context for the
// handler. The targets compare it with the floor in BenchmarkVerify.
func BenchmarkAuthorize(b *testing.B) {
	f := loadFixture(b)
	info := &grpc.UnaryServerInfo{FullMethod: getBook}
	handler := func(ctx context.Context, _ any) (any, error) {
		if _, ok := interceptor.FromContext(ctx); !ok {
			return nil, context.Canceled
		}
		return nil, nil
	}
	for _, alg := range algs {
		for _, cached := range []bool{false, true} {
			gate := newGate(b, f, cached)
			ctx := metadata.NewIncomingContext(b.Context(), metadata.Pairs("authorization", "Bearer "+f.tokens[alg]))
			b.Run("alg="+string(alg)+"/cache="+onOff(cached), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := gate.Unary(ctx, nil, info, handler); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

// BenchmarkVerify compares, for the same token: oauthgate's verifier
// uncached and cached; go-jose alone (impl=gojose: the compact JWS parse
// and signature check oauthgate builds on; impl=gojose-jwt: its jwt
// package with claims decoding and validation); and the crypto floor.
func BenchmarkVerify(b *testing.B) {
	f := loadFixture(b)
	ctx := b.Context()
	for _, alg := range algs {
		tok := f.tokens[alg]
		pub := f.priv[alg].Public()
		uncached, cached := newJWT(b, f, false), newJWT(b, f, true)
		impls := []struct {
			name string
			fn   func() bool
		}{
			{"oauthgate", func() bool { _, err := uncached.Verify(ctx, tok); return err == nil }},
			{"oauthgate-cached", func() bool { _, err := cached.Verify(ctx, tok); return err == nil }},
			{"gojose", goJOSE(tok, pub)},
			{"gojose-jwt", goJOSEJWT(tok, pub)},
			{"floor", cryptoFloor(b, tok, pub)},
		}
		for _, impl := range impls {
			b.Run("alg="+string(alg)+"/impl="+impl.name, func(b *testing.B) {
				if !impl.fn() {
					b.Fatal("token does not verify")
				}
				b.ReportAllocs()
				for b.Loop() {
					if !impl.fn() {
						b.Fatal("token does not verify")
					}
				}
			})
		}
	}
}

var joseAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA}

func goJOSE(tok string, pub any) func() bool {
	return func() bool {
		jws, err := jose.ParseSignedCompact(tok, joseAlgs)
		if err != nil {
			return false
		}
		_, err = jws.Verify(pub)
		return err == nil
	}
}

func goJOSEJWT(tok string, pub any) func() bool {
	return func() bool {
		t, err := josejwt.ParseSigned(tok, joseAlgs)
		if err != nil {
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
		return c.Validate(josejwt.Expected{Issuer: issuer, AnyAudience: josejwt.Audience{audience}, Time: time.Now()}) == nil
	}
}

// cryptoFloor is the signature check alone: SHA-256 of the signing input
// (none for Ed25519, which hashes internally) and crypto/* verification,
// with the signature already base64-decoded.
func cryptoFloor(tb testing.TB, tok string, pub any) func() bool {
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
	case ed25519.PublicKey:
		return func() bool { return ed25519.Verify(pub, input, sig) }
	}
	tb.Fatalf("no floor for %T", pub)
	return nil
}

// BenchmarkPolicyLookup is the rule lookup and scope check of one call.
func BenchmarkPolicyLookup(b *testing.B) {
	f := loadFixture(b)
	granted, err := scopeset.Parse("library.read library.write")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		rule, ok := f.policy.Rule(getBook)
		if !ok || !rule.Allows(granted) {
			b.Fatal("GetBook not allowed")
		}
	}
}

// BenchmarkCacheHit is a verified-token cache hit: JWT.Verify of a token
// verified before.
func BenchmarkCacheHit(b *testing.B) {
	f := loadFixture(b)
	ctx := b.Context()
	for _, alg := range algs {
		j := newJWT(b, f, true)
		tok := f.tokens[alg]
		if _, err := j.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
		b.Run("alg="+string(alg)+"/mode=serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := j.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("alg="+string(alg)+"/mode=parallel", func(b *testing.B) {
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

// BenchmarkCacheHitBinding is BenchmarkAuthorize with the cache on, for an
// ES256 bearer token and one bound to the client certificate (RFC 8705) of
// the call's mutual-TLS connection: the difference is the binding check on
// a cached token, mostly the SHA-256 of the certificate's DER, reported
// directly by mode=interleaved as binding-ns. Its target is end to end:
// BenchmarkThroughputRatioMTLS.
func BenchmarkCacheHitBinding(b *testing.B) {
	f := loadFixture(b)
	certs := oauthtest.NewCertificates(b)
	// Both tokens have the same length, so that only the binding check
	// differs: the bearer token carries the same object under a claim
	// nobody reads.
	tokens := map[string]string{}
	for name, claim := range map[string]string{"bearer": "cnx", "bound": "cnf"} {
		claims := fixtureClaims(time.Now())
		claims[claim] = map[string]string{"x5t#S256": verify.CertificateThumbprint(certs.Client.Leaf)}
		tok, err := signToken(jose.ES256, f.priv[jose.ES256], claims)
		if err != nil {
			b.Fatal(err)
		}
		tokens[name] = tok
	}
	if len(tokens["bearer"]) != len(tokens["bound"]) {
		b.Fatalf("token lengths %d and %d differ", len(tokens["bearer"]), len(tokens["bound"]))
	}
	info := &grpc.UnaryServerInfo{FullMethod: getBook}
	handler := func(ctx context.Context, _ any) (any, error) {
		if _, ok := interceptor.FromContext(ctx); !ok {
			return nil, context.Canceled
		}
		return nil, nil
	}
	gate := newGate(b, f, true)
	tlsPeer := &peer.Peer{
		Addr:     &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50051},
		AuthInfo: credentials.TLSInfo{State: tls.ConnectionState{PeerCertificates: []*x509.Certificate{certs.Client.Leaf}}},
	}
	ctxs := map[string]context.Context{}
	for _, name := range []string{"bearer", "bound"} {
		md := metadata.Pairs("authorization", "Bearer "+tokens[name])
		ctx := metadata.NewIncomingContext(peer.NewContext(b.Context(), tlsPeer), md)
		ctxs[name] = ctx
		if name == "bound" {
			// The binding is really checked: without the certificate the
			// cached token is refused.
			if _, err := gate.Unary(metadata.NewIncomingContext(b.Context(), md), nil, info, handler); err == nil {
				b.Fatal("bound token accepted without a client certificate")
			}
		}
		b.Run("token="+name+"/mode=serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := gate.Unary(ctx, nil, info, handler); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("token="+name+"/mode=parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := gate.Unary(ctx, nil, info, handler); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
	// Separate sub-benchmarks drift apart on a shared machine by more than
	// the difference sought: interleave batches of both tokens in one loop
	// (the order alternating) and report the time per call of each and
	// binding-ns, their difference.
	b.Run("token=both/mode=interleaved", func(b *testing.B) {
		const batch = 32
		var d [2]time.Duration
		names := [2]string{"bearer", "bound"}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			for k := range 2 {
				which := (i + k) % 2
				ctx := ctxs[names[which]]
				start := time.Now()
				for range batch {
					if _, err := gate.Unary(ctx, nil, info, handler); err != nil {
						b.Fatal(err)
					}
				}
				d[which] += time.Since(start)
			}
		}
		calls := float64(b.N) * batch
		b.ReportMetric(float64(d[0].Nanoseconds())/calls, "bearer-ns/call")
		b.ReportMetric(float64(d[1].Nanoseconds())/calls, "bound-ns/call")
		b.ReportMetric(float64((d[1]-d[0]).Nanoseconds())/calls, "binding-ns")
	})
}

// TestSuite runs one call of every BenchmarkUnary configuration, so that
// a plain go test proves the suite works, and checks that the uncached
// configurations really verify on every call.
func TestSuite(t *testing.T) {
	f := loadFixture(t)
	for _, ac := range authConfigs() {
		var gate *interceptor.Interceptor
		if ac.gate {
			gate = newGate(t, f, ac.cached)
		}
		client := serve(t, "tcp", gate)
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		t.Cleanup(cancel)
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+f.tokens[ac.alg])
		if resp, err := client.GetBook(ctx, &testpb.GetBookRequest{Name: "dune"}); err != nil || resp.GetName() != "dune" {
			t.Errorf("auth=%s: GetBook() = %v, %v; want dune", ac.name, resp, err)
		}
	}
	for _, alg := range algs {
		for _, cached := range []bool{false, true} {
			j := newJWT(t, f, cached)
			c1, err1 := j.Verify(t.Context(), f.tokens[alg])
			c2, err2 := j.Verify(t.Context(), f.tokens[alg])
			if err1 != nil || err2 != nil {
				t.Fatalf("%s: Verify() errors %v, %v", alg, err1, err2)
			}
			// Fresh claims on every call mean a fresh verification.
			if same := c1 == c2; same != cached {
				t.Errorf("%s cache=%s: two calls share claims = %v, want %v", alg, onOff(cached), same, cached)
			}
		}
	}
}

// TestAllocs pins the allocation targets of issue #8: a cache hit
// allocates nothing, and the interceptor's work on a hit stays within
// what grpc's metadata accessor and the handler's context cost.
func TestAllocs(t *testing.T) {
	f := loadFixture(t)
	info := &grpc.UnaryServerInfo{FullMethod: getBook}
	handler := func(context.Context, any) (any, error) { return nil, nil }
	for _, alg := range algs {
		j := newJWT(t, f, true)
		tok := f.tokens[alg]
		if _, err := j.Verify(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
		if got := testing.AllocsPerRun(100, func() { _, _ = j.Verify(t.Context(), tok) }); got != 0 {
			t.Errorf("%s: cache hit allocations = %v, want 0", alg, got)
		}
		gate := newGate(t, f, true)
		ctx := metadata.NewIncomingContext(t.Context(), metadata.Pairs("authorization", "Bearer "+tok))
		// metadata.ValueFromIncomingContext copies the value slice, and the
		// handler's context carries the claims: two allocations.
		if got := testing.AllocsPerRun(100, func() { _, _ = gate.Unary(ctx, nil, info, handler) }); got > 2 {
			t.Errorf("%s: cached authorization allocations = %v, want at most 2", alg, got)
		}
	}
}
