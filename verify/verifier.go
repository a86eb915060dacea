package verify

import "context"

// A Verifier checks an access token and returns its verified claims.
//
// Verify returns an error matching [ErrInvalidToken] (with a [*TokenError]
// giving the reason) when the token itself is unacceptable, and an error
// matching [ErrUnavailable] (a [*UnavailableError]) when the token cannot be
// checked right now, for instance because the key set or the introspection
// endpoint is unreachable. Callers must treat any other error as a denial.
// Errors never contain the token or values of its claims.
//
// Implementations must be safe for concurrent use.
type Verifier interface {
	Verify(ctx context.Context, token string) (*Claims, error)
}
