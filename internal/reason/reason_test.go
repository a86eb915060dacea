package reason_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/oauthgate/oauthgate/internal/reason"
)

var (
	errClass  = errors.New("pkg: invalid thing")
	errReason = reason.New("pkg: thing too old", "the thing is too old")
)

func TestMessage(t *testing.T) {
	for _, tc := range []struct {
		class, reason error
		detail, want  string
	}{
		{errClass, errReason, "", "pkg: invalid thing: thing too old"},
		{errClass, errReason, "exp", "pkg: invalid thing: thing too old (exp)"},
		{errClass, errors.New("other: cause"), "", "pkg: invalid thing: other: cause"},
		{errors.New("bare"), errReason, "", "bare: pkg: thing too old"},
	} {
		if got := reason.Message(tc.class, tc.reason, tc.detail); got != tc.want {
			t.Errorf("Message(%v, %v, %q) = %q, want %q", tc.class, tc.reason, tc.detail, got, tc.want)
		}
	}
}

func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{errReason, "the thing is too old"},
		{fmt.Errorf("wrapped: %w", errReason), "the thing is too old"},
		{errors.Join(errClass, errReason), "the thing is too old"},
		{errClass, "fallback"},
		{nil, "fallback"},
	} {
		if got := reason.Describe(tc.err, "fallback"); got != tc.want {
			t.Errorf("Describe(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
	if !errors.Is(fmt.Errorf("x: %w", errReason), errReason) {
		t.Error("a Sentinel does not match itself through wrapping")
	}
}
