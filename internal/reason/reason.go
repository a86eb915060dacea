// Package reason is the one error model of oauthgate's checks: a class
// sentinel (verify.ErrInvalidToken, dpop.ErrInvalidProof) that every
// rejection matches, and reason sentinels, each with a short fixed English
// description fit for an OAuth error_description. Packages verify and dpop
// declare their sentinels with [New] and their typed errors (TokenError,
// ProofError) unwrap to a class and a reason and describe themselves with
// [Describe].
package reason

import (
	"errors"
	"strings"
)

// A Sentinel is a reason error with its description. Compare it with
// errors.Is, as any sentinel error.
type Sentinel struct {
	msg, description string
}

// New returns a sentinel error whose message is msg ("pkg: what") and
// whose description, for clients, is description.
func New(msg, description string) error { return &Sentinel{msg: msg, description: description} }

// Error returns the message.
func (s *Sentinel) Error() string { return s.msg }

// Description returns the sentence for clients.
func (s *Sentinel) Description() string { return s.description }

// Describe returns the description of the first Sentinel in err's tree, or
// fallback when it holds none.
func Describe(err error, fallback string) string {
	if s, ok := errors.AsType[*Sentinel](err); ok {
		return s.description
	}
	return fallback
}

// Message returns the message of a rejection of class for reason:
// "pkg: class: reason" with the package prefix of the reason removed, and
// " (detail)" when detail is not empty.
func Message(class, reason error, detail string) string {
	c, r := class.Error(), reason.Error()
	if pkg, _, ok := strings.Cut(c, ": "); ok {
		r = strings.TrimPrefix(r, pkg+": ")
	}
	msg := c + ": " + r
	if detail != "" {
		msg += " (" + detail + ")"
	}
	return msg
}
