package interceptor_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/oauthgate/oauthgate/conditions"
	"github.com/oauthgate/oauthgate/interceptor"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

// documents is the DocumentService of the conditions test proto: it
// counts the messages its handlers got, so that a test can tell whether a
// denied message reached the handler.
type documents struct {
	testpb.UnimplementedDocumentServiceServer
	handled atomic.Int32
}

func (d *documents) GetDocument(context.Context, *testpb.GetDocumentRequest) (*testpb.GetDocumentResponse, error) {
	d.handled.Add(1)
	return &testpb.GetDocumentResponse{}, nil
}

func (d *documents) UpdateDocument(context.Context, *testpb.UpdateDocumentRequest) (*testpb.UpdateDocumentResponse, error) {
	d.handled.Add(1)
	return &testpb.UpdateDocumentResponse{}, nil
}

func (d *documents) ListDocuments(_ *testpb.ListDocumentsRequest, s grpc.ServerStreamingServer[testpb.ListDocumentsResponse]) error {
	d.handled.Add(1)
	return s.Send(&testpb.ListDocumentsResponse{})
}

func (d *documents) UploadDocuments(s grpc.ClientStreamingServer[testpb.UploadDocumentsRequest, testpb.UploadDocumentsResponse]) error {
	for {
		_, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return s.SendAndClose(&testpb.UploadDocumentsResponse{})
		}
		if err != nil {
			return err
		}
		d.handled.Add(1)
	}
}

func (d *documents) SyncDocuments(s grpc.BidiStreamingServer[testpb.SyncDocumentsRequest, testpb.SyncDocumentsResponse]) error {
	for {
		_, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		d.handled.Add(1)
		if err := s.Send(&testpb.SyncDocumentsResponse{}); err != nil {
			return err
		}
	}
}

// conditionsFixture serves the DocumentService behind an interceptor that
// enforces its conditions, with tokens of a multi-tenant issuer.
type conditionsFixture struct {
	iss    *oauthtest.Issuer
	docs   *documents
	client testpb.DocumentServiceClient
}

const tenantIssuer = "https://idp.example/{tenant}/"

// newConditionsFixture serves policy, or the .proto's when it is nil.
func newConditionsFixture(t *testing.T, policy *scopes.Policy) *conditionsFixture {
	t.Helper()
	f := &conditionsFixture{iss: oauthtest.NewIssuer(t, oauthtest.IssuerConfig{InMemory: true}), docs: &documents{}}
	keys, err := verify.NewStaticKeySet(f.iss.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: tenantIssuer, Tenants: []string{"acme", "globex"}, Audiences: []string{"docs"}})
	if err != nil {
		t.Fatal(err)
	}
	if policy == nil {
		if policy, err = scopes.NewPolicy(scopes.FromFiles(testpb.File_oauthgatetest_v1_conditions_proto)); err != nil {
			t.Fatal(err)
		}
	}
	ev, err := conditions.Compile(policy)
	if err != nil {
		t.Fatal(err)
	}
	gate, err := interceptor.New(jwt, policy, interceptor.WithConditions(ev))
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(gate.ServerOptions()...)
	testpb.RegisterDocumentServiceServer(srv, f.docs)
	conn := oauthtest.ServeGRPC(t, srv)
	f.client = testpb.NewDocumentServiceClient(conn)
	return f
}

// token returns a token of tenant for sub with scopes.
func (f *conditionsFixture) token(t *testing.T, tenant, sub string, scopes ...string) grpc.CallOption {
	return oauthtest.Bearer(f.iss.Token(t, oauthtest.Token{
		Issuer:   "https://idp.example/" + tenant + "/",
		Claims:   map[string]any{"tid": tenant},
		Audience: []string{"docs"},
		Subject:  sub,
		Scopes:   scopes,
	}))
}

// TestConditions_EndToEnd: conditions of the .proto decide unary,
// server-, client- and bidi-streaming calls, after the scopes; a denial
// names the condition and nothing the request or token held.
func TestConditions_EndToEnd(t *testing.T) {
	f := newConditionsFixture(t, nil)
	ctx := testContext(t)
	alice := f.token(t, "acme", "alice", "docs.read", "docs.write")
	admin := f.token(t, "acme", "root", "docs.read", "docs.write", "admin")
	noWrite := f.token(t, "acme", "alice", "docs.read")

	update := func(tenant, owner string, tok grpc.CallOption) error {
		_, err := f.client.UpdateDocument(ctx, &testpb.UpdateDocumentRequest{Tenant: tenant, Owner: owner}, tok)
		return err
	}
	get := func(tenant string, tok grpc.CallOption) error {
		_, err := f.client.GetDocument(ctx, &testpb.GetDocumentRequest{Tenant: tenant}, tok)
		return err
	}
	list := func(tenant string, tok grpc.CallOption) error {
		s, err := f.client.ListDocuments(ctx, &testpb.ListDocumentsRequest{Tenant: tenant}, tok)
		if err != nil {
			return err
		}
		_, err = s.Recv()
		return err
	}
	tests := map[string]struct {
		call          func() error
		wantCode      codes.Code
		wantReason    string
		wantCondition string
		wantHandled   int32
	}{
		"UnaryOwner":             {call: func() error { return update("acme", "alice", alice) }, wantHandled: 1},
		"UnaryAdminOverride":     {call: func() error { return update("acme", "bob", admin) }, wantHandled: 1},
		"UnaryNotOwner":          {call: func() error { return update("acme", "bob", alice) }, wantCode: codes.PermissionDenied, wantReason: interceptor.ReasonConditionNotMet, wantCondition: "owner"},
		"UnaryOtherTenant":       {call: func() error { return update("globex", "alice", alice) }, wantCode: codes.PermissionDenied, wantReason: interceptor.ReasonConditionNotMet, wantCondition: "tenant"},
		"AdminNotOtherTenant":    {call: func() error { return update("globex", "bob", admin) }, wantCode: codes.PermissionDenied, wantReason: interceptor.ReasonConditionNotMet, wantCondition: "tenant"},
		"ScopesFirst":            {call: func() error { return update("globex", "bob", noWrite) }, wantCode: codes.PermissionDenied, wantReason: interceptor.ReasonInsufficientScope},
		"ServiceRule":            {call: func() error { return get("acme", alice) }, wantHandled: 1},
		"ServiceRuleOtherTenant": {call: func() error { return get("globex", alice) }, wantCode: codes.PermissionDenied, wantReason: interceptor.ReasonConditionNotMet, wantCondition: "tenant"},
		"ServerStream":           {call: func() error { return list("acme", alice) }, wantHandled: 1},
		"ServerStreamDenied":     {call: func() error { return list("globex", alice) }, wantCode: codes.PermissionDenied, wantReason: interceptor.ReasonConditionNotMet, wantCondition: "tenant"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			before := f.docs.handled.Load()
			err := tc.call()
			if status.Code(err) != tc.wantCode {
				t.Fatalf("code = %v (%v), want %v", status.Code(err), err, tc.wantCode)
			}
			if handled := f.docs.handled.Load() - before; handled != tc.wantHandled {
				t.Errorf("the handler ran %d times, want %d", handled, tc.wantHandled)
			}
			if tc.wantCode == codes.OK {
				return
			}
			info := errorInfo(t, err)
			if info.GetReason() != tc.wantReason || info.GetMetadata()["condition"] != tc.wantCondition {
				t.Errorf("reason %s, condition %q; want %s, %q", info.GetReason(), info.GetMetadata()["condition"], tc.wantReason, tc.wantCondition)
			}
			for _, leaked := range []string{"globex", "bob", "alice", "request.", "token."} {
				if strings.Contains(status.Convert(err).Message(), leaked) || strings.Contains(info.String(), leaked) {
					t.Errorf("the denial %v (%v) shows %q", err, info, leaked)
				}
			}
		})
	}
}

// TestConditions_StreamMessages: on client- and bidi-streaming calls every
// message is held to the conditions: a second message for another owner
// or tenant ends the stream with the denial, and never reaches the
// handler.
func TestConditions_StreamMessages(t *testing.T) {
	f := newConditionsFixture(t, nil)
	ctx := testContext(t)
	alice := f.token(t, "acme", "alice", "docs.read", "docs.write")

	t.Run("ClientStream", func(t *testing.T) {
		before := f.docs.handled.Load()
		s, err := f.client.UploadDocuments(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		for _, owner := range []string{"alice", "mallory", "alice"} {
			if err := s.Send(&testpb.UploadDocumentsRequest{Owner: owner}); err != nil {
				break // the server ended the stream
			}
		}
		_, err = s.CloseAndRecv()
		if status.Code(err) != codes.PermissionDenied || errorInfo(t, err).GetMetadata()["condition"] != "owner" {
			t.Fatalf("CloseAndRecv() = %v, want PermissionDenied naming the owner condition", err)
		}
		if handled := f.docs.handled.Load() - before; handled != 1 {
			t.Errorf("the handler got %d messages, want 1 (the first)", handled)
		}
	})
	t.Run("BidiStream", func(t *testing.T) {
		before := f.docs.handled.Load()
		s, err := f.client.SyncDocuments(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Send(&testpb.SyncDocumentsRequest{Tenant: "acme"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Recv(); err != nil {
			t.Fatalf("first message: Recv() = %v", err)
		}
		_ = s.Send(&testpb.SyncDocumentsRequest{Tenant: "globex"})
		_, err = s.Recv()
		if status.Code(err) != codes.PermissionDenied || errorInfo(t, err).GetMetadata()["condition"] != "tenant" {
			t.Fatalf("second message: Recv() = %v, want PermissionDenied naming the tenant condition", err)
		}
		if handled := f.docs.handled.Load() - before; handled != 1 {
			t.Errorf("the handler got %d messages, want 1", handled)
		}
	})
	t.Run("ClientStreamAllGood", func(t *testing.T) {
		s, err := f.client.UploadDocuments(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if err := s.Send(&testpb.UploadDocumentsRequest{Owner: "alice"}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.CloseAndRecv(); err != nil {
			t.Fatalf("CloseAndRecv() = %v", err)
		}
	})
}

// TestConditions_EvaluationError: a condition that cannot be evaluated
// (here a claim the token lacks) denies the call, and its error, which may
// show what the token held, reaches the server's log only.
func TestConditions_EvaluationError(t *testing.T) {
	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{InMemory: true})
	keys, err := verify.NewStaticKeySet(iss.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: iss.URL, Audiences: []string{oauthtest.DefaultAudience}})
	if err != nil {
		t.Fatal(err)
	}
	policy, err := scopes.NewPolicy(scopes.FromFiles(testpb.File_oauthgatetest_v1_library_proto),
		scopes.ForMethod("/oauthgatetest.v1.ShelfService/Move", scopes.AllOf("library.read").If("level", "token.claims['clearance'] == 'secret'")))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := conditions.Compile(policy)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	gate, err := interceptor.New(jwt, policy, interceptor.WithConditions(ev), interceptor.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(gate.ServerOptions()...)
	testpb.RegisterShelfServiceServer(srv, shelf{})
	conn := oauthtest.ServeGRPC(t, srv)
	client := testpb.NewShelfServiceClient(conn)
	ctx := testContext(t)
	_, err = client.Move(ctx, &testpb.MoveRequest{}, oauthtest.Bearer(iss.Token(t, oauthtest.Token{Scopes: []string{"library.read"}})))
	if status.Code(err) != codes.PermissionDenied || errorInfo(t, err).GetMetadata()["condition"] != "level" {
		t.Fatalf("Move(no clearance claim) = %v, want PermissionDenied naming the level condition", err)
	}
	if strings.Contains(status.Convert(err).Message(), "clearance") {
		t.Errorf("the client sees the evaluation error: %v", err)
	}
	if logged := logs.String(); !strings.Contains(logged, "clearance") || !strings.Contains(logged, "CONDITION_NOT_MET") {
		t.Errorf("the server log lacks the evaluation error: %s", logged)
	}
	// The same condition, met: the call gets past the gate (the test shelf
	// does not implement Move).
	_, err = client.Move(ctx, &testpb.MoveRequest{}, oauthtest.Bearer(iss.Token(t, oauthtest.Token{Scopes: []string{"library.read"}, Claims: map[string]any{"clearance": "secret"}})))
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("Move(clearance secret) = %v, want it past the gate (Unimplemented)", err)
	}
}

// TestConditions_Wiring: a policy with conditions never runs without them:
// New refuses it without an evaluator or with one compiled for another
// policy, and AuthFunc, which cannot see the request, denies its calls.
func TestConditions_Wiring(t *testing.T) {
	policy, err := scopes.NewPolicy(scopes.FromFiles(testpb.File_oauthgatetest_v1_conditions_proto))
	if err != nil {
		t.Fatal(err)
	}
	other, err := conditions.Compile(newPolicy(t))
	if err != nil {
		t.Fatal(err)
	}
	for name, opts := range map[string][]interceptor.Option{
		"NoEvaluator":    nil,
		"NilEvaluator":   {interceptor.WithConditions(nil)},
		"OtherPolicy":    {interceptor.WithConditions(other)},
		"ReplacedByNone": {interceptor.WithConditions(other), interceptor.WithConditions(nil)},
	} {
		if _, err := interceptor.New(newFakeVerifier(t), policy, opts...); err == nil || !strings.Contains(err.Error(), "conditions") {
			t.Errorf("%s: New() = %v, want an error about the conditions", name, err)
		}
	}

	f := &conditionsFixture{iss: oauthtest.NewIssuer(t, oauthtest.IssuerConfig{InMemory: true}), docs: &documents{}}
	keys, err := verify.NewStaticKeySet(f.iss.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: tenantIssuer, AnyTenant: true, Audiences: []string{"docs"}})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := conditions.Compile(policy)
	if err != nil {
		t.Fatal(err)
	}
	gate, err := interceptor.New(jwt, policy, interceptor.WithConditions(ev))
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(authUnary(gate.AuthFunc)))
	testpb.RegisterDocumentServiceServer(srv, f.docs)
	conn := oauthtest.ServeGRPC(t, srv)
	_, err = testpb.NewDocumentServiceClient(conn).GetDocument(testContext(t), &testpb.GetDocumentRequest{Tenant: "acme"},
		f.token(t, "acme", "alice", "docs.read"))
	if status.Code(err) != codes.PermissionDenied || errorInfo(t, err).GetReason() != interceptor.ReasonConditionNotMet {
		t.Fatalf("GetDocument() through AuthFunc = %v, want PermissionDenied CONDITION_NOT_MET", err)
	}
	if f.docs.handled.Load() != 0 {
		t.Error("the handler ran")
	}
}

// authUnary is go-grpc-middleware's auth.UnaryServerInterceptor in
// miniature: fn decides, the handler gets its context.
func authUnary(fn func(context.Context) (context.Context, error)) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := fn(ctx)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}
