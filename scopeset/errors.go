package scopeset

import "errors"

// ErrInvalid reports a scope claim or scope string that breaks RFC 6749
// §3.3 syntax, or a scope claim of the wrong JSON type.
var ErrInvalid = errors.New("scopeset: invalid scope")

// An Error describes an invalid scope. It wraps [ErrInvalid]. Its message
// never contains the scope itself, which comes from a token.
type Error struct {
	// Problem says what is wrong, in a few words.
	Problem string
}

// Error implements the error interface.
func (e *Error) Error() string { return "scopeset: invalid scope: " + e.Problem }

// Unwrap returns [ErrInvalid].
func (e *Error) Unwrap() error { return ErrInvalid }
