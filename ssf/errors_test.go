package ssf_test

import (
	"errors"
	"testing"

	"github.com/oauthgate/oauthgate/ssf"
)

// TestSETError: a SETError matches ErrInvalidSET and its reason, and
// says both and the member at fault, in its message for the logs and in
// its code and description for the transmitter.
func TestSETError(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		err      *ssf.SETError
		wantMsg  string
		wantDesc string
		wantCode string
	}{
		"Key":       {&ssf.SETError{Reason: ssf.ErrKey, Member: "kid"}, "ssf: invalid security event token: SET signature not verified (kid)", "SET signature not verified (kid)", "invalid_key"},
		"Issuer":    {&ssf.SETError{Reason: ssf.ErrIssuer, Member: "iss"}, "ssf: invalid security event token: wrong SET issuer (iss)", "wrong SET issuer (iss)", "invalid_issuer"},
		"Audience":  {&ssf.SETError{Reason: ssf.ErrAudience, Member: "aud"}, "ssf: invalid security event token: wrong SET audience (aud)", "wrong SET audience (aud)", "invalid_audience"},
		"NoMember":  {&ssf.SETError{Reason: ssf.ErrMalformed}, "ssf: invalid security event token: malformed SET", "malformed SET", "invalid_request"},
		"Duplicate": {&ssf.SETError{Reason: ssf.ErrDuplicate, Member: "jti"}, "ssf: invalid security event token: duplicate SET (jti)", "duplicate SET (jti)", "invalid_request"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var err error = tc.err
			if got := err.Error(); got != tc.wantMsg {
				t.Errorf("Error() = %q, want %q", got, tc.wantMsg)
			}
			if got := tc.err.Description(); got != tc.wantDesc {
				t.Errorf("Description() = %q, want %q", got, tc.wantDesc)
			}
			if got := tc.err.Code(); got != tc.wantCode {
				t.Errorf("Code() = %q, want %q", got, tc.wantCode)
			}
			if !errors.Is(err, ssf.ErrInvalidSET) || !errors.Is(err, tc.err.Reason) {
				t.Errorf("errors.Is(%v, ErrInvalidSET and its reason) = false, want true", err)
			}
			if errors.Is(err, ssf.ErrExpired) {
				t.Errorf("errors.Is(%v, ErrExpired) = true, want false", err)
			}
		})
	}
}
