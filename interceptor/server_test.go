package interceptor_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"

	"github.com/oauthgate/oauthgate/interceptor"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/scopeset"
	"github.com/oauthgate/oauthgate/verify"
)

const defaultTestTimeout = 10 * time.Second

// fakeVerifier maps tokens to claims or errors. Tokens it does not know are
// invalid. It stands in for the JWT and introspection verifiers, which have
// their own tests; here only the interceptor is under test.
type fakeVerifier struct {
	mu     sync.Mutex
	tokens map[string]func() (*verify.Claims, error)
	calls  int
}

func (f *fakeVerifier) Verify(_ context.Context, token string) (*verify.Claims, error) {
	f.mu.Lock()
	f.calls++
	fn, ok := f.tokens[token]
	f.mu.Unlock()
	if !ok {
		return nil, &verify.TokenError{Reason: verify.ErrSignature}
	}
	return fn()
}

func (f *fakeVerifier) add(token string, fn func() (*verify.Claims, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens[token] = fn
}

func claimsFor(t testing.TB, sub, scope string, exp time.Time, aud ...string) func() (*verify.Claims, error) {
	t.Helper()
	set, err := scopeset.Parse(scope)
	if err != nil {
		t.Fatal(err)
	}
	if len(aud) == 0 {
		aud = []string{"https://library.example.com"}
	}
	raw, err := json.Marshal(map[string]any{"sub": sub, "scope": set.String(), "exp": float64(exp.UnixMilli()) / 1e3, "aud": aud})
	if err != nil {
		t.Fatal(err)
	}
	c, err := verify.ParseClaims(raw)
	if err != nil {
		t.Fatal(err)
	}
	return func() (*verify.Claims, error) { return c, nil }
}

// Tokens known to newFakeVerifier.
const (
	tokAll         = "all.scopes"
	tokReadOnly    = "read.only"
	tokNone        = "no.scopes"
	tokExpired     = "expired.token"
	tokUnavailable = "unavailable.token"
	tokAuditor     = "auditor"
	tokAuditorAud  = "auditor.aud"
	tokOwnerBob    = "bob"
)

func newFakeVerifier(t testing.TB) *fakeVerifier {
	t.Helper()
	f := &fakeVerifier{tokens: map[string]func() (*verify.Claims, error){}}
	exp := time.Now().Add(time.Hour)
	f.add(tokAll, claimsFor(t, "alice", "library.read library.write library.admin", exp))
	f.add(tokReadOnly, claimsFor(t, "alice", "library.read", exp))
	f.add(tokNone, claimsFor(t, "alice", "openid profile", exp))
	f.add(tokOwnerBob, claimsFor(t, "bob", "library.read library.write library.admin", exp))
	f.add(tokAuditor, claimsFor(t, "carol", "library.audit library.read", exp))
	f.add(tokAuditorAud, claimsFor(t, "carol", "library.audit library.read", exp, "https://library.example.com", "https://audit.example.com"))
	f.add(tokExpired, func() (*verify.Claims, error) {
		return nil, &verify.TokenError{Reason: verify.ErrExpired, Claim: "exp"}
	})
	f.add(tokUnavailable, func() (*verify.Claims, error) {
		return nil, &verify.UnavailableError{Op: "fetch JWKS", Err: errors.New("connection refused")}
	})
	return f
}

// library implements the test service. Each handler reports the caller's
// subject, so tests can see the claims reached it.
type library struct {
	testpb.UnimplementedLibraryServiceServer
	// streamEnded receives the cause of ListBooks' context ending.
	streamEnded chan error
}

func subject(ctx context.Context) string {
	if c, ok := interceptor.FromContext(ctx); ok {
		return c.Subject()
	}
	return "anonymous"
}

func (l *library) GetBook(ctx context.Context, req *testpb.GetBookRequest) (*testpb.GetBookResponse, error) {
	return &testpb.GetBookResponse{Name: subject(ctx) + ":" + req.GetName()}, nil
}

func (l *library) Ping(ctx context.Context, _ *testpb.PingRequest) (*testpb.PingResponse, error) {
	if _, ok := interceptor.FromContext(ctx); ok {
		return nil, errors.New("public method received claims")
	}
	return &testpb.PingResponse{}, nil
}

func (l *library) Audit(ctx context.Context, _ *testpb.AuditRequest) (*testpb.AuditResponse, error) {
	return &testpb.AuditResponse{}, nil
}

func (l *library) ListBooks(req *testpb.ListBooksRequest, ss grpc.ServerStreamingServer[testpb.ListBooksResponse]) error {
	ctx := ss.Context()
	for i := int32(0); i < req.GetCount(); i++ {
		if err := ss.Send(&testpb.ListBooksResponse{Name: subject(ctx)}); err != nil {
			if l.streamEnded != nil {
				l.streamEnded <- context.Cause(ctx)
			}
			return err
		}
		if d := time.Duration(req.GetIntervalMs()) * time.Millisecond; d > 0 {
			time.Sleep(d)
		}
	}
	return nil
}

func (l *library) AddBooks(ss grpc.ClientStreamingServer[testpb.AddBooksRequest, testpb.AddBooksResponse]) error {
	var n int32
	for {
		_, err := ss.Recv()
		if errors.Is(err, io.EOF) {
			return ss.SendAndClose(&testpb.AddBooksResponse{Count: n})
		}
		if err != nil {
			return err
		}
		n++
	}
}

func (l *library) Chat(ss grpc.BidiStreamingServer[testpb.ChatRequest, testpb.ChatResponse]) error {
	for {
		m, err := ss.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := ss.Send(&testpb.ChatResponse{Text: subject(ss.Context()) + ":" + m.GetText()}); err != nil {
			return err
		}
	}
}

type shelf struct {
	testpb.UnimplementedShelfServiceServer
}

// newPolicy returns the policy of library.proto.
func newPolicy(t testing.TB) *scopes.Policy {
	t.Helper()
	p, err := scopes.NewPolicy(scopes.FromFiles(testpb.File_oauthgatetest_v1_library_proto))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type serverConfig struct {
	gate     *interceptor.Interceptor
	lib      *library
	tcp      bool // 127.0.0.1 instead of bufconn
	unary    []grpc.UnaryServerInterceptor
	streamIC []grpc.StreamServerInterceptor
}

// startServer serves the library and shelf services through the gate and
// returns a client connection; everything stops at the end of the test.
func startServer(t testing.TB, cfg serverConfig) *grpc.ClientConn {
	t.Helper()
	lib := cfg.lib
	if lib == nil {
		lib = &library{}
	}
	return startServerWith(t, cfg, lib)
}

// startServerWith is startServer with any implementation of the library.
func startServerWith(t testing.TB, cfg serverConfig, lib testpb.LibraryServiceServer) *grpc.ClientConn {
	t.Helper()
	unary := cfg.unary
	stream := cfg.streamIC
	if unary == nil && cfg.gate != nil {
		unary = []grpc.UnaryServerInterceptor{cfg.gate.Unary}
		stream = []grpc.StreamServerInterceptor{cfg.gate.Stream}
	}
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(unary...), grpc.ChainStreamInterceptor(stream...))
	testpb.RegisterLibraryServiceServer(srv, lib)
	testpb.RegisterShelfServiceServer(srv, shelf{})

	var lis net.Listener
	dialOpts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	target := "passthrough:///bufnet"
	if cfg.tcp {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lis, target = l, l.Addr().String()
	} else {
		bl := bufconn.Listen(1 << 20)
		lis = bl
		dialOpts = append(dialOpts, grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return bl.DialContext(ctx)
		}))
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(lis)
	}()
	conn, err := grpc.NewClient(target, dialOpts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		srv.Stop()
		<-served
	})
	return conn
}

func withToken(ctx context.Context, token string) context.Context {
	if token == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	t.Cleanup(cancel)
	return ctx
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
