package serve

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	"github.com/oauthgate/oauthgate/examples/reports"
	"github.com/oauthgate/oauthgate/examples/reports/reportsv1"
	"github.com/oauthgate/oauthgate/examples/reports/reportsv1/reportsv1connect"
	"github.com/oauthgate/oauthgate/oauthtest"
)

// connectReason returns the ErrorInfo reason of a connect error.
func connectReason(err error) string {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return ""
	}
	for _, d := range ce.Details() {
		if v, e := d.Value(); e == nil {
			if info, ok := v.(*errdetails.ErrorInfo); ok {
				return info.GetReason()
			}
		}
	}
	return ""
}

// TestRun_Connect serves with -connect and calls the one port with
// connect-go's client over each protocol (h2c), and as a browser's
// preflight does, with -cors-origin.
func TestRun_Connect(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	const origin = "http://127.0.0.1:3000"
	addr := startRun(t, "-issuer", iss.URL, "-insecure-http", "-audience", oauthtest.DefaultAudience, "-connect", "-cors-origin", origin)
	srv := &oauthtest.ConnectServer{URL: "http://" + addr}
	ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
	defer cancel()
	alice := iss.Token(t, oauthtest.Token{Subject: reports.SubjectAlice, Scopes: []string{reports.ScopeRead}})
	for _, p := range oauthtest.ConnectProtocols() {
		client := reportsv1connect.NewReportServiceClient(srv.Client(t, nil), srv.URL, p.ClientOption())
		req := connect.NewRequest(&reportsv1.GetReportRequest{Owner: reports.SubjectAlice, Id: "r-1"})
		if _, err := client.GetReport(ctx, req); connectReason(err) != "MISSING_TOKEN" {
			t.Errorf("%s: GetReport() without token error = %v, want MISSING_TOKEN", p, err)
		}
		req.Header().Set("Authorization", "Bearer "+alice)
		if _, err := client.GetReport(ctx, req); err != nil {
			t.Errorf("%s: GetReport() error = %v", p, err)
		}
	}

	pre, err := http.NewRequestWithContext(ctx, "OPTIONS", srv.URL+"/examples.reports.v1.ReportService/GetReport", nil)
	if err != nil {
		t.Fatal(err)
	}
	pre.Header.Set("Origin", origin)
	pre.Header.Set("Access-Control-Request-Method", "POST")
	res, err := srv.Client(t, nil).Do(pre)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != origin ||
		!strings.Contains(res.Header.Get("Access-Control-Allow-Headers"), "DPoP") {
		t.Errorf("preflight = %d %v, want 204 allowing %s and the DPoP header", res.StatusCode, res.Header, origin)
	}
}

// TestRun_ConnectMutualTLS serves with -connect over mutual TLS, where
// connectgate reads the client certificate of certificate-bound tokens
// (RFC 8705) from the connection.
func TestRun_ConnectMutualTLS(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	certs := oauthtest.NewCertificates(t)
	pem := certs.WritePEM(t)
	addr := startRun(t, "-issuer", iss.URL, "-insecure-http", "-audience", oauthtest.DefaultAudience, "-connect",
		"-tls-cert", pem.ServerCert, "-tls-key", pem.ServerKey, "-client-ca", pem.CA)
	ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
	defer cancel()
	pool := x509.NewCertPool()
	pool.AddCert(certs.CA)
	client := func(cert tls.Certificate) reportsv1connect.ReportServiceClient {
		tr := &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool, Certificates: []tls.Certificate{cert}}, ForceAttemptHTTP2: true}
		t.Cleanup(tr.CloseIdleConnections)
		return reportsv1connect.NewReportServiceClient(&http.Client{Transport: tr}, "https://"+addr, connect.WithGRPC())
	}
	bound := iss.Token(t, oauthtest.Token{Subject: reports.SubjectAlice, Scopes: []string{reports.ScopeRead}, Certificate: certs.Client.Leaf})
	req := connect.NewRequest(&reportsv1.GetReportRequest{Owner: reports.SubjectAlice, Id: "r-1"})
	req.Header().Set("Authorization", "Bearer "+bound)
	if _, err := client(certs.Client).GetReport(ctx, req); err != nil {
		t.Errorf("GetReport(certificate-bound token, its certificate) = %v", err)
	}
	if _, err := client(certs.NewClientCertificate(t, "other")).GetReport(ctx, req); connectReason(err) != "CERTIFICATE_MISMATCH" {
		t.Errorf("GetReport(certificate-bound token, another certificate) = %v, want CERTIFICATE_MISMATCH", err)
	}
}
