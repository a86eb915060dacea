package interceptor_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-jose/go-jose/v4"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/oauthgate/oauthgate/interceptor"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/verify"
)

// loadWorkers workers send loadPerWorker calls each in TestLoad.
const (
	loadWorkers   = 16
	loadPerWorker = 150
)

// TestLoad sends many concurrent unary and streaming RPCs with a mix of
// valid and invalid tokens through the real stack (JWT over a
// RemoteKeySet at an oauthtest issuer): every answer has the code and
// reason its token calls for, and only valid calls reach the handler. It
// runs in a testing/synctest bubble, with the issuer in memory and gRPC on
// bufconn, so that the bubble proves no goroutine is left behind once
// everything is closed, without polling; goroutines still run in parallel.
// The amount of work is fixed, not bounded by a wall-clock deadline.
func TestLoad(t *testing.T) {
	synctest.Test(t, testLoad)
}

func testLoad(t *testing.T) {
	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{InMemory: true})
	keys, err := verify.NewRemoteKeySet(verify.RemoteKeySetConfig{URL: iss.EndpointURL(oauthtest.EndpointJWKS), HTTPClient: iss.Client()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = keys.Close() })
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: iss.URL, Audiences: []string{oauthtest.DefaultAudience}})
	if err != nil {
		t.Fatal(err)
	}
	gate, err := interceptor.New(jwt, newPolicy(t))
	if err != nil {
		t.Fatal(err)
	}
	var reached atomic.Int64
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(gate.Unary, func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		reached.Add(1)
		return h(ctx, req)
	}), grpc.ChainStreamInterceptor(gate.Stream, func(s any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		reached.Add(1)
		return h(s, ss)
	}))
	testpb.RegisterLibraryServiceServer(srv, &library{})
	conn := oauthtest.ServeGRPC(t, srv)

	// Token classes; want is indexed like rpcKinds (Unary, ServerStream,
	// ClientStream, BidiStream). ClientStream needs write and admin.
	ok, denied := allowed, insufficient
	type class struct {
		name  string
		token string
		want  [4]attackOutcome
	}
	all := func(o attackOutcome) [4]attackOutcome { return [4]attackOutcome{o, o, o, o} }
	withScopes := oauthtest.Token{Scopes: allScopes}
	classes := []class{
		{"Valid", iss.Token(t, withScopes), all(ok)},
		{"ValidRS256", iss.Token(t, withScopes, oauthtest.Token{Algorithm: jose.RS256}), all(ok)},
		{"ReadOnly", iss.Token(t, oauthtest.Token{Scopes: []string{"library.read"}}), [4]attackOutcome{ok, ok, denied, ok}},
		{"NoScope", iss.Token(t), all(denied)},
		{"Expired", iss.Token(t, withScopes, oauthtest.Token{Lifetime: -time.Hour}), all(rejected(descExpired))},
		{"OtherAudience", iss.Token(t, withScopes, oauthtest.Token{Audience: []string{"https://other.example.com"}}), all(rejected(descAudience))},
		{"UnknownKid", iss.Token(t, withScopes, oauthtest.Token{KeyID: "made-up"}), all(rejected(descUnknownKey))},
		{"Forged", forge(iss.Token(t, withScopes)), all(rejected(descSignature))},
		{"Garbage", "not-a-jwt", all(rejected(descMalformed))},
		{"None", "", all(attackOutcome{code: codes.Unauthenticated, reason: interceptor.ReasonMissingToken, desc: "an access token is required"})},
	}

	client := testpb.NewLibraryServiceClient(conn)
	ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
	defer cancel()
	var (
		wg       sync.WaitGroup
		calls    atomic.Int64
		passed   atomic.Int64
		failures atomic.Int64
	)
	for w := range loadWorkers {
		wg.Go(func() {
			for i := range loadPerWorker {
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
	t.Logf("%d calls in %d workers, %d passed", calls.Load(), loadWorkers, passed.Load())
	if calls.Load() != loadWorkers*loadPerWorker {
		t.Errorf("%d calls completed, want %d", calls.Load(), loadWorkers*loadPerWorker)
	}
	if reached.Load() != passed.Load() {
		t.Errorf("handler reached %d times, want %d (once per OK answer)", reached.Load(), passed.Load())
	}

	// The connection, the server, the key set and the issuer close when
	// the test ends; synctest.Test then fails if a goroutine is left.
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
