package dpopgrpc

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/oauthgate/oauthgate/internal/authheader"
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
	if status.Code(err) != codes.Unauthenticated || !authheader.DemandsNonce(md.Get("www-authenticate")) {
		return false
	}
	nonces := md.Get("dpop-nonce")
	if len(nonces) != 1 || !authheader.ValidNonce(nonces[0]) || nonces[0] == sent {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nonce = nonces[0]
	return true
}
