package connectgate

import (
	"errors"
	"net/http"

	"connectrpc.com/connect"

	"github.com/oauthgate/oauthgate/internal/core"
)

// error renders a denial as connect-go sends it on every protocol: the
// code (the core's codes are connect's), the description as the message,
// the google.rpc.ErrorInfo detail, and the challenges (WWW-Authenticate,
// DPoP-Nonce) as the error's metadata. For the Connect protocol connect-go
// writes a unary error's metadata as HTTP headers with the code's HTTP
// status (401, 403, 503, 500), so the client gets a real RFC 6750 / RFC
// 9449 WWW-Authenticate header; for gRPC-Web, trailers in the body, as a
// grpc-go server sends them.
//
// For gRPC over net/http the challenges go in the response headers
// instead, from header (nil when they cannot): net/http refuses to send
// WWW-Authenticate as an HTTP trailer (RFC 9110 §6.5.1 forbids
// authentication fields there), and a grpc-go server answers a denial
// with a trailers-only response, whose one header block its clients read
// as headers and trailers alike. A stream denied after its headers were
// sent (at its token's deadline) carries its code and ErrorInfo, without
// a challenge.
func (g *Gate) error(d *core.Denial, protocol string, header func() http.Header) *connect.Error {
	err := connect.NewError(connect.Code(d.Code), errors.New(d.Description))
	if detail, e := connect.NewErrorDetail(g.gate.ErrorInfo(d)); e == nil {
		err.AddDetail(detail)
	}
	challenges := g.gate.Challenges(d)
	if challenges == nil {
		return err
	}
	meta := err.Meta()
	if protocol == connect.ProtocolGRPC {
		if meta = header(); meta == nil {
			return err
		}
	}
	for _, c := range challenges {
		meta.Add("WWW-Authenticate", c)
	}
	if nonce := g.gate.DPoPNonce(d); nonce != "" {
		meta.Set("DPoP-Nonce", nonce)
	}
	return err
}

// endedStream is what Send and Receive return after the core ended the
// stream; the interceptor replaces the handler's final error with the full
// answer.
func endedStream(d *core.Denial) error {
	return connect.NewError(connect.Code(d.Code), errors.New(d.Description))
}
