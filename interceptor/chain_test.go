package interceptor_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/oauthgate/oauthgate/interceptor"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/scopes"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// recoverToInternal is how services configure recovery: a panic becomes
// Internal without its details.
var recoverToInternal = recovery.WithRecoveryHandler(func(any) error {
	return status.Error(codes.Internal, "internal error")
})

func ggmLogger(l *slog.Logger) logging.Logger {
	return logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		l.Log(ctx, slog.Level(lvl), msg, fields...)
	})
}

// panicky panics on GetBook("panic") once authorized, to prove recovery
// still wraps the handler when oauthgate sits in the chain.
type panicky struct{ library }

func (p *panicky) GetBook(ctx context.Context, req *testpb.GetBookRequest) (*testpb.GetBookResponse, error) {
	if req.GetName() == "panic" {
		panic("handler bug")
	}
	return p.library.GetBook(ctx, req)
}

// TestChains runs oauthgate inside a go-grpc-middleware v2 chain with
// logging and recovery, both as interceptors and as an auth.AuthFunc behind
// a selector.
func TestChains(t *testing.T) {
	var logs syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	gate, err := interceptor.New(newFakeVerifier(t), newPolicy(t), interceptor.WithRealm("library"), interceptor.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	// The selector skips authentication for Ping: it is public anyway, and
	// this shows how users keep auth off their health checks.
	notPing := selector.MatchFunc(func(_ context.Context, c interceptors.CallMeta) bool { return c.Method != "Ping" })
	chains := map[string]serverConfig{
		"Interceptors": {
			unary:    []grpc.UnaryServerInterceptor{logging.UnaryServerInterceptor(ggmLogger(logger)), recovery.UnaryServerInterceptor(recoverToInternal), gate.Unary},
			streamIC: []grpc.StreamServerInterceptor{logging.StreamServerInterceptor(ggmLogger(logger)), recovery.StreamServerInterceptor(recoverToInternal), gate.Stream},
		},
		"AuthFuncSelector": {
			unary: []grpc.UnaryServerInterceptor{logging.UnaryServerInterceptor(ggmLogger(logger)), recovery.UnaryServerInterceptor(recoverToInternal),
				selector.UnaryServerInterceptor(auth.UnaryServerInterceptor(gate.AuthFunc), notPing)},
			streamIC: []grpc.StreamServerInterceptor{logging.StreamServerInterceptor(ggmLogger(logger)), recovery.StreamServerInterceptor(recoverToInternal),
				selector.StreamServerInterceptor(auth.StreamServerInterceptor(gate.AuthFunc), notPing)},
		},
	}
	for name, cfg := range chains {
		t.Run(name, func(t *testing.T) {
			cfg.lib = &library{}
			srv := startPanickyServer(t, cfg)
			lib := testpb.NewLibraryServiceClient(srv)
			ctx := testContext(t)

			for _, k := range rpcKinds {
				r := k.call(withToken(ctx, tokAll), lib)
				if r.err != nil || !strings.HasPrefix(r.reply, "alice") && r.reply != "1" {
					t.Errorf("%s with a good token = %q, %v; want a reply as alice", k.name, r.reply, r.err)
				}
				r = k.call(ctx, lib)
				if status.Code(r.err) != codes.Unauthenticated || len(r.wwwAuthenticate()) != 1 {
					t.Errorf("%s without a token = %v, challenge %q; want Unauthenticated with a challenge", k.name, r.err, r.wwwAuthenticate())
				}
				r = k.call(withToken(ctx, tokNone), lib)
				if status.Code(r.err) != codes.PermissionDenied {
					t.Errorf("%s without the scope = %v, want PermissionDenied", k.name, r.err)
				}
			}
			if _, err := lib.Ping(ctx, &testpb.PingRequest{}); err != nil {
				t.Errorf("Ping() = %v, want OK", err)
			}
			_, err := lib.GetBook(withToken(ctx, tokAll), &testpb.GetBookRequest{Name: "panic"})
			if status.Code(err) != codes.Internal {
				t.Errorf("GetBook(panic) = %v, want Internal from recovery", err)
			}
		})
	}
	out := logs.String()
	for _, want := range []string{`"grpc.code":"Unauthenticated"`, `"grpc.code":"PermissionDenied"`, `"reason":"INSUFFICIENT_SCOPE"`} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %s", want)
		}
	}
	for _, secret := range []string{tokAll, tokNone} {
		if strings.Contains(out, secret) {
			t.Errorf("logs contain the token %q", secret)
		}
	}
}

func startPanickyServer(t *testing.T, cfg serverConfig) *grpc.ClientConn {
	t.Helper()
	// Reuse startServer's wiring with the panicking implementation.
	p := &panicky{}
	cfg.lib = nil
	return startServerWith(t, cfg, p)
}

// TestStreamEndsAtTokenExpiry keeps a server stream sending past the
// token's expiry: the stream must end with Unauthenticated / invalid_token,
// the challenge in the trailer, and the handler's context cancelled. The
// fake verifier's claims have no leeway, so the deadline is exp.
func TestStreamEndsAtTokenExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := newFakeVerifier(t)
		v.add("short", claimsFor(t, "alice", "library.read", time.Now().Add(300*time.Millisecond)))
		gate, err := interceptor.New(v, newPolicy(t), interceptor.WithRealm("library"))
		if err != nil {
			t.Fatal(err)
		}
		lib := &library{streamEnded: make(chan error, 1)}
		client := testpb.NewLibraryServiceClient(startServer(t, serverConfig{gate: gate, lib: lib}))
		s, err := client.ListBooks(withToken(t.Context(), "short"), &testpb.ListBooksRequest{Count: 10000, IntervalMs: 10})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		var got int
		for {
			if _, err = s.Recv(); err != nil {
				break
			}
			got++
		}
		if err == io.EOF || status.Code(err) != codes.Unauthenticated {
			t.Fatalf("stream ended with %v after %d messages, want Unauthenticated", err, got)
		}
		if d := time.Since(start); d < 300*time.Millisecond || d > 310*time.Millisecond {
			t.Errorf("stream ended %v after start, want 300ms (exp) to 310ms (the handler's next Send)", d)
		}
		if got != 30 {
			t.Errorf("%d messages before expiry, want 30", got)
		}
		info := errorInfo(t, err)
		if info.GetReason() != "INVALID_TOKEN" || status.Convert(err).Message() != "the access token expired" {
			t.Errorf("status = %v, %v; want INVALID_TOKEN, the access token expired", status.Convert(err).Message(), info)
		}
		if www := s.Trailer().Get("www-authenticate"); len(www) != 1 || !strings.Contains(www[0], `error="invalid_token"`) {
			t.Errorf("trailer www-authenticate = %q, want an invalid_token challenge", www)
		}
		if cause := <-lib.streamEnded; cause == nil {
			t.Error("handler context was not cancelled at expiry")
		}
	})
}

func TestAuthorizer(t *testing.T) {
	ownerOnly := func(ctx context.Context, call interceptor.Call) error {
		switch req := call.Request.(type) {
		case *testpb.GetBookRequest:
			if req.GetName() != call.Claims.Subject() {
				return &interceptor.DenyError{Reason: "NOT_OWNER", Description: "only the owner may read this book"}
			}
		case *testpb.ChatRequest:
			if req.GetText() == "forbidden" {
				return fmt.Errorf("secret internal reason")
			}
		}
		return nil
	}
	gate, err := interceptor.New(newFakeVerifier(t), newPolicy(t), interceptor.WithAuthorizer(ownerOnly), interceptor.WithStreamMessages())
	if err != nil {
		t.Fatal(err)
	}
	client := testpb.NewLibraryServiceClient(startServer(t, serverConfig{gate: gate}))
	ctx := testContext(t)

	if _, err := client.GetBook(withToken(ctx, tokAll), &testpb.GetBookRequest{Name: "alice"}); err != nil {
		t.Fatalf("GetBook(own) = %v, want OK", err)
	}
	_, err = client.GetBook(withToken(ctx, tokAll), &testpb.GetBookRequest{Name: "bob"})
	if status.Code(err) != codes.PermissionDenied || errorInfo(t, err).GetReason() != "NOT_OWNER" ||
		status.Convert(err).Message() != "only the owner may read this book" {
		t.Fatalf("GetBook(other's) = %v, want PermissionDenied NOT_OWNER", err)
	}

	s, err := client.Chat(withToken(ctx, tokAll))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(&testpb.ChatRequest{Text: "hello"}); err != nil {
		t.Fatal(err)
	}
	if m, err := s.Recv(); err != nil || m.GetText() != "alice:hello" {
		t.Fatalf("Chat first message = %v, %v", m, err)
	}
	_ = s.Send(&testpb.ChatRequest{Text: "forbidden"})
	_, err = s.Recv()
	if status.Code(err) != codes.PermissionDenied || errorInfo(t, err).GetReason() != "ACCESS_DENIED" {
		t.Fatalf("Chat after a denied message = %v, want PermissionDenied ACCESS_DENIED", err)
	}
	if strings.Contains(status.Convert(err).Message(), "secret internal reason") {
		t.Error("an Authorizer's internal error reached the client")
	}
}

// overriding is a service that implements go-grpc-middleware's
// auth.ServiceAuthFuncOverride and lets every call through.
type overriding struct{ library }

func (*overriding) AuthFuncOverride(ctx context.Context, _ string) (context.Context, error) {
	return ctx, nil
}

var _ auth.ServiceAuthFuncOverride = (*overriding)(nil)

// TestAuthFuncOverride shows what Interceptor.AuthFunc documents:
// go-grpc-middleware's auth interceptors call a service's
// AuthFuncOverride instead of the AuthFunc, so a service implementing it
// is not protected by oauthgate under that wiring; under ServerOptions (or
// Unary and Stream chained) the gate runs whatever the service implements.
func TestAuthFuncOverride(t *testing.T) {
	gate, err := interceptor.New(newFakeVerifier(t), newPolicy(t))
	if err != nil {
		t.Fatal(err)
	}
	wirings := map[string]struct {
		opts      []grpc.ServerOption
		protected bool
	}{
		"AuthFunc": {opts: []grpc.ServerOption{
			grpc.ChainUnaryInterceptor(auth.UnaryServerInterceptor(gate.AuthFunc)),
			grpc.ChainStreamInterceptor(auth.StreamServerInterceptor(gate.AuthFunc)),
		}},
		"ServerOptions": {opts: gate.ServerOptions(), protected: true},
		"UnaryAndStream": {opts: []grpc.ServerOption{grpc.UnaryInterceptor(gate.Unary), grpc.StreamInterceptor(gate.Stream)},
			protected: true},
	}
	for name, w := range wirings {
		t.Run(name, func(t *testing.T) {
			srv := grpc.NewServer(w.opts...)
			testpb.RegisterLibraryServiceServer(srv, &overriding{})
			conn := oauthtest.ServeGRPC(t, srv)
			lib := testpb.NewLibraryServiceClient(conn)
			ctx := testContext(t)
			for _, k := range rpcKinds {
				r := k.call(ctx, lib) // no token
				switch {
				case w.protected && status.Code(r.err) != codes.Unauthenticated:
					t.Errorf("%s without a token = %q, %v; want Unauthenticated", k.name, r.reply, r.err)
				case !w.protected && (r.err != nil || !strings.HasPrefix(r.reply, "anonymous") && r.reply != "1"):
					t.Errorf("%s without a token = %q, %v; want the handler reached, as AuthFunc documents", k.name, r.reply, r.err)
				}
			}
		})
	}
}

// TestAuthorizer_EveryWiring: the Authorizer decides every call that passed
// the token and scope checks, wired as interceptors or as go-grpc-
// middleware's AuthFunc, for every kind of call; it never turns a denial
// into an allowed call, public methods (unary or streaming) do not reach
// it, and without WithStreamMessages it does not see stream messages.
func TestAuthorizer_EveryWiring(t *testing.T) {
	authorizer := func(_ context.Context, call interceptor.Call) error {
		switch {
		case call.Claims == nil:
			return errors.New("called without claims") // a public call reached it
		case call.Claims.Subject() == "bob":
			return &interceptor.DenyError{Reason: "SUSPENDED", Description: "the account is suspended"}
		case call.Claims.Subject() == "dave":
			return &interceptor.DenyError{Reason: "MORE_SCOPE", Description: "this needs library.delete", Scopes: []string{"library.delete"}}
		}
		if req, ok := call.Request.(*testpb.ChatRequest); ok && req.GetText() == "forbidden" {
			return errors.New("a stream message reached the Authorizer")
		}
		return nil
	}
	v := newFakeVerifier(t)
	v.add("dave", claimsFor(t, "dave", "library.read library.write library.admin", time.Now().Add(time.Hour)))
	policy, err := scopes.NewPolicy(scopes.FromFiles(testpb.File_oauthgatetest_v1_library_proto),
		scopes.ForService(healthpb.Health_ServiceDesc.ServiceName, scopes.Public()))
	if err != nil {
		t.Fatal(err)
	}
	gate, err := interceptor.New(v, policy, interceptor.WithRealm("library"), interceptor.WithAuthorizer(authorizer))
	if err != nil {
		t.Fatal(err)
	}
	wirings := map[string][]grpc.ServerOption{
		"Interceptors": {grpc.ChainUnaryInterceptor(gate.Unary), grpc.ChainStreamInterceptor(gate.Stream)},
		"AuthFunc": {grpc.ChainUnaryInterceptor(auth.UnaryServerInterceptor(gate.AuthFunc)),
			grpc.ChainStreamInterceptor(auth.StreamServerInterceptor(gate.AuthFunc))},
	}
	calls := map[string]struct {
		token      string
		wantCode   codes.Code
		wantReason string
		wantMsg    string
		wantWWW    string // the exact challenge; "-" for none, "" unchecked
	}{
		"Allowed": {token: tokAll, wantCode: codes.OK},
		"Denied": {token: tokOwnerBob, wantCode: codes.PermissionDenied, wantReason: "SUSPENDED",
			wantMsg: "the account is suspended", wantWWW: "-"},
		"DeniedForScope": {token: "dave", wantCode: codes.PermissionDenied, wantReason: "MORE_SCOPE", wantMsg: "this needs library.delete",
			wantWWW: `Bearer realm="library", error="insufficient_scope", error_description="this needs library.delete", scope="library.delete"`},
		"NoToken":           {wantCode: codes.Unauthenticated, wantReason: "MISSING_TOKEN", wantWWW: `Bearer realm="library"`},
		"InvalidToken":      {token: tokExpired, wantCode: codes.Unauthenticated, wantReason: "INVALID_TOKEN"},
		"InsufficientScope": {token: tokNone, wantCode: codes.PermissionDenied, wantReason: "INSUFFICIENT_SCOPE"},
	}
	for wiring, opts := range wirings {
		srv := grpc.NewServer(opts...)
		testpb.RegisterLibraryServiceServer(srv, &library{})
		healthpb.RegisterHealthServer(srv, health.NewServer())
		conn := oauthtest.ServeGRPC(t, srv)
		lib := testpb.NewLibraryServiceClient(conn)
		t.Run(wiring+"/PublicMethods", func(t *testing.T) {
			t.Parallel()
			ctx := withToken(testContext(t), tokOwnerBob)
			if _, err := lib.Ping(ctx, &testpb.PingRequest{}); err != nil {
				t.Errorf("Ping() as a suspended user = %v, want OK: a public method has no caller to judge", err)
			}
			w, err := healthpb.NewHealthClient(conn).Watch(ctx, &healthpb.HealthCheckRequest{})
			if err == nil {
				_, err = w.Recv()
			}
			if err != nil {
				t.Errorf("Health.Watch() as a suspended user = %v, want OK", err)
			}
		})
		t.Run(wiring+"/StreamMessages", func(t *testing.T) {
			t.Parallel()
			s, err := lib.Chat(withToken(testContext(t), tokAll))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Send(&testpb.ChatRequest{Text: "forbidden"}); err != nil {
				t.Fatal(err)
			}
			if m, err := s.Recv(); err != nil || m.GetText() != "alice:forbidden" {
				t.Errorf("Chat() message = %v, %v; want it echoed: only WithStreamMessages judges messages", m, err)
			}
		})
		for _, k := range rpcKinds {
			for name, tc := range calls {
				t.Run(wiring+"/"+k.name+"/"+name, func(t *testing.T) {
					t.Parallel()
					r := k.call(withToken(testContext(t), tc.token), lib)
					if got := status.Code(r.err); got != tc.wantCode {
						t.Fatalf("code = %v (%v), want %v", got, r.err, tc.wantCode)
					}
					if tc.wantCode == codes.OK {
						if r.reply == "" {
							t.Error("no reply from the handler")
						}
						return
					}
					if got := errorInfo(t, r.err).GetReason(); got != tc.wantReason {
						t.Errorf("reason = %s, want %s", got, tc.wantReason)
					}
					if tc.wantMsg != "" && status.Convert(r.err).Message() != tc.wantMsg {
						t.Errorf("message = %q, want %q", status.Convert(r.err).Message(), tc.wantMsg)
					}
					switch www := r.wwwAuthenticate(); {
					case tc.wantWWW == "-" && len(www) != 0:
						t.Errorf("www-authenticate = %q, want none: no other token would help", www)
					case tc.wantWWW != "" && tc.wantWWW != "-" && (len(www) != 1 || www[0] != tc.wantWWW):
						t.Errorf("www-authenticate = %q, want %q", www, tc.wantWWW)
					}
				})
			}
		}
	}
}
