package interceptor

import (
	"context"
	"crypto/x509"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/oauthgate/oauthgate/internal/core"
)

// request describes a gRPC call to method for the core: its authorization
// and dpop metadata, and the call's transport.
func request(ctx context.Context, method string) core.Request {
	return core.Request{
		Procedure:     method,
		Authorization: metadata.ValueFromIncomingContext(ctx, "authorization"),
		DPoP:          metadata.ValueFromIncomingContext(ctx, "dpop"),
		Transport:     transport{},
	}
}

// transport answers the core's questions about a gRPC call from its
// context. It has no fields, so a core.Request holding it allocates
// nothing.
type transport struct{}

// Target returns the request line of a gRPC call: an HTTP/2 POST to
// /<package.Service>/<Method> (the core's default path), https on a TLS
// connection and http otherwise, with the call's :authority as received
// (the core parses it to host[:port] before use; several or none is "",
// which fails that parse).
func (transport) Target(ctx context.Context) (core.Target, error) {
	t := core.Target{Method: "POST", Scheme: "http"}
	if a := metadata.ValueFromIncomingContext(ctx, ":authority"); len(a) == 1 {
		t.Authority = a[0]
	}
	if p, ok := peer.FromContext(ctx); ok {
		if _, tls := p.AuthInfo.(credentials.TLSInfo); tls {
			t.Scheme = "https"
		}
	}
	return t, nil
}

// PeerCertificate returns the leaf certificate the client presented in the
// TLS handshake of the call's connection, or nil. The handshake proved the
// client holds its private key (RFC 8705 §3: the binding does not depend on
// the certificate chain).
func (transport) PeerCertificate(ctx context.Context) (*x509.Certificate, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil, nil
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.PeerCertificates) == 0 {
		return nil, nil
	}
	return info.State.PeerCertificates[0], nil
}
