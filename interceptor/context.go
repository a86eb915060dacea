package interceptor

import (
	"context"

	"github.com/oauthgate/oauthgate/internal/core"
	"github.com/oauthgate/oauthgate/verify"
)

// NewContext returns a copy of ctx carrying c. The interceptor uses it for
// every authenticated call; tests use it to fake one. It is the same
// context value as connectgate.NewContext's, so handlers served by both
// adapters read their claims with either accessor.
func NewContext(ctx context.Context, c *verify.Claims) context.Context {
	return core.NewContext(ctx, c)
}

// FromContext returns the claims the interceptor verified for this call. It
// reports false for public methods and outside an authenticated call.
func FromContext(ctx context.Context) (*verify.Claims, bool) {
	return core.FromContext(ctx)
}
