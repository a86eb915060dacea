package outbound_test

import (
	"errors"
	"testing"

	"github.com/oauthgate/oauthgate/outbound"
)

// TestErrors_messages: an error names the operation or status and the
// cause or OAuth error code when there is one, and only then.
func TestErrors_messages(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&outbound.UnavailableError{Op: "token", Err: errors.New("connection refused")},
			"outbound: authorization server unavailable (token): connection refused"},
		{&outbound.UnavailableError{Op: "discover"}, "outbound: authorization server unavailable (discover)"},
		{&outbound.RefusedError{Status: 400, Code: "invalid_grant"}, "outbound: token request refused with status 400 (invalid_grant)"},
		{&outbound.RefusedError{Status: 403}, "outbound: token request refused with status 403"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}
