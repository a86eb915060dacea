// Package b64url holds the one rule of oauthgate for base64url segments of
// JOSE objects (RFC 7515 §2): unpadded, URL-safe alphabet, and canonical,
// so that one signed object has exactly one string form. Package verify
// applies it to access tokens and package dpop to proofs.
package b64url

// Alphabet reports whether s uses only the unpadded base64url alphabet.
func Alphabet(s string) bool {
	for i := 0; i < len(s); i++ {
		if value(s[i]) < 0 {
			return false
		}
	}
	return true
}

// Canonical reports whether s is the one unpadded base64url encoding of
// some bytes: alphabet only, a length that is not 1 modulo 4, and the
// unused low bits of the last character zero. go-jose and encoding/base64's
// non-strict decoders accept more.
func Canonical(s string) bool {
	if len(s)%4 == 1 || !Alphabet(s) {
		return false
	}
	switch len(s) % 4 {
	case 2: // 12 bits for one byte: 4 spare
		return value(s[len(s)-1])&0x0f == 0
	case 3: // 18 bits for two bytes: 2 spare
		return value(s[len(s)-1])&0x03 == 0
	}
	return true
}

// CanonicalCompact reports whether token has exactly three dot-separated
// segments, header and payload non-empty, each canonical: the JWS compact
// serialization of RFC 7515 §7.1 in its one canonical form.
func CanonicalCompact(token string) bool {
	dots := 0
	start := 0
	for i := 0; i <= len(token); i++ {
		if i < len(token) && token[i] != '.' {
			continue
		}
		seg := token[start:i]
		if dots < 2 && seg == "" || !Canonical(seg) {
			return false
		}
		dots++
		start = i + 1
	}
	return dots == 3
}

// value returns the 6-bit value of c in the base64url alphabet, or -1.
func value(c byte) int {
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
