package conformance_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/oauthgate/oauthgate/connectgate"
	"github.com/oauthgate/oauthgate/interceptor"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/scopes"
)

// An outcome is what a client saw of one call.
type outcome struct {
	code   uint32 // gRPC and Connect codes are the same numbers
	reason string // the ErrorInfo reason
	// challenges are the www-authenticate values, in order.
	challenges []string
	subject    string // of the claims the handler saw, on success
}

// A call is one call of a kind to a target, with these headers, from a
// client presenting cert (nil: none).
type call func(t *testing.T, stream bool, h http.Header, cert *tls.Certificate) outcome

// A target is an adapter served over one protocol.
type target struct {
	name string
	// base is the URL the target's requests go to, for a DPoP proof's htu.
	base string
	// stream reports whether the target can make server-streaming calls.
	stream bool
	call   call
}

// The test handlers answer with the subject the adapter put in the
// context, read with the accessor of the other adapter: both share it.

type library struct {
	testpb.UnimplementedLibraryServiceServer
}

func (library) GetBook(ctx context.Context, _ *testpb.GetBookRequest) (*testpb.GetBookResponse, error) {
	c, ok := connectgate.FromContext(ctx)
	if !ok {
		return nil, status.Error(codes.Internal, "no claims")
	}
	return &testpb.GetBookResponse{Name: c.Subject()}, nil
}

func (library) ListBooks(_ *testpb.ListBooksRequest, s grpc.ServerStreamingServer[testpb.ListBooksResponse]) error {
	c, ok := connectgate.FromContext(s.Context())
	if !ok {
		return status.Error(codes.Internal, "no claims")
	}
	return s.Send(&testpb.ListBooksResponse{Name: c.Subject()})
}

func connectGetBook(ctx context.Context, _ *connect.Request[testpb.GetBookRequest]) (*connect.Response[testpb.GetBookResponse], error) {
	c, ok := interceptor.FromContext(ctx)
	if !ok {
		return nil, connect.NewError(connect.CodeInternal, errors.New("no claims"))
	}
	return connect.NewResponse(&testpb.GetBookResponse{Name: c.Subject()}), nil
}

func connectListBooks(ctx context.Context, _ *connect.Request[testpb.ListBooksRequest], s *connect.ServerStream[testpb.ListBooksResponse]) error {
	c, ok := interceptor.FromContext(ctx)
	if !ok {
		return connect.NewError(connect.CodeInternal, errors.New("no claims"))
	}
	return s.Send(&testpb.ListBooksResponse{Name: c.Subject()})
}

// serverTLS asks for a client certificate and verifies one if given, so
// that one server sees calls with and without a certificate.
func (e *env) serverTLS() *tls.Config {
	cfg := e.certs.ServerTLSConfig()
	cfg.ClientAuth = tls.VerifyClientCertIfGiven
	return cfg
}

// grpcTarget serves the library with the grpc-go interceptor over TLS.
func (e *env) grpcTarget(t *testing.T, opts ...interceptor.Option) target {
	t.Helper()
	gate, err := interceptor.New(e.v, e.p, opts...)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(append(gate.ServerOptions(), grpc.Creds(credentials.NewTLS(e.serverTLS())))...)
	testpb.RegisterLibraryServiceServer(srv, library{})
	anon := oauthtest.ServeGRPCTCP(t, srv, e.certs.DialOption(nil))
	conns := map[*tls.Certificate]*grpc.ClientConn{nil: anon}
	for _, c := range []*tls.Certificate{&e.certs.Client, &e.other} {
		conns[c] = oauthtest.DialGRPC(t, anon.Target(), e.certs.DialOption(c))
	}
	return target{name: "interceptor/grpc", base: "https://" + strings.TrimPrefix(anon.Target(), "passthrough:///"), stream: true,
		call: func(t *testing.T, stream bool, h http.Header, cert *tls.Certificate) outcome {
			t.Helper()
			client := testpb.NewLibraryServiceClient(conns[cert])
			md := metadata.MD{}
			for k, vs := range h {
				md[strings.ToLower(k)] = vs
			}
			ctx := metadata.NewOutgoingContext(testContext(t), md)
			var header, trailer metadata.MD
			var got outcome
			var err error
			if stream {
				var s grpc.ServerStreamingClient[testpb.ListBooksResponse]
				if s, err = client.ListBooks(ctx, &testpb.ListBooksRequest{Count: 1}); err == nil {
					var m *testpb.ListBooksResponse
					if m, err = s.Recv(); err == nil {
						got.subject = m.GetName()
					}
					header, _ = s.Header()
					trailer = s.Trailer()
				}
			} else {
				var m *testpb.GetBookResponse
				m, err = client.GetBook(ctx, &testpb.GetBookRequest{Name: "b"}, grpc.Header(&header), grpc.Trailer(&trailer))
				got.subject = m.GetName()
			}
			st := status.Convert(err)
			got.code = uint32(st.Code())
			for _, d := range st.Details() {
				if info, ok := d.(*errdetails.ErrorInfo); ok {
					got.reason = info.GetReason()
				}
			}
			got.challenges = header.Get("www-authenticate")
			if len(got.challenges) == 0 {
				got.challenges = trailer.Get("www-authenticate")
			}
			return got
		}}
}

// connectTargets serves the library with connectgate over TLS and returns
// a target per protocol of connect-go's client, and raw HTTP for the
// Connect protocol's unary calls.
func (e *env) connectTargets(t *testing.T, opts ...connectgate.Option) []target {
	t.Helper()
	gate, err := connectgate.New(e.v, e.p, opts...)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	ic := connect.WithInterceptors(gate)
	mux.Handle(getBook, connect.NewUnaryHandler(getBook, connectGetBook, ic))
	mux.Handle(listBooks, connect.NewServerStreamHandler(listBooks, connectListBooks, ic))
	// The policy covers the two procedures served, not the rest of the
	// service: the start-up check names exactly the others.
	var cov *scopes.CoverageError
	if err := gate.Check("/" + testpb.LibraryService_ServiceDesc.ServiceName + "/"); !errors.As(err, &cov) || len(cov.Methods) != 4 ||
		slices.Contains(cov.Methods, getBook) || slices.Contains(cov.Methods, listBooks) {
		t.Fatalf("Check(LibraryService) = %v, want a CoverageError naming its 4 other methods", err)
	}
	srv := oauthtest.ServeConnectTLS(t, gate.Handler(mux), e.certs)
	clients := map[*tls.Certificate]*http.Client{}
	for _, c := range []*tls.Certificate{nil, &e.certs.Client, &e.other} {
		clients[c] = srv.Client(t, c)
	}
	var targets []target
	for _, p := range oauthtest.ConnectProtocols() {
		targets = append(targets, target{name: "connectgate/" + string(p), base: srv.URL, stream: true,
			call: func(t *testing.T, stream bool, h http.Header, cert *tls.Certificate) outcome {
				t.Helper()
				return connectCall(t, clients[cert], srv.URL, p, stream, h)
			}})
	}
	targets = append(targets, target{name: "connectgate/http", base: srv.URL,
		call: func(t *testing.T, _ bool, h http.Header, cert *tls.Certificate) outcome {
			t.Helper()
			return rawConnectCall(t, clients[cert], srv.URL, h)
		}})
	return targets
}

// connectCall makes one call with connect-go's client.
func connectCall(t *testing.T, hc *http.Client, base string, p oauthtest.ConnectProtocol, stream bool, h http.Header) outcome {
	t.Helper()
	ctx := testContext(t)
	var got outcome
	var err error
	var meta http.Header
	if stream {
		client := connect.NewClient[testpb.ListBooksRequest, testpb.ListBooksResponse](hc, base+listBooks, p.ClientOption())
		req := connect.NewRequest(&testpb.ListBooksRequest{Count: 1})
		copyHeader(req.Header(), h)
		s, serr := client.CallServerStream(ctx, req)
		if err = serr; err == nil {
			if s.Receive() {
				got.subject = s.Msg().GetName()
			}
			err = s.Err()
			meta = s.ResponseHeader().Clone()
			for k, vs := range s.ResponseTrailer() {
				meta[k] = append(meta[k], vs...)
			}
			_ = s.Close()
		}
	} else {
		client := connect.NewClient[testpb.GetBookRequest, testpb.GetBookResponse](hc, base+getBook, p.ClientOption())
		req := connect.NewRequest(&testpb.GetBookRequest{Name: "b"})
		copyHeader(req.Header(), h)
		var res *connect.Response[testpb.GetBookResponse]
		if res, err = client.CallUnary(ctx, req); err == nil {
			got.subject = res.Msg.GetName()
		}
	}
	got.code = uint32(connect.CodeOf(err))
	if err == nil {
		got.code = 0
	}
	var cerr *connect.Error
	if errors.As(err, &cerr) {
		meta = cerr.Meta()
		for _, d := range cerr.Details() {
			if v, derr := d.Value(); derr == nil {
				if info, ok := v.(*errdetails.ErrorInfo); ok {
					got.reason = info.GetReason()
				}
			}
		}
	}
	got.challenges = meta.Values("Www-Authenticate")
	return got
}

// httpStatus is the HTTP status of a Connect unary error (the Connect
// protocol's mapping for the codes oauthgate answers with).
var httpStatus = map[uint32]int{0: 200, 7: 403, 13: 500, 14: 503, 16: 401}

// rawConnectCall makes a Connect protocol unary call as curl would, with
// JSON, and checks the status line against the code of the error body.
func rawConnectCall(t *testing.T, hc *http.Client, base string, h http.Header) outcome {
	t.Helper()
	req, err := http.NewRequestWithContext(testContext(t), http.MethodPost, base+getBook, strings.NewReader(`{"name":"b"}`))
	if err != nil {
		t.Fatal(err)
	}
	copyHeader(req.Header, h)
	req.Header.Set("Content-Type", "application/json")
	res, err := hc.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", getBook, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	got := outcome{challenges: res.Header.Values("Www-Authenticate")}
	if res.StatusCode == http.StatusOK {
		got.subject = jsonField(t, body, "name")
		return got
	}
	code, ok := connectCodes[jsonField(t, body, "code")]
	if !ok {
		t.Fatalf("error body %s has no known code", body)
	}
	got.code = code
	if want := httpStatus[code]; res.StatusCode != want {
		t.Errorf("HTTP status = %d, want %d for code %d", res.StatusCode, want, code)
	}
	got.reason = errorInfoReason(t, body)
	return got
}

func copyHeader(dst, src http.Header) {
	for k, vs := range src {
		for _, v := range vs {
			dst.Add(k, v)
		}
	}
}
