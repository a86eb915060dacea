package interceptor

import (
	"context"

	"google.golang.org/grpc"

	"github.com/oauthgate/oauthgate/internal/core"
)

// Stream is a grpc.StreamServerInterceptor for client-, server- and
// bidi-streaming methods. It authorizes the stream when it starts, exactly
// as [Interceptor.Unary] does, and hands the handler a stream whose
// Context() carries the claims.
//
// A stream never outlives its token. It ends with Unauthenticated /
// invalid_token at the token's [verify.Claims.Deadline] (exp plus the
// verifier's leeway: the instant from which a unary call with the same
// token is refused), and the token is verified again, audiences and scopes
// included, every [WithStreamRecheck] interval (5 minutes by default), so
// that a token without exp, or one revoked at an introspection endpoint,
// ends the stream too; with [WithRevocations] a revocation event ends it at
// once (Unauthenticated / TOKEN_REVOKED). A failed re-check ends the stream with the status a
// new call would get: Unauthenticated, PermissionDenied, or Unavailable
// when the verifier cannot answer (fail closed). Every message the handler
// receives is held to the method's conditions ([WithConditions]; for a
// server-streaming method, its one request), and the first that fails ends
// the stream with PermissionDenied / CONDITION_NOT_MET. With
// [WithStreamMessages] the [Authorizer] sees every received message too,
// and a denial of one is returned to the handler with PermissionDenied.
//
// When a stream ends this way the handler's context is cancelled, further
// SendMsg and RecvMsg calls fail, and the status the client sees is the
// rejection, whatever the handler returns.
func (i *Interceptor) Stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	r := request(ss.Context(), info.FullMethod)
	r.Kind = core.KindStream
	ctx, g, d := i.gate.Authorize(ss.Context(), &r)
	if d != nil {
		return i.render(ss.Context(), d)
	}
	if g.Claims == nil {
		return handler(srv, ss) // public: nothing to add
	}
	guard := i.gate.StartStream(ctx, info.FullMethod, g)
	err := handler(srv, &stream{ServerStream: ss, guard: guard, gate: i})
	if d := guard.Stop(ss.Context()); d != nil {
		return i.render(ss.Context(), d)
	}
	return err
}

// stream carries the authorized context and enforces the core's end of
// the stream and its checks of received messages.
type stream struct {
	grpc.ServerStream
	guard *core.Stream
	gate  *Interceptor
}

func (s *stream) Context() context.Context { return s.guard.Context() }

func (s *stream) SendMsg(m any) error {
	if d := s.guard.Ended(); d != nil {
		return endedStream(d)
	}
	return s.ServerStream.SendMsg(m)
}

func (s *stream) RecvMsg(m any) error {
	if d := s.guard.Ended(); d != nil {
		return endedStream(d)
	}
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if d, ended := s.guard.Received(m); ended {
		return endedStream(d)
	} else if d != nil {
		return s.gate.render(s.ServerStream.Context(), d)
	}
	return nil
}
