// Package scopeset holds the set of OAuth scopes an access token grants:
// [Set], read from the space-delimited scope claim of RFC 9068 and RFC 7662
// or from the scp array issued by ory Hydra, Azure AD and Okta.
//
// The guide to it is https://github.com/oauthgate/oauthgate/blob/main/docs/verifying.md.
//
// Strictness is deliberate: a claim of the wrong JSON type, or a scope with
// whitespace, control characters, a double quote or a backslash, is an
// error wrapping [ErrInvalid], never an empty set.
//
// The package depends on the standard library only. It sits below both the
// token layer (package verify returns a Set with every verified token) and
// the policy layer (package scopes checks a Set against a method's rule), so
// that neither has to import the other.
package scopeset
