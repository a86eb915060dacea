package connectgate

import (
	"context"

	"connectrpc.com/connect"

	"github.com/oauthgate/oauthgate/internal/authheader"
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

// TokenFromContext returns the access token whose claims [FromContext]
// reports, as the call presented it in its Authorization header (the
// Bearer or DPoP scheme removed), for a handler that exchanges it for a
// token to the next service (RFC 8693; pass it as outbound.Config's
// SubjectToken). It reads the header from connect-go's handler context
// (connect.CallInfoForHandlerContext), so it allocates nothing. It reports
// false when FromContext does, outside a connect-go handler, and when the
// call holds no single well-formed credential. The token is a credential:
// never log it.
func TokenFromContext(ctx context.Context) (string, bool) {
	if _, ok := FromContext(ctx); !ok {
		return "", false
	}
	info, ok := connect.CallInfoForHandlerContext(ctx)
	if !ok {
		return "", false
	}
	auth := info.RequestHeader().Values("Authorization")
	if len(auth) != 1 {
		return "", false
	}
	return authheader.Token(auth[0]) // the reader the token was verified with
}
