package interceptor_test

import (
	"encoding/json"
	"log/slog"
	"maps"
	"strings"
	"testing"

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
