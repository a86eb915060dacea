package interceptor

import (
	"context"
	"errors"

	"github.com/oauthgate/oauthgate/verify"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// errTokenExpired is the cause of a stream context cancelled at token expiry.
var errTokenExpired = errors.New("interceptor: access token expired during the stream")

// Stream is a grpc.StreamServerInterceptor for client-, server- and
// bidi-streaming methods. It authorizes the stream when it starts, exactly
// as [Interceptor.Unary] does, and hands the handler a stream whose
// Context() carries the claims. The stream ends with Unauthenticated when
// the token expires, and, with [WithStreamMessages], with PermissionDenied
// when the Authorizer denies a received message.
func (i *Interceptor) Stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx, claims, rej := i.authenticate(ss.Context(), info.FullMethod)
	if rej == nil && claims != nil && i.opts.authorizer != nil {
		rej = i.authorize(ctx, Call{Method: info.FullMethod, Claims: claims})
	}
	if rej != nil {
		return i.reject(ss.Context(), info.FullMethod, rej)
	}
	if claims == nil {
		return handler(srv, ss) // public: nothing to add
	}
	ws := &stream{ServerStream: ss, gate: i, method: info.FullMethod, claims: claims}
	var cancel context.CancelFunc
	if !claims.Expiry.IsZero() {
		// A stream never outlives its token.
		ctx, cancel = context.WithTimeoutCause(ctx, claims.Expiry.Sub(i.opts.now()), errTokenExpired)
		defer cancel()
	}
	ws.ctx = ctx
	err := handler(srv, ws)
	if ws.expired() {
		return i.expiredError(ss.Context(), info.FullMethod)
	}
	return err
}

func (i *Interceptor) expiredError(ctx context.Context, method string) error {
	return i.reject(ctx, method, &rejection{code: codes.Unauthenticated, reason: ReasonInvalidToken, oauthError: "invalid_token",
		description: (&verify.TokenError{Reason: verify.ErrExpired}).Description(), challenge: true, cause: errTokenExpired})
}

// stream carries the authorized context and enforces expiry and the
// per-message Authorizer.
type stream struct {
	grpc.ServerStream
	ctx    context.Context
	gate   *Interceptor
	method string
	claims *verify.Claims
}

func (s *stream) Context() context.Context { return s.ctx }

func (s *stream) expired() bool { return context.Cause(s.ctx) == errTokenExpired }

// errExpiredStream is what SendMsg and RecvMsg return after expiry; the
// interceptor replaces the handler's final status with the full answer.
var errExpiredStream = status.Error(codes.Unauthenticated, "the access token expired")

func (s *stream) SendMsg(m any) error {
	if s.expired() {
		return errExpiredStream
	}
	return s.ServerStream.SendMsg(m)
}

func (s *stream) RecvMsg(m any) error {
	if s.expired() {
		return errExpiredStream
	}
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if s.gate.opts.streamMessages && s.gate.opts.authorizer != nil {
		if rej := s.gate.authorize(s.ctx, Call{Method: s.method, Claims: s.claims, Request: m}); rej != nil {
			return s.gate.reject(s.ServerStream.Context(), s.method, rej)
		}
	}
	return nil
}
