package interceptor_test

import (
	"context"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/oauthgate/oauthgate/interceptor"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/verify"
)

// Bounds of TestLoad: whichever ends first.
const (
	loadWorkers   = 16
	loadPerWorker = 150
	loadDuration  = 2 * time.Second
)

// TestLoad sends many concurrent unary and streaming RPCs over 127.0.0.1
// with a mix of valid and invalid tokens through the real stack (JWT over
// a RemoteKeySet at an oauthtest issuer): every answer has the code and
// reason its token calls for, only valid calls reach the handler, and once
// everything is closed no goroutine is left behind. It is not parallel, so
// that the goroutine count is its own.
func TestLoad(t *testing.T) {
	baseline := runtime.NumGoroutine()

	iss, err := oauthtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := verify.NewRemoteKeySet(verify.RemoteKeySetConfig{URL: iss.JWKSURL(), InsecureAllowHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: iss.URL, Audiences: []string{oauthtest.DefaultAudience}})
	if err != nil {
		t.Fatal(err)
	}
	gate, err := interceptor.New(jwt, newPolicy(t))
	if err != nil {
		t.Fatal(err)
	}
	var reached atomic.Int64
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(gate.Unary, func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			reached.Add(1)
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(gate.Stream, func(s any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			reached.Add(1)
			return h(s, ss)
		}),
	)
	testpb.RegisterLibraryServiceServer(srv, &library{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(lis)
	}()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}

	// Token classes; want is indexed like rpcKinds (Unary, ServerStream,
	// ClientStream, BidiStream). ClientStream needs write and admin.
	ok, denied := allowed, insufficient
	type class struct {
		name  string
		token string
		want  [4]attackOutcome
	}
	all := func(o attackOutcome) [4]attackOutcome { return [4]attackOutcome{o, o, o, o} }
	withScopes := oauthtest.WithScopes(allScopes...)
	classes := []class{
		{"Valid", iss.Token(t, withScopes), all(ok)},
		{"ValidRS256", iss.Token(t, withScopes, oauthtest.WithAlgorithm(jose.RS256)), all(ok)},
		{"ReadOnly", iss.Token(t, oauthtest.WithScopes("library.read")), [4]attackOutcome{ok, ok, denied, ok}},
		{"NoScope", iss.Token(t), all(denied)},
		{"Expired", iss.Token(t, withScopes, oauthtest.WithLifetime(-time.Hour)), all(rejected(descExpired))},
		{"OtherAudience", iss.Token(t, withScopes, oauthtest.WithAudience("https://other.example.com")), all(rejected(descAudience))},
		{"UnknownKid", iss.Token(t, withScopes, oauthtest.WithKeyID("made-up")), all(rejected(descUnknownKey))},
		{"Forged", forge(iss.Token(t, withScopes)), all(rejected(descSignature))},
		{"Garbage", "not-a-jwt", all(rejected(descMalformed))},
		{"None", "", all(attackOutcome{code: codes.Unauthenticated, reason: interceptor.ReasonMissingToken, desc: "an access token is required"})},
	}

	client := testpb.NewLibraryServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	deadline := time.Now().Add(loadDuration)
	var (
		wg       sync.WaitGroup
		calls    atomic.Int64
		passed   atomic.Int64
		failures atomic.Int64
	)
	for w := range loadWorkers {
		wg.Go(func() {
			for i := 0; i < loadPerWorker && time.Now().Before(deadline); i++ {
				c := classes[(w+i)%len(classes)]
				k := (w*7 + i) % len(rpcKinds)
				r := rpcKinds[k].call(withToken(ctx, c.token), client)
				calls.Add(1)
				if r.err == nil {
					passed.Add(1)
				}
				if err := is(c.want[k])(r); err != nil {
					// At most a few reports: one bug fails every call.
					if failures.Add(1) <= 5 {
						t.Errorf("%s/%s: %v", c.name, rpcKinds[k].name, err)
					}
				}
			}
		})
	}
	wg.Wait()
	cancel()
	t.Logf("%d calls in %d workers, %d passed", calls.Load(), loadWorkers, passed.Load())
	if calls.Load() < int64(len(classes)*len(rpcKinds)) {
		t.Errorf("only %d calls completed; every class and kind should have run", calls.Load())
	}
	if reached.Load() != passed.Load() {
		t.Errorf("handler reached %d times, want %d (once per OK answer)", reached.Load(), passed.Load())
	}

	// Tear everything down, then wait for the goroutines to go.
	_ = conn.Close()
	srv.Stop()
	<-served
	_ = keys.Close()
	iss.Close()
	checkNoGoroutineLeak(t, baseline)
}

// forge replaces the last characters of the token's signature.
func forge(tok string) string {
	i := strings.LastIndexByte(tok, '.')
	sig := []byte(tok[i+1:])
	for j := len(sig) - 6; j < len(sig)-1; j++ {
		sig[j] = 'A' + (sig[j]+1)%26
	}
	return tok[:i+1] + string(sig)
}

// checkNoGoroutineLeak waits up to 5s for the goroutine count to fall back
// to baseline, then fails listing the goroutines in grpc, net/http or
// oauthgate code.
func checkNoGoroutineLeak(t *testing.T, baseline int) {
	t.Helper()
	var n int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if n = runtime.NumGoroutine(); n <= baseline {
			return
		}
	}
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var leaked []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "google.golang.org/grpc") || strings.Contains(g, "oauthgate/oauthgate") || strings.Contains(g, "net/http") {
			if !strings.Contains(g, "checkNoGoroutineLeak") {
				leaked = append(leaked, g)
			}
		}
	}
	t.Errorf("%d goroutines left, want at most %d as before the test; suspects:\n%s", n, baseline, strings.Join(leaked, "\n\n"))
}
