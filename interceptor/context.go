package interceptor

import (
	"context"

	"google.golang.org/grpc/metadata"

	"github.com/oauthgate/oauthgate/internal/authheader"
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

// TokenFromContext returns the access token whose claims [FromContext]
// reports, as the call presented it in its authorization metadata (the
// Bearer or DPoP scheme removed), for a handler that exchanges it for a
// token to the next service (RFC 8693, package outbound). It reports false
// when FromContext does, and when the call's metadata holds no single
// well-formed credential (a context made by [NewContext] alone, say). The
// token is a credential: never log it.
func TokenFromContext(ctx context.Context) (string, bool) {
	if _, ok := FromContext(ctx); !ok {
		return "", false
	}
	auth := metadata.ValueFromIncomingContext(ctx, "authorization")
	if len(auth) != 1 {
		return "", false
	}
	return authheader.Token(auth[0]) // the reader the token was verified with
}
