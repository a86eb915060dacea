// Package dpopgrpc is the client side of DPoP (RFC 9449) for grpc-go: a
// credentials.PerRPCCredentials that sends an access token with the DPoP
// scheme and a fresh proof for every call, for exactly the request the
// call is (see package interceptor for the mapping of a gRPC call onto
// htm and htu).
//
//	signer, err := dpop.NewSigner(key, jose.ES256, nil)
//	conn, err := grpc.NewClient(addr,
//		grpc.WithTransportCredentials(credentials.NewTLS(tlsConfig)),
//		grpc.WithPerRPCCredentials(dpopgrpc.NewCredentials(signer, tokens)))
//
// HTTP clients (connect-go in any protocol, net/http) use package
// dpophttp instead, whose transport sees each request's method and URL.
//
// The guide to it is https://github.com/oauthgate/oauthgate/blob/main/docs/sender-constrained.md.
package dpopgrpc
