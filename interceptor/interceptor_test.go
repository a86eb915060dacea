package interceptor_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/oauthgate/oauthgate/interceptor"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/verify"
)

// result is what a client sees of one call.
type result struct {
	err             error
	header, trailer metadata.MD
	reply           string
}

// wwwAuthenticate returns the challenge from the header, or from the
// trailer when the server could only put it there.
func (r result) wwwAuthenticate() []string {
	if v := r.header.Get("www-authenticate"); len(v) > 0 {
		return v
	}
	return r.trailer.Get("www-authenticate")
}

// rpcKind calls one method of the library service.
type rpcKind struct {
	name  string
	scope string // what an insufficient_scope challenge must ask for
	call  func(ctx context.Context, c testpb.LibraryServiceClient) result
}

var rpcKinds = []rpcKind{
	{name: "Unary", scope: "library.read", call: func(ctx context.Context, c testpb.LibraryServiceClient) result {
		var r result
		resp, err := c.GetBook(ctx, &testpb.GetBookRequest{Name: "dune"}, grpc.Header(&r.header), grpc.Trailer(&r.trailer))
		r.err, r.reply = err, resp.GetName()
		return r
	}},
	{name: "ServerStream", scope: "library.read", call: func(ctx context.Context, c testpb.LibraryServiceClient) result {
		var r result
		s, err := c.ListBooks(ctx, &testpb.ListBooksRequest{Count: 2})
		if err != nil {
			return result{err: err}
		}
		for {
			m, err := s.Recv()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					r.err = err
				}
				break
			}
			r.reply = m.GetName()
		}
		r.header, _ = s.Header()
		r.trailer = s.Trailer()
		return r
	}},
	{name: "ClientStream", scope: "library.admin library.write", call: func(ctx context.Context, c testpb.LibraryServiceClient) result {
		var r result
		s, err := c.AddBooks(ctx)
		if err != nil {
			return result{err: err}
		}
		_ = s.Send(&testpb.AddBooksRequest{Name: "a"})
		resp, err := s.CloseAndRecv()
		r.err = err
		if err == nil {
			r.reply = fmt.Sprint(resp.GetCount())
		}
		r.header, _ = s.Header()
		r.trailer = s.Trailer()
		return r
	}},
	{name: "BidiStream", scope: "library.read", call: func(ctx context.Context, c testpb.LibraryServiceClient) result {
		var r result
		s, err := c.Chat(ctx)
		if err != nil {
			return result{err: err}
		}
		_ = s.Send(&testpb.ChatRequest{Text: "hi"})
		_ = s.CloseSend()
		for {
			m, err := s.Recv()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					r.err = err
				}
				break
			}
			r.reply = m.GetText()
		}
		r.header, _ = s.Header()
		r.trailer = s.Trailer()
		return r
	}},
}

func errorInfo(t *testing.T, err error) *errdetails.ErrorInfo {
	t.Helper()
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	t.Fatalf("status %v has no ErrorInfo detail", err)
	return nil
}

// TestErrorTable checks every row of the error table of docs/errors.md, for unary
// calls and each kind of stream, over bufconn and 127.0.0.1.
func TestErrorTable(t *testing.T) {
	type row struct {
		auth        []string // authorization metadata values
		wantCode    codes.Code
		wantReason  string
		wantWWW     string // exact challenge; "" means no header
		wantOAuthMD string // ErrorInfo metadata "error"
	}
	rows := func(k rpcKind) map[string]row {
		const realm = `Bearer realm="library"`
		return map[string]row{
			"NoCredentials":     {wantCode: codes.Unauthenticated, wantReason: "MISSING_TOKEN", wantWWW: realm},
			"BasicScheme":       {auth: []string{"Basic dXNlcjpwYXNz"}, wantCode: codes.Unauthenticated, wantReason: "INVALID_REQUEST", wantWWW: realm + `, error="invalid_request", error_description="the authorization metadata must hold exactly one Bearer token"`, wantOAuthMD: "invalid_request"},
			"EmptyToken":        {auth: []string{"Bearer "}, wantCode: codes.Unauthenticated, wantReason: "INVALID_REQUEST", wantOAuthMD: "invalid_request"},
			"SchemeOnly":        {auth: []string{"Bearer"}, wantCode: codes.Unauthenticated, wantReason: "INVALID_REQUEST", wantOAuthMD: "invalid_request"},
			"TokenWithSpace":    {auth: []string{"Bearer a b"}, wantCode: codes.Unauthenticated, wantReason: "INVALID_REQUEST", wantOAuthMD: "invalid_request"},
			"TwoCredentials":    {auth: []string{"Bearer " + tokAll, "Bearer " + tokAll}, wantCode: codes.Unauthenticated, wantReason: "INVALID_REQUEST", wantOAuthMD: "invalid_request"},
			"ForgedToken":       {auth: []string{"Bearer forged.token.value"}, wantCode: codes.Unauthenticated, wantReason: "INVALID_TOKEN", wantWWW: realm + `, error="invalid_token", error_description="the access token signature is invalid"`, wantOAuthMD: "invalid_token"},
			"ExpiredToken":      {auth: []string{"Bearer " + tokExpired}, wantCode: codes.Unauthenticated, wantReason: "INVALID_TOKEN", wantWWW: realm + `, error="invalid_token", error_description="the access token expired"`, wantOAuthMD: "invalid_token"},
			"InsufficientScope": {auth: []string{"Bearer " + tokNone}, wantCode: codes.PermissionDenied, wantReason: "INSUFFICIENT_SCOPE", wantWWW: realm + `, error="insufficient_scope", error_description="the access token lacks a required scope", scope="` + k.scope + `"`, wantOAuthMD: "insufficient_scope"},
			"Unavailable":       {auth: []string{"Bearer " + tokUnavailable}, wantCode: codes.Unavailable, wantReason: "VERIFIER_UNAVAILABLE"},
			"SchemeCaseInsens":  {auth: []string{"bEaReR " + tokAll}, wantCode: codes.OK},
			"OK":                {auth: []string{"Bearer " + tokAll}, wantCode: codes.OK},
		}
	}
	for _, transport := range []string{"bufconn", "tcp"} {
		gate, err := interceptor.New(newFakeVerifier(t), newPolicy(t), interceptor.WithRealm("library"), interceptor.WithDomain("library.example.com"))
		if err != nil {
			t.Fatal(err)
		}
		client := testpb.NewLibraryServiceClient(startServer(t, serverConfig{gate: gate, tcp: transport == "tcp"}))
		for _, k := range rpcKinds {
			for name, tc := range rows(k) {
				t.Run(transport+"/"+k.name+"/"+name, func(t *testing.T) {
					t.Parallel()
					ctx := testContext(t)
					for _, a := range tc.auth {
						ctx = metadata.AppendToOutgoingContext(ctx, "authorization", a)
					}
					r := k.call(ctx, client)
					if got := status.Code(r.err); got != tc.wantCode {
						t.Fatalf("code = %v (%v), want %v", got, r.err, tc.wantCode)
					}
					if tc.wantCode == codes.OK {
						if r.reply == "" {
							t.Fatal("no reply from the handler")
						}
						return
					}
					info := errorInfo(t, r.err)
					if info.GetReason() != tc.wantReason || info.GetDomain() != "library.example.com" {
						t.Errorf("ErrorInfo = %v, want reason %s in domain library.example.com", info, tc.wantReason)
					}
					if got := info.GetMetadata()["error"]; got != tc.wantOAuthMD {
						t.Errorf("ErrorInfo.metadata[error] = %q, want %q", got, tc.wantOAuthMD)
					}
					if info.GetMetadata()["realm"] != "library" {
						t.Errorf("ErrorInfo.metadata[realm] = %q, want library", info.GetMetadata()["realm"])
					}
					for key, v := range info.GetMetadata() {
						if v == "" {
							t.Errorf("ErrorInfo.metadata[%s] is empty: a denial without it leaves the key out", key)
						}
					}
					www := r.wwwAuthenticate()
					switch {
					case tc.wantCode == codes.Unavailable && len(www) != 0:
						t.Errorf("www-authenticate = %q, want none: the client must keep its token", www)
					case tc.wantWWW != "" && (len(www) != 1 || www[0] != tc.wantWWW):
						t.Errorf("www-authenticate = %q, want %q", www, tc.wantWWW)
					case tc.wantWWW == "" && tc.wantOAuthMD != "" && len(www) != 1:
						t.Errorf("www-authenticate = %q, want one challenge", www)
					}
					for _, secret := range []string{tokAll, tokNone, tokExpired, "forged.token.value", "dXNlcjpwYXNz"} {
						if containsAll(status.Convert(r.err).Message(), secret) || containsAll(fmt.Sprint(www), secret) {
							t.Errorf("response leaks the credential %q", secret)
						}
					}
				})
			}
		}
	}
}

func TestPublicAndUndeclared(t *testing.T) {
	v := newFakeVerifier(t)
	gate, err := interceptor.New(v, newPolicy(t))
	if err != nil {
		t.Fatal(err)
	}
	conn := startServer(t, serverConfig{gate: gate})
	ctx := testContext(t)

	// Public: no token needed, garbage tokens not even verified.
	lib := testpb.NewLibraryServiceClient(conn)
	if _, err := lib.Ping(ctx, &testpb.PingRequest{}); err != nil {
		t.Fatalf("Ping() without token = %v, want OK", err)
	}
	if _, err := lib.Ping(withToken(ctx, "garbage"), &testpb.PingRequest{}); err != nil {
		t.Fatalf("Ping() with garbage token = %v, want OK", err)
	}
	if v.calls != 0 {
		t.Errorf("verifier called %d times for a public method, want 0", v.calls)
	}

	// Undeclared: denied even with a token holding every scope.
	_, err = testpb.NewShelfServiceClient(conn).Move(withToken(ctx, tokAll), &testpb.MoveRequest{})
	if status.Code(err) != codes.PermissionDenied || errorInfo(t, err).GetReason() != "UNDECLARED_METHOD" {
		t.Fatalf("Move() = %v, want PermissionDenied UNDECLARED_METHOD", err)
	}
}

func TestAudienceOverride(t *testing.T) {
	gate, err := interceptor.New(newFakeVerifier(t), newPolicy(t))
	if err != nil {
		t.Fatal(err)
	}
	lib := testpb.NewLibraryServiceClient(startServer(t, serverConfig{gate: gate}))
	ctx := testContext(t)
	_, err = lib.Audit(withToken(ctx, tokAuditor), &testpb.AuditRequest{})
	if status.Code(err) != codes.Unauthenticated || errorInfo(t, err).GetReason() != "INVALID_TOKEN" {
		t.Fatalf("Audit() with a token for another audience = %v, want Unauthenticated INVALID_TOKEN", err)
	}
	if _, err := lib.Audit(withToken(ctx, tokAuditorAud), &testpb.AuditRequest{}); err != nil {
		t.Fatalf("Audit() with the audit audience = %v, want OK", err)
	}
}

func TestClaimsNeverCrossCalls(t *testing.T) {
	v := newFakeVerifier(t)
	const n = 40
	for i := range n {
		v.add(fmt.Sprintf("user-%d", i), claimsFor(t, fmt.Sprintf("user-%d", i), "library.read", time.Now().Add(time.Hour)))
	}
	gate, err := interceptor.New(v, newPolicy(t))
	if err != nil {
		t.Fatal(err)
	}
	lib := testpb.NewLibraryServiceClient(startServer(t, serverConfig{gate: gate, tcp: true}))
	ctx := testContext(t)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			sub := fmt.Sprintf("user-%d", i)
			for range 10 {
				resp, err := lib.GetBook(withToken(ctx, sub), &testpb.GetBookRequest{Name: "b"})
				if err != nil || resp.GetName() != sub+":b" {
					t.Errorf("GetBook() as %s = %q, %v", sub, resp.GetName(), err)
					return
				}
				s, err := lib.ListBooks(withToken(ctx, sub), &testpb.ListBooksRequest{Count: 1})
				if err != nil {
					t.Error(err)
					return
				}
				m, err := s.Recv()
				if err != nil || m.GetName() != sub {
					t.Errorf("ListBooks() as %s = %q, %v", sub, m.GetName(), err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestNewValidates(t *testing.T) {
	v, p := newFakeVerifier(t), newPolicy(t)
	tests := map[string]func() (*interceptor.Interceptor, error){
		"NilVerifier": func() (*interceptor.Interceptor, error) { return interceptor.New(nil, p) },
		"NilPolicy":   func() (*interceptor.Interceptor, error) { return interceptor.New(v, nil) },
		"QuoteRealm":  func() (*interceptor.Interceptor, error) { return interceptor.New(v, p, interceptor.WithRealm(`a"b`)) },
		// A control character in the realm would split the challenge header.
		"NewlineRealm": func() (*interceptor.Interceptor, error) {
			return interceptor.New(v, p, interceptor.WithRealm("a\r\nb"))
		},
		"DELRealm": func() (*interceptor.Interceptor, error) {
			return interceptor.New(v, p, interceptor.WithRealm("a\x7fb"))
		},
		"NonASCIIRealm": func() (*interceptor.Interceptor, error) {
			return interceptor.New(v, p, interceptor.WithRealm("bibliothèque"))
		},
		"EmptyDomain": func() (*interceptor.Interceptor, error) { return interceptor.New(v, p, interceptor.WithDomain("")) },
		"TabDomain":   func() (*interceptor.Interceptor, error) { return interceptor.New(v, p, interceptor.WithDomain("a\tb")) },
		"NilLogger":   func() (*interceptor.Interceptor, error) { return interceptor.New(v, p, interceptor.WithLogger(nil)) },
		"NilClock":    func() (*interceptor.Interceptor, error) { return interceptor.New(v, p, interceptor.WithClock(nil)) },
	}
	for name, fn := range tests {
		t.Run(name, func(t *testing.T) {
			if gate, err := fn(); err == nil || gate != nil {
				t.Fatalf("New() = %v, %v, want an error", gate, err)
			}
		})
	}
	// Every printable ASCII character but the quote and the backslash is
	// allowed, the space and the tilde at the ends of the range included.
	if _, err := interceptor.New(v, p, interceptor.WithRealm(" Library API ~"), interceptor.WithDomain("~library example ")); err != nil {
		t.Errorf("New() with a printable realm and domain = %v", err)
	}
}

// TestDenialLog_ClientMethodBounded: with grpc.UnknownServiceHandler the
// client chooses the method name. The denial log (WithLogger) must bound it
// exactly as the decision log does, not write 200 KB per call.
func TestDenialLog_ClientMethodBounded(t *testing.T) {
	var denials, decisions syncBuffer
	gate, err := interceptor.New(newFakeVerifier(t), newPolicy(t),
		interceptor.WithLogger(slog.New(slog.NewJSONHandler(&denials, nil))),
		interceptor.WithDecisionLog(slog.New(slog.NewJSONHandler(&decisions, nil)), slog.LevelInfo, false))
	if err != nil {
		t.Fatal(err)
	}
	var reached atomic.Int64
	unknown := grpc.UnknownServiceHandler(func(any, grpc.ServerStream) error {
		reached.Add(1)
		return status.Error(codes.Unimplemented, "unknown")
	})
	srv := grpc.NewServer(append(gate.ServerOptions(), unknown)...)
	testpb.RegisterLibraryServiceServer(srv, &library{})
	conn := oauthtest.ServeGRPC(t, srv)

	method := "/attacker.Service/" + strings.Repeat("m", 200<<10)
	err = conn.Invoke(withToken(testContext(t), tokAll), method, &testpb.PingRequest{}, &testpb.PingResponse{})
	if status.Code(err) != codes.PermissionDenied || reached.Load() != 0 {
		t.Fatalf("Invoke(200 KB method) = %v, handler reached %d times; want PermissionDenied before the handler", err, reached.Load())
	}
	for name, log := range map[string]string{"WithLogger": denials.String(), "WithDecisionLog": decisions.String()} {
		var entry struct{ Method string }
		if err := json.Unmarshal([]byte(log), &entry); err != nil {
			t.Fatalf("%s: log is not one JSON line (%d bytes): %v", name, len(log), err)
		}
		if len(entry.Method) > 256 || !strings.HasPrefix(method, entry.Method) || entry.Method == "" {
			t.Errorf("%s: logged method has %d bytes, want a prefix of the method of at most 256", name, len(entry.Method))
		}
		if len(log) > 1024 {
			t.Errorf("%s: log line has %d bytes, want at most 1 KiB", name, len(log))
		}
	}
}

// TestLoggerLevels: WithLogger logs each denial at Info, and at Warn when
// the verifier could not answer or broke its contract: those are the
// operators' problems, not the clients'.
func TestLoggerLevels(t *testing.T) {
	var logs syncBuffer
	v := newFakeVerifier(t)
	v.add("broken", func() (*verify.Claims, error) { return nil, nil })
	gate, err := interceptor.New(v, newPolicy(t), interceptor.WithLogger(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if err != nil {
		t.Fatal(err)
	}
	lib := testpb.NewLibraryServiceClient(startServer(t, serverConfig{gate: gate}))
	ctx := testContext(t)
	want := map[string]string{ // reason → level
		"MISSING_TOKEN":        "INFO",
		"INVALID_TOKEN":        "INFO",
		"INSUFFICIENT_SCOPE":   "INFO",
		"VERIFIER_UNAVAILABLE": "WARN",
		"VERIFIER_FAILED":      "WARN",
	}
	for _, token := range []string{"", tokExpired, tokNone, tokUnavailable, "broken"} {
		if _, err := lib.GetBook(withToken(ctx, token), &testpb.GetBookRequest{}); err == nil {
			t.Fatalf("GetBook() with token %q succeeded", token)
		}
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var entry struct{ Level, Msg, Reason string }
		if err := json.Unmarshal([]byte(line), &entry); err != nil || entry.Msg != "oauthgate: call denied" {
			t.Fatalf("log line %q: %v", line, err)
		}
		got[entry.Reason] = entry.Level
	}
	if !maps.Equal(got, want) {
		t.Errorf("denials logged at %v, want %v", got, want)
	}
}
