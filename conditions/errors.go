package conditions

import (
	"errors"
	"strings"
)

// ErrInvalidCondition reports a condition that cannot be compiled: a
// syntax error, an unknown field or variable, a type error, a result that
// is not a bool, or an estimated cost over the budget.
var ErrInvalidCondition = errors.New("conditions: invalid condition")

// ErrConditionFalse reports a condition that evaluated to false.
var ErrConditionFalse = errors.New("conditions: condition not met")

// ErrEvaluation reports a condition whose evaluation failed (a missing map
// key, an overflow, the cost limit, a request of the wrong type): the call
// is denied, as if the condition were false.
var ErrEvaluation = errors.New("conditions: condition could not be evaluated")

// A Problem is one condition that [Compile] refused.
type Problem struct {
	// Method is the full method name ("/pkg.Service/Method") whose rule
	// has the condition; a service's condition is compiled, and may fail,
	// for each of its methods.
	Method string
	// Condition is the condition's name.
	Condition string
	// Err says what is wrong, with the position in the expression when
	// known ("expression 1:9: undefined field 'ownr'"). It wraps
	// [ErrInvalidCondition]. protoc-gen-oauthgate reports the same text.
	Err error
}

// A CompileError lists every condition that [Compile] could not compile.
// It matches [ErrInvalidCondition].
type CompileError struct {
	// Problems is sorted by method, then in declaration order.
	Problems []Problem
}

// Error implements the error interface.
func (e *CompileError) Error() string {
	var b strings.Builder
	b.WriteString("conditions: cannot compile conditions:")
	for _, p := range e.Problems {
		b.WriteString("\n\t")
		b.WriteString(p.Method)
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(p.Err.Error(), "conditions: "))
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

// A DenyError is what [Method.Eval] returns when a condition denies a call:
// it was false ([ErrConditionFalse]) or could not be evaluated
// ([ErrEvaluation]). It wraps its Reason.
//
// Its Error text holds the condition's name and a fixed reason only, never
// request data or claim values, so that it may be shown to the caller.
// Cause, which may hold both, is for the server's logs only.
type DenyError struct {
	// Method is the full method name ("/pkg.Service/Method").
	Method string
	// Condition is the name of the condition that denied the call: what
	// the interceptor puts in the ErrorInfo metadata of its
	// PermissionDenied status.
	Condition string
	// Reason is [ErrConditionFalse] or [ErrEvaluation].
	Reason error
	// Cause is, for [ErrEvaluation], what went wrong, with the expression
	// and the position in it ("expression 1:14: no such key: level"). It
	// may contain request data or claim values: log it on the server,
	// never send it to the client. It is nil for [ErrConditionFalse].
	Cause error
}

// Error implements the error interface: "conditions: condition owner not
// met", or "... could not be evaluated".
func (e *DenyError) Error() string {
	if errors.Is(e.Reason, ErrConditionFalse) {
		return "conditions: condition " + e.Condition + " not met"
	}
	return "conditions: condition " + e.Condition + " could not be evaluated"
}

// Unwrap returns the Reason.
func (e *DenyError) Unwrap() error { return e.Reason }

// Denied returns the name of the condition that denied the call and, for
// a failed evaluation, the Cause, which is for the server's logs only. A
// transport adapter reads a denial through this method (an interface of
// its own), without importing this package.
func (e *DenyError) Denied() (condition string, cause error) { return e.Condition, e.Cause }
