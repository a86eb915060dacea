package interceptor_test

import (
	"fmt"
	"testing"

	"github.com/oauthgate/oauthgate/interceptor"
)

// TestDenyError_Error: the message logged for an Authorizer's denial says
// what the DenyError says, and no more.
func TestDenyError_Error(t *testing.T) {
	tests := map[string]struct {
		err  error
		want string
	}{
		"Bare":            {err: &interceptor.DenyError{Reason: "NOT_OWNER"}, want: "oauthgate: access denied"},
		"WithDescription": {err: &interceptor.DenyError{Reason: "NOT_OWNER", Description: "only the owner may read this book"}, want: "oauthgate: access denied: only the owner may read this book"},
		"Wrapped":         {err: fmt.Errorf("orders: %w", &interceptor.DenyError{Description: "closed"}), want: "orders: oauthgate: access denied: closed"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error() = %q, want %q", got, tc.want)
			}
		})
	}
}
