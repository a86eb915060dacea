package oauthtest_test

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"testing"

	"connectrpc.com/connect"

	"github.com/oauthgate/oauthgate/oauthtest"
)

// peerHandler answers with the request's protocol and the common name of
// its client certificate, if any.
var peerHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	cn := "none"
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		cn = r.TLS.PeerCertificates[0].Subject.CommonName
	}
	fmt.Fprintf(w, "%s %s", r.Proto, cn)
})

func getPeer(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	res, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var proto, cn string
	if _, err := fmt.Fscan(res.Body, &proto, &cn); err != nil {
		t.Fatal(err)
	}
	return proto + " " + cn
}

// TestServeConnect: the clients speak HTTP/2, cleartext or over TLS, and
// present the certificate they are given.
func TestServeConnect(t *testing.T) {
	h2c := oauthtest.ServeConnect(t, peerHandler)
	if got := getPeer(t, h2c.Client(t, nil), h2c.URL); got != "HTTP/2.0 none" {
		t.Errorf("h2c: %s, want HTTP/2.0 none", got)
	}
	certs := oauthtest.NewCertificates(t)
	srv := oauthtest.ServeConnectTLS(t, peerHandler, certs)
	other := certs.NewClientCertificate(t, "client-2")
	for cert, want := range map[*tls.Certificate]string{nil: "HTTP/2.0 none", &certs.Client: "HTTP/2.0 " + oauthtest.DefaultClientID, &other: "HTTP/2.0 client-2"} {
		if got := getPeer(t, srv.Client(t, cert), srv.URL); got != want {
			t.Errorf("TLS: %s, want %s", got, want)
		}
	}
}

func TestConnectProtocols(t *testing.T) {
	ps := oauthtest.ConnectProtocols()
	if len(ps) != 3 {
		t.Fatalf("ConnectProtocols() = %v, want three", ps)
	}
	for _, p := range ps {
		if p.ClientOption() == nil {
			t.Errorf("%s.ClientOption() = nil", p)
		}
	}
	var _ connect.ClientOption = oauthtest.ProtocolGRPC.ClientOption()
}
