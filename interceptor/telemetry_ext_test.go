package interceptor_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/oauthgate/oauthgate/interceptor"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
)

// TestDecisionLog: WithDecisionLog writes one entry per decision, allowed
// or denied, with the method, decision, code and reason, and the caller's
// client_id and sub only with identity, never the token; a method name the
// client made up is cut to 256 bytes; nothing is written below the
// logger's level.
func TestDecisionLog(t *testing.T) {
	const getBook = testpb.LibraryService_GetBook_FullMethodName
	invented := "/oauthgatetest.v1.Invented/" + strings.Repeat("x", 300)
	alice := map[string]string{"client_id": "", "sub": "alice"}
	with := func(entry map[string]string, identity map[string]string) map[string]string {
		out := maps.Clone(entry)
		maps.Copy(out, identity)
		return out
	}
	entries := func(identity map[string]string) []map[string]string {
		return []map[string]string{
			with(map[string]string{"method": getBook, "decision": "allow", "code": "OK"}, identity),
			{"method": getBook, "decision": "deny", "code": "Unauthenticated", "reason": "MISSING_TOKEN"},
			with(map[string]string{"method": getBook, "decision": "deny", "code": "PermissionDenied", "reason": "INSUFFICIENT_SCOPE"}, identity),
			{"method": testpb.LibraryService_Ping_FullMethodName, "decision": "allow", "code": "OK"},
			{"method": invented[:256], "decision": "deny", "code": "PermissionDenied", "reason": "UNDECLARED_METHOD"},
		}
	}
	tests := map[string]struct {
		identity     bool
		handlerLevel slog.Level
		want         []map[string]string
	}{
		"Anonymous":          {want: entries(nil)},
		"Identity":           {identity: true, want: entries(alice)},
		"BelowLoggerLevel":   {handlerLevel: slog.LevelWarn},
		"IdentityBelowLevel": {identity: true, handlerLevel: slog.LevelWarn},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var logs syncBuffer
			logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: tc.handlerLevel}))
			gate, err := interceptor.New(newFakeVerifier(t), newPolicy(t), interceptor.WithDecisionLog(logger, slog.LevelInfo, tc.identity))
			if err != nil {
				t.Fatal(err)
			}
			// Calls of services the server does not know reach the gate
			// through the unknown-service handler.
			unknown := grpc.UnknownServiceHandler(func(any, grpc.ServerStream) error { return status.Error(codes.Unimplemented, "unknown") })
			srv := grpc.NewServer(grpc.ChainUnaryInterceptor(gate.Unary), grpc.ChainStreamInterceptor(gate.Stream), unknown)
			testpb.RegisterLibraryServiceServer(srv, &library{})
			conn := oauthtest.ServeGRPC(t, srv)
			lib := testpb.NewLibraryServiceClient(conn)
			ctx := testContext(t)
			_, _ = lib.GetBook(withToken(ctx, tokAll), &testpb.GetBookRequest{})
			_, _ = lib.GetBook(ctx, &testpb.GetBookRequest{})
			_, _ = lib.GetBook(withToken(ctx, tokNone), &testpb.GetBookRequest{})
			_, _ = lib.Ping(ctx, &testpb.PingRequest{})
			if err := conn.Invoke(withToken(ctx, tokAll), invented, &testpb.PingRequest{}, &testpb.PingResponse{}); status.Code(err) != codes.PermissionDenied {
				t.Fatalf("Invoke(invented method) = %v, want PermissionDenied", err)
			}

			var got []map[string]string
			for line := range strings.Lines(logs.String()) {
				var entry map[string]string
				if err := json.Unmarshal([]byte(line), &entry); err != nil {
					t.Fatalf("log line %q: %v", line, err)
				}
				if entry["msg"] != "oauthgate: decision" || entry["level"] != "INFO" {
					t.Errorf("log line %q, want an Info decision", line)
				}
				delete(entry, "time")
				delete(entry, "level")
				delete(entry, "msg")
				got = append(got, entry)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("decision log = %v, want %v", got, tc.want)
			}
			for i := range got {
				if !maps.Equal(got[i], tc.want[i]) {
					t.Errorf("decision %d = %v, want %v", i, got[i], tc.want[i])
				}
			}
			for _, secret := range []string{tokAll, tokNone} {
				if strings.Contains(logs.String(), secret) {
					t.Errorf("decision log contains the token %q", secret)
				}
			}
		})
	}
}

// recordingSpan is a recording span that keeps its attributes and the
// names of its events.
type recordingSpan struct {
	noop.Span
	mu     sync.Mutex
	attrs  map[string]string
	events []string
}

func (s *recordingSpan) IsRecording() bool { return true }

func (s *recordingSpan) SetAttributes(kv ...attribute.KeyValue) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range kv {
		s.attrs[string(a.Key)] = a.Value.String()
	}
}

func (s *recordingSpan) AddEvent(name string, _ ...trace.EventOption) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, name)
}

// TestSpanAttributes: the call's recording span gets the decision, and the
// reason and an oauthgate.denied event for a denial; who called (enduser.id,
// oauthgate.client_id) only with WithSpanIdentity, and only when a token
// was verified; never the token.
func TestSpanAttributes(t *testing.T) {
	// oauthgate.cache_hit is the verifiers' of package verify to set (a
	// Func verifier sets none).
	allow := map[string]string{"oauthgate.decision": "allow"}
	scope := map[string]string{"oauthgate.decision": "deny", "oauthgate.reason": "INSUFFICIENT_SCOPE"}
	missing := map[string]string{"oauthgate.decision": "deny", "oauthgate.reason": "MISSING_TOKEN"}
	alice := map[string]string{"enduser.id": "alice", "oauthgate.client_id": ""}
	with := func(a, b map[string]string) map[string]string {
		out := maps.Clone(a)
		maps.Copy(out, b)
		return out
	}
	tests := map[string]struct {
		opts []interceptor.Option
		want map[string]map[string]string // by token
	}{
		"Anonymous": {want: map[string]map[string]string{tokAll: allow, tokNone: scope, "": missing}},
		"Identity": {opts: []interceptor.Option{interceptor.WithSpanIdentity()},
			want: map[string]map[string]string{tokAll: with(allow, alice), tokNone: with(scope, alice), "": missing}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			gate, err := interceptor.New(newFakeVerifier(t), newPolicy(t), tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			spans := make(chan *recordingSpan, 1)
			// As otelgrpc would: a span in the context before the gate.
			withSpan := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
				s := &recordingSpan{attrs: map[string]string{}}
				spans <- s
				return handler(trace.ContextWithSpan(ctx, s), req)
			}
			lib := testpb.NewLibraryServiceClient(startServer(t, serverConfig{unary: []grpc.UnaryServerInterceptor{withSpan, gate.Unary}}))
			for token, want := range tc.want {
				_, err := lib.GetBook(withToken(testContext(t), token), &testpb.GetBookRequest{})
				s := <-spans
				s.mu.Lock()
				if !maps.Equal(s.attrs, want) {
					t.Errorf("token %q (%v): span attributes = %v, want %v", token, status.Code(err), s.attrs, want)
				}
				if denied := want["oauthgate.decision"] == "deny"; denied != (len(s.events) == 1 && s.events[0] == "oauthgate.denied") {
					t.Errorf("token %q: span events = %q, want oauthgate.denied exactly for a denial", token, s.events)
				}
				for _, v := range s.attrs {
					if token != "" && strings.Contains(v, token) {
						t.Errorf("span attribute %q holds the token", v)
					}
				}
				s.mu.Unlock()
			}
		})
	}
}
