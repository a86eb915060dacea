package interceptor

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/emptypb"
)

// ServerOptions returns the grpc.ServerOption values that install the
// Interceptor for both kinds of call: grpc.ChainUnaryInterceptor(i.Unary)
// and grpc.ChainStreamInterceptor(i.Stream). grpc-go runs chained
// interceptors in the order of the options, so interceptors given in
// options before these run before oauthgate, and those after run after it:
//
//	srv := grpc.NewServer(slices.Concat(
//		[]grpc.ServerOption{grpc.ChainUnaryInterceptor(recovery.UnaryServerInterceptor()),
//			grpc.ChainStreamInterceptor(recovery.StreamServerInterceptor())},
//		gate.ServerOptions(),
//	)...)
//
// Forgetting one of the two leaves that kind of call open; [Interceptor.Check]
// refuses such a server however the interceptors were installed.
func (i *Interceptor) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(i.Unary), grpc.ChainStreamInterceptor(i.Stream)}
}

// The wiring probe: a service that [Interceptor.Check] registers and calls
// once per kind of call. Its handlers do nothing; a call that reaches one
// proves that kind of call bypasses the Interceptor. The service has no
// descriptor, so no policy can declare a rule for it: every call to it is
// denied as undeclared, except a check's own calls, which carry a nonce
// known only to the Interceptor for the duration of the check and are
// answered with probeAnswer.
const (
	probeService      = "oauthgate.check.WiringProbe"
	probeUnaryMethod  = "/" + probeService + "/Unary"
	probeStreamMethod = "/" + probeService + "/Stream"
	probeMetadataKey  = "oauthgate-probe"
	// probeAnswer is the status message of a recognised probe call, with
	// status code probeCode.
	probeAnswer = "wiring probe answered"
	probeCode   = codes.Aborted
	// probeTimeout bounds one probe call; it never touches the network.
	probeTimeout = 10 * time.Second
)

// probeServer is the handler type of the probe service; probeImpl, which
// holds nothing, implements it.
type probeServer interface{}

type probeImpl struct{}

// probeDesc describes the probe service, as protoc-gen-go-grpc would. It is
// static data, never modified (grpc-go's generated code keeps its
// ServiceDesc values the same way).
var probeDesc = grpc.ServiceDesc{
	ServiceName: probeService,
	HandlerType: (*probeServer)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Unary",
		Handler: func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
			in := new(emptypb.Empty)
			if err := dec(in); err != nil {
				return nil, err
			}
			reached := func(context.Context, any) (any, error) { return &emptypb.Empty{}, nil }
			if ic == nil {
				return reached(ctx, in)
			}
			return ic(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: probeUnaryMethod}, reached)
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Stream",
		Handler:       func(any, grpc.ServerStream) error { return nil },
		ServerStreams: true,
		ClientStreams: true,
	}},
	Metadata: "oauthgate/check/probe",
}

// isProbe reports whether method belongs to the wiring probe. It is on the
// path of every call, so it is a single prefix test.
func isProbe(method string) bool {
	return strings.HasPrefix(method, "/"+probeService+"/")
}

// probeRejection answers a call to the probe service: a check's own call
// gets probeAnswer, anyone else is denied as for any undeclared method.
func (i *Interceptor) probeRejection(ctx context.Context) *rejection {
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get(probeMetadataKey); len(v) == 1 && i.activeProbe(v[0]) {
			return &rejection{code: probeCode, reason: reasonProbe, description: probeAnswer, probe: true}
		}
	}
	return &rejection{code: codes.PermissionDenied, reason: ReasonUndeclaredMethod,
		description: "the method is not available", cause: errNoRule}
}

// reasonProbe is the ErrorInfo reason of a recognised probe call. It is
// never sent outside a check.
const reasonProbe = "WIRING_PROBE"

func (i *Interceptor) activeProbe(nonce string) bool {
	i.probeMu.Lock()
	defer i.probeMu.Unlock()
	_, ok := i.probes[nonce]
	return ok
}

// Check is the start-up check of a server protected by i. It returns an
// error, and the server must not serve, unless both hold:
//
//   - every method registered on srv has a rule in the policy (otherwise a
//     [*scopes.CoverageError] names them: they would deny every call);
//   - both unary and streaming calls pass through i before reaching a
//     handler (otherwise a [*WiringError] names the kind of call that does
//     not).
//
// The wiring is tested, not inspected, so it works however i was
// installed: [Interceptor.ServerOptions], grpc.ChainUnaryInterceptor and
// grpc.ChainStreamInterceptor, grpc.UnaryInterceptor and
// grpc.StreamInterceptor, or go-grpc-middleware's auth interceptors with
// [Interceptor.AuthFunc], with or without a selector. Check registers a
// probe service (oauthgate.check.WiringProbe, one unary and one streaming
// method whose handlers do nothing) on srv and calls each method once
// through srv.ServeHTTP, in memory, with a random nonce that i alone
// recognises while the check runs; a probe call that reaches its handler
// proves that kind of call bypasses i. The probe service stays registered
// (grpc-go cannot unregister a service; reflection lists it) and i denies
// every other call to it, like any method without a rule. Interceptors that
// run before i see the probe calls; one that rejects them makes the check
// fail, because it cannot then tell whether i is installed.
//
// Call Check after registering every service and before srv.Serve: grpc-go
// ends the program if a service is registered on a serving server, so Check
// returns an error instead when srv already serves. Checking a server twice
// is fine.
//
// What Check cannot see: a go-grpc-middleware selector that lets the probe
// through but skips some of your methods (those methods are unprotected by
// your choice), and interceptors added to srv by other means after Check.
func (i *Interceptor) Check(srv *grpc.Server) error {
	if srv == nil {
		return errors.New("interceptor: Check: server is nil")
	}
	if serving(srv) {
		return errors.New("interceptor: Check must be called before Serve: grpc-go cannot register the wiring probe on a serving server")
	}
	coverage := i.Covers(srv)
	if _, ok := srv.GetServiceInfo()[probeService]; !ok {
		srv.RegisterService(&probeDesc, probeImpl{})
	}
	nonce := i.startProbe()
	defer i.endProbe(nonce)
	werr := &WiringError{
		Unary:     probe(srv, probeUnaryMethod, nonce),
		Streaming: probe(srv, probeStreamMethod, nonce),
	}
	if werr.Unary == "" && werr.Streaming == "" {
		return coverage
	}
	return errors.Join(werr, coverage)
}

// serving reports whether srv.Serve has been called, from grpc-go's
// unexported Server.serve field (grpc 1.85). Registering a service after
// Serve calls log.Fatal inside grpc-go; reading the field turns that into
// an error. If a later grpc-go renames the field, serving reports false and
// TestCheck_AfterServe fails.
func serving(srv *grpc.Server) bool {
	f := reflect.ValueOf(srv).Elem().FieldByName("serve")
	return f.IsValid() && f.Kind() == reflect.Bool && f.Bool()
}

func (i *Interceptor) startProbe() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error (Go 1.24+).
	nonce := hex.EncodeToString(b)
	i.probeMu.Lock()
	defer i.probeMu.Unlock()
	if i.probes == nil {
		i.probes = map[string]struct{}{}
	}
	i.probes[nonce] = struct{}{}
	return nonce
}

func (i *Interceptor) endProbe(nonce string) {
	i.probeMu.Lock()
	defer i.probeMu.Unlock()
	delete(i.probes, nonce)
}

// probe calls method on srv in memory and describes what went wrong, or
// returns "" when the Interceptor answered.
func probe(srv *grpc.Server, method, nonce string) string {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	var body []byte
	if method == probeUnaryMethod {
		body = make([]byte, 5) // one uncompressed, empty message (gRPC over HTTP/2, Length-Prefixed-Message)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://oauthgate.check"+method, bytes.NewReader(body))
	if err != nil {
		return "could not be probed: " + err.Error()
	}
	req.Proto, req.ProtoMajor, req.ProtoMinor = "HTTP/2.0", 2, 0
	req.RemoteAddr = "oauthgate.check"
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	req.Header.Set(probeMetadataKey, nonce)
	w := &probeWriter{header: http.Header{}}
	srv.ServeHTTP(w, req)

	code := w.header.Get("Grpc-Status")
	msg := w.header.Get("Grpc-Message")
	switch {
	case code == strconv.Itoa(int(probeCode)) && msg == probeAnswer:
		return ""
	case code == "0":
		return "reach their handlers without passing oauthgate"
	case code == "":
		return fmt.Sprintf("could not be probed: the server answered HTTP %d without a gRPC status (is it stopped?)", w.code)
	default:
		c, _ := strconv.Atoi(code)
		return fmt.Sprintf("were answered with %s %q instead of by this gate: an interceptor before it (or another oauthgate Interceptor) "+
			"rejected or rewrote them, so the check cannot tell whether this gate is installed", codes.Code(c), msg)
	}
}

// probeWriter is the http.ResponseWriter of a probe call; grpc-go's
// ServeHTTP transport writes the status into its header map.
type probeWriter struct {
	header http.Header
	code   int
}

func (w *probeWriter) Header() http.Header { return w.header }

func (w *probeWriter) Write(p []byte) (int, error) { return len(p), nil }

func (w *probeWriter) WriteHeader(code int) { w.code = code }

func (w *probeWriter) Flush() {}
