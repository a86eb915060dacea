package connectgate_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"connectrpc.com/connect"

	"github.com/oauthgate/oauthgate/connectgate"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

// conn is a server-streaming call as connect-go hands it to a streaming
// interceptor: the request header and one request message. It stands in
// for connect-go's own conn inside a synctest bubble, where no socket may
// be used.
type conn struct {
	connect.StreamingHandlerConn // nil: only the methods below are called
	header, resHeader, trailer   http.Header
	received                     bool
	sent                         int
}

func (c *conn) Spec() connect.Spec {
	return connect.Spec{Procedure: listBooksProc, StreamType: connect.StreamTypeServer}
}
func (c *conn) Peer() connect.Peer           { return connect.Peer{Protocol: connect.ProtocolConnect} }
func (c *conn) RequestHeader() http.Header   { return c.header }
func (c *conn) ResponseHeader() http.Header  { return c.resHeader }
func (c *conn) ResponseTrailer() http.Header { return c.trailer }
func (c *conn) Send(any) error               { c.sent++; return nil }
func (c *conn) Receive(m any) error {
	if c.received {
		return io.EOF
	}
	c.received = true
	m.(*testpb.ListBooksRequest).Count = 1
	return nil
}

// TestStream_Ends: a stream never outlives its token. At the token's
// deadline, or at a periodic re-check that fails, the handler's context is
// cancelled, Send and Receive fail, and the call ends with the denial a
// new call would get, challenge included, whatever the handler returns.
func TestStream_Ends(t *testing.T) {
	policy, err := scopes.NewPolicy(scopes.FromFiles(testpb.File_oauthgatetest_v1_library_proto))
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		lifetime   time.Duration // of the token
		revokeAt   int           // the verifier refuses the token from this call on
		wantAfter  time.Duration // when the stream ends
		wantCode   connect.Code
		wantReason string
	}{
		"Deadline":    {lifetime: 90 * time.Second, revokeAt: 1 << 30, wantAfter: 90 * time.Second, wantCode: connect.CodeUnauthenticated, wantReason: "INVALID_TOKEN"},
		"Revoked":     {lifetime: time.Hour, revokeAt: 2, wantAfter: time.Minute, wantCode: connect.CodeUnauthenticated, wantReason: "INVALID_TOKEN"},
		"Unavailable": {lifetime: time.Hour, revokeAt: -2, wantAfter: time.Minute, wantCode: connect.CodeUnavailable, wantReason: "VERIFIER_UNAVAILABLE"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				exp := start.Add(tc.lifetime).Unix()
				var calls atomic.Int64
				v := verify.Func(func(context.Context, string) (*verify.Claims, error) {
					n := int(calls.Add(1))
					switch {
					case tc.revokeAt > 0 && n >= tc.revokeAt:
						return nil, &verify.TokenError{Reason: verify.ErrExpired}
					case tc.revokeAt < 0 && n >= -tc.revokeAt:
						return nil, verify.ErrUnavailable
					}
					return verify.ParseClaims([]byte(`{"sub":"alice","scope":"library.read","exp":` + strconv.FormatInt(exp, 10) + `}`))
				})
				gate, err := connectgate.New(v, policy, connectgate.WithRealm("library"), connectgate.WithStreamRecheck(time.Minute))
				if err != nil {
					t.Fatal(err)
				}
				c := &conn{header: http.Header{"Authorization": {"Bearer token"}}, resHeader: http.Header{}, trailer: http.Header{}}
				var sendErr, recvErr error
				handler := gate.WrapStreamingHandler(func(ctx context.Context, sc connect.StreamingHandlerConn) error {
					if err := sc.Receive(&testpb.ListBooksRequest{}); err != nil {
						return err
					}
					<-ctx.Done()
					sendErr = sc.Send(&testpb.ListBooksResponse{})
					recvErr = sc.Receive(&testpb.ListBooksRequest{})
					return nil // the handler thinks it succeeded
				})
				err = handler(t.Context(), c)
				if got := time.Since(start); got != tc.wantAfter {
					t.Errorf("stream ended after %v, want %v", got, tc.wantAfter)
				}
				if code, r := reason(err); code != tc.wantCode || r != tc.wantReason {
					t.Fatalf("stream = %v (%v, %q), want %v, %q", err, code, r, tc.wantCode, tc.wantReason)
				}
				if connect.CodeOf(sendErr) != tc.wantCode || connect.CodeOf(recvErr) != tc.wantCode || c.sent != 0 {
					t.Errorf("after the end: Send = %v, Receive = %v, %d sent; want both refused, none sent", sendErr, recvErr, c.sent)
				}
				var ce *connect.Error
				wantChallenge := tc.wantCode == connect.CodeUnauthenticated
				if errors.As(err, &ce) && (ce.Meta().Get("WWW-Authenticate") != "") != wantChallenge {
					t.Errorf("WWW-Authenticate = %q, want one: %v", ce.Meta().Get("WWW-Authenticate"), wantChallenge)
				}
			})
		})
	}
}

// TestAuthorizer: the Authorizer sees a unary call's request and, with
// WithStreamMessages, every message a stream receives; its DenyError is
// the answer on every protocol.
func TestAuthorizer(t *testing.T) {
	f := newFixture(t)
	var starts, messages atomic.Int64
	authz := func(_ context.Context, call connectgate.Call) error {
		switch req := call.Request.(type) {
		case *testpb.GetBookRequest:
			if req.GetName() != "dune" {
				return &connectgate.DenyError{Reason: "NOT_ON_SHELF", Description: "no such book"}
			}
		case *testpb.ListBooksRequest:
			messages.Add(1)
			return &connectgate.DenyError{Reason: "NO_LISTING"}
		case nil:
			starts.Add(1)
		}
		return nil
	}
	gate := f.gate(t, connectgate.WithAuthorizer(authz), connectgate.WithStreamMessages())
	m := mux(gate)
	m.Handle(listBooksProc, connect.NewServerStreamHandler(listBooksProc, func(context.Context, *connect.Request[testpb.ListBooksRequest], *connect.ServerStream[testpb.ListBooksResponse]) error {
		return nil
	}, connect.WithInterceptors(gate)))
	srv := oauthtest.ServeConnect(t, gate.Handler(m))
	h := http.Header{"Authorization": {"Bearer " + f.token(t)}}
	for _, p := range oauthtest.ConnectProtocols() {
		t.Run(string(p), func(t *testing.T) {
			client := getBookClient(t, srv, nil, p.ClientOption())
			if err := callGetBook(t, client, h); err != nil {
				t.Errorf("GetBook(dune) = %v, want it allowed", err)
			}
			req := connect.NewRequest(&testpb.GetBookRequest{Name: "emma"})
			req.Header().Set("Authorization", h.Get("Authorization"))
			_, err := client.CallUnary(testContext(t), req)
			if code, r := reason(err); code != connect.CodePermissionDenied || r != "NOT_ON_SHELF" {
				t.Errorf("GetBook(emma) = %v, %q; want PermissionDenied, NOT_ON_SHELF", code, r)
			}
			list := connect.NewClient[testpb.ListBooksRequest, testpb.ListBooksResponse](srv.Client(t, nil), srv.URL+listBooksProc, p.ClientOption())
			lreq := connect.NewRequest(&testpb.ListBooksRequest{Count: 1})
			lreq.Header().Set("Authorization", h.Get("Authorization"))
			s, err := list.CallServerStream(testContext(t), lreq)
			if err != nil {
				t.Fatal(err)
			}
			for s.Receive() {
			}
			if code, r := reason(s.Err()); code != connect.CodePermissionDenied || r != "NO_LISTING" {
				t.Errorf("ListBooks = %v, %q; want PermissionDenied, NO_LISTING", code, r)
			}
			_ = s.Close()
		})
	}
	if starts.Load() != 3 || messages.Load() != 3 {
		t.Errorf("the Authorizer saw %d stream starts and %d stream messages, want 3 and 3", starts.Load(), messages.Load())
	}
}
