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

// TestClientCredentials_mtlsAlias: a tls_client_auth client sends its
// token requests to the mtls_endpoint_aliases token_endpoint of the
// server's metadata (RFC 8705 §5), and a client authenticating otherwise
// to the token_endpoint.
func TestClientCredentials_mtlsAlias(t *testing.T) {
	t.Parallel()
	alias := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{Clients: []oauthtest.Client{{ID: ordersID, Secret: ordersSecret}}})
	for name, client := range map[string]outbound.ClientAuth{
		"TLSClientAuth":     outbound.TLSClientAuth(ordersID),
		"ClientSecretBasic": outbound.ClientSecretBasic(ordersID, ordersSecret),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{Clients: []oauthtest.Client{{ID: ordersID, Secret: ordersSecret}},
				Metadata: map[string]any{"mtls_endpoint_aliases": map[string]any{"token_endpoint": alias.EndpointURL(oauthtest.EndpointToken)}}})
			c, err := outbound.ClientCredentials(outbound.Config{Issuer: iss.URL, HTTPClient: iss.Client(), InsecureAllowHTTP: true,
				Client: client, Resource: []string{paymentsURI}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_, _ = c.Token(ctxWithTimeout(t)) // the alias cannot see a client certificate: only where it went counts
			if got, want := iss.Requests(oauthtest.EndpointToken), map[bool]int{true: 0, false: 1}[name == "TLSClientAuth"]; got != want {
				t.Errorf("token requests to token_endpoint = %d, want %d", got, want)
			}
		})
	}
	// Both subtests have ended: the alias saw the tls_client_auth one only.
	t.Cleanup(func() {
		if got := alias.Requests(oauthtest.EndpointToken); got != 1 {
			t.Errorf("token requests to the alias = %d, want 1", got)
		}
	})
}
