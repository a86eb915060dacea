// Package flight coalesces concurrent calls for one key into a single
// call (single-flight): the remote key set's fetches and the token cache's
// fills both use it.
//
// Unlike golang.org/x/sync/singleflight, a waiter never has to stay until
// the call ends: [Call.Wait] returns when the waiter's own context is done,
// and the call goes on for the others. A [Group] can also be asked whether
// a call is in flight without joining it ([Group.Lookup]), so that a caller
// can decide not to wait at all (a cooldown), and waited for as a whole
// ([Group.Wait]) by an owner that shuts down.
package flight

import (
	"context"
	"sync"
)

// A Call is one run of a function that any number of callers may wait for.
type Call[V any] struct {
	done chan struct{}
	val  V     // written before done is closed
	err  error // likewise
}

// Done returns a channel that is closed when the call has returned.
func (c *Call[V]) Done() <-chan struct{} { return c.done }

// Result returns what the function returned. It must be called only after
// Done is closed.
func (c *Call[V]) Result() (V, error) { return c.val, c.err }

// Wait waits until the call returns, and returns its result, or until ctx
// is done, and returns ctx.Err(); the call goes on without this waiter.
func (c *Call[V]) Wait(ctx context.Context) (V, error) {
	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

// A Group runs at most one call per key at a time. Its zero value is ready
// to use. A Group is safe for concurrent use and must not be copied after
// first use.
type Group[K comparable, V any] struct {
	mu    sync.Mutex
	calls map[K]*Call[V] // guarded by mu
	wg    sync.WaitGroup
}

// Start returns the call in flight for key and false or, if there is none,
// runs fn in a new goroutine and returns its call and true. fn gets no
// context from Start: it must bound its own run time, for example with a
// context of its owner that outlives each waiter. The key is forgotten
// after fn returns and before the call's waiters are released, so
// whatever fn stores before returning (a cache entry) is visible to every
// caller that does not find the call any more.
func (g *Group[K, V]) Start(key K, fn func() (V, error)) (*Call[V], bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c := g.calls[key]; c != nil {
		return c, false
	}
	if g.calls == nil {
		g.calls = make(map[K]*Call[V])
	}
	c := &Call[V]{done: make(chan struct{})}
	g.calls[key] = c
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		c.val, c.err = fn()
		g.mu.Lock()
		delete(g.calls, key)
		g.mu.Unlock()
		close(c.done)
	}()
	return c, true
}

// Lookup returns the call in flight for key, if any, without joining or
// starting one.
func (g *Group[K, V]) Lookup(key K) (*Call[V], bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := g.calls[key]
	return c, c != nil
}

// Wait waits until every call started so far has returned. The owner must
// make sure no Start runs concurrently with a Wait that may find no call
// in flight (as for sync.WaitGroup).
func (g *Group[K, V]) Wait() { g.wg.Wait() }
