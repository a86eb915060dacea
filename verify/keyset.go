package verify

import (
	"context"

	"github.com/go-jose/go-jose/v4"
)

// A KeySet supplies the public keys that verify JWT signatures.
//
// Keys returns the keys that may have signed a token whose header carries
// kid ("" when the header has none, in which case every candidate key is
// returned). Keys intended for encryption (use "enc") and symmetric keys are
// never returned. The returned slice is shared and must not be modified.
//
// When the set holds no key for kid, Keys returns a [*TokenError] with
// reason [ErrUnknownKey]; when no usable key set is available (never fetched,
// or stale beyond its limit) it returns an error matching [ErrUnavailable].
// A remote key set may refresh itself on an unknown kid, but Keys never
// waits behind a rate limit: it fails fast instead.
//
// Implementations must be safe for concurrent use.
type KeySet interface {
	Keys(ctx context.Context, kid string) ([]jose.JSONWebKey, error)
}
