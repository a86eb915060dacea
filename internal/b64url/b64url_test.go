package b64url

import (
	"encoding/base64"
	"testing"
)

func TestCanonical(t *testing.T) {
	for n := range 12 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(0xA5 ^ i*37)
		}
		enc := base64.RawURLEncoding.EncodeToString(b)
		if !Canonical(enc) {
			t.Errorf("Canonical(%q) = false for the encoding of %d bytes", enc, n)
		}
		if n%3 != 0 {
			// Every other last character that decodes to the same bytes
			// with encoding/base64's lenient decoder must be refused.
			for c := range 64 {
				alt := enc[:len(enc)-1] + base64.RawURLEncoding.EncodeToString([]byte{byte(c << 2)})[:1]
				d, err := base64.RawURLEncoding.DecodeString(alt)
				if alt != enc && err == nil && string(d) == string(b) && Canonical(alt) {
					t.Errorf("Canonical(%q) = true for a second encoding of %x", alt, b)
				}
			}
		}
	}
	for _, bad := range []string{"A", "AB=", "A\nB", "AB C", "ab+/", "AB", "ABC"} {
		if Canonical(bad) {
			t.Errorf("Canonical(%q) = true", bad)
		}
	}
}

func TestCanonicalCompact(t *testing.T) {
	tests := map[string]bool{
		"eyJh.eyJi.c2ln":  true,
		"eyJh.eyJi.":      true, // empty signature: alg none, refused later
		".eyJi.c2ln":      false,
		"eyJh..c2ln":      false,
		"eyJh.eyJi":       false,
		"eyJh.eyJi.c2ln.": false,
		"a.b.c.d.e":       false,
		"eyJh.eyJi.c2l=":  false,
	}
	for in, want := range tests {
		if got := CanonicalCompact(in); got != want {
			t.Errorf("CanonicalCompact(%q) = %t, want %t", in, got, want)
		}
	}
}
