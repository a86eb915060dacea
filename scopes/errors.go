package scopes

import (
	"errors"
	"strconv"
	"strings"
)

// ErrInvalidRule reports a rule that cannot be enforced: no scopes and not
// public, public combined with scopes, an empty alternative or scope string,
// a condition with an invalid or repeated name or an empty expression.
var ErrInvalidRule = errors.New("scopes: invalid rule")

// ErrUnknownService reports a rule declared in Go for a service or method
// that no descriptor describes.
var ErrUnknownService = errors.New("scopes: unknown service or method")

// ErrEmptyPolicy reports a policy that would have no rule at all, so that
// it would deny every call: usually a missing [FromFiles].
var ErrEmptyPolicy = errors.New("scopes: the policy has no rules")

// ErrUncovered reports registered methods that have no rule.
var ErrUncovered = errors.New("scopes: methods without a rule")

// A Problem is one method or service whose rule could not be compiled.
type Problem struct {
	// Name is the full method name ("/pkg.Service/Method") or, for a
	// service-wide declaration, the full service name.
	Name string
	// Err is the reason; it wraps [ErrInvalidRule] or [ErrUnknownService].
	Err error
}

// A CompileError lists every rule that [NewPolicy] could not compile. It
// matches both [ErrInvalidRule] and [ErrUnknownService] when any problem does.
type CompileError struct {
	// Problems is sorted by Name.
	Problems []Problem
}

// Error implements the error interface.
func (e *CompileError) Error() string {
	var b strings.Builder
	b.WriteString("scopes: cannot build policy:")
	for _, p := range e.Problems {
		b.WriteString("\n\t")
		b.WriteString(p.Name)
		b.WriteString(": ")
		// The problems' errors carry this package's prefix too; say it once.
		b.WriteString(strings.TrimPrefix(p.Err.Error(), "scopes: "))
	}
	return b.String()
}

// Unwrap returns the problems' errors.
func (e *CompileError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p.Err
	}
	return errs
}

// A CoverageError lists every method that is served but has no rule, so every
// call to it would be denied. It wraps [ErrUncovered].
type CoverageError struct {
	// Methods are full method names ("/pkg.Service/Method"), sorted.
	Methods []string
}

// Error implements the error interface.
func (e *CoverageError) Error() string {
	return "scopes: " + strconv.Itoa(len(e.Methods)) + " method(s) have no rule and would deny every call; " +
		"annotate them with (oauthgate.v1.method) or (oauthgate.v1.service), or declare them with ForService/ForMethod:\n\t" +
		strings.Join(e.Methods, "\n\t")
}

// Unwrap returns [ErrUncovered].
func (e *CoverageError) Unwrap() error { return ErrUncovered }
