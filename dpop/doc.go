// Package dpop verifies DPoP proofs (RFC 9449): the signed JWT a client
// sends with every request to show that it holds the key its access token
// is bound to.
//
// The guide to it is https://github.com/oauthgate/oauthgate/blob/main/docs/sender-constrained.md.
//
// A [Verifier] checks a proof in two steps. [Verifier.Check] holds one
// proof to the request it came with ([Request]: method, URI and access
// token) and returns it as a [Proof], whose [Proof.Thumbprint] is the JWK
// SHA-256 thumbprint (RFC 7638) of the proof's key, which the caller
// compares with the token's cnf.jkt (verify.CheckBinding does). It applies
// every check of RFC 9449 §4.3 but the replay check: compact JWS, typ
// dpop+jwt, an asymmetric algorithm from the allowlist, a public jwk header
// that verifies the signature (go-jose checks it), htm and htu matching the
// request, iat within the window, ath matching the access token, and, when
// configured, a server nonce (§8). Once the access token is verified and
// bound to the proof's key, [Verifier.Record] accepts the proof: its jti
// must not have been recorded within the window. The replay cache is
// bounded, refuses new proofs when full instead of forgetting recent ones,
// bounds what one key may hold, and picks its shards with a secret seed.
// Recording only the proofs of authenticated calls keeps anonymous callers,
// who can sign valid proofs with keys of their own, from filling it.
//
// # Replicas
//
// The replay cache is the process's own, so a proof replayed to another
// replica behind the same load balancer would pass it. A [ReplayStore] in
// [Config].ReplayStore is shared by the replicas instead (package
// redisstore, a module of its own, keeps it in Redis or Valkey): each proof
// is recorded there with one atomic call, under a keyed hash of its key's
// thumbprint and jti, never the proof. A store that cannot answer makes
// Record fail closed with [ErrReplayStoreUnavailable] (Unavailable, not an
// invalid proof), unless its operator chose the in-process fallback
// ([ErrInProcessFallback]).
//
// Proof keys are the client's choice and are checked before the
// signature: RSA keys must have the public exponent 65537 and at most 4096
// bits, so that no proof costs much more to verify than an ES256 one.
//
// [RequestURI] builds the URI a proof's htu must name from a request's
// scheme, authority and path, parsing the client-chosen authority as an
// RFC 3986 host[:port] first ([ErrAuthority] otherwise).
//
// The package knows nothing of gRPC: package interceptor maps a gRPC call
// onto a [Request] (htm POST, htu scheme://:authority/:path, built by
// [RequestURI]) and its errors onto status codes and DPoP challenges.
//
// # Errors
//
// Every rejection is a [*ProofError] matching [ErrInvalidProof] and one
// reason (ErrReplayed, ErrStale, ErrURI, ...), or [ErrUseNonce] when the
// client must retry with a fresh nonce. Messages never contain the proof,
// the token or a claim value.
package dpop
