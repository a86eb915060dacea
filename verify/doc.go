// Package verify turns access tokens into verified [Claims].
//
// The guide to it is https://github.com/oauthgate/oauthgate/blob/main/docs/verifying.md.
//
// A [Verifier] checks one token. This package provides verifiers for JWT
// access tokens (RFC 9068), checked with go-jose against a key set, and for
// opaque tokens, checked through RFC 7662 introspection, plus adapters to
// compose them or wrap an application's own lookup.
//
// # One claim model
//
// JWT payloads, introspection responses and [ParseClaims] are read by one
// reader (claimset.go) into immutable [Claims], on the tokens of a strict
// JSON decoder (encoding/json/v2's): invalid UTF-8 or an unpaired
// surrogate escape makes the token malformed; names are exact and
// case-sensitive; a repeated registered claim makes the token malformed;
// JSON null is an absent claim; NumericDates are UTC; aud is a string or an
// array; scope wins over scp unless [JWTConfig].Authorities says otherwise;
// cnf, acr, amr and auth_time are read too. Every verifier applies one time
// rule on every call, cached or not. [Claims.Decode] reads custom claims
// with the same decoder and exact names, and refuses any repeated name.
// Claims are shared between the calls that present a cached token, so
// nothing a caller does to them reaches another call. A token bound to a
// key or a certificate ([Claims.Confirmation]) must be held to its binding
// with [CheckBinding]; package interceptor does so on every call.
//
// # Continuous access evaluation
//
// With [JWTConfig].Revocations or [IntrospectionConfig].Revocations set,
// every verification, cache hits included, consults the [Revocations]
// (package ssf keeps them from an identity provider's Shared Signals
// events) after the claims are obtained: a token issued at or before an
// event that revoked its subject is refused with [ErrRevoked]; a
// verification older than an event that changed the subject's claims is
// made again (see [Revocation]). Without Revocations nothing is consulted.
//
// # HTTP
//
// Discovery, the remote key set and introspection make their requests
// through one fetch policy (fetch.go): https only (http on a loopback host
// only with an InsecureAllowHTTP opt-in), redirects re-checked against the
// same rule (never followed for introspection, which sends credentials), a
// timeout, a size cap and a JSON content type. Concurrent requests for the
// same thing share one flight; nobody waits behind a cooldown.
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
// is a named [JWTConfig] field, never a silent skip. Keys named by a token
// (jku, x5u, jwk) are never fetched or trusted. A JWT must be in the one
// canonical unpadded base64url encoding of RFC 7515 §2, so that one signed
// token has one string. Clocks are injected, never read directly.
//
// This package never imports gRPC: package interceptor maps its errors onto
// gRPC status codes.
package verify
