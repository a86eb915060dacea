package dpopgrpc

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// UnaryClientInterceptor returns an interceptor that answers a server's
// demand for a nonce (RFC 9449 §8). When a call is refused with
// Unauthenticated, a DPoP challenge whose error is use_dpop_nonce and a
// dpop-nonce the credentials did not send, it keeps that nonce for every
// later proof and makes the call once more, with a fresh proof. Install it
// with the credentials it belongs to:
//
//	grpc.NewClient(addr, grpc.WithTransportCredentials(tlsCreds),
//		grpc.WithPerRPCCredentials(creds),
//		grpc.WithChainUnaryInterceptor(creds.UnaryClientInterceptor()))
//
// It acts for the credentials it came from: install it on the connection
// that sends them.
func (c *Credentials) UnaryClientInterceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		sent := c.currentNonce()
		var hdr metadata.MD
		err := invoker(ctx, method, req, reply, cc, append(opts, grpc.Header(&hdr))...)
		if !c.learn(err, sent, hdr) {
			return err
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// StreamClientInterceptor returns an interceptor that keeps the nonce a
// server demands when it refuses a stream with use_dpop_nonce, so that the
// next stream's proof carries it. The refused stream is not opened again:
// the messages sent on it may already be gone, so the caller decides.
func (c *Credentials) StreamClientInterceptor() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		sent := c.currentNonce()
		cs, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			return nil, err // no answer from the server yet
		}
		return &nonceStream{ClientStream: cs, c: c, sent: sent}, nil
	}
}

// nonceStream watches a stream's end for a demand for a nonce.
type nonceStream struct {
	grpc.ClientStream
	c    *Credentials
	sent string
}

func (s *nonceStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil {
		// The stream has ended: its header (or trailer, for a response of
		// trailers only) is there; learn acts only on Unauthenticated.
		hdr, _ := s.Header()
		s.c.learn(err, s.sent, metadata.Join(hdr, s.Trailer()))
	}
	return err
}

// currentNonce returns the nonce the next proof carries.
func (c *Credentials) currentNonce() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nonce
}

// learn keeps the nonce that the refusal err and its metadata md demand,
// and reports whether it is new: a nonce other than sent, the one the
// refused call carried. Anything else (another refusal, no nonce, a nonce
// that is not RFC 9449 syntax) changes nothing.
func (c *Credentials) learn(err error, sent string, md metadata.MD) bool {
	if status.Code(err) != codes.Unauthenticated || !demandsNonce(md.Get("www-authenticate")) {
		return false
	}
	nonces := md.Get("dpop-nonce")
	if len(nonces) != 1 || !validNonce(nonces[0]) || nonces[0] == sent {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nonce = nonces[0]
	return true
}

// demandsNonce reports whether one of challenges is a DPoP challenge with
// error use_dpop_nonce (RFC 9449 §7.1, §8).
func demandsNonce(challenges []string) bool {
	for _, ch := range challenges {
		scheme, params, _ := strings.Cut(strings.TrimSpace(ch), " ")
		if strings.EqualFold(scheme, "DPoP") && hasParam(params, "error", "use_dpop_nonce") {
			return true
		}
	}
	return false
}

// hasParam reports whether the auth-params of a challenge (RFC 9110
// §11.2) hold name=value, quoted or as a token, with the parameter
// name matched without regard to case.
func hasParam(params, name, value string) bool {
	for rest := params; rest != ""; {
		rest = strings.TrimLeft(rest, " \t,")
		key, after, ok := strings.Cut(rest, "=")
		if !ok {
			return false
		}
		after = strings.TrimLeft(after, " \t")
		var v string
		if strings.HasPrefix(after, `"`) {
			if v, rest, ok = quoted(after); !ok {
				return false
			}
		} else {
			v, rest, _ = strings.Cut(after, ",")
			v = strings.TrimRight(v, " \t")
		}
		if strings.EqualFold(strings.TrimSpace(key), name) && v == value {
			return true
		}
	}
	return false
}

// quoted reads the quoted-string that s starts with (RFC 9110 §5.6.4):
// its content, without the quotes and escapes, and what follows it; ok is
// false if it does not end.
func quoted(s string) (content, rest string, ok bool) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), s[i+1:], true
		case '\\':
			if i++; i == len(s) {
				return "", "", false
			}
			b.WriteByte(s[i])
		default:
			b.WriteByte(c)
		}
	}
	return "", "", false
}

// validNonce reports whether n is a nonce of RFC 9449 §8.1's syntax:
// 1*NQCHAR, printable ASCII without '"' and '\'.
func validNonce(n string) bool {
	if n == "" || len(n) > 1024 {
		return false
	}
	for i := 0; i < len(n); i++ {
		if c := n[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
