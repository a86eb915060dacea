package verify

import (
	"encoding/base64"
	"strings"

	"github.com/oauthgate/oauthgate/internal/b64url"
)

// splitCompact splits a token in the JWS compact serialization (RFC 7515
// §7.1) into its three segments, each of which must be canonical unpadded
// base64url (RFC 7515 §2): only the URL-safe alphabet, no padding, no line
// breaks, and zero spare bits in the last character. go-jose decodes more
// leniently, which would make one signed token verify under many strings,
// each a separate cache entry and a way around any deny list keyed on the
// token; only the one canonical string is accepted.
func splitCompact(token string) (header, payload, signature string, err error) {
	switch strings.Count(token, ".") {
	case 2:
	case 4: // RFC 7516 §7.1: a JWE. Encrypted access tokens are not supported.
		return "", "", "", &TokenError{Reason: ErrUnsupported}
	default:
		return "", "", "", &TokenError{Reason: ErrMalformed}
	}
	header, rest, _ := strings.Cut(token, ".")
	payload, signature, _ = strings.Cut(rest, ".")
	if !b64url.CanonicalCompact(token) {
		return "", "", "", &TokenError{Reason: ErrMalformed}
	}
	return header, payload, signature, nil
}

// unverifiedPayload returns the decoded payload of a compact JWS, which has
// not been verified: only to route the token to the verifier that checks it.
func unverifiedPayload(token string) ([]byte, error) {
	_, payload, _, err := splitCompact(token)
	if err != nil {
		return nil, err
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil, &TokenError{Reason: ErrMalformed}
	}
	return b, nil
}
