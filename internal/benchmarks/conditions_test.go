package benchmarks

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/oauthgate/oauthgate/conditions"
	"github.com/oauthgate/oauthgate/interceptor"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

// The conditions benchmarks use the DocumentService of the conditions test
// proto: UpdateDocument's two conditions are the typical ones of issue #26
// (tenant isolation, then owner or admin), and SyncDocuments is a bidi
// stream whose every message is held to the tenant condition.
const (
	tenantIssuer   = "https://idp.example/{tenant}/"
	updateDocument = "/oauthgatetest.v1.DocumentService/UpdateDocument"
)

// conditionsBench is a gate that enforces both the library's rules and
// the documents' conditions, and one ES256 token both accept.
type conditionsBench struct {
	gate  *interceptor.Interceptor
	token string
}

func newConditionsBench(tb testing.TB) *conditionsBench {
	tb.Helper()
	f := loadFixture(tb)
	claims := fixtureClaims(time.Now())
	claims["iss"], claims["tid"], claims["scope"] = "https://idp.example/acme/", "acme", "library.read docs.read docs.write"
	tok, err := signToken(jose.ES256, f.priv[jose.ES256], claims)
	if err != nil {
		tb.Fatal(err)
	}
	jwt, err := verify.NewJWT(f.keys, verify.JWTConfig{Issuer: tenantIssuer, Tenants: []string{"acme"}, Audiences: []string{audience}})
	if err != nil {
		tb.Fatal(err)
	}
	policy, err := scopes.NewPolicy(scopes.FromFiles(testpb.File_oauthgatetest_v1_library_proto, testpb.File_oauthgatetest_v1_conditions_proto))
	if err != nil {
		tb.Fatal(err)
	}
	ev, err := conditions.Compile(policy)
	if err != nil {
		tb.Fatal(err)
	}
	gate, err := interceptor.New(jwt, policy, interceptor.WithConditions(ev))
	if err != nil {
		tb.Fatal(err)
	}
	return &conditionsBench{gate: gate, token: tok}
}

// BenchmarkConditionCost is the cost a condition adds to a cached,
// authorized unary call, without a transport: the gate's whole work for
// UpdateDocument (scopes, then its tenant and owner conditions on the
// request) and for GetBook (scopes only), interleaved in one loop so that
// machine drift hits both, with the same token from the same cache. It
// reports condition-ns, the difference per call (target ≤ 1000).
func BenchmarkConditionCost(b *testing.B) {
	c := newConditionsBench(b)
	ctx := metadata.NewIncomingContext(b.Context(), metadata.Pairs("authorization", "Bearer "+c.token))
	handler := func(context.Context, any) (any, error) { return nil, nil }
	plain := &grpc.UnaryServerInfo{FullMethod: getBook}
	guarded := &grpc.UnaryServerInfo{FullMethod: updateDocument}
	book := &testpb.GetBookRequest{Name: "dune"}
	doc := &testpb.UpdateDocumentRequest{Tenant: "acme", Owner: "user-42"}
	if _, err := c.gate.Unary(ctx, doc, guarded, handler); err != nil { // warm the cache
		b.Fatal(err)
	}
	var tPlain, tCond time.Duration
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		if _, err := c.gate.Unary(ctx, book, plain, handler); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		if _, err := c.gate.Unary(ctx, doc, guarded, handler); err != nil {
			b.Fatal(err)
		}
		tCond += time.Since(mid)
		tPlain += mid.Sub(start)
	}
	b.ReportMetric(float64((tCond-tPlain).Nanoseconds())/float64(b.N), "condition-ns")
}

// documents answers the DocumentService calls of the benchmarks.
type documents struct {
	testpb.UnimplementedDocumentServiceServer
}

func (documents) UpdateDocument(context.Context, *testpb.UpdateDocumentRequest) (*testpb.UpdateDocumentResponse, error) {
	return &testpb.UpdateDocumentResponse{}, nil
}

func (documents) SyncDocuments(s grpc.BidiStreamingServer[testpb.SyncDocumentsRequest, testpb.SyncDocumentsResponse]) error {
	for {
		if _, err := s.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if err := s.Send(&testpb.SyncDocumentsResponse{}); err != nil {
			return err
		}
	}
}

// serveDocuments serves the DocumentService on 127.0.0.1 behind gate (none
// if nil) and returns a client; it stops with tb.
func serveDocuments(tb testing.TB, gate *interceptor.Interceptor) testpb.DocumentServiceClient {
	tb.Helper()
	var opts []grpc.ServerOption
	if gate != nil {
		opts = gate.ServerOptions()
	}
	srv := grpc.NewServer(opts...)
	testpb.RegisterDocumentServiceServer(srv, documents{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = conn.Close()
		srv.Stop()
		<-done
	})
	return testpb.NewDocumentServiceClient(conn)
}

// BenchmarkConditionThroughputRatio is BenchmarkThroughputRatio for a
// method with conditions: client goroutines alternate UpdateDocument calls
// between a server without auth and one through the gate (cached token,
// two conditions), and it reports throughput-ratio, the no-auth time per
// call divided by the guarded one (target ≥ 0.95).
func BenchmarkConditionThroughputRatio(b *testing.B) {
	c := newConditionsBench(b)
	none, guarded := serveDocuments(b, nil), serveDocuments(b, c.gate)
	ctx := metadata.AppendToOutgoingContext(b.Context(), "authorization", "Bearer "+c.token)
	req := &testpb.UpdateDocumentRequest{Tenant: "acme", Owner: "user-42"}
	call := func(c testpb.DocumentServiceClient) func() error {
		return func() error { _, err := c.UpdateDocument(ctx, req); return err }
	}
	alternate(b, call(none), call(guarded))
}

// BenchmarkConditionStreamRatio is per-message evaluation on a bidi stream
// of small messages: one SyncDocuments stream to a server without auth and
// one through the gate, whose every message is held to the tenant
// condition, with messages alternating between them; it reports
// stream-ratio, the no-auth time per message divided by the guarded one
// (target ≥ 0.90).
func BenchmarkConditionStreamRatio(b *testing.B) {
	c := newConditionsBench(b)
	ctx := metadata.AppendToOutgoingContext(b.Context(), "authorization", "Bearer "+c.token)
	open := func(client testpb.DocumentServiceClient) grpc.BidiStreamingClient[testpb.SyncDocumentsRequest, testpb.SyncDocumentsResponse] {
		s, err := client.SyncDocuments(ctx)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	none, guarded := open(serveDocuments(b, nil)), open(serveDocuments(b, c.gate))
	msg := &testpb.SyncDocumentsRequest{Tenant: "acme"}
	roundTrip := func(s grpc.BidiStreamingClient[testpb.SyncDocumentsRequest, testpb.SyncDocumentsResponse]) time.Duration {
		start := time.Now()
		if err := s.Send(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Recv(); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	var tNone, tGuarded time.Duration
	for b.Loop() {
		tNone += roundTrip(none)
		tGuarded += roundTrip(guarded)
	}
	b.ReportMetric(float64(tNone)/float64(tGuarded), "stream-ratio")
}

// TestConditionsBench proves the fixture of the conditions benchmarks: the
// guarded calls pass, and a message of another tenant ends the stream.
func TestConditionsBench(t *testing.T) {
	c := newConditionsBench(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.token)
	client := serveDocuments(t, c.gate)
	if _, err := client.UpdateDocument(ctx, &testpb.UpdateDocumentRequest{Tenant: "acme", Owner: "user-42"}); err != nil {
		t.Fatalf("UpdateDocument() = %v", err)
	}
	if _, err := client.UpdateDocument(ctx, &testpb.UpdateDocumentRequest{Tenant: "acme", Owner: "someone"}); err == nil {
		t.Fatal("UpdateDocument(another owner) succeeded")
	}
	s, err := client.SyncDocuments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, tenant := range []string{"acme", "globex"} {
		if err := s.Send(&testpb.SyncDocumentsRequest{Tenant: tenant}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Recv(); (err == nil) != (i == 0) {
			t.Fatalf("message %d (tenant %s): Recv() = %v", i, tenant, err)
		}
	}
}
