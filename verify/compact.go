package verify

import (
	"encoding/base64"
	"strings"
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
	if header == "" || payload == "" ||
		!canonicalBase64URL(header) || !canonicalBase64URL(payload) || !canonicalBase64URL(signature) {
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

// isBase64URL reports whether s uses only the unpadded base64url alphabet.
func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		if base64URLValue(s[i]) < 0 {
			return false
		}
	}
	return true
}

// canonicalBase64URL reports whether s is the one unpadded base64url
// encoding of some bytes: alphabet only, a length that is not 1 modulo 4,
// and unused low bits of the last character zero.
func canonicalBase64URL(s string) bool {
	if len(s)%4 == 1 || !isBase64URL(s) {
		return false
	}
	switch len(s) % 4 {
	case 2: // 12 bits for one byte: 4 spare
		return base64URLValue(s[len(s)-1])&0x0f == 0
	case 3: // 18 bits for two bytes: 2 spare
		return base64URLValue(s[len(s)-1])&0x03 == 0
	}
	return true
}

// base64URLValue returns the 6-bit value of c in the base64url alphabet, or
// -1.
func base64URLValue(c byte) int {
	switch {
	case 'A' <= c && c <= 'Z':
		return int(c - 'A')
	case 'a' <= c && c <= 'z':
		return int(c-'a') + 26
	case '0' <= c && c <= '9':
		return int(c-'0') + 52
	case c == '-':
		return 62
	case c == '_':
		return 63
	}
	return -1
}
