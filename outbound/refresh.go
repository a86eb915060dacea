package outbound

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/oauthgate/oauthgate/internal/flight"
)

// A grant is one token obtained from the token endpoint. It is never
// modified after it is made.
type grant struct {
	token     string
	tokenType string    // "Bearer" or "DPoP"
	expiry    time.Time // when the server says it expires
	usable    time.Time // after it, the token is not sent: it could expire in flight
	refreshAt time.Time // from it, a renewal runs in the background
}

// newGrant makes the grant of resp, obtained at now and valid at most
// until notAfter (zero for no bound: the subject token's expiry for an
// exchange). ahead is Config.RefreshAhead.
func newGrant(resp *tokenResponse, now, notAfter time.Time, ahead time.Duration) *grant {
	life := resp.expiresIn
	if life == 0 {
		life = defaultLifetime
	}
	exp := now.Add(life)
	if !notAfter.IsZero() && notAfter.Before(exp) {
		exp = notAfter
	}
	life = max(exp.Sub(now), 0)
	// A token is not sent in its last tenth (at most 5 s): network and
	// clock skew would make it arrive expired.
	margin := min(life/10, 5*time.Second)
	if ahead <= 0 {
		ahead = life / 4
	}
	// Never later than the last instant the token is sent.
	ahead = max(min(ahead, life/2), margin)
	// The jitter spreads the renewals of a fleet started together over
	// half the refresh window, instead of all of them at one instant.
	var jitter time.Duration
	if ahead > 1 {
		jitter = rand.N(ahead / 2)
	}
	return &grant{
		token:     resp.accessToken,
		tokenType: resp.tokenType,
		expiry:    exp,
		usable:    exp.Add(-margin),
		refreshAt: exp.Add(-ahead - jitter),
	}
}

// An owner runs the background renewals of a [Credentials] and stops them
// on Close.
type owner struct {
	now    func() time.Time
	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// A slot holds the current token for one key (the client itself, or one
// subject token and target for an exchange) and renews it: one request in
// flight at a time (single-flight), in the background from refreshAt while
// the current token is still usable, in the foreground when none is.
type slot struct {
	// fetch gets a new token; arg is what the call that started it
	// passed to get (the subject token of an exchange), so that the slot
	// never holds a credential of its own.
	fetch func(ctx context.Context, arg string) (*grant, error)

	mu      sync.Mutex
	cur     *grant    // guarded by mu; nil until the first success
	retryAt time.Time // guarded by mu; no background renewal before it

	flights flight.Group[struct{}, *grant]
}

// get returns a usable token, renewing it as described on slot.
func (s *slot) get(ctx context.Context, o *owner, arg string) (*grant, error) {
	now := o.now()
	s.mu.Lock()
	g, retryAt := s.cur, s.retryAt
	s.mu.Unlock()
	if g != nil && now.Before(g.usable) {
		if !now.Before(g.refreshAt) && !now.Before(retryAt) && o.ctx.Err() == nil {
			s.start(o, arg) // in the background: this call keeps the current token
		}
		return g, nil
	}
	if err := o.ctx.Err(); err != nil {
		return nil, ErrClosed
	}
	return s.start(o, arg).Wait(ctx)
}

// start returns the renewal in flight, starting one if there is none.
func (s *slot) start(o *owner, arg string) *flight.Call[*grant] {
	o.wg.Add(1)
	call, started := s.flights.Start(struct{}{}, func() (*grant, error) {
		defer o.wg.Done()
		// A renewal may have ended between the caller's look at cur and
		// Start: a token not yet due for renewal is the one to use.
		s.mu.Lock()
		if cur := s.cur; cur != nil && o.now().Before(cur.refreshAt) && o.now().Before(cur.usable) {
			s.mu.Unlock()
			return cur, nil
		}
		s.mu.Unlock()
		g, err := s.fetch(o.ctx, arg)
		now := o.now()
		s.mu.Lock()
		defer s.mu.Unlock()
		if err != nil {
			// Keep the current token while it lasts; try again after an
			// eighth of what is left of it (at least a second), not on
			// every call.
			if s.cur != nil {
				s.retryAt = now.Add(max(s.cur.usable.Sub(now)/8, time.Second))
			}
			return nil, err
		}
		s.cur, s.retryAt = g, time.Time{}
		return g, nil
	})
	if !started {
		o.wg.Done()
	}
	return call
}
