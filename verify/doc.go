// Package verify turns access tokens into verified [Claims].
//
// A [Verifier] checks one token. This package provides verifiers for JWT
// access tokens (RFC 9068), checked with go-jose against a key set, and for
// opaque tokens, checked through RFC 7662 introspection, plus adapters to
// compose them or wrap an application's own lookup.
//
// # Errors
//
// Every verifier separates two kinds of failure, and callers must keep them
// apart: [ErrInvalidToken] (the token is bad; the client needs a new one) and
// [ErrUnavailable] (the token cannot be checked now; the client should retry
// with the same token). A [*TokenError] names the reason and offers a
// client-safe description. No error message contains a token, a signature, a
// claim value or a client secret.
//
// # Security posture
//
// Issuer, audiences and algorithms are mandatory and validated when a
// verifier is built. Every departure from RFC 9068 that identity providers
// need (another typ, permissions in roles, no aud, one issuer per tenant)
// is a named [JWTConfig] field, never a silent skip. Keys named by a token (jku, x5u, jwk) are never fetched
// or trusted. Clocks are injected, never read directly.
//
// This package never imports gRPC: package interceptor maps its errors onto
// gRPC status codes.
package verify
