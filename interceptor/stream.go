package interceptor

import (
	"context"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
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
// ends the stream too. A failed re-check ends the stream with the status a
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
	ctx, g, rej := i.authenticate(ss.Context(), info.FullMethod)
	claims := g.claims
	if rej == nil && claims != nil && i.opts.authorizer != nil {
		rej = i.authorize(ctx, Call{Method: info.FullMethod, Claims: claims})
	}
	if rej != nil {
		return i.reject(ss.Context(), info.FullMethod, rej)
	}
	i.allowed(ss.Context(), info.FullMethod, claims)
	if claims == nil {
		return handler(srv, ss) // public: nothing to add
	}
	rule, _ := i.policy.Rule(info.FullMethod) // authenticate found it
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ws := &stream{ServerStream: ss, ctx: ctx, cancel: cancel, gate: i, method: info.FullMethod, claims: claims,
		conditions: i.hasConditions(info.FullMethod)}
	w := i.watch(ctx, cancel, rule, g)
	err := handler(srv, ws)
	w.stop()
	if rej := ws.ended(); rej != nil {
		return i.reject(ss.Context(), info.FullMethod, rej)
	}
	return err
}

// streamEnd is the cause of a stream context cancelled by the interceptor.
type streamEnd struct{ rej *rejection }

func (e *streamEnd) Error() string { return "interceptor: stream ended: " + e.rej.description }

// minRecheck is the shortest wait between two checks of a stream's token
// after a check that passed, so that clocks that disagree (the verifier's
// and the interceptor's) can never make the checks spin.
const minRecheck = time.Second

// A watcher ends a stream when its token stops being acceptable.
type watcher struct {
	gate   *Interceptor
	ctx    context.Context
	cancel context.CancelCauseFunc
	rule   *scopes.Rule
	token  string
	jkt    string // of the proof the stream started with, if DPoP

	mu      sync.Mutex
	timer   *time.Timer
	stopped bool
}

// watch starts watching the token of a stream authorized with claims.
func (i *Interceptor) watch(ctx context.Context, cancel context.CancelCauseFunc, rule *scopes.Rule, g grant) *watcher {
	w := &watcher{gate: i, ctx: ctx, cancel: cancel, rule: rule, token: g.token, jkt: g.jkt}
	w.mu.Lock()
	w.scheduleLocked(g.claims, 0)
	w.mu.Unlock()
	return w
}

// scheduleLocked arms the timer for the earlier of the claims' deadline
// and the next periodic check, but not sooner than floor.
func (w *watcher) scheduleLocked(c *verify.Claims, floor time.Duration) {
	d := w.gate.opts.streamRecheck
	if deadline, ok := c.Deadline(); ok {
		d = min(d, deadline.Sub(w.gate.opts.now()))
	}
	d = max(d, floor)
	w.timer = time.AfterFunc(d, func() { w.fire(c) })
}

// fire ends the stream at the deadline of c, or checks the token again.
func (w *watcher) fire(c *verify.Claims) {
	var rej *rejection
	var fresh *verify.Claims
	if deadline, ok := c.Deadline(); ok && !w.gate.opts.now().Before(deadline) {
		rej = expiredRejection()
	} else {
		fresh, rej = w.gate.check(w.ctx, w.rule, w.token, w.jkt)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.stopped:
	case rej != nil:
		w.cancel(&streamEnd{rej: rej})
	default:
		w.scheduleLocked(fresh, minRecheck)
	}
}

// stop ends the watch; after it returns the stream is never cancelled by
// the watcher.
func (w *watcher) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	w.timer.Stop()
}

// stream carries the authorized context and enforces the watcher's end
// and the per-message Authorizer.
type stream struct {
	grpc.ServerStream
	ctx    context.Context
	cancel context.CancelCauseFunc
	gate   *Interceptor
	method string
	claims *verify.Claims
	// conditions reports that the method has conditions, checked on every
	// message received.
	conditions bool
}

func (s *stream) Context() context.Context { return s.ctx }

// ended returns why the interceptor ended the stream, or nil.
func (s *stream) ended() *rejection {
	if e, ok := context.Cause(s.ctx).(*streamEnd); ok {
		return e.rej
	}
	return nil
}

func (s *stream) SendMsg(m any) error {
	if rej := s.ended(); rej != nil {
		return endedStream(rej)
	}
	return s.ServerStream.SendMsg(m)
}

func (s *stream) RecvMsg(m any) error {
	if rej := s.ended(); rej != nil {
		return endedStream(rej)
	}
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if s.conditions {
		// A stream may not smuggle a second tenant's id into its second
		// message: each one is held to the conditions, and the first that
		// fails ends the stream.
		if rej := s.gate.evalConditions(s.ctx, s.method, s.claims, m); rej != nil {
			s.cancel(&streamEnd{rej: rej})
			return endedStream(rej)
		}
	}
	if s.gate.opts.streamMessages && s.gate.opts.authorizer != nil {
		if rej := s.gate.authorize(s.ctx, Call{Method: s.method, Claims: s.claims, Request: m}); rej != nil {
			return s.gate.reject(s.ServerStream.Context(), s.method, rej)
		}
	}
	return nil
}
