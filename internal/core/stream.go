package core

import (
	"context"
	"sync"
	"time"

	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

// minRecheck is the shortest wait between two checks of a stream's token
// after a check that passed, so that clocks that disagree (the verifier's
// and the core's) can never make the checks spin.
const minRecheck = time.Second

// A Stream guards a stream authorized by [Gate.Authorize]: it ends the
// stream when its token stops being acceptable (at its deadline, or when a
// periodic re-check fails), and holds each received message to the
// method's conditions and, with WithStreamMessages, to the Authorizer.
// The adapter wraps its stream, hands the handler [Stream.Context], and
// calls [Stream.Stop] when the handler returns.
type Stream struct {
	g          *Gate
	ctx        context.Context
	cancel     context.CancelCauseFunc
	method     string
	claims     *verify.Claims
	transport  Transport
	conditions bool
	w          *watcher
	unwatch    func() // ends the WithRevocations subscription, or nil
}

// streamEnd is the cause of a stream context cancelled by the core.
type streamEnd struct{ d *Denial }

func (e *streamEnd) Error() string { return "oauthgate: stream ended: " + e.d.Description }

// StartStream starts guarding a stream to method granted gr (with claims:
// a public method needs no guard), in ctx, the context Authorize returned.
// The token is checked again every WithStreamRecheck interval and at its
// deadline, by a timer that [Stream.Stop] stops.
func (g *Gate) StartStream(ctx context.Context, method string, gr Grant) *Stream {
	ctx, cancel := context.WithCancelCause(ctx)
	s := &Stream{g: g, ctx: ctx, cancel: cancel, method: method, claims: gr.Claims, transport: gr.transport,
		conditions: g.hasConditions(method)}
	rule, _ := g.policy.Rule(method) // Authorize found it
	s.w = g.watch(ctx, cancel, rule, gr)
	if g.opts.revocations != nil && gr.Claims != nil {
		// An event that revokes the token ends the stream at once, not
		// at the next re-check.
		s.unwatch = g.opts.revocations.Watch(gr.Claims, func() { cancel(&streamEnd{d: revokedDenial()}) })
	}
	return s
}

// Context returns the stream's context: the authorized one, cancelled when
// the core ends the stream.
func (s *Stream) Context() context.Context { return s.ctx }

// Ended returns why the core ended the stream, or nil.
func (s *Stream) Ended() *Denial {
	if e, ok := context.Cause(s.ctx).(*streamEnd); ok {
		return e.d
	}
	return nil
}

// Received checks a message the stream received. A message that fails the
// conditions ends the stream (ended is true; the denial is recorded by
// Stop); one the Authorizer denies (WithStreamMessages) is recorded and
// refused, and the stream goes on.
func (s *Stream) Received(m any) (d *Denial, ended bool) {
	if s.conditions {
		// A stream may not smuggle a second tenant's id into its second
		// message: each one is held to the conditions, and the first that
		// fails ends the stream.
		if d := s.g.evalConditions(s.ctx, s.method, s.claims, m, s.transport); d != nil {
			s.cancel(&streamEnd{d: d})
			return d, true
		}
	}
	if s.g.opts.streamMessages && s.g.opts.authorizer != nil {
		if d := s.g.authorize(s.ctx, Call{Method: s.method, Claims: s.claims, Request: m}); d != nil {
			s.g.Record(s.ctx, s.method, d)
			return d, false
		}
	}
	return nil, false
}

// Stop ends the guard when the handler has returned, in ctx (the stream's
// original context, for the logs), and returns why the core ended the
// stream, recorded, or nil. The status the client sees must then be that
// denial, whatever the handler returned.
func (s *Stream) Stop(ctx context.Context) *Denial {
	s.w.stop()
	if s.unwatch != nil {
		s.unwatch()
	}
	s.cancel(nil)
	d := s.Ended()
	if d != nil {
		s.g.Record(ctx, s.method, d)
	}
	return d
}

// A watcher ends a stream when its token stops being acceptable.
type watcher struct {
	g      *Gate
	ctx    context.Context
	cancel context.CancelCauseFunc
	rule   *scopes.Rule
	grant  Grant

	mu      sync.Mutex
	timer   *time.Timer
	stopped bool
}

// watch starts watching the token of a stream granted gr.
func (g *Gate) watch(ctx context.Context, cancel context.CancelCauseFunc, rule *scopes.Rule, gr Grant) *watcher {
	w := &watcher{g: g, ctx: ctx, cancel: cancel, rule: rule, grant: gr}
	w.mu.Lock()
	w.scheduleLocked(gr.Claims, 0)
	w.mu.Unlock()
	return w
}

// scheduleLocked arms the timer for the earlier of the claims' deadline
// and the next periodic check, but not sooner than floor.
func (w *watcher) scheduleLocked(c *verify.Claims, floor time.Duration) {
	d := w.g.opts.streamRecheck
	if deadline, ok := c.Deadline(); ok {
		d = min(d, deadline.Sub(w.g.opts.now()))
	}
	d = max(d, floor)
	w.timer = time.AfterFunc(d, func() { w.fire(c) })
}

// fire ends the stream at the deadline of c, or checks the token again.
func (w *watcher) fire(c *verify.Claims) {
	var d *Denial
	var fresh *verify.Claims
	if deadline, ok := c.Deadline(); ok && !w.g.opts.now().Before(deadline) {
		d = expiredDenial()
	} else {
		fresh, d = w.g.check(w.ctx, w.rule, w.grant.token, w.grant.jkt, w.grant.transport)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.stopped:
	case d != nil:
		w.cancel(&streamEnd{d: d})
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
