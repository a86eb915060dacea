package interceptor

import (
	"context"

	"github.com/oauthgate/oauthgate/verify"
)

type claimsKey struct{}

// NewContext returns a copy of ctx carrying c. The interceptor uses it for
// every authenticated call; tests use it to fake one.
func NewContext(ctx context.Context, c *verify.Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// FromContext returns the claims the interceptor verified for this call. It
// reports false for public methods and outside an authenticated call.
func FromContext(ctx context.Context) (*verify.Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*verify.Claims)
	return c, ok && c != nil
}
