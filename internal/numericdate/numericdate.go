// Package numericdate holds oauthgate's one rule for NumericDate values
// (RFC 7519 §2), the JSON numbers that JWT claims such as exp and iat, and
// the Security Event Tokens of package ssf, carry times in.
package numericdate

import (
	"math"
	"strconv"
	"time"
)

// Max is 9999-12-31T23:59:59Z; later dates are not dates a token can
// honestly carry and would overflow time arithmetic.
const Max = 253402300799

// Parse converts a JSON number (RFC 7519 §2 NumericDate: seconds since the
// epoch, possibly fractional) to a time in UTC. Negative values and values
// past Max are refused.
func Parse(b []byte) (time.Time, bool) {
	if len(b) == 0 || b[0] == '-' {
		return time.Time{}, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return parseFractional(b)
		}
		n = n*10 + int64(c-'0')
		if n > Max {
			return time.Time{}, false
		}
	}
	return time.Unix(n, 0).UTC(), true
}

// parseFractional is Parse's slow path, for 1.5 and 1e9.
func parseFractional(b []byte) (time.Time, bool) {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > Max {
		return time.Time{}, false
	}
	sec := math.Floor(f)
	nsec := math.Round((f - sec) * 1e9)
	return time.Unix(int64(sec), int64(nsec)).UTC(), true
}
