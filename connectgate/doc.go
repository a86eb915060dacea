// Package connectgate enforces OAuth 2.0 access tokens on connect-go
// (connectrpc.com/connect v1) handlers, for all three protocols they
// speak: Connect, gRPC and gRPC-Web.
//
// The guide to it is https://github.com/oauthgate/oauthgate/blob/main/docs/connect.md.
//
// A [Gate] is a connect.Interceptor plus an http.Handler wrapper. It reads
// the same (oauthgate.v1.method) / (oauthgate.v1.service) policy, verifies
// with the same [verify.Verifier], and decides with the same core as
// package interceptor does for grpc-go: bearer and DPoP credentials,
// scopes, audiences, certificate and DPoP binding, step-up, conditions,
// the [Authorizer], stream expiry and re-checks, claims in the context
// ([FromContext]), metrics, spans and logs. It links no grpc-go.
//
//	gate, err := connectgate.New(jwt, policy, connectgate.WithRealm("reports"))
//	mux := http.NewServeMux()
//	path, h := reportsv1connect.NewReportServiceHandler(impl, connect.WithInterceptors(gate))
//	mux.Handle(path, h)
//	if err := gate.Check(path); err != nil { // every procedure has a rule
//		log.Fatal(err)
//	}
//	srv := &http.Server{Handler: gate.Handler(mux)} // URL, method, client certificate
//
// # Failures
//
// A denial is a *connect.Error with the code the grpc-go interceptor
// returns (Unauthenticated, PermissionDenied, Unavailable, Internal), the
// same message and a google.rpc.ErrorInfo detail. Over the Connect
// protocol a unary denial is a real HTTP 401, 403, 503 or 500 response
// whose WWW-Authenticate header carries the RFC 6750 / RFC 9449
// challenge (and DPoP-Nonce, for use_dpop_nonce); over gRPC and gRPC-Web
// the same values travel as the www-authenticate trailers of a grpc-go
// server. A method without a rule is denied, never allowed.
//
// # Browsers
//
// Preflight requests (OPTIONS) are never authenticated nor denied: put
// your CORS handler outside [Gate.Handler]. It must allow the request
// headers Authorization and DPoP (besides Connect's own) and expose
// WWW-Authenticate and DPoP-Nonce (besides gRPC-Web's grpc-status,
// grpc-message and grpc-status-details-bin); docs/connect.md lists them.
package connectgate
