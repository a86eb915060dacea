package reports

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"connectrpc.com/connect"
	"google.golang.org/grpc/status"

	"github.com/oauthgate/oauthgate/connectgate"
	"github.com/oauthgate/oauthgate/examples/reports/reportsv1"
	"github.com/oauthgate/oauthgate/examples/reports/reportsv1/reportsv1connect"
	"github.com/oauthgate/oauthgate/verify"
)

// NewConnectHandler returns an http.Handler that serves the report service
// with connect-go, behind a [connectgate.Gate] that verifies tokens with v
// and enforces the same policy, conditions and options as [NewServer]:
// one handler for the Connect protocol, gRPC and gRPC-Web, so browsers,
// curl and gRPC clients reach it on one port. Serve it over HTTP/1.1 and
// HTTP/2 (h2c without TLS, for gRPC and for streams of every kind):
//
//	h, err := reports.NewConnectHandler(jwt, reports.WithCORS("https://app.example.com"))
//	srv := &http.Server{Handler: h, Protocols: new(http.Protocols)}
//	srv.Protocols.SetHTTP1(true)
//	srv.Protocols.SetUnencryptedHTTP2(true)
//
// It serves ReportService only (no grpc health or reflection), at
// /examples.reports.v1.ReportService/, and the RFC 9728 document of
// [WithResourceMetadata], if any, at its path. GetReport and
// GetServerInfo may also be called with a Connect GET. With [WithCORS], a
// CORS handler outermost answers the preflight requests of the origins it
// allows, which never reach oauthgate, and exposes oauthgate's challenge
// headers to their scripts. It runs connectgate's start-up check
// ([connectgate.Gate.Check]): every procedure has a rule. It refuses
// [WithGRPCOptions] and [WithHealth], which configure grpc-go.
//
// The caller serves it and stops it; v stays the caller's to close.
func NewConnectHandler(v verify.Verifier, opts ...Option) (http.Handler, error) {
	o, policy, gateOpts, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	if len(o.grpcOptions) > 0 || o.health != nil {
		return nil, errors.New("reports: WithGRPCOptions and WithHealth configure NewServer's grpc-go server; NewConnectHandler has none")
	}
	var origins map[string]bool
	if len(o.origins) > 0 {
		if origins, err = corsOrigins(o.origins); err != nil {
			return nil, err
		}
	}
	gate, err := connectgate.New(v, policy, gateOpts...)
	if err != nil {
		return nil, fmt.Errorf("reports: %w", err)
	}
	mux := http.NewServeMux()
	path, h := reportsv1connect.NewReportServiceHandler(connectService{o.service}, connect.WithInterceptors(gate))
	mux.Handle(path, h)
	if o.meta != nil {
		mux.Handle(o.meta.Path(), o.meta.Handler()) // public, as over gRPC
	}
	if err := gate.Check(path); err != nil {
		return nil, fmt.Errorf("reports: refusing to serve: %w", err)
	}
	// Gate.Handler gives the Gate the request's URL (DPoP's htu and htm)
	// and the TLS client certificate; it lets preflight requests through.
	handler := gate.Handler(mux)
	if origins != nil {
		handler = newCORS(origins, handler)
	}
	return handler, nil
}

// connectService serves a Service with connect-go. The Service's handlers
// read the claims that connectgate put in the context (the same context
// value as the grpc-go interceptor's) and return grpc-go status errors,
// which it turns into connect errors with the same code and message.
type connectService struct{ svc *Service }

var _ reportsv1connect.ReportServiceHandler = connectService{}

func (c connectService) GetReport(ctx context.Context, req *connect.Request[reportsv1.GetReportRequest]) (*connect.Response[reportsv1.GetReportResponse], error) {
	return response(c.svc.GetReport(ctx, req.Msg))
}

func (c connectService) ListReports(ctx context.Context, req *connect.Request[reportsv1.ListReportsRequest], stream *connect.ServerStream[reportsv1.ListReportsResponse]) error {
	return connectError(c.svc.listReports(ctx, req.Msg, stream.Send))
}

func (c connectService) CreateReport(ctx context.Context, req *connect.Request[reportsv1.CreateReportRequest]) (*connect.Response[reportsv1.CreateReportResponse], error) {
	return response(c.svc.CreateReport(ctx, req.Msg))
}

func (c connectService) UploadReports(ctx context.Context, stream *connect.ClientStream[reportsv1.UploadReportsRequest]) (*connect.Response[reportsv1.UploadReportsResponse], error) {
	return response(c.svc.uploadReports(ctx, func() (*reportsv1.UploadReportsRequest, error) {
		if stream.Receive() {
			return stream.Msg(), nil
		}
		if err := stream.Err(); err != nil {
			return nil, err
		}
		return nil, io.EOF
	}))
}

func (c connectService) DeleteReport(ctx context.Context, req *connect.Request[reportsv1.DeleteReportRequest]) (*connect.Response[reportsv1.DeleteReportResponse], error) {
	return response(c.svc.DeleteReport(ctx, req.Msg))
}

func (c connectService) GetServerInfo(ctx context.Context, req *connect.Request[reportsv1.GetServerInfoRequest]) (*connect.Response[reportsv1.GetServerInfoResponse], error) {
	return response(c.svc.GetServerInfo(ctx, req.Msg))
}

// response wraps a Service answer for connect-go.
func response[T any](msg *T, err error) (*connect.Response[T], error) {
	if err != nil {
		return nil, connectError(err)
	}
	return connect.NewResponse(msg), nil
}

// connectError turns a grpc-go status error of the Service into a connect
// error with the same code (the two share their numbers) and message;
// connect errors, from a stream's Send or Receive, pass unchanged.
func connectError(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*connect.Error](err); ok {
		return err
	}
	if st, ok := status.FromError(err); ok {
		return connect.NewError(connect.Code(st.Code()), errors.New(st.Message()))
	}
	return err
}
