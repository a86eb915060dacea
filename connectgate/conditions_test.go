package connectgate_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	"github.com/oauthgate/oauthgate/conditions"
	"github.com/oauthgate/oauthgate/connectgate"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

const (
	getDocumentProc     = testpb.DocumentService_GetDocument_FullMethodName
	listDocumentsProc   = testpb.DocumentService_ListDocuments_FullMethodName
	uploadDocumentsProc = testpb.DocumentService_UploadDocuments_FullMethodName
)

// syncBuffer is a log destination safe for the server's goroutines.
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

// TestConditions: the CEL conditions of conditions.proto decide connect
// calls as they decide grpc-go ones: on a unary request, on a
// server-streaming call's one request, and on every message of a client
// stream, whose first failing message ends it before the handler sees it.
// The decision log records each decision, and never the token.
func TestConditions(t *testing.T) {
	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{InMemory: true})
	keys, err := verify.NewStaticKeySet(iss.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: "https://idp.example/{tenant}/", Tenants: []string{"acme", "globex"}, Audiences: []string{"docs"}})
	if err != nil {
		t.Fatal(err)
	}
	policy, err := scopes.NewPolicy(scopes.FromFiles(testpb.File_oauthgatetest_v1_conditions_proto))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := conditions.Compile(policy)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := connectgate.New(jwt, policy); err == nil {
		t.Fatal("New(policy with conditions, no evaluator) = nil error, want the conditions refused unchecked")
	}
	var decisions syncBuffer
	gate, err := connectgate.New(jwt, policy, connectgate.WithConditions(ev),
		connectgate.WithDecisionLog(slog.New(slog.NewTextHandler(&decisions, nil)), slog.LevelInfo, true))
	if err != nil {
		t.Fatal(err)
	}
	var uploaded atomic.Int64
	ic := connect.WithInterceptors(gate)
	m := http.NewServeMux()
	m.Handle(getDocumentProc, connect.NewUnaryHandler(getDocumentProc, func(context.Context, *connect.Request[testpb.GetDocumentRequest]) (*connect.Response[testpb.GetDocumentResponse], error) {
		return connect.NewResponse(&testpb.GetDocumentResponse{}), nil
	}, ic))
	m.Handle(listDocumentsProc, connect.NewServerStreamHandler(listDocumentsProc, func(_ context.Context, _ *connect.Request[testpb.ListDocumentsRequest], s *connect.ServerStream[testpb.ListDocumentsResponse]) error {
		return s.Send(&testpb.ListDocumentsResponse{})
	}, ic))
	m.Handle(uploadDocumentsProc, connect.NewClientStreamHandler(uploadDocumentsProc, func(_ context.Context, s *connect.ClientStream[testpb.UploadDocumentsRequest]) (*connect.Response[testpb.UploadDocumentsResponse], error) {
		for s.Receive() {
			uploaded.Add(1)
		}
		if err := s.Err(); err != nil {
			return nil, err
		}
		return connect.NewResponse(&testpb.UploadDocumentsResponse{}), nil
	}, ic))
	srv := oauthtest.ServeConnect(t, gate.Handler(m))
	alice := "Bearer " + iss.Token(t, oauthtest.Token{Issuer: "https://idp.example/acme/", Claims: map[string]any{"tid": "acme"},
		Audience: []string{"docs"}, Subject: "alice", Scopes: []string{"docs.read", "docs.write"}})

	for _, p := range oauthtest.ConnectProtocols() {
		t.Run(string(p), func(t *testing.T) {
			get := connect.NewClient[testpb.GetDocumentRequest, testpb.GetDocumentResponse](srv.Client(t, nil), srv.URL+getDocumentProc, p.ClientOption())
			list := connect.NewClient[testpb.ListDocumentsRequest, testpb.ListDocumentsResponse](srv.Client(t, nil), srv.URL+listDocumentsProc, p.ClientOption())
			for _, tenant := range []string{"acme", "globex"} {
				req := connect.NewRequest(&testpb.GetDocumentRequest{Tenant: tenant, Id: "d-1"})
				req.Header().Set("Authorization", alice)
				_, err := get.CallUnary(testContext(t), req)
				checkCondition(t, "GetDocument("+tenant+")", err, tenant == "acme", "tenant")

				lreq := connect.NewRequest(&testpb.ListDocumentsRequest{Tenant: tenant})
				lreq.Header().Set("Authorization", alice)
				s, err := list.CallServerStream(testContext(t), lreq)
				if err != nil {
					t.Fatal(err)
				}
				for s.Receive() {
				}
				checkCondition(t, "ListDocuments("+tenant+")", s.Err(), tenant == "acme", "tenant")
				_ = s.Close()
			}

			upload := connect.NewClient[testpb.UploadDocumentsRequest, testpb.UploadDocumentsResponse](srv.Client(t, nil), srv.URL+uploadDocumentsProc, p.ClientOption())
			before := uploaded.Load()
			s := upload.CallClientStream(testContext(t))
			s.RequestHeader().Set("Authorization", alice)
			for _, owner := range []string{"alice", "bob", "alice"} {
				if err := s.Send(&testpb.UploadDocumentsRequest{Owner: owner}); err != nil {
					break // the server ended the stream
				}
			}
			_, err := s.CloseAndReceive()
			checkCondition(t, "UploadDocuments(alice, bob, alice)", err, false, "owner")
			if n := uploaded.Load() - before; n != 1 {
				t.Errorf("the handler received %d messages, want 1: the second ended the stream", n)
			}
		})
	}
	log := decisions.String()
	if !strings.Contains(log, "decision=allow") || !strings.Contains(log, "reason=CONDITION_NOT_MET") ||
		!strings.Contains(log, "sub=alice") || strings.Contains(log, strings.TrimPrefix(alice, "Bearer ")) {
		t.Errorf("decision log = %s, want allowed and CONDITION_NOT_MET decisions with the subject, never the token", log)
	}
}

// checkCondition checks that err is nil when allowed, and otherwise
// PermissionDenied with CONDITION_NOT_MET naming condition.
func checkCondition(t *testing.T, call string, err error, allowed bool, condition string) {
	t.Helper()
	if allowed {
		if err != nil {
			t.Errorf("%s = %v, want it allowed", call, err)
		}
		return
	}
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodePermissionDenied {
		t.Fatalf("%s = %v, want PermissionDenied", call, err)
	}
	for _, d := range ce.Details() {
		if v, derr := d.Value(); derr == nil {
			if info, ok := v.(*errdetails.ErrorInfo); ok && info.GetReason() == "CONDITION_NOT_MET" && info.GetMetadata()["condition"] == condition {
				return
			}
		}
	}
	t.Errorf("%s = %v, want CONDITION_NOT_MET naming %s", call, err, condition)
}
