package oauthtest

import (
	"sync"
	"time"
)

// A Clock is a settable clock for tests: pass its Now method wherever a
// clock is injected ([IssuerConfig].Now, verify's Config.Now fields) and
// move it with [Clock.Advance] instead of sleeping. It is safe for
// concurrent use.
//
// A Clock only moves when told to, so a timer-driven component that uses it
// for its decisions and real timers for its waits needs testing/synctest
// too; inside a synctest bubble, time.Now itself is fake and often
// suffices.
type Clock struct {
	mu  sync.Mutex
	now time.Time // guarded by mu
}

// NewClock returns a Clock that reads start until it is moved.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock by d, which may be negative to model a clock
// stepping back, and returns the new time. Advance(t.Sub(c.Now())) sets
// it to t.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}
