package core

import (
	"context"

	"github.com/oauthgate/oauthgate/verify"
)

type claimsKey struct{}

// NewContext returns a copy of ctx carrying c. Both adapters use it, so
// that interceptor.FromContext and connectgate.FromContext read the same
// claims.
func NewContext(ctx context.Context, c *verify.Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// FromContext returns the claims in ctx, if any.
func FromContext(ctx context.Context) (*verify.Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*verify.Claims)
	return c, ok && c != nil
}
