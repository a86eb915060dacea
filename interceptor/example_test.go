package interceptor_test

import (
	"context"
	"fmt"
	"log"
	"net"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/oauthgate/oauthgate/interceptor"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

// A server whose scopes come from library.proto, with tokens minted by an
// in-process issuer.
func ExampleNew() {
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
	gate, err := interceptor.New(jwt, policy, interceptor.WithRealm("library"))
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(gate.Unary), grpc.ChainStreamInterceptor(gate.Stream))
	testpb.RegisterLibraryServiceServer(srv, &library{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(lis) //nolint:errcheck // ends with Stop
	defer srv.Stop()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	client := testpb.NewLibraryServiceClient(conn)

	for _, scope := range []string{"openid", "library.read"} {
		tok, err := iss.MintToken(oauthtest.WithScopes(scope), oauthtest.WithSubject("alice"))
		if err != nil {
			log.Fatal(err)
		}
		resp, err := client.GetBook(context.Background(), &testpb.GetBookRequest{Name: "dune"}, oauthtest.Bearer(tok))
		if err != nil {
			info := status.Convert(err).Details()[0].(*errdetails.ErrorInfo)
			fmt.Println(scope+":", status.Code(err), info.GetReason(), info.GetMetadata()["scope"])
			continue
		}
		fmt.Println(scope+":", resp.GetName())
	}
	// Output:
	// openid: PermissionDenied INSUFFICIENT_SCOPE library.read
	// library.read: alice:dune
}
