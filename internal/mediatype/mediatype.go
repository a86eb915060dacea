// Package mediatype holds oauthgate's one rule for the media types named by
// JOSE typ and cty header parameters (access tokens' at+jwt, Security
// Event Tokens' secevent+jwt).
package mediatype

import "strings"

// Is reports whether a typ or cty value v names the media type
// application/want: RFC 7515 §4.1.9 lets "application/" be omitted, and
// media types compare case-insensitively (RFC 2045 §5.1).
func Is(v, want string) bool {
	const prefix = "application/"
	if len(v) > len(prefix) && strings.EqualFold(v[:len(prefix)], prefix) {
		v = v[len(prefix):]
	}
	return strings.EqualFold(v, want)
}
