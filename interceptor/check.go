package interceptor

import (
	"errors"

	"google.golang.org/grpc"
)

// ServerOptions returns the grpc.ServerOption values that install the
// Interceptor for both kinds of call: grpc.ChainUnaryInterceptor(i.Unary)
// and grpc.ChainStreamInterceptor(i.Stream). It is the recommended wiring:
// installing one of the two by hand, and forgetting the other, leaves that
// kind of call open. grpc-go runs chained interceptors in the order of the
// options, so interceptors given in options before these run before
// oauthgate, and those after run after it:
//
//	srv := grpc.NewServer(slices.Concat(
//		[]grpc.ServerOption{grpc.ChainUnaryInterceptor(recovery.UnaryServerInterceptor()),
//			grpc.ChainStreamInterceptor(recovery.StreamServerInterceptor())},
//		gate.ServerOptions(),
//	)...)
//
// oauthtest.CheckWiring, in a test, calls every method of the server you
// built and fails if any call gets past oauthgate, however it was wired.
func (i *Interceptor) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(i.Unary), grpc.ChainStreamInterceptor(i.Stream)}
}

// A ServiceInfoProvider lists registered services; *grpc.Server is one.
type ServiceInfoProvider interface {
	GetServiceInfo() map[string]grpc.ServiceInfo
}

// Check is the start-up check of a server protected by i: it returns a
// [*scopes.CoverageError] naming every method registered on srv that has
// no rule in the policy, since the Interceptor would deny every call to
// it, and nil when every method has one. Call it after registering every
// service and before serving, and refuse to start on an error. Remember
// grpc health and reflection: declare them with [scopes.ForService]. The
// resource metadata service is covered by construction when i has
// [WithResourceMetadata].
//
// Check reads the server's service list and nothing else: it neither
// calls nor changes the server, so it cannot tell whether i is installed
// for both kinds of call. [Interceptor.ServerOptions] installs it for
// both; oauthtest.CheckWiring proves it in a test, against the server you
// built.
func (i *Interceptor) Check(srv ServiceInfoProvider) error {
	if srv == nil {
		return errors.New("interceptor: Check: server is nil")
	}
	var methods []string
	for svc, info := range srv.GetServiceInfo() {
		for _, m := range info.Methods {
			methods = append(methods, "/"+svc+"/"+m.Name)
		}
	}
	return i.gate.Covers(methods...)
}
