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

// A call is one call of kind k to a target, with these headers, from a
// client presenting cert (nil: none).
type call func(t *testing.T, k kind, h http.Header, cert *tls.Certificate) outcome

// A target is an adapter served over one protocol.
type target struct {
	name string
	// base is the URL the target's requests go to, for a DPoP proof's htu.
	base string
	// kinds are the kinds of RPC the target can make.
	kinds []kind
	call  call
}

// The test handlers answer with the subject the adapter put in the
// context, read with the accessor of the other adapter: both share it.
// AddBooks, whose response has no string field, answers in the response
// header subjectHeader; the others in their one response message.

const subjectHeader = "Subject"

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

func (library) AddBooks(s grpc.ClientStreamingServer[testpb.AddBooksRequest, testpb.AddBooksResponse]) error {
	c, ok := connectgate.FromContext(s.Context())
	if !ok {
		return status.Error(codes.Internal, "no claims")
	}
	var n int32
	for {
		if _, err := s.Recv(); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return err
		}
		n++
	}
	if err := s.SetHeader(metadata.Pairs(subjectHeader, c.Subject())); err != nil {
		return err
	}
	return s.SendAndClose(&testpb.AddBooksResponse{Count: n})
}

func (library) Chat(s grpc.BidiStreamingServer[testpb.ChatRequest, testpb.ChatResponse]) error {
	c, ok := connectgate.FromContext(s.Context())
	if !ok {
		return status.Error(codes.Internal, "no claims")
	}
	if _, err := s.Recv(); err != nil {
		return err
	}
	return s.Send(&testpb.ChatResponse{Text: c.Subject()})
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

func connectAddBooks(ctx context.Context, s *connect.ClientStream[testpb.AddBooksRequest]) (*connect.Response[testpb.AddBooksResponse], error) {
	c, ok := interceptor.FromContext(ctx)
	if !ok {
		return nil, connect.NewError(connect.CodeInternal, errors.New("no claims"))
	}
	var n int32
	for s.Receive() {
		n++
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	res := connect.NewResponse(&testpb.AddBooksResponse{Count: n})
	res.Header().Set(subjectHeader, c.Subject())
	return res, nil
}

func connectChat(ctx context.Context, s *connect.BidiStream[testpb.ChatRequest, testpb.ChatResponse]) error {
	c, ok := interceptor.FromContext(ctx)
	if !ok {
		return connect.NewError(connect.CodeInternal, errors.New("no claims"))
	}
	if _, err := s.Receive(); err != nil {
		return err
	}
	return s.Send(&testpb.ChatResponse{Text: c.Subject()})
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
	return target{name: "interceptor/grpc", base: "https://" + strings.TrimPrefix(anon.Target(), "passthrough:///"),
		kinds: []kind{unary, serverStream, clientStream, bidiStream},
		call: func(t *testing.T, k kind, h http.Header, cert *tls.Certificate) outcome {
			t.Helper()
			md := metadata.MD{}
			for k, vs := range h {
				md[strings.ToLower(k)] = vs
			}
			var got outcome
			header, trailer, err := grpcCall(metadata.NewOutgoingContext(testContext(t), md), testpb.NewLibraryServiceClient(conns[cert]), k, &got.subject)
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

// grpcCall makes one call of kind k with grpc-go's client, sending one
// message and reading one, and sets *subject to the handler's answer. A
// denied stream may fail Send with io.EOF: the status comes with the
// receive.
func grpcCall(ctx context.Context, client testpb.LibraryServiceClient, k kind, subject *string) (header, trailer metadata.MD, err error) {
	var s grpc.ClientStream
	switch k {
	case unary:
		m, err := client.GetBook(ctx, &testpb.GetBookRequest{Name: "b"}, grpc.Header(&header), grpc.Trailer(&trailer))
		*subject = m.GetName()
		return header, trailer, err
	case serverStream:
		ss, serr := client.ListBooks(ctx, &testpb.ListBooksRequest{Count: 1})
		if serr != nil {
			return nil, nil, serr
		}
		var m *testpb.ListBooksResponse
		m, err = ss.Recv()
		*subject, s = m.GetName(), ss
	case clientStream:
		cs, serr := client.AddBooks(ctx)
		if serr != nil {
			return nil, nil, serr
		}
		_ = cs.Send(&testpb.AddBooksRequest{Name: "b"})
		_, err = cs.CloseAndRecv()
		s = cs
	case bidiStream:
		bs, serr := client.Chat(ctx)
		if serr != nil {
			return nil, nil, serr
		}
		_ = bs.Send(&testpb.ChatRequest{Text: "b"})
		var m *testpb.ChatResponse
		m, err = bs.Recv()
		_ = bs.CloseSend()
		*subject, s = m.GetText(), bs
	}
	header, _ = s.Header()
	if k == clientStream && err == nil {
		*subject = strings.Join(header.Get(subjectHeader), ",")
	}
	if err != nil {
		trailer = s.Trailer() // valid once the receive failed
	}
	return header, trailer, err
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
	for k, h := range map[kind]*connect.Handler{
		unary:        connect.NewUnaryHandler(unary.procedure(), connectGetBook, ic),
		serverStream: connect.NewServerStreamHandler(serverStream.procedure(), connectListBooks, ic),
		clientStream: connect.NewClientStreamHandler(clientStream.procedure(), connectAddBooks, ic),
		bidiStream:   connect.NewBidiStreamHandler(bidiStream.procedure(), connectChat, ic),
	} {
		mux.Handle(k.procedure(), h)
	}
	// The policy covers the procedures served, not the rest of the
	// service: the start-up check names exactly the others.
	var cov *scopes.CoverageError
	if err := gate.Check("/" + testpb.LibraryService_ServiceDesc.ServiceName + "/"); !errors.As(err, &cov) ||
		!slices.Equal(cov.Methods, []string{testpb.LibraryService_Audit_FullMethodName, testpb.LibraryService_Ping_FullMethodName}) {
		t.Fatalf("Check(LibraryService) = %v, want a CoverageError naming Audit and Ping", err)
	}
	srv := oauthtest.ServeConnectTLS(t, gate.Handler(mux), e.certs)
	clients := map[*tls.Certificate]*http.Client{}
	for _, c := range []*tls.Certificate{nil, &e.certs.Client, &e.other} {
		clients[c] = srv.Client(t, c)
	}
	var targets []target
	for _, p := range oauthtest.ConnectProtocols() {
		// connect-go makes every kind of call with each of its protocols;
		// bidi streams need HTTP/2 (its client and handler refuse HTTP/1.1),
		// which srv and its clients speak.
		targets = append(targets, target{name: "connectgate/" + string(p), base: srv.URL,
			kinds: []kind{unary, serverStream, clientStream, bidiStream},
			call: func(t *testing.T, k kind, h http.Header, cert *tls.Certificate) outcome {
				t.Helper()
				return connectCall(t, clients[cert], srv.URL, p, k, h)
			}})
	}
	targets = append(targets, target{name: "connectgate/http", base: srv.URL, kinds: []kind{unary},
		call: func(t *testing.T, _ kind, h http.Header, cert *tls.Certificate) outcome {
			t.Helper()
			return rawConnectCall(t, clients[cert], srv.URL, h)
		}})
	return targets
}

// connectCall makes one call of kind k with connect-go's client, sending
// one message and reading one.
func connectCall(t *testing.T, hc *http.Client, base string, p oauthtest.ConnectProtocol, k kind, h http.Header) outcome {
	t.Helper()
	ctx, url := testContext(t), base+k.procedure()
	var got outcome
	var err error
	var meta http.Header // headers and trailers of a stream
	switch k {
	case unary:
		client := connect.NewClient[testpb.GetBookRequest, testpb.GetBookResponse](hc, url, p.ClientOption())
		req := connect.NewRequest(&testpb.GetBookRequest{Name: "b"})
		copyHeader(req.Header(), h)
		var res *connect.Response[testpb.GetBookResponse]
		if res, err = client.CallUnary(ctx, req); err == nil {
			got.subject = res.Msg.GetName()
		}
	case serverStream:
		client := connect.NewClient[testpb.ListBooksRequest, testpb.ListBooksResponse](hc, url, p.ClientOption())
		req := connect.NewRequest(&testpb.ListBooksRequest{Count: 1})
		copyHeader(req.Header(), h)
		s, serr := client.CallServerStream(ctx, req)
		if err = serr; err == nil {
			if s.Receive() {
				got.subject = s.Msg().GetName()
			}
			err = s.Err()
			meta = merged(s.ResponseHeader(), s.ResponseTrailer())
			_ = s.Close()
		}
	case clientStream:
		client := connect.NewClient[testpb.AddBooksRequest, testpb.AddBooksResponse](hc, url, p.ClientOption())
		s := client.CallClientStream(ctx)
		copyHeader(s.RequestHeader(), h)
		_ = s.Send(&testpb.AddBooksRequest{Name: "b"}) // io.EOF when denied: the error comes with the response
		var res *connect.Response[testpb.AddBooksResponse]
		if res, err = s.CloseAndReceive(); err == nil {
			got.subject = res.Header().Get(subjectHeader)
		}
	case bidiStream:
		client := connect.NewClient[testpb.ChatRequest, testpb.ChatResponse](hc, url, p.ClientOption())
		s := client.CallBidiStream(ctx)
		copyHeader(s.RequestHeader(), h)
		_ = s.Send(&testpb.ChatRequest{Text: "b"})
		var m *testpb.ChatResponse
		if m, err = s.Receive(); err == nil {
			got.subject = m.GetText()
		}
		_ = s.CloseRequest()
		meta = merged(s.ResponseHeader(), s.ResponseTrailer())
		_ = s.CloseResponse()
	}
	if err != nil {
		got.code = uint32(connect.CodeOf(err))
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

// merged returns a stream's response headers followed by its trailers.
func merged(header, trailer http.Header) http.Header {
	m := header.Clone()
	for k, vs := range trailer {
		m[k] = append(m[k], vs...)
	}
	return m
}

// httpStatus is the HTTP status of a Connect unary error (the Connect
// protocol's mapping for the codes oauthgate answers with).
var httpStatus = map[uint32]int{0: 200, 7: 403, 13: 500, 14: 503, 16: 401}

// rawConnectCall makes a Connect protocol unary call as curl would, with
// JSON, and checks the status line against the code of the error body.
func rawConnectCall(t *testing.T, hc *http.Client, base string, h http.Header) outcome {
	t.Helper()
	req, err := http.NewRequestWithContext(testContext(t), http.MethodPost, base+unary.procedure(), strings.NewReader(`{"name":"b"}`))
	if err != nil {
		t.Fatal(err)
	}
	copyHeader(req.Header, h)
	req.Header.Set("Content-Type", "application/json")
	res, err := hc.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", unary.procedure(), err)
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
