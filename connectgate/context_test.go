package connectgate_test

import (
	"context"
	"net/http"
	"testing"

	"connectrpc.com/connect"

	"github.com/oauthgate/oauthgate/connectgate"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
)

// TestTokenFromContext: a handler reads the token the Gate verified, in
// either scheme, and nothing outside an authenticated connect-go call.
func TestTokenFromContext(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	gate := f.gate(t, connectgate.WithDPoP(newDPoP(t, f, 0)))
	m := http.NewServeMux()
	ic := connect.WithInterceptors(gate)
	// GetBook answers with the token its handler read, Ping (public) with
	// whether it read one.
	m.Handle(getBookProc, connect.NewUnaryHandler(getBookProc, func(ctx context.Context, _ *connect.Request[testpb.GetBookRequest]) (*connect.Response[testpb.GetBookResponse], error) {
		tok, _ := connectgate.TokenFromContext(ctx)
		return connect.NewResponse(&testpb.GetBookResponse{Name: tok}), nil
	}, ic))
	m.Handle(pingProc, connect.NewUnaryHandler(pingProc, func(ctx context.Context, _ *connect.Request[testpb.PingRequest]) (*connect.Response[testpb.PingResponse], error) {
		if tok, ok := connectgate.TokenFromContext(ctx); ok || tok != "" {
			return nil, connect.NewError(connect.CodeInternal, nil)
		}
		return connect.NewResponse(&testpb.PingResponse{}), nil
	}, ic))
	srv := oauthtest.ServeConnect(t, gate.Handler(m))

	bearer := f.token(t)
	bound := f.token(t, oauthtest.Token{DPoPKey: f.key})
	for name, tc := range map[string]struct{ header http.Header }{
		"Bearer": {header: http.Header{"Authorization": {"Bearer " + bearer}}},
		"DPoP":   {header: http.Header{"Authorization": {"DPoP " + bound}}},
	} {
		t.Run(name, func(t *testing.T) {
			for _, p := range oauthtest.ConnectProtocols() {
				client := connect.NewClient[testpb.GetBookRequest, testpb.GetBookResponse](srv.Client(t, nil), srv.URL+getBookProc, p.ClientOption())
				req := connect.NewRequest(&testpb.GetBookRequest{Name: "dune"})
				for k, vs := range tc.header {
					req.Header()[k] = vs
				}
				if name == "DPoP" {
					// A fresh proof per call: the Gate refuses a replay.
					req.Header().Set("DPoP", f.key.Proof(t, http.MethodPost, srv.URL+getBookProc, bound))
				}
				res, err := client.CallUnary(testContext(t), req)
				if err != nil {
					t.Fatalf("%s: GetBook error = %v", p, err)
				}
				want := bearer
				if name == "DPoP" {
					want = bound
				}
				if got := res.Msg.GetName(); got != want {
					t.Fatalf("%s: handler read token %.12q…, want the call's", p, got)
				}
			}
		})
	}
	t.Run("Public", func(t *testing.T) {
		client := connect.NewClient[testpb.PingRequest, testpb.PingResponse](srv.Client(t, nil), srv.URL+pingProc)
		req := connect.NewRequest(&testpb.PingRequest{})
		req.Header().Set("Authorization", "Bearer "+bearer)
		if _, err := client.CallUnary(testContext(t), req); err != nil {
			t.Fatalf("Ping error = %v, want a handler that read no token", err)
		}
	})
	t.Run("OutsideAHandler", func(t *testing.T) {
		claims, err := f.jwt.Verify(testContext(t), bearer)
		if err != nil {
			t.Fatal(err)
		}
		if tok, ok := connectgate.TokenFromContext(connectgate.NewContext(t.Context(), claims)); ok || tok != "" {
			t.Fatalf("TokenFromContext(claims only) = %q, %v; want \"\", false", tok, ok)
		}
	})
}
