// Package layering has no code: its test fails when a package of the module
// depends on what its layer must not (STYLE R33). The scope set (scopeset)
// is at the bottom; tokens (verify, dpop) and policy (scopes, resource, over
// the generated schema) sit above it, neither importing the other; the
// decision core (internal/core) above both links no transport; the
// transport adapters (interceptor, dpopgrpc, readiness) are on top.
// oauthtest, cmd and examples may use the library, and nothing in the
// library uses them. Internal helpers serve the public packages, never the
// reverse.
package layering
