package oauthtest_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	oauthgatetestv1 "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/verify"
)

func TestNewCertificates_Chains(t *testing.T) {
	t.Parallel()
	certs := oauthtest.NewCertificates(t)
	roots := x509.NewCertPool()
	roots.AddCert(certs.CA)
	for _, host := range []string{"127.0.0.1", "::1", "localhost"} {
		_, err := certs.Server.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host})
		if err != nil {
			t.Errorf("server certificate for %s: Verify() = %v", host, err)
		}
	}
	other := certs.NewClientCertificate(t, "client-2")
	for name, c := range map[string]tls.Certificate{"Client": certs.Client, "other": other} {
		_, err := c.Leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
		if err != nil {
			t.Errorf("%s certificate: Verify() = %v", name, err)
		}
	}
	if got := certs.Client.Leaf.Subject.CommonName; got != oauthtest.DefaultClientID {
		t.Errorf("Client CN = %q, want %q", got, oauthtest.DefaultClientID)
	}
	if got := other.Leaf.Subject.CommonName; got != "client-2" {
		t.Errorf("NewClientCertificate(client-2) CN = %q", got)
	}
	if cfg := certs.ServerTLSConfig(); cfg.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Errorf("ServerTLSConfig().ClientAuth = %v, want RequireAndVerifyClientCert", cfg.ClientAuth)
	}
}

func TestCertificates_WritePEM(t *testing.T) {
	t.Parallel()
	certs := oauthtest.NewCertificates(t)
	f := certs.WritePEM(t)
	for name, pair := range map[string][2]string{"server": {f.ServerCert, f.ServerKey}, "client": {f.ClientCert, f.ClientKey}} {
		c, err := tls.LoadX509KeyPair(pair[0], pair[1])
		if err != nil {
			t.Fatalf("LoadX509KeyPair(%s) = %v", name, err)
		}
		want := certs.Server.Leaf
		if name == "client" {
			want = certs.Client.Leaf
		}
		if !c.Leaf.Equal(want) {
			t.Errorf("%s PEM holds another certificate", name)
		}
	}
	data, err := os.ReadFile(f.CA)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("CA file %q is not a PEM certificate", data)
	}
	if ca, err := x509.ParseCertificate(block.Bytes); err != nil || !ca.Equal(certs.CA) {
		t.Errorf("CA file holds another certificate (%v)", err)
	}
}

// cnfOf returns the confirmation a verifier reads from claims.
func cnfOf(t *testing.T, claims map[string]any) (verify.Confirmation, bool) {
	t.Helper()
	raw, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	c, err := verify.ParseClaims(raw)
	if err != nil {
		t.Fatalf("ParseClaims() = %v", err)
	}
	return c.Confirmation()
}

func TestToken_Certificate(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	certs := oauthtest.NewCertificates(t)
	want := verify.CertificateThumbprint(certs.Client.Leaf)

	tok := iss.Token(t, oauthtest.Token{Certificate: certs.Client.Leaf})
	p, err := verifyToken(t, tok, fetchJWKS(t, iss))
	if err != nil {
		t.Fatal(err)
	}
	if cnf, ok := cnfOf(t, p.claims); !ok || cnf.X5TS256 != want || cnf.JKT != "" || cnf.Unknown {
		t.Errorf("JWT cnf = %+v, %v; want x5t#S256 %s only", cnf, ok, want)
	}

	opaque := iss.OpaqueToken(t, oauthtest.Token{Certificate: certs.Client.Leaf})
	resp := introspect(t, iss, opaque)
	if resp["token_type"] != "Bearer" {
		t.Errorf("introspection token_type = %v, want Bearer", resp["token_type"])
	}
	if cnf, ok := cnfOf(t, resp); !ok || cnf.X5TS256 != want {
		t.Errorf("introspected cnf = %+v, %v; want x5t#S256 %s", cnf, ok, want)
	}
}

func TestToken_Confirmation(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	certs := oauthtest.NewCertificates(t)
	const jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"

	opaque := iss.OpaqueToken(t, oauthtest.Token{Confirmation: map[string]any{"jkt": jkt}, Claims: map[string]any{"token_type": "DPoP"}})
	resp := introspect(t, iss, opaque)
	if resp["token_type"] != "DPoP" {
		t.Errorf("introspection token_type = %v, want DPoP", resp["token_type"])
	}
	if cnf, ok := resp["cnf"].(map[string]any); !ok || len(cnf) != 1 || cnf["jkt"] != jkt {
		t.Errorf("introspected cnf = %v, want {jkt: %s}", resp["cnf"], jkt)
	}

	// The fields of one Token combine; of several Tokens, the last that
	// binds wins; Claims removes the claim.
	key := oauthtest.NewDPoPKey(t, "", nil)
	x5t := verify.CertificateThumbprint(certs.Client.Leaf)
	tests := map[string]struct {
		opts []oauthtest.Token
		want any
	}{
		"AllThree": {
			opts: []oauthtest.Token{{Certificate: certs.Client.Leaf, DPoPKey: key, Confirmation: map[string]any{"kid": "k"}}},
			want: map[string]any{"jkt": key.Thumbprint(), "kid": "k", "x5t#S256": x5t},
		},
		"CertificateThenConfirmation": {
			opts: []oauthtest.Token{{Certificate: certs.Client.Leaf}, {Confirmation: map[string]any{"kid": "k"}}},
			want: map[string]any{"kid": "k"},
		},
		"ConfirmationThenCertificate": {
			opts: []oauthtest.Token{{Confirmation: map[string]any{"kid": "k"}}, {Certificate: certs.Client.Leaf}},
			want: map[string]any{"x5t#S256": x5t},
		},
		"CertificateThenOther": {
			opts: []oauthtest.Token{{Certificate: certs.Client.Leaf}, {Subject: "bob"}},
			want: map[string]any{"x5t#S256": x5t},
		},
		"Removed": {
			opts: []oauthtest.Token{{Certificate: certs.Client.Leaf}, {Claims: map[string]any{"cnf": nil}}},
			want: nil,
		},
		"Empty": {
			opts: []oauthtest.Token{{Confirmation: map[string]any{}}},
			want: map[string]any{},
		},
	}
	set := fetchJWKS(t, iss)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, err := verifyToken(t, iss.Token(t, tc.opts...), set)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := p.claims["cnf"]
			if tc.want == nil {
				if ok {
					t.Errorf("cnf = %v, want no claim", got)
				}
				return
			}
			gotJSON, _ := json.Marshal(got)
			wantJSON, _ := json.Marshal(tc.want)
			if string(gotJSON) != string(wantJSON) {
				t.Errorf("cnf = %s, want %s", gotJSON, wantJSON)
			}
		})
	}
}

// peerName answers GetBook with the common name of the client certificate
// of the call's connection, or "none".
type peerName struct {
	oauthgatetestv1.UnimplementedLibraryServiceServer
}

func (peerName) GetBook(ctx context.Context, _ *oauthgatetestv1.GetBookRequest) (*oauthgatetestv1.GetBookResponse, error) {
	name := "none"
	if p, ok := peer.FromContext(ctx); ok {
		if info, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(info.State.PeerCertificates) > 0 {
			name = info.State.PeerCertificates[0].Subject.CommonName
		}
	}
	return &oauthgatetestv1.GetBookResponse{Name: name}, nil
}

func registerPeerName(s *grpc.Server) { oauthgatetestv1.RegisterLibraryServiceServer(s, peerName{}) }

func TestServeGRPCTLS(t *testing.T) {
	t.Parallel()
	certs := oauthtest.NewCertificates(t)
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(certs.ServerTLSConfig())))
	registerPeerName(srv)
	conn := oauthtest.ServeGRPCTCP(t, srv, certs.DialOption(&certs.Client))
	if !strings.HasPrefix(conn.Target(), "passthrough:///127.0.0.1:") {
		t.Errorf("Target() = %q, want 127.0.0.1", conn.Target())
	}
	other := certs.NewClientCertificate(t, "client-2")

	tests := map[string]struct {
		conn     *grpc.ClientConn
		want     string
		wantCode codes.Code
	}{
		"Client":      {conn: conn, want: oauthtest.DefaultClientID},
		"Other":       {conn: oauthtest.DialGRPC(t, conn.Target(), certs.DialOption(&other)), want: "client-2"},
		"NoCert":      {conn: oauthtest.DialGRPC(t, conn.Target(), certs.DialOption(nil)), wantCode: codes.Unavailable},
		"Plaintext":   {conn: oauthtest.DialGRPC(t, conn.Target(), grpc.WithTransportCredentials(insecure.NewCredentials())), wantCode: codes.Unavailable},
		"BearerOnTLS": {conn: conn, want: oauthtest.DefaultClientID},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// The timeout starts here: parallel subtests may wait long for
			// the package's other tests on a loaded machine.
			ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
			defer cancel()
			var opts []grpc.CallOption
			if name == "BearerOnTLS" {
				opts = append(opts, oauthtest.Bearer("tok")) // works over TLS too
			}
			resp, err := oauthgatetestv1.NewLibraryServiceClient(tc.conn).GetBook(ctx, &oauthgatetestv1.GetBookRequest{}, opts...)
			if status.Code(err) != tc.wantCode {
				t.Fatalf("GetBook() error = %v, want code %v", err, tc.wantCode)
			}
			if got := resp.GetName(); got != tc.want {
				t.Errorf("server saw client certificate %q, want %q", got, tc.want)
			}
		})
	}
}

func TestServeGRPCTLS_CredsOverride(t *testing.T) {
	t.Parallel()
	certs := oauthtest.NewCertificates(t)
	cfg := certs.ServerTLSConfig()
	cfg.ClientAuth = tls.VerifyClientCertIfGiven
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(certs.ServerTLSConfig())), grpc.Creds(credentials.NewTLS(cfg)))
	registerPeerName(srv)
	conn := oauthtest.ServeGRPCTCP(t, srv, certs.DialOption(&certs.Client))
	anon := oauthtest.DialGRPC(t, conn.Target(), certs.DialOption(nil))
	ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
	defer cancel()
	for want, c := range map[string]*grpc.ClientConn{oauthtest.DefaultClientID: conn, "none": anon} {
		resp, err := oauthgatetestv1.NewLibraryServiceClient(c).GetBook(ctx, &oauthgatetestv1.GetBookRequest{})
		if err != nil || resp.GetName() != want {
			t.Errorf("GetBook() = %q, %v; want %q", resp.GetName(), err, want)
		}
	}
}
