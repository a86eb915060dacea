package interceptor

import (
	"github.com/oauthgate/oauthgate/dpop"
	"github.com/oauthgate/oauthgate/internal/core"
)

// WithDPoP makes the interceptor accept DPoP-bound access tokens (RFC 9449)
// presented as "authorization: DPoP <token>" with a proof in the "dpop"
// metadata, checked by v for every call before the token is verified. A
// gRPC call is an HTTP/2 POST to /<package.Service>/<Method>, so the proof
// must have htm "POST" and htu "<scheme>://<authority>/<package.Service>/<Method>":
// scheme https on a TLS connection and http otherwise, authority the
// call's :authority. The :authority is chosen by the client: it must be an
// RFC 3986 host[:port] (else the call is refused with DPOP_PROOF_URI), and
// a client can still name any host there, so a proof made for another
// server that shares the client's key passes. Production servers should
// list the public origins they answer for ("https://api.example.com");
// htu must then match one of them, and the connection's own scheme and
// authority are not used. That is also what a server behind a proxy that
// rewrites the authority or terminates TLS needs.
//
// A proof is remembered, for its replay check, only once the token it came
// with has been verified and found bound to its key, so that callers
// without a token cannot fill the replay cache.
//
// Without WithDPoP, DPoP credentials are refused as invalid_request, and a
// DPoP-bound token (cnf.jkt) presented as a Bearer token is always refused,
// with or without it. The default is no DPoP. Later calls replace earlier
// ones.
func WithDPoP(v *dpop.Verifier, publicOrigins ...string) Option {
	return core.WithDPoP(v, publicOrigins...)
}
