package connectgate

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/oauthgate/oauthgate/internal/core"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

// A Gate enforces a [scopes.Policy] with a [verify.Verifier] on connect-go
// handlers. It is a connect.Interceptor: install it on every handler with
// connect.WithInterceptors(gate), and wrap the server's handler with
// [Gate.Handler]. A Gate is safe for concurrent use and holds no resources
// of its own: closing the verifier is the caller's job.
//
// Every decision is made by oauthgate's transport-independent core, the
// one the grpc-go interceptor uses: the same policy, checks, errors,
// metrics and logs.
type Gate struct {
	gate *core.Gate
	// wrapped records that Handler has wrapped a handler, so that a
	// request without a client certificate is told apart from a server
	// that cannot see certificates at all.
	wrapped atomic.Bool
}

// adapter names this package to the core: error prefix and the
// instrumentation scope of its instruments.
var adapter = core.Adapter{Name: "connectgate", Meter: "github.com/oauthgate/oauthgate/connectgate"}

// New returns a Gate that verifies tokens with v and enforces p. Both are
// required. It fails on an invalid option, as interceptor.New does.
func New(v verify.Verifier, p *scopes.Policy, opts ...Option) (*Gate, error) {
	g, err := core.New(adapter, v, p, opts...)
	if err != nil {
		return nil, err
	}
	return &Gate{gate: g}, nil
}

// WrapUnary implements connect.Interceptor: it authorizes a unary call
// (Connect, gRPC or gRPC-Web; a Connect GET too) before the handler runs,
// with the request message for conditions and the [Authorizer], and hands
// the handler a context with the claims ([FromContext]). On a client it
// does nothing.
func (g *Gate) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		spec := req.Spec()
		if spec.IsClient {
			return next(ctx, req)
		}
		r := g.request(spec.Procedure, req.Header())
		r.Kind, r.Message = core.KindUnary, req.Any()
		actx, _, d := g.gate.Authorize(ctx, &r)
		if d != nil {
			return nil, g.error(d, req.Peer().Protocol, func() http.Header {
				if info, ok := connect.CallInfoForHandlerContext(ctx); ok {
					return info.ResponseHeader()
				}
				return nil
			})
		}
		return next(actx, req)
	}
}

// WrapStreamingClient implements connect.Interceptor: it does nothing,
// since a Gate guards servers.
func (g *Gate) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler implements connect.Interceptor: it authorizes a
// stream when it starts, holds every received message to the method's
// conditions (and to the [Authorizer] with [WithStreamMessages]), and ends
// the stream at the token's deadline or when a periodic re-check fails
// ([WithStreamRecheck]), exactly as the grpc-go interceptor does: the
// handler's context is cancelled, Send and Receive fail, and the client
// gets the denial whatever the handler returns.
func (g *Gate) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		procedure := conn.Spec().Procedure
		r := g.request(procedure, conn.RequestHeader())
		r.Kind = core.KindStream
		actx, gr, d := g.gate.Authorize(ctx, &r)
		if d != nil {
			return g.error(d, conn.Peer().Protocol, conn.ResponseHeader)
		}
		if gr.Claims == nil {
			return next(ctx, conn) // public: nothing to add
		}
		guard := g.gate.StartStream(actx, procedure, gr)
		err := next(guard.Context(), &stream{StreamingHandlerConn: conn, guard: guard, gate: g})
		if d := guard.Stop(ctx); d != nil {
			return g.error(d, conn.Peer().Protocol, conn.ResponseHeader)
		}
		return err
	}
}

// request describes a connect call for the core. Header keys are read in
// their canonical form, as net/http stores them.
func (g *Gate) request(procedure string, h http.Header) core.Request {
	return core.Request{
		Procedure:     procedure,
		Authorization: h["Authorization"],
		DPoP:          h["Dpop"],
		Transport:     transport{g: g},
	}
}

// stream enforces the core's end of a stream and its checks of received
// messages.
type stream struct {
	connect.StreamingHandlerConn
	guard *core.Stream
	gate  *Gate
}

func (s *stream) Send(m any) error {
	if d := s.guard.Ended(); d != nil {
		return endedStream(d)
	}
	return s.StreamingHandlerConn.Send(m)
}

func (s *stream) Receive(m any) error {
	if d := s.guard.Ended(); d != nil {
		return endedStream(d)
	}
	if err := s.StreamingHandlerConn.Receive(m); err != nil {
		return err
	}
	if d, ended := s.guard.Received(m); ended {
		return endedStream(d)
	} else if d != nil {
		return s.gate.error(d, s.Peer().Protocol, s.ResponseHeader)
	}
	return nil
}

// Check is the start-up check of the handlers the Gate protects: it
// returns a [*scopes.CoverageError] naming every procedure of the services
// that has no rule in the policy, since the Gate would deny every call to
// it, and nil when every one has one. Pass the paths that the generated
// constructors return (path, handler := reportsv1connect.NewReportServiceHandler(...)),
// or service names; each service must be in protoregistry.GlobalFiles, as
// generated code registers it. Call it before serving, and refuse to start
// on an error.
func (g *Gate) Check(services ...string) error {
	if len(services) == 0 {
		return errors.New("connectgate: Check: no service given")
	}
	var procedures []string
	for _, s := range services {
		name := strings.Trim(s, "/")
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
		if err != nil {
			return errors.New("connectgate: Check: service " + name + " is not registered in protoregistry.GlobalFiles; import its generated package")
		}
		sd, ok := d.(protoreflect.ServiceDescriptor)
		if !ok {
			return errors.New("connectgate: Check: " + name + " is not a service")
		}
		for i := range sd.Methods().Len() {
			procedures = append(procedures, "/"+name+"/"+string(sd.Methods().Get(i).Name()))
		}
	}
	return g.gate.Covers(slices.Compact(procedures)...)
}
