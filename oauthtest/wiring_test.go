package oauthtest_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/test/bufconn"

	"github.com/oauthgate/oauthgate/interceptor"
	oauthgatetestv1 "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

// Methods of the test services, as CheckWiring names them.
const (
	getBook   = "/oauthgatetest.v1.LibraryService/GetBook"
	listBooks = "/oauthgatetest.v1.LibraryService/ListBooks"
	addBooks  = "/oauthgatetest.v1.LibraryService/AddBooks"
	chat      = "/oauthgatetest.v1.LibraryService/Chat"
	ping      = "/oauthgatetest.v1.LibraryService/Ping"
	audit     = "/oauthgatetest.v1.LibraryService/Audit"
	count     = "/oauthgatetest.v1.ShelfService/Count"
	move      = "/oauthgatetest.v1.ShelfService/Move"
	burn      = "/oauthgatetest.v1.ShelfService/Burn"
)

// recorder is a testing.TB that records the failures it is told about
// instead of failing; everything else goes to the real test.
type recorder struct {
	testing.TB
	failures []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func (r *recorder) Error(args ...any) { r.failures = append(r.failures, fmt.Sprint(args...)) }

// methods returns the methods the recorded failures name, sorted.
func (r *recorder) methods() []string {
	var names []string
	for _, f := range r.failures {
		if rest, ok := strings.CutPrefix(f, "oauthtest.CheckWiring: "); ok {
			name, _, _ := strings.Cut(rest, " ")
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// overriding is the library service with go-grpc-middleware's
// AuthFuncOverride, which lets every call through: under
// auth.UnaryServerInterceptor it replaces the gate's AuthFunc.
type overriding struct {
	library
}

func (overriding) AuthFuncOverride(ctx context.Context, _ string) (context.Context, error) {
	return ctx, nil
}

// shelf implements nothing: every call that reaches it is Unimplemented.
type shelf struct {
	oauthgatetestv1.UnimplementedShelfServiceServer
}

// TestCheckWiring checks that CheckWiring passes every correctly wired
// server, and names exactly the methods whose calls get past oauthgate on
// a server wired wrongly.
func TestCheckWiring(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	keys, err := verify.NewStaticKeySet(iss.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: iss.URL, Audiences: []string{oauthtest.DefaultAudience}})
	if err != nil {
		t.Fatal(err)
	}
	libraryFile := scopes.FromFiles(oauthgatetestv1.File_oauthgatetest_v1_library_proto)
	// Count is protected by its proto rule, Move needs a sender-constrained
	// token, Burn has no rule.
	policy, err := scopes.NewPolicy(libraryFile, scopes.ForMethod(move, scopes.AllOf("shelf.write").SenderConstrained()))
	if err != nil {
		t.Fatal(err)
	}
	gate, err := interceptor.New(jwt, policy)
	if err != nil {
		t.Fatal(err)
	}
	// The same rules, but Burn declared public.
	burnPublic, err := scopes.NewPolicy(libraryFile, scopes.ForMethod(move, scopes.AllOf("shelf.write").SenderConstrained()),
		scopes.ForMethod(burn, scopes.Public()))
	if err != nil {
		t.Fatal(err)
	}
	notPing := selector.MatchFunc(func(_ context.Context, c interceptors.CallMeta) bool { return c.Method != "Ping" })
	notChat := selector.MatchFunc(func(_ context.Context, c interceptors.CallMeta) bool { return c.Method != "Chat" })
	authFunc := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(auth.UnaryServerInterceptor(gate.AuthFunc)),
		grpc.ChainStreamInterceptor(auth.StreamServerInterceptor(gate.AuthFunc)),
	}
	protectedLibrary := []string{addBooks, audit, chat, getBook, listBooks}

	tests := map[string]struct {
		opts     []grpc.ServerOption
		library  oauthgatetestv1.LibraryServiceServer
		policy   *scopes.Policy    // the policy given to CheckWiring; default policy
		tokens   []oauthtest.Token // given to CheckWiring
		want     []string          // methods reported, sorted
		wantText string            // in every report
	}{
		"ServerOptions": {opts: gate.ServerOptions()},
		"Chain": {opts: []grpc.ServerOption{
			grpc.ChainUnaryInterceptor(gate.Unary), grpc.ChainStreamInterceptor(gate.Stream)}},
		"Single":   {opts: []grpc.ServerOption{grpc.UnaryInterceptor(gate.Unary), grpc.StreamInterceptor(gate.Stream)}},
		"AuthFunc": {opts: authFunc},
		"AuthFuncSelectorSkipsPublic": {opts: []grpc.ServerOption{
			grpc.ChainUnaryInterceptor(selector.UnaryServerInterceptor(auth.UnaryServerInterceptor(gate.AuthFunc), notPing)),
			grpc.ChainStreamInterceptor(selector.StreamServerInterceptor(auth.StreamServerInterceptor(gate.AuthFunc), notPing)),
		}},
		"SCPClaim": {opts: gate.ServerOptions(), tokens: []oauthtest.Token{{SCP: true}}},

		"UnaryOnly": {opts: []grpc.ServerOption{grpc.ChainUnaryInterceptor(gate.Unary)},
			want: []string{addBooks, chat, listBooks}, wantText: "grpc.ChainStreamInterceptor(gate.Stream)"},
		"StreamOnly": {opts: []grpc.ServerOption{grpc.ChainStreamInterceptor(gate.Stream)},
			want: []string{audit, getBook, count, move, burn}, wantText: "grpc.ChainUnaryInterceptor(gate.Unary)"},
		"AuthFuncUnaryOnly": {opts: []grpc.ServerOption{grpc.ChainUnaryInterceptor(auth.UnaryServerInterceptor(gate.AuthFunc))},
			want: []string{addBooks, chat, listBooks}},
		"AuthFuncOverride": {opts: authFunc, library: overriding{},
			want: protectedLibrary, wantText: "AuthFuncOverride"},
		"SelectorSkipsProtected": {opts: []grpc.ServerOption{
			grpc.ChainUnaryInterceptor(selector.UnaryServerInterceptor(auth.UnaryServerInterceptor(gate.AuthFunc), notChat)),
			grpc.ChainStreamInterceptor(selector.StreamServerInterceptor(auth.StreamServerInterceptor(gate.AuthFunc), notChat)),
		}, want: []string{chat}},
		// GetBook's handler answers Unauthenticated itself without a
		// token: not oauthgate's denial, which carries an ErrorInfo.
		"NoInterceptor": {want: append(slices.Clone(protectedLibrary), count, move, burn), wantText: "got past oauthgate"},
		"OtherPolicy": {opts: gate.ServerOptions(), policy: burnPublic,
			want: []string{burn}, wantText: "an oauthgate denial"},
		"TokensRejected": {opts: gate.ServerOptions(), tokens: []oauthtest.Token{{Audience: []string{"https://other.example.com"}}},
			want: append(slices.Clone(protectedLibrary), count, move), wantText: "Token with its Audience"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := grpc.NewServer(tc.opts...)
			var lib oauthgatetestv1.LibraryServiceServer = library{}
			if tc.library != nil {
				lib = tc.library
			}
			oauthgatetestv1.RegisterLibraryServiceServer(srv, lib)
			oauthgatetestv1.RegisterShelfServiceServer(srv, shelf{})
			p := policy
			if tc.policy != nil {
				p = tc.policy
			}

			rec := &recorder{TB: t}
			oauthtest.CheckWiring(rec, srv, p, iss, tc.tokens...)
			want := slices.Sorted(slices.Values(tc.want))
			if got := rec.methods(); !slices.Equal(got, want) {
				t.Errorf("CheckWiring() reported %q, want %q; reports:\n%s", got, want, strings.Join(rec.failures, "\n"))
			}
			if len(rec.methods()) != len(rec.failures) {
				t.Errorf("CheckWiring() made %d reports for %d methods, want one a method:\n%s",
					len(rec.failures), len(rec.methods()), strings.Join(rec.failures, "\n"))
			}
			for _, f := range rec.failures {
				if !strings.Contains(f, tc.wantText) {
					t.Errorf("report %q does not say %q", f, tc.wantText)
				}
			}
		})
	}
}

// TestCheckWiring_NoMethods checks that a server without services fails
// the check: it was most likely checked before registration.
func TestCheckWiring_NoMethods(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	policy, err := scopes.NewPolicy(scopes.FromFiles(oauthgatetestv1.File_oauthgatetest_v1_library_proto))
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{TB: t}
	oauthtest.CheckWiring(rec, grpc.NewServer(), policy, iss)
	if len(rec.failures) != 1 || !strings.Contains(rec.failures[0], "no registered method") {
		t.Errorf("CheckWiring() on an empty server reported %q, want one report of no registered method", rec.failures)
	}
}

// TestServeGRPC_StopsServer checks that ServeGRPC serves a server built
// elsewhere and stops it when the test ends.
func TestServeGRPC_StopsServer(t *testing.T) {
	t.Parallel()
	srv := grpc.NewServer()
	oauthgatetestv1.RegisterLibraryServiceServer(srv, library{})
	var conn *grpc.ClientConn
	t.Run("inner", func(t *testing.T) {
		conn = oauthtest.ServeGRPC(t, srv)
		ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
		defer cancel()
		if _, err := oauthgatetestv1.NewLibraryServiceClient(conn).GetBook(ctx, &oauthgatetestv1.GetBookRequest{}, oauthtest.Bearer("x")); err != nil {
			t.Fatalf("GetBook() error = %v", err)
		}
	})
	if got := conn.GetState(); got != connectivity.Shutdown {
		t.Errorf("conn state after the test = %v, want %v", got, connectivity.Shutdown)
	}
	if err := srv.Serve(bufconn.Listen(1)); !errors.Is(err, grpc.ErrServerStopped) {
		t.Errorf("Serve() after the test = %v, want grpc.ErrServerStopped", err)
	}
}
