package resource

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	oauthgatev1 "github.com/oauthgate/oauthgate/proto/oauthgate/v1"
)

// The names of oauthgate.v1.ResourceMetadataService, served by
// [Metadata.Register]. The service's gRPC code is written here rather than
// generated into package oauthgatev1, so that reading the policy options
// (package scopes) links no grpc-go.
const (
	// ServiceName is the service's full name.
	ServiceName = "oauthgate.v1.ResourceMetadataService"
	// Procedure is the full method name of its one method,
	// GetResourceMetadata: "/oauthgate.v1.ResourceMetadataService/GetResourceMetadata".
	Procedure = "/" + ServiceName + "/GetResourceMetadata"
)

// Fetch calls GetResourceMetadata on cc and returns the document. It is the
// client of [Metadata.Register]'s service.
func Fetch(ctx context.Context, cc grpc.ClientConnInterface, opts ...grpc.CallOption) (*oauthgatev1.GetResourceMetadataResponse, error) {
	out := new(oauthgatev1.GetResourceMetadataResponse)
	if err := cc.Invoke(ctx, Procedure, &oauthgatev1.GetResourceMetadataRequest{}, out, append([]grpc.CallOption{grpc.StaticMethod()}, opts...)...); err != nil {
		return nil, err
	}
	return out, nil
}

// metadataServer is what the service description dispatches to.
type metadataServer interface {
	getResourceMetadata() *oauthgatev1.GetResourceMetadataResponse
}

type server struct{ m *Metadata }

func (s server) getResourceMetadata() *oauthgatev1.GetResourceMetadataResponse {
	return proto.CloneOf(s.m.doc)
}

// serviceDesc is static data, never written: the gRPC description of
// oauthgate.v1.ResourceMetadataService, as protoc-gen-go-grpc would write
// it.
var serviceDesc = grpc.ServiceDesc{
	ServiceName: ServiceName,
	HandlerType: (*metadataServer)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "GetResourceMetadata",
		Handler:    getResourceMetadataHandler,
	}},
	Streams:  []grpc.StreamDesc{},
	Metadata: "oauthgate/v1/resource.proto",
}

// getResourceMetadataHandler decodes the request (an empty message, read
// all the same so that a malformed one is refused) and runs the server's
// interceptors, as generated handlers do.
func getResourceMetadataHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	in := new(oauthgatev1.GetResourceMetadataRequest)
	if err := dec(in); err != nil {
		return nil, err
	}
	handler := func(context.Context, any) (any, error) { return srv.(metadataServer).getResourceMetadata(), nil }
	if interceptor == nil {
		return handler(ctx, in)
	}
	return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: Procedure}, handler)
}
