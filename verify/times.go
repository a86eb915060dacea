package verify

import (
	"time"

	"github.com/oauthgate/oauthgate/internal/numericdate"
)

// This file holds the one time rule of the package: NumericDate values
// (RFC 7519 §2) and the checks of exp, nbf, iat and auth_time.

// parseNumericDate converts a JSON number (RFC 7519 §2 NumericDate) to a
// time in UTC: the rule of package numericdate, shared with package ssf.
func parseNumericDate(b []byte) (time.Time, bool) { return numericdate.Parse(b) }

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
