package verify

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestUnavailableError_OneLine: nested and joined causes give one line with
// the prefix once, as operators read it in logs.
func TestUnavailableError_OneLine(t *testing.T) {
	inner := &UnavailableError{Op: "discover", Err: errors.New("GET https://as.example/.well-known/x: status 500")}
	err := &UnavailableError{Op: "fetch JWKS", Err: errors.Join(context.DeadlineExceeded, inner)}
	msg := err.Error()
	if strings.Count(msg, "cannot verify token now") != 1 || strings.Contains(msg, "\n") {
		t.Errorf("Error() = %q, want one line with the prefix once", msg)
	}
	if !strings.Contains(msg, "fetch JWKS: context deadline exceeded; discover: GET") {
		t.Errorf("Error() = %q lost a cause", msg)
	}
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Error("the causes are no longer matched by errors.Is")
	}
}
