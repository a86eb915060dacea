package main

import (
	"context"
	"log"
	"net"

	hellov1 "example.com/hello/gen/hello/v1"
	"github.com/oauthgate/oauthgate/interceptor"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
	"google.golang.org/grpc"
)

// greeter serves SayHello; SetGreeting answers Unimplemented, once oauthgate let the call through.
type greeter struct {
	hellov1.UnimplementedGreeterServiceServer
}

func (greeter) SayHello(_ context.Context, req *hellov1.SayHelloRequest) (*hellov1.SayHelloResponse, error) {
	return &hellov1.SayHelloResponse{Message: "hello " + req.GetName()}, nil
}

// newServer returns the server, accepting issuer's tokens, and the rules it enforces.
func newServer(issuer string) (*grpc.Server, *scopes.Policy, error) {
	policy, err := scopes.NewPolicy(scopes.FromFiles(hellov1.File_hello_v1_hello_proto))
	if err != nil {
		return nil, nil, err
	}
	keys, err := verify.NewRemoteKeySet(verify.RemoteKeySetConfig{Issuer: issuer, InsecureAllowHTTP: true})
	if err != nil {
		return nil, nil, err
	}
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: issuer, Audiences: []string{"https://hello.example.com"}})
	if err != nil {
		return nil, nil, err
	}
	gate, err := interceptor.New(jwt, policy) // an *interceptor.Interceptor
	if err != nil {
		return nil, nil, err
	}
	srv := grpc.NewServer(gate.ServerOptions()...) // unary and streaming calls
	hellov1.RegisterGreeterServiceServer(srv, greeter{})
	return srv, policy, gate.Check(srv) // a *scopes.CoverageError if an RPC has no rule
}

func main() {
	srv, _, err := newServer("http://127.0.0.1:8765") // the dev issuer; your authorization server in production
	if err != nil {
		log.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:50051")
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(srv.Serve(lis))
}
