package connectgate

import (
	"context"

	"github.com/oauthgate/oauthgate/internal/core"
	"github.com/oauthgate/oauthgate/verify"
)

// NewContext returns a copy of ctx carrying c, as the Gate does for every
// authenticated call; tests use it to fake one. It is the same context
// value as interceptor.NewContext's: a handler served by both adapters
// reads its claims with either accessor.
func NewContext(ctx context.Context, c *verify.Claims) context.Context {
	return core.NewContext(ctx, c)
}

// FromContext returns the claims the Gate verified for this call. It
// reports false for public procedures and outside an authenticated call.
func FromContext(ctx context.Context) (*verify.Claims, bool) {
	return core.FromContext(ctx)
}
