package outbound_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/outbound"
)

// TestClientCredentials_mutualTLS: a token got with tls_client_auth is
// bound to the client certificate (RFC 8705 §3) and works on a mutual-TLS
// connection with that certificate, and not with another one.
func TestClientCredentials_mutualTLS(t *testing.T) {
	t.Parallel()
	certs := oauthtest.NewCertificates(t)
	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{TLS: true,
		Clients: []oauthtest.Client{{ID: ordersID, Certificate: certs.Client.Leaf}}})
	tr := iss.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.Certificates = []tls.Certificate{certs.Client}

	lib := &library{name: func(ctx context.Context) (string, error) { return "ok", nil }}
	srv := gatedServer(t, iss, paymentsURI, lib, grpc.Creds(credentials.NewTLS(certs.ServerTLSConfig())))
	creds := mustClientCredentials(t, outbound.Config{
		Issuer: iss.URL, HTTPClient: &http.Client{Transport: tr},
		Client: outbound.TLSClientAuth(ordersID), Resource: []string{paymentsURI}, Scopes: []string{"library.read"},
	})
	conn := oauthtest.ServeGRPCTCP(t, srv, certs.DialOption(&certs.Client), grpc.WithPerRPCCredentials(creds))
	ctx := ctxWithTimeout(t)
	if _, err := testpb.NewLibraryServiceClient(conn).GetBook(ctx, &testpb.GetBookRequest{}); err != nil {
		t.Fatalf("GetBook() over mutual TLS with the bound certificate: error = %v", err)
	}
	other := certs.NewClientCertificate(t, "someone-else")
	stolen := oauthtest.DialGRPC(t, conn.Target(), certs.DialOption(&other), grpc.WithPerRPCCredentials(creds))
	_, err := testpb.NewLibraryServiceClient(stolen).GetBook(ctx, &testpb.GetBookRequest{})
	if got := status.Code(err); got != codes.Unauthenticated {
		t.Errorf("GetBook() with another certificate: code = %v, want Unauthenticated", got)
	}
}
