package verify

import (
	"math"
	"strconv"
	"time"
)

// This file holds the one time rule of the package: NumericDate values
// (RFC 7519 §2) and the checks of exp, nbf, iat and auth_time.

// parseNumericDate converts a JSON number (RFC 7519 §2 NumericDate: seconds
// since the epoch, possibly fractional) to a time in UTC. Negative values
// and values past the year 9999 are refused.
func parseNumericDate(b []byte) (time.Time, bool) {
	if len(b) == 0 || b[0] == '-' {
		return time.Time{}, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return parseFractionalDate(b)
		}
		n = n*10 + int64(c-'0')
		if n > maxNumericDate {
			return time.Time{}, false
		}
	}
	return time.Unix(n, 0).UTC(), true
}

// parseFractionalDate is parseNumericDate's slow path, for 1.5 and 1e9.
func parseFractionalDate(b []byte) (time.Time, bool) {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return time.Time{}, false
	}
	sec := math.Floor(f)
	nsec := math.Round((f - sec) * 1e9)
	return time.Unix(int64(sec), int64(nsec)).UTC(), true
}

// checkTimes is the one time rule of this package, applied by every
// verifier on every call, cached or not: the token has expired from exp
// plus leeway on (RFC 7519 §4.1.4), is not valid before nbf minus leeway
// (§4.1.5), and must not be issued, nor its user authenticated (auth_time),
// after now plus leeway. Absent claims are not checked; whether exp is
// required is the caller's rule.
func checkTimes(now time.Time, c *Claims) error {
	if !c.expiry.IsZero() && !now.Before(c.expiry.Add(c.leeway)) {
		return &TokenError{Reason: ErrExpired, Claim: "exp"}
	}
	if !c.notBefore.IsZero() && c.notBefore.After(now.Add(c.leeway)) {
		return &TokenError{Reason: ErrNotYetValid, Claim: "nbf"}
	}
	if !c.issuedAt.IsZero() && c.issuedAt.After(now.Add(c.leeway)) {
		return &TokenError{Reason: ErrIssuedInFuture, Claim: "iat"}
	}
	// RFC 9470 §4: auth_time is when the user authenticated. One in the
	// future is no honest value and would meet every max_age for as long
	// as the token lives.
	if !c.authTime.IsZero() && c.authTime.After(now.Add(c.leeway)) {
		return &TokenError{Reason: ErrIssuedInFuture, Claim: "auth_time"}
	}
	return nil
}
