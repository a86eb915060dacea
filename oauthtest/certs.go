package oauthtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// certLifetime is how long the certificates of [NewCertificates] are
// valid; they start an hour in the past so that a test clock set a little
// back still sees them valid.
const certLifetime = 24 * time.Hour

// Certificates is a throwaway public key infrastructure for mutual-TLS
// tests (RFC 8705 certificate-bound tokens): a certificate authority, a
// server certificate for 127.0.0.1, ::1 and localhost, and a client
// certificate, all with ECDSA P-256 keys generated in memory. It is safe
// for concurrent use; its fields must not be modified.
//
//	certs := oauthtest.NewCertificates(t)
//	srv := grpc.NewServer(append(gate.ServerOptions(), grpc.Creds(credentials.NewTLS(certs.ServerTLSConfig())))...)
//	conn := oauthtest.ServeGRPCTCP(t, srv, certs.DialOption(&certs.Client))
//	tok := iss.Token(t, oauthtest.Token{Certificate: certs.Client.Leaf})
type Certificates struct {
	// CA is the authority that signed every other certificate.
	CA *x509.Certificate
	// Server is the server's certificate chain and key; Server.Leaf is set.
	Server tls.Certificate
	// Client is the certificate and key of the client "client-1"
	// ([DefaultClientID]); Client.Leaf is set.
	Client tls.Certificate

	caKey *ecdsa.PrivateKey
	pool  *x509.CertPool
}

// NewCertificates generates a CA, a server and a client certificate. It
// fails the test tb on a setup error.
func NewCertificates(tb testing.TB) *Certificates {
	tb.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatalf("oauthtest.NewCertificates: generate CA key: %v", err)
		return nil
	}
	tmpl := certTemplate(tb, "oauthtest CA")
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &caKey.PublicKey, caKey)
	if err != nil {
		tb.Fatalf("oauthtest.NewCertificates: create CA certificate: %v", err)
		return nil
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("oauthtest.NewCertificates: parse CA certificate: %v", err)
		return nil
	}
	c := &Certificates{CA: ca, caKey: caKey, pool: x509.NewCertPool()}
	c.pool.AddCert(ca)

	server := certTemplate(tb, "localhost")
	server.DNSNames = []string{"localhost"}
	server.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	server.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	c.Server = c.issue(tb, "oauthtest.NewCertificates", server)
	c.Client = c.NewClientCertificate(tb, DefaultClientID)
	return c
}

// NewClientCertificate issues another client certificate, with common name
// name, signed by the CA: a second client whose certificate a token is not
// bound to. Its Leaf is set. It fails the test tb on a setup error.
func (c *Certificates) NewClientCertificate(tb testing.TB, name string) tls.Certificate {
	tb.Helper()
	tmpl := certTemplate(tb, name)
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	return c.issue(tb, "Certificates.NewClientCertificate", tmpl)
}

// ServerTLSConfig returns a new server configuration with the server
// certificate that requires a client certificate signed by the CA
// (tls.RequireAndVerifyClientCert), for grpc.Creds(credentials.NewTLS(…)).
// Change ClientAuth on the copy to test a server that only asks for one.
func (c *Certificates) ServerTLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{c.Server},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    c.pool,
	}
}

// DialOption returns gRPC transport credentials for a client that trusts
// only the CA and presents cert, or no certificate if cert is nil: pass it
// to [ServeGRPCTCP] or [DialGRPC] to reach a server built with
// [Certificates.ServerTLSConfig].
func (c *Certificates) DialOption(cert *tls.Certificate) grpc.DialOption {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: c.pool}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return grpc.WithTransportCredentials(credentials.NewTLS(cfg))
}

// PEMFiles names the PEM files written by [Certificates.WritePEM].
type PEMFiles struct {
	// CA is the CA certificate: the trust bundle of both sides.
	CA string
	// ServerCert and ServerKey are the server certificate and its PKCS #8
	// private key.
	ServerCert, ServerKey string
	// ClientCert and ClientKey are the client certificate and its PKCS #8
	// private key.
	ClientCert, ClientKey string
}

// WritePEM writes the CA certificate and the server and client
// certificates and keys as PEM files into a new tb.TempDir(), for programs
// that take file names (a server's -tls-cert flags, grpcurl). It fails the
// test tb on an error.
func (c *Certificates) WritePEM(tb testing.TB) PEMFiles {
	tb.Helper()
	dir := tb.TempDir()
	f := PEMFiles{
		CA:         filepath.Join(dir, "ca.pem"),
		ServerCert: filepath.Join(dir, "server.pem"),
		ServerKey:  filepath.Join(dir, "server-key.pem"),
		ClientCert: filepath.Join(dir, "client.pem"),
		ClientKey:  filepath.Join(dir, "client-key.pem"),
	}
	write := func(name, typ string, der []byte) {
		tb.Helper()
		data := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
		if err := os.WriteFile(name, data, 0o600); err != nil {
			tb.Fatalf("Certificates.WritePEM: %v", err)
		}
	}
	writeKey := func(name string, cert tls.Certificate) {
		tb.Helper()
		der, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
		if err != nil {
			tb.Fatalf("Certificates.WritePEM: encode key: %v", err)
			return
		}
		write(name, "PRIVATE KEY", der)
	}
	write(f.CA, "CERTIFICATE", c.CA.Raw)
	write(f.ServerCert, "CERTIFICATE", c.Server.Leaf.Raw)
	writeKey(f.ServerKey, c.Server)
	write(f.ClientCert, "CERTIFICATE", c.Client.Leaf.Raw)
	writeKey(f.ClientKey, c.Client)
	return f
}

// issue signs tmpl with the CA for a new P-256 key. fn names the exported
// caller, for failure messages.
func (c *Certificates) issue(tb testing.TB, fn string, tmpl *x509.Certificate) tls.Certificate {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatalf("oauthtest.%s: generate key: %v", fn, err)
		return tls.Certificate{}
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.CA, &key.PublicKey, c.caKey)
	if err != nil {
		tb.Fatalf("oauthtest.%s: create certificate %q: %v", fn, tmpl.Subject.CommonName, err)
		return tls.Certificate{}
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("oauthtest.%s: parse certificate: %v", fn, err)
		return tls.Certificate{}
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// certTemplate is a certificate for name with a random serial number.
func certTemplate(tb testing.TB, name string) *x509.Certificate {
	tb.Helper()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		tb.Fatalf("oauthtest: certificate serial number: %v", err)
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name, Organization: []string{"oauthtest"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(certLifetime),
	}
}

// certificateThumbprint is the x5t#S256 confirmation of cert (RFC 8705
// §3.1): the unpadded base64url SHA-256 digest of its DER encoding. It is
// verify.CertificateThumbprint, which this package does not import.
func certificateThumbprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
