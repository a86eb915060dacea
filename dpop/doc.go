// Package dpop verifies DPoP proofs (RFC 9449): the signed JWT a client
// sends with every request to show that it holds the key its access token
// is bound to.
//
// A [Verifier] checks one proof against the request it came with
// ([Request]: method, URI and access token) and returns the JWK SHA-256
// thumbprint (RFC 7638) of the proof's key, which the caller compares with
// the token's cnf.jkt (verify.CheckBinding does). It applies every check of
// RFC 9449 §4.3: compact JWS, typ dpop+jwt, an asymmetric algorithm from
// the allowlist, a public jwk header that verifies the signature (go-jose
// checks it), htm and htu matching the request, iat within the window, a
// jti not seen before within that window (a bounded replay cache that
// refuses new proofs when full instead of forgetting recent ones), ath
// matching the access token, and, when configured, a server nonce (§8).
//
// The package knows nothing of gRPC: package interceptor maps a gRPC call
// onto a [Request] (htm POST, htu scheme://:authority/:path) and its errors
// onto status codes and DPoP challenges.
//
// # Errors
//
// Every rejection is a [*ProofError] matching [ErrInvalidProof] and one
// reason (ErrReplayed, ErrStale, ErrURI, ...), or [ErrUseNonce] when the
// client must retry with a fresh nonce. Messages never contain the proof,
// the token or a claim value.
package dpop
