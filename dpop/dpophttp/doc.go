// Package dpophttp is the client side of DPoP (RFC 9449) for HTTP: an
// http.RoundTripper that sends an access token with the DPoP scheme and a
// fresh proof for every request, for exactly the request it is (htm the
// request's method, htu its URL without query and fragment). It serves
// connect-go clients (Connect, gRPC and gRPC-Web protocols, a Connect GET
// included: a client interceptor cannot know the HTTP method, a transport
// can) and any net/http client alike.
//
//	signer, err := dpop.NewSigner(key, jose.ES256, nil)
//	t, err := dpophttp.NewTransport(signer, tokens, nil)
//	client := reportsv1connect.NewReportServiceClient(&http.Client{Transport: t}, "https://reports.example.com")
//
// See [Example] and
// https://github.com/oauthgate/oauthgate/blob/main/docs/sender-constrained.md.
//
// # Transport security
//
// A token goes out over https, or over cleartext http to a loopback host
// (localhost, 127.0.0.0/8, ::1); a request over http to any other host
// fails with [ErrInsecure] before anything is sent, unless the Transport
// was made with [AllowInsecure]. It is decided per request, from the host
// of its URL (where the connection goes), not from req.Host. A request
// that follows a redirect to another origin (scheme, host or port) than
// the first of its chain fails with [ErrRedirect]: http.Client drops an
// Authorization header on such a redirect, and a transport that adds the
// token itself must not send it where the caller did not.
//
// # Server nonces
//
// A server may demand a nonce in proofs (RFC 9449 §8, §9). The Transport
// keeps the latest DPoP-Nonce of each origin (scheme://host[:port]; at
// most 64 origins, an arbitrary one forgotten beyond) that came with a
// DPoP challenge whose error is use_dpop_nonce, or with a 2xx response
// (§8.2). When a request is refused with such a challenge and a nonce it
// did not carry, and its body can be sent again (no body, or req.GetBody
// set), the Transport sends it once more with a fresh proof carrying the
// nonce and returns that answer; else it returns the refusal, and the
// next request carries the nonce.
//
// What a Transport sees of an answer is its status, its headers and, for
// gRPC, the trailers of an empty body. A refusal is an HTTP 401 (Connect
// unary calls, POST or GET), a gRPC-Web or gRPC response of headers only
// with grpc-status 16 (Unauthenticated), or a gRPC response with the
// challenge in its headers, no message and grpc-status 16 in its trailers
// (connect-go's gRPC handlers; to see it the Transport reads the first
// byte of such an answer's body, and gives the body back whole if there
// is one). Over connect-go that covers unary calls in all three
// protocols and server streams over gRPC and gRPC-Web, which connect-go
// can send again. A client or bidi
// stream cannot be sent again: its refusal is returned and the next
// stream carries the nonce. A Connect streaming call reports its refusal
// in the body's end-of-stream message, which a transport does not read:
// the refusal is returned, with the nonce in the error's metadata
// (connect.Error.Meta().Get("DPoP-Nonce")), which [Transport.SetNonce]
// takes. A Transport shared by unary and streaming calls to one service
// learns the nonce from the first unary call refused.
//
// # Concurrency
//
// A Transport is safe for concurrent use. It never modifies the request
// it is given: it sends a clone with the Authorization and DPoP headers
// set (replacing any the request had).
package dpophttp
