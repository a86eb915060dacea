package outbound_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/oauthgate/oauthgate/dpop"
	"github.com/oauthgate/oauthgate/interceptor"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/outbound"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

// The audiences of the three services of the chain.
const (
	edgeURI   = "https://edge.example.com"
	ordersURI = "https://orders.example.com"
)

// A chain is edge → orders → payments, each a gRPC server behind
// oauthgate, with one issuer:
//
//   - the user's token is for edge and orders; edge forwards it;
//   - orders exchanges it (RFC 8693) for a payments token and calls
//     payments with it;
//   - payments accepts only tokens for itself whose act names orders
//     (an Authorizer), and reports sub and act.sub.
type chain struct {
	iss      *oauthtest.Issuer
	edge     testpb.LibraryServiceClient
	payments testpb.LibraryServiceClient // direct, for the attack
	dpopKey  *oauthtest.DPoPKey          // orders' key, with DPoP
}

// newChain builds a chain; with useDPoP, orders' payments tokens are
// DPoP-bound and payments checks the proof of every call.
func newChain(t *testing.T, useDPoP bool) *chain {
	t.Helper()
	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{
		Clients:   []oauthtest.Client{{ID: ordersID, Secret: ordersSecret}},
		DPoPNonce: useDPoP, // the nonce retry at the token endpoint too
	})
	ch := &chain{iss: iss}

	var paymentsOpts []any
	paymentsOpts = append(paymentsOpts, interceptor.WithAuthorizer(func(_ context.Context, call interceptor.Call) error {
		var c struct {
			Act struct {
				Sub string `json:"sub"`
			} `json:"act"`
		}
		if err := call.Claims.Decode(&c); err != nil || c.Act.Sub != ordersID {
			return errors.New("payments serves orders only")
		}
		return nil
	}))
	if useDPoP {
		// Payments requires nonces: orders' first call is refused with
		// use_dpop_nonce and made again by the credentials' interceptor.
		v, err := dpop.New(dpop.Config{NoncePeriod: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		paymentsOpts = append(paymentsOpts, interceptor.WithDPoP(v))
		ch.dpopKey = oauthtest.NewDPoPKey(t, jose.ES256, nil)
	}
	payments := gatedServer(t, iss, paymentsURI, &library{name: subjectAndActor}, paymentsOpts...)
	paymentsConn := oauthtest.ServeGRPCTCP(t, payments)
	ch.payments = testpb.NewLibraryServiceClient(paymentsConn)

	cfg := outbound.Config{
		Issuer: iss.URL, InsecureAllowHTTP: true, HTTPClient: iss.Client(),
		Client:   outbound.ClientSecretBasic(ordersID, ordersSecret),
		Resource: []string{paymentsURI}, Scopes: []string{"library.read"},
		Target: paymentsConn.Target(),
	}
	if useDPoP {
		cfg.DPoP = ch.dpopKey.Signer(t)
	}
	exchange, err := outbound.Exchange(cfg)
	if err != nil {
		t.Fatalf("Exchange() error = %v", err)
	}
	t.Cleanup(exchange.Close)
	toPayments := testpb.NewLibraryServiceClient(oauthtest.DialGRPC(t, paymentsConn.Target(),
		grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithPerRPCCredentials(exchange),
		grpc.WithChainUnaryInterceptor(exchange.UnaryClientInterceptor())))
	orders := gatedServer(t, iss, ordersURI, &library{name: func(ctx context.Context) (string, error) {
		resp, err := toPayments.GetBook(ctx, &testpb.GetBookRequest{})
		return resp.GetName(), err
	}})
	toOrders := testpb.NewLibraryServiceClient(oauthtest.ServeGRPC(t, orders))

	edge := gatedServer(t, iss, edgeURI, &library{name: func(ctx context.Context) (string, error) {
		tok, _ := interceptor.TokenFromContext(ctx)
		resp, err := toOrders.GetBook(ctx, &testpb.GetBookRequest{}, oauthtest.Bearer(tok))
		return resp.GetName(), err
	}})
	ch.edge = testpb.NewLibraryServiceClient(oauthtest.ServeGRPC(t, edge))
	return ch
}

// verifierAndPolicy returns a verifier of iss's tokens for audience aud
// and the policy of library.proto: what a service of the chain checks.
func verifierAndPolicy(t *testing.T, iss *oauthtest.Issuer, aud string) (*verify.JWT, *scopes.Policy) {
	t.Helper()
	keys, err := verify.NewStaticKeySet(iss.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: iss.URL, Audiences: []string{aud}})
	if err != nil {
		t.Fatal(err)
	}
	policy, err := scopes.NewPolicy(scopes.FromFiles(testpb.File_oauthgatetest_v1_library_proto))
	if err != nil {
		t.Fatal(err)
	}
	return jwt, policy
}

// gatedServer returns a server of lib behind oauthgate for tokens of iss
// with audience aud; opts are interceptor.Options and grpc.ServerOptions.
func gatedServer(t *testing.T, iss *oauthtest.Issuer, aud string, lib *library, opts ...any) *grpc.Server {
	t.Helper()
	jwt, policy := verifierAndPolicy(t, iss, aud)
	var gateOpts []interceptor.Option
	var srvOpts []grpc.ServerOption
	for _, o := range opts {
		switch o := o.(type) {
		case interceptor.Option:
			gateOpts = append(gateOpts, o)
		case grpc.ServerOption:
			srvOpts = append(srvOpts, o)
		}
	}
	gate, err := interceptor.New(jwt, policy, gateOpts...)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(append(srvOpts, gate.ServerOptions()...)...)
	testpb.RegisterLibraryServiceServer(srv, lib)
	return srv
}

// library answers GetBook with the name its function returns.
type library struct {
	testpb.UnimplementedLibraryServiceServer
	name func(ctx context.Context) (string, error)
}

func (l *library) GetBook(ctx context.Context, _ *testpb.GetBookRequest) (*testpb.GetBookResponse, error) {
	name, err := l.name(ctx)
	if err != nil {
		return nil, err
	}
	return &testpb.GetBookResponse{Name: name}, nil
}

// TestChain: the user's call goes through edge and orders to payments,
// which sees the user as subject and orders as actor; payments refuses the
// user's own token; the exchanged token is reused for the user's next
// call; with the token endpoint down, a new user's call fails at the edge
// with Unavailable, never Unauthenticated.
func TestChain(t *testing.T) {
	t.Parallel()
	for name, useDPoP := range map[string]bool{"Bearer": false, "DPoP": true} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ch := newChain(t, useDPoP)
			ctx := ctxWithTimeout(t)
			user := ch.iss.Token(t, oauthtest.Token{Subject: "alice", Audience: []string{edgeURI, ordersURI},
				Scopes: []string{"library.read"}})

			resp, err := ch.edge.GetBook(ctx, &testpb.GetBookRequest{}, oauthtest.Bearer(user))
			if err != nil || resp.GetName() != "alice via orders" {
				t.Fatalf("edge.GetBook() = %q, %v; want %q", resp.GetName(), err, "alice via orders")
			}
			exchanges := ch.iss.Requests(oauthtest.EndpointToken)
			if useDPoP && exchanges != 2 {
				t.Errorf("token requests = %d, want 2: the nonce challenge and the retry", exchanges)
			}
			if _, err := ch.edge.GetBook(ctx, &testpb.GetBookRequest{}, oauthtest.Bearer(user)); err != nil {
				t.Fatalf("second edge.GetBook() error = %v", err)
			}
			if got := ch.iss.Requests(oauthtest.EndpointToken); got != exchanges {
				t.Errorf("token requests after a second call = %d, want %d: the exchanged token is cached", got, exchanges)
			}

			// Payments refuses the user's token: its audience is not payments.
			_, err = ch.payments.GetBook(ctx, &testpb.GetBookRequest{}, oauthtest.Bearer(user))
			if got := status.Code(err); got != codes.Unauthenticated {
				t.Errorf("payments.GetBook(user's token) code = %v, want Unauthenticated", got)
			}
			// Nor does it serve a token for payments that orders did not
			// get (no act).
			direct := ch.iss.Token(t, oauthtest.Token{Subject: "alice", Audience: []string{paymentsURI}, Scopes: []string{"library.read"}})
			_, err = ch.payments.GetBook(ctx, &testpb.GetBookRequest{}, oauthtest.Bearer(direct))
			if got := status.Code(err); got != codes.PermissionDenied {
				t.Errorf("payments.GetBook(token without act) code = %v, want PermissionDenied", got)
			}

			ch.iss.SetFault(oauthtest.EndpointToken, oauthtest.Fault{Down: true})
			bob := ch.iss.Token(t, oauthtest.Token{Subject: "bob", Audience: []string{edgeURI, ordersURI},
				Scopes: []string{"library.read"}})
			_, err = ch.edge.GetBook(ctx, &testpb.GetBookRequest{}, oauthtest.Bearer(bob))
			if got := status.Code(err); got != codes.Unavailable {
				t.Errorf("edge.GetBook() with the token endpoint down: code = %v (%v), want Unavailable", got, err)
			}
			// Alice's exchanged token is still held: her calls go on.
			if _, err := ch.edge.GetBook(ctx, &testpb.GetBookRequest{}, oauthtest.Bearer(user)); err != nil {
				t.Errorf("edge.GetBook(alice) with the token endpoint down error = %v, want the cached token", err)
			}
		})
	}
}

// TestClientInterceptors_stream: the credentials' stream interceptor passes
// a Bearer stream through; with DPoP, against a server that requires
// nonces, the first stream ends with use_dpop_nonce and the next one
// carries the nonce.
func TestClientInterceptors_stream(t *testing.T) {
	t.Parallel()
	for name, useDPoP := range map[string]bool{"Bearer": false, "DPoP": true} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			iss, cfg := ordersClient(t)
			var opts []any
			if useDPoP {
				v, err := dpop.New(dpop.Config{NoncePeriod: time.Minute})
				if err != nil {
					t.Fatal(err)
				}
				opts = append(opts, interceptor.WithDPoP(v))
				cfg.DPoP = oauthtest.NewDPoPKey(t, jose.ES256, nil).Signer(t)
			}
			conn := oauthtest.ServeGRPCTCP(t, gatedServer(t, iss, paymentsURI, &library{}, opts...))
			cfg.Target = conn.Target()
			creds := mustClientCredentials(t, cfg)
			client := testpb.NewLibraryServiceClient(oauthtest.DialGRPC(t, conn.Target(),
				grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithPerRPCCredentials(creds),
				grpc.WithChainStreamInterceptor(creds.StreamClientInterceptor())))
			list := func() error {
				st, err := client.ListBooks(ctxWithTimeout(t), &testpb.ListBooksRequest{})
				if err != nil {
					return err
				}
				_, err = st.Recv()
				return err
			}
			if useDPoP {
				if err := list(); status.Code(err) != codes.Unauthenticated {
					t.Fatalf("first ListBooks() = %v, want Unauthenticated (use_dpop_nonce)", err)
				}
			}
			// library implements no ListBooks: Unimplemented is past oauthgate.
			if err := list(); status.Code(err) != codes.Unimplemented {
				t.Fatalf("ListBooks() = %v, want Unimplemented: past oauthgate", err)
			}
		})
	}
}
