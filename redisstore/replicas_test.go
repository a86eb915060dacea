package redisstore_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/oauthgate/oauthgate/dpop"
	"github.com/oauthgate/oauthgate/interceptor"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/redisstore"
	"github.com/oauthgate/oauthgate/redisstore/internal/redistest"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

// origin is the public origin of the replicas: one service behind a load
// balancer, so a proof is good at every replica.
const origin = "https://api.example.com"

// getBookURI is the htu of GetBook at origin.
const getBookURI = origin + "/oauthgatetest.v1.LibraryService/GetBook"

type library struct {
	testpb.UnimplementedLibraryServiceServer
}

func (library) GetBook(context.Context, *testpb.GetBookRequest) (*testpb.GetBookResponse, error) {
	return &testpb.GetBookResponse{}, nil
}

// fleet is replicas of one service, each a gRPC server on 127.0.0.1 with
// an Interceptor of its own, sharing one Redis for the replay check.
type fleet struct {
	iss      *oauthtest.Issuer
	key      *oauthtest.DPoPKey
	replicas []testpb.LibraryServiceClient
	stores   []*redisstore.Store
}

// newFleet starts n replicas whose stores reach srv (the shared server if
// nil) and are configured by edit.
func newFleet(t *testing.T, n int, srv *redistest.Server, edit func(*redisstore.Config)) *fleet {
	t.Helper()
	f := &fleet{iss: oauthtest.NewIssuer(t), key: oauthtest.NewDPoPKey(t, jose.ES256, nil)}
	keys, err := verify.NewStaticKeySet(f.iss.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	policy, err := scopes.NewPolicy(scopes.FromFiles(testpb.File_oauthgatetest_v1_library_proto))
	if err != nil {
		t.Fatal(err)
	}
	first, prefix := newStore(t, srv, edit)
	for r := range n {
		store := first
		if r > 0 {
			store, _ = newStore(t, srv, func(c *redisstore.Config) {
				if edit != nil {
					edit(c)
				}
				c.Prefix = prefix
			})
		}
		f.stores = append(f.stores, store)
		jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: f.iss.URL, Audiences: []string{oauthtest.DefaultAudience}})
		if err != nil {
			t.Fatal(err)
		}
		proofs, err := dpop.New(dpop.Config{ReplayStore: store})
		if err != nil {
			t.Fatal(err)
		}
		gate, err := interceptor.New(jwt, policy, interceptor.WithDPoP(proofs, origin))
		if err != nil {
			t.Fatal(err)
		}
		srv2 := grpc.NewServer(gate.ServerOptions()...)
		testpb.RegisterLibraryServiceServer(srv2, library{})
		conn := oauthtest.ServeGRPCTCP(t, srv2)
		f.replicas = append(f.replicas, testpb.NewLibraryServiceClient(conn))
	}
	return f
}

// token returns a DPoP-bound token for the fleet's key.
func (f *fleet) token(t *testing.T) string {
	return f.iss.Token(t, oauthtest.Token{Scopes: []string{"library.read"}, DPoPKey: f.key})
}

// call calls GetBook at replica r with token and proof, and returns the
// status code and ErrorInfo reason.
func (f *fleet) call(ctx context.Context, r int, token, proof string) (codes.Code, string) {
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "DPoP "+token, "dpop", proof)
	_, err := f.replicas[r].GetBook(ctx, &testpb.GetBookRequest{Name: "x"})
	return status.Code(err), reason(err)
}

func reason(err error) string {
	st, _ := status.FromError(err)
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

// TestReplicas_Replay: three replicas sharing one Redis are one replay
// check: a proof accepted by replica 1 is refused by replicas 2 and 3
// (DPOP_PROOF_REPLAYED), and of 32 concurrent presentations of a fresh
// proof spread over the three exactly one is accepted.
func TestReplicas_Replay(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 3, nil, nil)
	ctx := testContext(t)
	tok := f.token(t)
	proof := f.key.Proof(t, "POST", getBookURI, tok)
	if code, r := f.call(ctx, 0, tok, proof); code != codes.OK {
		t.Fatalf("replica 1: %v %s, want OK", code, r)
	}
	for r := 1; r < 3; r++ {
		if code, why := f.call(ctx, r, tok, proof); code != codes.Unauthenticated || why != "DPOP_PROOF_REPLAYED" {
			t.Errorf("replica %d, replayed proof: %v %s, want Unauthenticated DPOP_PROOF_REPLAYED", r+1, code, why)
		}
	}

	proof = f.key.Proof(t, "POST", getBookURI, tok)
	var ok, replayed atomic.Int32
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			switch code, why := f.call(ctx, i%3, tok, proof); {
			case code == codes.OK:
				ok.Add(1)
			case why == "DPOP_PROOF_REPLAYED":
				replayed.Add(1)
			default:
				t.Errorf("call %d: %v %s", i, code, why)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 || replayed.Load() != 31 {
		t.Errorf("32 concurrent presentations over 3 replicas: %d accepted, %d replayed; want 1 and 31", ok.Load(), replayed.Load())
	}
}

// TestReplicas_InvalidProofNotStored: a proof is written to Redis only
// once its token is verified and bound to its key; a junk token's proofs
// leave nothing.
func TestReplicas_InvalidProofNotStored(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 1, nil, nil)
	ctx := testContext(t)
	for range 5 {
		junk := "junk.token.value"
		if code, _ := f.call(ctx, 0, junk, f.key.Proof(t, "POST", getBookURI, junk)); code != codes.Unauthenticated {
			t.Fatalf("junk token: %v, want Unauthenticated", code)
		}
	}
	if f.stores[0].Ready() {
		t.Error("the store made a round trip for calls whose tokens were invalid")
	}
}
