// Package authheader parses the credentials of an HTTP Authorization
// header (RFC 6750 §2.1, RFC 9449 §7.1): one parser for every transport
// oauthgate protects, gRPC metadata and HTTP headers alike, fuzzed here
// where its test binary links no transport.
//
// It is strict on purpose (STYLE R27): one scheme, one run of spaces, one
// b64token, nothing after it.
//
// It also reads what a client needs from a server's answer: whether a
// WWW-Authenticate challenge demands a DPoP nonce (RFC 9449 §8), and
// whether a DPoP-Nonce value may go into later proofs. Every DPoP client
// of the module (grpc-go credentials, the HTTP transport, the token
// endpoint) uses this one reading.
package authheader
