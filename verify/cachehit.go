package verify

import "context"

// A CacheReporter is a [Verifier] that can say whether it answered from a
// cache: [JWT] from its verified-token cache, [Introspection] from its
// introspection cache, and [Issuers] and the verifiers [ByShape] returns
// from those of the verifier they chose. The interceptor's metrics and
// spans use it to tell cached from uncached verifications.
type CacheReporter interface {
	Verifier
	// VerifyCacheHit is Verify that also reports whether the answer came
	// from the cache, with no signature check or request.
	VerifyCacheHit(ctx context.Context, token string) (c *Claims, hit bool, err error)
}

// VerifyCacheHit verifies token with v and reports whether the answer came
// from v's cache: false when v is not a [CacheReporter].
func VerifyCacheHit(ctx context.Context, v Verifier, token string) (*Claims, bool, error) {
	if r, ok := v.(CacheReporter); ok {
		return r.VerifyCacheHit(ctx, token)
	}
	c, err := v.Verify(ctx, token)
	return c, false, err
}

var (
	_ CacheReporter = (*JWT)(nil)
	_ CacheReporter = (*Introspection)(nil)
	_ CacheReporter = (*Issuers)(nil)
	_ CacheReporter = (*byShape)(nil)
)
