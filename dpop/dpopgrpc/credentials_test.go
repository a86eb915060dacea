package dpopgrpc_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/oauthgate/oauthgate/dpop"
	"github.com/oauthgate/oauthgate/dpop/dpopgrpc"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
)

const token = "the-access-token"

// recorder is a server that answers every call with Aborted and keeps the
// authorization and dpop metadata it was sent.
type recorder struct {
	mu    sync.Mutex
	calls []metadata.MD
}

func (r *recorder) keep(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	r.mu.Lock()
	r.calls = append(r.calls, md)
	r.mu.Unlock()
	return status.Error(codes.Aborted, "recorded")
}

func (r *recorder) last(t *testing.T) metadata.MD {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.calls) == 0 {
		t.Fatal("the server saw no call")
	}
	return r.calls[len(r.calls)-1]
}

func (r *recorder) options() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.UnaryInterceptor(func(ctx context.Context, _ any, _ *grpc.UnaryServerInfo, _ grpc.UnaryHandler) (any, error) {
			return nil, r.keep(ctx)
		}),
		grpc.StreamInterceptor(func(_ any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, _ grpc.StreamHandler) error {
			return r.keep(ss.Context())
		}),
	}
}

func register(s *grpc.Server) {
	testpb.RegisterLibraryServiceServer(s, testpb.UnimplementedLibraryServiceServer{})
}

// checkProof checks the call's credentials as a resource server does:
// the DPoP scheme with the token, and a proof for htu that v accepts.
func checkProof(t *testing.T, v *dpop.Verifier, md metadata.MD, htu string) error {
	t.Helper()
	if got := md.Get("authorization"); len(got) != 1 || got[0] != "DPoP "+token {
		t.Fatalf("authorization = %q, want the DPoP scheme with the token", got)
	}
	proofs := md.Get("dpop")
	if len(proofs) != 1 {
		t.Fatalf("dpop = %q, want one proof", proofs)
	}
	p, err := v.Check(proofs[0], dpop.Request{Method: "POST", URIs: []string{htu}, AccessToken: token})
	if err != nil {
		return err
	}
	return v.Record(context.Background(), p)
}

// TestCredentials: every call, unary and streaming, carries the token with
// the DPoP scheme and a fresh proof for exactly that call's URI, http on a
// plaintext connection and https over TLS.
func TestCredentials(t *testing.T) {
	t.Parallel()
	key := oauthtest.NewDPoPKey(t, jose.ES256, nil)
	tokens := func(context.Context) (string, error) { return token, nil }
	v, err := dpop.New(dpop.Config{})
	if err != nil {
		t.Fatal(err)
	}
	const get = "/oauthgatetest.v1.LibraryService/GetBook"
	const list = "/oauthgatetest.v1.LibraryService/ListBooks"

	var plain recorder
	srv := grpc.NewServer(plain.options()...)
	register(srv)
	conn := oauthtest.ServeGRPCTCP(t, srv)
	creds := dpopgrpc.NewCredentials(key.Signer(t), tokens, dpopgrpc.AllowInsecure())
	if creds.RequireTransportSecurity() {
		t.Error("RequireTransportSecurity() with AllowInsecure = true")
	}
	client := testpb.NewLibraryServiceClient(conn)
	authority := strings.TrimPrefix(conn.Target(), "passthrough:///")
	ctx := context.Background()
	for range 2 { // a fresh proof each time: the second is no replay
		_, err := client.GetBook(ctx, &testpb.GetBookRequest{}, grpc.PerRPCCredentials(creds))
		if status.Code(err) != codes.Aborted {
			t.Fatalf("GetBook() = %v", err)
		}
		if err := checkProof(t, v, plain.last(t), "http://"+authority+get); err != nil {
			t.Fatalf("unary proof: %v", err)
		}
	}
	s, err := client.ListBooks(ctx, &testpb.ListBooksRequest{}, grpc.PerRPCCredentials(creds))
	if err == nil {
		_, err = s.Recv()
	}
	if status.Code(err) != codes.Aborted {
		t.Fatalf("ListBooks() = %v", err)
	}
	if err := checkProof(t, v, plain.last(t), "http://"+authority+list); err != nil {
		t.Fatalf("stream proof: %v", err)
	}

	certs := oauthtest.NewCertificates(t)
	var secure recorder
	srv2 := grpc.NewServer(append(secure.options(), grpc.Creds(credentials.NewTLS(certs.ServerTLSConfig())))...)
	register(srv2)
	tlsConn := oauthtest.ServeGRPCTCP(t, srv2, certs.DialOption(&certs.Client))
	strict := dpopgrpc.NewCredentials(key.Signer(t), tokens)
	if !strict.RequireTransportSecurity() {
		t.Error("RequireTransportSecurity() by default = false")
	}
	_, err = testpb.NewLibraryServiceClient(tlsConn).GetBook(ctx, &testpb.GetBookRequest{}, grpc.PerRPCCredentials(strict))
	if status.Code(err) != codes.Aborted {
		t.Fatalf("GetBook() over TLS = %v", err)
	}
	md := secure.last(t)
	tlsAuthority := md.Get(":authority")
	if len(tlsAuthority) != 1 {
		t.Fatalf(":authority = %q", tlsAuthority)
	}
	if err := checkProof(t, v, md, "https://"+tlsAuthority[0]+get); err != nil {
		t.Fatalf("proof over TLS: %v", err)
	}
}

// TestCredentials_Nonce: a nonce set with SetNonce goes into every next
// proof, and "" stops it.
func TestCredentials_Nonce(t *testing.T) {
	t.Parallel()
	key := oauthtest.NewDPoPKey(t, jose.ES256, nil)
	v, err := dpop.New(dpop.Config{NoncePeriod: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var rec recorder
	srv := grpc.NewServer(rec.options()...)
	register(srv)
	conn := oauthtest.ServeGRPCTCP(t, srv)
	htu := "http://" + strings.TrimPrefix(conn.Target(), "passthrough:///") + "/oauthgatetest.v1.LibraryService/GetBook"
	creds := dpopgrpc.NewCredentials(key.Signer(t), func(context.Context) (string, error) { return token, nil }, dpopgrpc.AllowInsecure())
	call := func() metadata.MD {
		_, err := testpb.NewLibraryServiceClient(conn).GetBook(context.Background(), &testpb.GetBookRequest{}, grpc.PerRPCCredentials(creds))
		if status.Code(err) != codes.Aborted {
			t.Fatalf("GetBook() = %v", err)
		}
		return rec.last(t)
	}
	if err := checkProof(t, v, call(), htu); !errors.Is(err, dpop.ErrNonce) {
		t.Fatalf("proof before SetNonce = %v, want ErrNonce", err)
	}
	creds.SetNonce(v.Nonce())
	if err := checkProof(t, v, call(), htu); err != nil {
		t.Fatalf("proof after SetNonce = %v", err)
	}
	creds.SetNonce("")
	if err := checkProof(t, v, call(), htu); !errors.Is(err, dpop.ErrNonce) {
		t.Fatalf("proof after SetNonce(\"\") = %v, want ErrNonce", err)
	}
}

// TestCredentials_TokenError: when no token can be had the call fails on
// the client, and the server sees nothing.
func TestCredentials_TokenError(t *testing.T) {
	t.Parallel()
	key := oauthtest.NewDPoPKey(t, jose.ES256, nil)
	var rec recorder
	srv := grpc.NewServer(rec.options()...)
	register(srv)
	conn := oauthtest.ServeGRPCTCP(t, srv)
	creds := dpopgrpc.NewCredentials(key.Signer(t), func(context.Context) (string, error) {
		return "", status.Error(codes.Unavailable, "the authorization server is down")
	}, dpopgrpc.AllowInsecure())
	_, err := testpb.NewLibraryServiceClient(conn).GetBook(context.Background(), &testpb.GetBookRequest{}, grpc.PerRPCCredentials(creds))
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("GetBook() = %v, want Unavailable", err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.calls) != 0 {
		t.Fatalf("the server saw %d calls", len(rec.calls))
	}
}

// TestCredentials_NoRequestInfo: outside a gRPC call there is no URI to
// sign for: an error, no proof.
func TestCredentials_NoRequestInfo(t *testing.T) {
	t.Parallel()
	key := oauthtest.NewDPoPKey(t, jose.ES256, nil)
	creds := dpopgrpc.NewCredentials(key.Signer(t), func(context.Context) (string, error) { return token, nil })
	md, err := creds.GetRequestMetadata(context.Background(), "https://api.example.com/pkg.Svc")
	if err == nil || !strings.Contains(err.Error(), "no request information") {
		t.Fatalf("GetRequestMetadata() outside a call = %v, %v; want the error that says so", md, err)
	}
}
