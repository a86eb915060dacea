package oauthtest

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"

	"connectrpc.com/connect"
)

// A ConnectServer is an http.Handler (connect-go handlers on a mux, wrapped
// by connectgate's Gate.Handler) served on 127.0.0.1 for a test, with
// HTTP/2 so that every protocol and every kind of stream works: cleartext
// (h2c, and HTTP/1.1) from [ServeConnect], TLS from [ServeConnectTLS]. It
// stops when the test ends.
type ConnectServer struct {
	// URL is the base URL of the server, "http://127.0.0.1:port" or
	// "https://127.0.0.1:port": a client's baseURL.
	URL string

	certs *Certificates // nil without TLS
}

// ServeConnect serves h on 127.0.0.1 over HTTP/1.1 and cleartext HTTP/2
// (h2c, with prior knowledge), as connect-go servers are served without
// TLS. It fails the test tb on a setup error.
//
//	mux := http.NewServeMux()
//	mux.Handle(pingv1connect.NewPingServiceHandler(impl, connect.WithInterceptors(gate)))
//	srv := oauthtest.ServeConnect(t, gate.Handler(mux))
//	client := pingv1connect.NewPingServiceClient(srv.Client(t, nil), srv.URL, oauthtest.ProtocolGRPC.ClientOption())
func ServeConnect(tb testing.TB, h http.Handler) *ConnectServer {
	tb.Helper()
	if h == nil {
		tb.Fatalf("oauthtest.ServeConnect: handler is nil")
		return nil
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	tb.Cleanup(srv.Close)
	return &ConnectServer{URL: srv.URL}
}

// ServeConnectTLS serves h on 127.0.0.1 over TLS (HTTP/2 by ALPN, and
// HTTP/1.1) with certs' server certificate. It asks for a client
// certificate and verifies one given against certs' CA
// (tls.VerifyClientCertIfGiven), so that one server sees calls with the
// certificate a token is bound to (RFC 8705), with another one, and with
// none; [ConnectServer.Client] chooses. It fails the test tb on a setup
// error.
func ServeConnectTLS(tb testing.TB, h http.Handler, certs *Certificates) *ConnectServer {
	tb.Helper()
	if h == nil || certs == nil {
		tb.Fatalf("oauthtest.ServeConnectTLS: handler or certificates are nil")
		return nil
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = certs.ServerTLSConfig()
	srv.TLS.ClientAuth = tls.VerifyClientCertIfGiven
	srv.EnableHTTP2 = true
	srv.StartTLS()
	tb.Cleanup(srv.Close)
	return &ConnectServer{URL: srv.URL, certs: certs}
}

// Client returns a new HTTP client for the server, speaking HTTP/2 (over
// TLS, or h2c with prior knowledge). On a TLS server it trusts only the
// CA and presents cert, or no certificate if cert is nil; without TLS,
// cert must be nil. Its idle connections close when the test ends.
func (s *ConnectServer) Client(tb testing.TB, cert *tls.Certificate) *http.Client {
	tb.Helper()
	t := &http.Transport{Protocols: new(http.Protocols)}
	if s.certs == nil {
		if cert != nil {
			tb.Fatalf("oauthtest.ConnectServer.Client: a client certificate needs ServeConnectTLS")
			return nil
		}
		t.Protocols.SetUnencryptedHTTP2(true)
	} else {
		t.Protocols.SetHTTP2(true)
		t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: s.certs.pool}
		if cert != nil {
			t.TLSClientConfig.Certificates = []tls.Certificate{*cert}
		}
	}
	tb.Cleanup(t.CloseIdleConnections)
	return &http.Client{Transport: t}
}

// A ConnectProtocol is one of the three protocols connect-go speaks.
type ConnectProtocol string

// The protocols of connect-go.
const (
	ProtocolConnect ConnectProtocol = "connect"
	ProtocolGRPC    ConnectProtocol = "grpc"
	ProtocolGRPCWeb ConnectProtocol = "grpcweb"
)

// ConnectProtocols returns the three protocols, for a test that runs once
// per protocol.
func ConnectProtocols() []ConnectProtocol {
	return []ConnectProtocol{ProtocolConnect, ProtocolGRPC, ProtocolGRPCWeb}
}

// ClientOption returns the connect-go client option that selects p (the
// Connect protocol is connect-go's default).
func (p ConnectProtocol) ClientOption() connect.ClientOption {
	switch p {
	case ProtocolGRPC:
		return connect.WithGRPC()
	case ProtocolGRPCWeb:
		return connect.WithGRPCWeb()
	}
	return connect.WithClientOptions()
}
