package oauthtest

import (
	"context"
	"errors"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
)

// bufSize is the in-memory pipe buffer of [ServeGRPC], as in grpc-go's own
// tests.
const bufSize = 1 << 20

// ServeGRPC serves srv, a server built and with its services registered by
// the test or by your own code, on an in-memory bufconn listener, and
// returns a client connection to it. When the test ends the connection is
// closed, then srv is stopped and its Serve goroutine waited for. Setup
// errors fail the test with tb.Fatalf.
//
//	srv := grpc.NewServer(gate.ServerOptions()...) // or the server your main serves
//	pb.RegisterOrdersServer(srv, &orders{})
//	conn := oauthtest.ServeGRPC(t, srv)
//	resp, err := pb.NewOrdersClient(conn).Get(ctx, req, oauthtest.Bearer(tok))
//
// The connection uses insecure transport credentials: nothing leaves the
// process, and srv must not be built with grpc.Creds ([ServeGRPCTCP] serves
// TLS).
func ServeGRPC(tb testing.TB, srv *grpc.Server) *grpc.ClientConn {
	tb.Helper()
	if srv == nil {
		tb.Fatalf("oauthtest.ServeGRPC: server is nil")
		return nil
	}
	lis := bufconn.Listen(bufSize)
	// passthrough skips name resolution: the dialer ignores the address.
	return serveGRPC(tb, "ServeGRPC", lis, srv, "passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return lis.DialContext(ctx)
		}))
}

// ServeGRPCTCP is [ServeGRPC] over TCP on 127.0.0.1, for tests that need a
// real network connection: transport security, peer addresses, several
// clients ([DialGRPC] to conn.Target()), or a comparison with the
// in-memory transport. The port is chosen by the system. The returned
// connection is made with opts, after insecure transport credentials, so
// that a server built with TLS credentials is reached with
// [Certificates.DialOption]:
//
//	certs := oauthtest.NewCertificates(t)
//	srv := grpc.NewServer(append(gate.ServerOptions(), grpc.Creds(credentials.NewTLS(certs.ServerTLSConfig())))...)
//	pb.RegisterOrdersServer(srv, &orders{})
//	conn := oauthtest.ServeGRPCTCP(t, srv, certs.DialOption(&certs.Client))
//	other := certs.NewClientCertificate(t, "client-2")
//	conn2 := oauthtest.DialGRPC(t, conn.Target(), certs.DialOption(&other))
//
// The server and the connection stop when the test ends.
func ServeGRPCTCP(tb testing.TB, srv *grpc.Server, opts ...grpc.DialOption) *grpc.ClientConn {
	tb.Helper()
	if srv == nil {
		tb.Fatalf("oauthtest.ServeGRPCTCP: server is nil")
		return nil
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("oauthtest.ServeGRPCTCP: listen on 127.0.0.1: %v", err)
		return nil
	}
	return serveGRPC(tb, "ServeGRPCTCP", lis, srv, "passthrough:///"+lis.Addr().String(), opts...)
}

// DialGRPC returns a new client connection to target, such as the Target()
// of a connection from [ServeGRPCTCP], made with opts, which must include
// transport credentials ([Certificates.DialOption], or
// insecure.NewCredentials()). The connection is closed when the test ends.
// It fails the test tb on a setup error.
func DialGRPC(tb testing.TB, target string, opts ...grpc.DialOption) *grpc.ClientConn {
	tb.Helper()
	conn, err := grpc.NewClient(target, opts...)
	if err != nil {
		tb.Fatalf("oauthtest.DialGRPC: grpc.NewClient: %v", err)
		return nil
	}
	tb.Cleanup(func() { _ = conn.Close() })
	return conn
}

// serveGRPC serves srv on lis, and returns a client connection to target
// made with dialOpts, which default to insecure transport credentials. name
// is the exported function, for failure messages.
func serveGRPC(tb testing.TB, name string, lis net.Listener, srv *grpc.Server,
	target string, dialOpts ...grpc.DialOption,
) *grpc.ClientConn {
	tb.Helper()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()

	// Options apply in order: credentials in dialOpts replace these.
	dialOpts = append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, dialOpts...)
	conn, err := grpc.NewClient(target, dialOpts...)
	stop := func() {
		srv.Stop()
		if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			tb.Errorf("oauthtest.%s: Serve: %v", name, err)
		}
	}
	if err != nil {
		stop()
		tb.Fatalf("oauthtest.%s: grpc.NewClient: %v", name, err)
		return nil
	}
	tb.Cleanup(func() {
		_ = conn.Close()
		stop()
	})
	return conn
}

// Bearer returns a call option that sends token in the "authorization"
// metadata as "Bearer <token>" (RFC 6750 §2.1), for one RPC:
//
//	client.GetBook(ctx, req, oauthtest.Bearer(tok))
//
// It works over insecure transports such as [ServeGRPC]'s, which real
// credentials (oauth.TokenSource) refuse, and over TLS; never use it
// outside tests.
func Bearer(token string) grpc.CallOption {
	return grpc.PerRPCCredentials(bearer(token))
}

// bearer is per-RPC credentials carrying a fixed bearer token.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

// RequireTransportSecurity returns false: test transports are in-memory or
// loopback, with or without TLS.
func (bearer) RequireTransportSecurity() bool { return false }
