package oauthtest_test

import (
	"context"
	"fmt"
	"log"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/oauthgate/oauthgate/conditions"
	"github.com/oauthgate/oauthgate/examples/reports/reportsv1"
	"github.com/oauthgate/oauthgate/interceptor"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

// ServeGRPCTCP serves a protected service over mutual TLS, where a token
// bound to a client certificate (RFC 8705) works only on a connection
// authenticated with that certificate. In a test, pass its t.
func ExampleServeGRPCTCP() {
	t := &exampleTB{}
	defer t.cleanup()

	iss := oauthtest.NewIssuer(t)
	keys, err := verify.NewRemoteKeySet(verify.RemoteKeySetConfig{URL: iss.EndpointURL(oauthtest.EndpointJWKS), InsecureAllowHTTP: true})
	if err != nil {
		log.Fatal(err)
	}
	t.Cleanup(func() { _ = keys.Close() })
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: iss.URL, Audiences: []string{oauthtest.DefaultAudience}})
	if err != nil {
		log.Fatal(err)
	}
	policy, err := scopes.NewPolicy(scopes.FromFiles(reportsv1.File_examples_reports_v1_reports_proto))
	if err != nil {
		log.Fatal(err)
	}
	ev, err := conditions.Compile(policy) // GetReport's owner condition
	if err != nil {
		log.Fatal(err)
	}
	gate, err := interceptor.New(jwt, policy, interceptor.WithConditions(ev))
	if err != nil {
		log.Fatal(err)
	}

	certs := oauthtest.NewCertificates(t)
	srv := grpc.NewServer(append([]grpc.ServerOption{grpc.Creds(credentials.NewTLS(certs.ServerTLSConfig()))}, gate.ServerOptions()...)...)
	reportsv1.RegisterReportServiceServer(srv, reports{})
	conn := oauthtest.ServeGRPCTCP(t, srv, certs.DialOption(&certs.Client))
	other := certs.NewClientCertificate(t, "client-2")
	otherConn := oauthtest.DialGRPC(t, conn.Target(), certs.DialOption(&other))

	tok := iss.Token(t, oauthtest.Token{Scopes: []string{"read:reports"}, Certificate: certs.Client.Leaf})
	ctx, req := context.Background(), &reportsv1.GetReportRequest{Owner: oauthtest.DefaultSubject, Id: "r-1"}
	for _, c := range []*grpc.ClientConn{conn, otherConn} {
		resp, err := reportsv1.NewReportServiceClient(c).GetReport(ctx, req, oauthtest.Bearer(tok))
		if err != nil {
			fmt.Println(status.Code(err), status.Convert(err).Message())
			continue
		}
		fmt.Println(resp.GetReport().GetTitle())
	}
	// Output:
	// Q1 sales
	// Unauthenticated the access token is bound to another client certificate
}
