package connectgate_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"connectrpc.com/connect"

	"github.com/oauthgate/oauthgate/connectgate"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

// getBook answers with the caller's subject, read with
// [connectgate.FromContext].
func getBook(ctx context.Context, req *connect.Request[testpb.GetBookRequest]) (*connect.Response[testpb.GetBookResponse], error) {
	claims, ok := connectgate.FromContext(ctx)
	if !ok { // only a public procedure has no claims; GetBook is not one
		return nil, connect.NewError(connect.CodeInternal, errors.New("no verified caller"))
	}
	return connect.NewResponse(&testpb.GetBookResponse{Name: req.Msg.GetName() + " read by " + claims.Subject()}), nil
}

// A connect-go handler guarded by the rules of library.proto: without a
// token the Connect protocol answers a real 401 with its challenge; with
// one, any protocol gets through.
func Example() {
	iss, err := oauthtest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer iss.Close()
	keys, err := verify.NewStaticKeySet(iss.JWKS().Keys...)
	if err != nil {
		log.Fatal(err)
	}
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: iss.URL, Audiences: []string{oauthtest.DefaultAudience}})
	if err != nil {
		log.Fatal(err)
	}
	policy, err := scopes.NewPolicy(scopes.FromFiles(testpb.File_oauthgatetest_v1_library_proto))
	if err != nil {
		log.Fatal(err)
	}
	gate, err := connectgate.New(jwt, policy, connectgate.WithRealm("library"))
	if err != nil {
		log.Fatal(err)
	}
	const procedure = testpb.LibraryService_GetBook_FullMethodName
	mux := http.NewServeMux()
	mux.Handle(procedure, connect.NewUnaryHandler(procedure, getBook, connect.WithInterceptors(gate)))
	// The path generated code returns with the handler: every procedure
	// of the service must have a rule.
	if err := gate.Check("/oauthgatetest.v1.LibraryService/"); err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(gate.Handler(mux))
	defer srv.Close()

	res, err := http.Post(srv.URL+procedure, "application/json", strings.NewReader(`{"name":"dune"}`))
	if err != nil {
		log.Fatal(err)
	}
	res.Body.Close()
	fmt.Println(res.Status, res.Header.Get("WWW-Authenticate"))

	tok, err := iss.MintToken(oauthtest.Token{Scopes: []string{"library.read"}, Subject: "alice"})
	if err != nil {
		log.Fatal(err)
	}
	client := connect.NewClient[testpb.GetBookRequest, testpb.GetBookResponse](srv.Client(), srv.URL+procedure, connect.WithGRPCWeb())
	req := connect.NewRequest(&testpb.GetBookRequest{Name: "dune"})
	req.Header().Set("Authorization", "Bearer "+tok)
	resp, err := client.CallUnary(context.Background(), req)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Msg.GetName())
	// Output:
	// 401 Unauthorized Bearer realm="library"
	// dune read by alice
}
