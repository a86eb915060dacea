// Package conformance_test holds the one scenario table of oauthgate's
// transport adapters (STYLE R35): every scenario runs against the grpc-go
// interceptor with grpc-go's client, and against connectgate with
// connect-go's client over the Connect, gRPC and gRPC-Web protocols (and
// raw HTTP for the Connect protocol's status line and headers), with every
// kind of RPC each client can make (unary, server, client and bidi
// streaming; raw HTTP: unary), all over mutual TLS on 127.0.0.1. The
// package has test files only: it is a harness, not a library.
package conformance_test
