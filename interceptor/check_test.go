package interceptor_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/oauthgate/oauthgate/interceptor"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/scopes"
)

// Names of the wiring probe, as a client sees them.
const (
	probeUnary  = "/oauthgate.check.WiringProbe/Unary"
	probeStream = "/oauthgate.check.WiringProbe/Stream"
)

// TestCheck_Wiring checks the verdict of Check for each way of installing
// the interceptor, complete or half done.
func TestCheck_Wiring(t *testing.T) {
	t.Parallel()
	gate, err := interceptor.New(newFakeVerifier(t), newPolicy(t))
	if err != nil {
		t.Fatal(err)
	}
	other, err := interceptor.New(newFakeVerifier(t), newPolicy(t))
	if err != nil {
		t.Fatal(err)
	}
	// A typical selector: no auth for health checks. It lets the probe through.
	notHealth := selector.MatchFunc(func(_ context.Context, c interceptors.CallMeta) bool { return c.Service != "grpc.health.v1.Health" })
	// A selector that skips the probe service cannot be told from a
	// missing interceptor.
	notProbe := selector.MatchFunc(func(_ context.Context, c interceptors.CallMeta) bool {
		return !strings.HasPrefix(c.Service, "oauthgate.check.")
	})
	denyAll := func(context.Context, any, *grpc.UnaryServerInfo, grpc.UnaryHandler) (any, error) {
		return nil, status.Error(codes.Unauthenticated, "no")
	}
	tests := map[string]struct {
		opts []grpc.ServerOption
		// wantUnary and wantStreaming: the kinds Check must report.
		wantUnary, wantStreaming bool
		wantText                 string // part of the report, when not "reach their handlers"
	}{
		"ServerOptions": {opts: gate.ServerOptions()},
		"Chain":         {opts: []grpc.ServerOption{grpc.ChainUnaryInterceptor(gate.Unary), grpc.ChainStreamInterceptor(gate.Stream)}},
		"Single":        {opts: []grpc.ServerOption{grpc.UnaryInterceptor(gate.Unary), grpc.StreamInterceptor(gate.Stream)}},
		"AuthFuncSelector": {opts: []grpc.ServerOption{
			grpc.ChainUnaryInterceptor(selector.UnaryServerInterceptor(auth.UnaryServerInterceptor(gate.AuthFunc), notHealth)),
			grpc.ChainStreamInterceptor(selector.StreamServerInterceptor(auth.StreamServerInterceptor(gate.AuthFunc), notHealth)),
		}},
		"AuthFunc": {opts: []grpc.ServerOption{
			grpc.ChainUnaryInterceptor(auth.UnaryServerInterceptor(gate.AuthFunc)),
			grpc.ChainStreamInterceptor(auth.StreamServerInterceptor(gate.AuthFunc)),
		}},

		"Nothing":         {wantUnary: true, wantStreaming: true},
		"ChainUnaryOnly":  {opts: []grpc.ServerOption{grpc.ChainUnaryInterceptor(gate.Unary)}, wantStreaming: true},
		"ChainStreamOnly": {opts: []grpc.ServerOption{grpc.ChainStreamInterceptor(gate.Stream)}, wantUnary: true},
		"SingleUnaryOnly": {opts: []grpc.ServerOption{grpc.UnaryInterceptor(gate.Unary)}, wantStreaming: true},
		"UnaryTwice": {opts: []grpc.ServerOption{grpc.ChainUnaryInterceptor(gate.Unary), grpc.UnaryInterceptor(gate.Unary)},
			wantStreaming: true},
		"AuthFuncUnaryOnlySelector": {opts: []grpc.ServerOption{
			grpc.ChainUnaryInterceptor(selector.UnaryServerInterceptor(auth.UnaryServerInterceptor(gate.AuthFunc), notHealth)),
		}, wantStreaming: true},
		"AuthFuncStreamOnlySelector": {opts: []grpc.ServerOption{
			grpc.ChainStreamInterceptor(selector.StreamServerInterceptor(auth.StreamServerInterceptor(gate.AuthFunc), notHealth)),
		}, wantUnary: true},
		"AuthFuncUnaryOnly": {opts: []grpc.ServerOption{grpc.ChainUnaryInterceptor(auth.UnaryServerInterceptor(gate.AuthFunc))},
			wantStreaming: true},
		"SelectorSkipsProbe": {opts: []grpc.ServerOption{
			grpc.ChainUnaryInterceptor(selector.UnaryServerInterceptor(auth.UnaryServerInterceptor(gate.AuthFunc), notProbe)),
			grpc.ChainStreamInterceptor(selector.StreamServerInterceptor(auth.StreamServerInterceptor(gate.AuthFunc), notProbe)),
		}, wantUnary: true, wantStreaming: true},
		"AnotherInterceptor": {opts: other.ServerOptions(), wantUnary: true, wantStreaming: true,
			wantText: "instead of by this gate"},
		"RejectedBefore": {opts: append([]grpc.ServerOption{grpc.ChainUnaryInterceptor(denyAll)}, gate.ServerOptions()...),
			wantUnary: true, wantText: "instead of by this gate"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := grpc.NewServer(tc.opts...)
			t.Cleanup(srv.Stop)
			testpb.RegisterLibraryServiceServer(srv, &library{})

			err := gate.Check(srv)
			if !tc.wantUnary && !tc.wantStreaming {
				if err != nil {
					t.Fatalf("Check() = %v, want nil", err)
				}
				return
			}
			var we *interceptor.WiringError
			if !errors.As(err, &we) || !errors.Is(err, interceptor.ErrUnprotected) {
				t.Fatalf("Check() = %v, want a *WiringError wrapping ErrUnprotected", err)
			}
			if (we.Unary != "") != tc.wantUnary || (we.Streaming != "") != tc.wantStreaming {
				t.Errorf("Check() = %+v, want unary reported %t, streaming reported %t", we, tc.wantUnary, tc.wantStreaming)
			}
			// The message names each missing kind, and only those.
			msg := err.Error()
			for kind, want := range map[string]bool{"unary calls": tc.wantUnary, "streaming calls": tc.wantStreaming} {
				if strings.Contains(msg, kind) != want {
					t.Errorf("Check() = %q; mentions %q: %t, want %t", msg, kind, !want, want)
				}
			}
			wantText := tc.wantText
			if wantText == "" {
				wantText = "reach their handlers without passing oauthgate"
			}
			if !strings.Contains(msg, wantText) || !strings.Contains(msg, "gate.ServerOptions()") {
				t.Errorf("Check() = %q, want it to say %q and how to fix it", msg, wantText)
			}
		})
	}
}

// TestCheck_Coverage checks that Check also reports methods without a rule,
// together with a wiring problem.
func TestCheck_Coverage(t *testing.T) {
	t.Parallel()
	gate, err := interceptor.New(newFakeVerifier(t), newPolicy(t))
	if err != nil {
		t.Fatal(err)
	}
	for name, opts := range map[string][]grpc.ServerOption{"Wired": gate.ServerOptions(), "Unwired": nil} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := grpc.NewServer(opts...)
			t.Cleanup(srv.Stop)
			testpb.RegisterLibraryServiceServer(srv, &library{})
			testpb.RegisterShelfServiceServer(srv, shelf{})
			err := gate.Check(srv)
			var ce *scopes.CoverageError
			if !errors.As(err, &ce) || len(ce.Methods) != 2 {
				t.Fatalf("Check() = %v, want a CoverageError naming Move and Burn", err)
			}
			if got := errors.Is(err, interceptor.ErrUnprotected); got != (opts == nil) {
				t.Errorf("errors.Is(Check(), ErrUnprotected) = %t, want %t", got, opts == nil)
			}
		})
	}
}

// TestCheck_ProbeDenied checks that once a server is checked, the probe
// service is denied to every client like an undeclared method, with or
// without a nonce, and that the server still serves.
func TestCheck_ProbeDenied(t *testing.T) {
	t.Parallel()
	gate, err := interceptor.New(newFakeVerifier(t), newPolicy(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(gate.ServerOptions()...)
	testpb.RegisterLibraryServiceServer(srv, &library{})
	for range 2 { // checking twice is fine
		if err := gate.Check(srv); err != nil {
			t.Fatalf("Check() = %v, want nil", err)
		}
	}
	conn := serveChecked(t, srv)
	ctx := testContext(t)
	for name, md := range map[string][]string{
		"NoNonce":    nil,
		"WrongNonce": {"oauthgate-probe", "00112233445566778899aabbccddeeff"},
		"TwoNonces":  {"oauthgate-probe", "a", "oauthgate-probe", "b"},
	} {
		callCtx := ctx
		if md != nil {
			callCtx = metadata.AppendToOutgoingContext(ctx, md...)
		}
		err := conn.Invoke(withToken(callCtx, tokAll), probeUnary, &emptypb.Empty{}, &emptypb.Empty{})
		if status.Code(err) != codes.PermissionDenied || errorInfo(t, err).GetReason() != interceptor.ReasonUndeclaredMethod {
			t.Errorf("%s: unary probe = %v, want PermissionDenied UNDECLARED_METHOD", name, err)
		}
		s, err := conn.NewStream(callCtx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, probeStream)
		if err == nil {
			_ = s.CloseSend()
			err = s.RecvMsg(&emptypb.Empty{})
		}
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("%s: streaming probe = %v, want PermissionDenied", name, err)
		}
	}
	if _, err := testpb.NewLibraryServiceClient(conn).GetBook(withToken(ctx, tokAll), &testpb.GetBookRequest{Name: "dune"}); err != nil {
		t.Errorf("GetBook() after Check = %v, want OK", err)
	}
	// Covers ignores the probe service that Check registered.
	if err := gate.Covers(srv); err != nil { // deprecated, but it must keep working
		t.Errorf("Covers() after Check = %v, want nil", err)
	}
}

// TestCheck_AfterServe checks that Check refuses a serving server instead
// of letting grpc-go end the program.
func TestCheck_AfterServe(t *testing.T) {
	t.Parallel()
	gate, err := interceptor.New(newFakeVerifier(t), newPolicy(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(gate.ServerOptions()...)
	testpb.RegisterLibraryServiceServer(srv, &library{})
	conn := serveChecked(t, srv)
	// A served call orders Serve's start before Check.
	if _, err := testpb.NewLibraryServiceClient(conn).Ping(testContext(t), &testpb.PingRequest{}); err != nil {
		t.Fatal(err)
	}
	if err := gate.Check(srv); err == nil || !strings.Contains(err.Error(), "before Serve") {
		t.Errorf("Check() after Serve = %v, want an error saying to call it before Serve", err)
	}
}

// TestCheck_Stopped checks that a stopped server is refused.
func TestCheck_Stopped(t *testing.T) {
	t.Parallel()
	gate, err := interceptor.New(newFakeVerifier(t), newPolicy(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(gate.ServerOptions()...)
	testpb.RegisterLibraryServiceServer(srv, &library{})
	srv.Stop()
	if err := gate.Check(srv); !errors.Is(err, interceptor.ErrUnprotected) {
		t.Errorf("Check() on a stopped server = %v, want ErrUnprotected", err)
	}
}

// serveChecked serves srv on bufconn until the test ends.
func serveChecked(t *testing.T, srv *grpc.Server) *grpc.ClientConn {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(lis)
	}()
	conn, err := grpc.NewClient("passthrough:///bufnet", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
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
