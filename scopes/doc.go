// Package scopes decides which OAuth scopes each RPC requires, from options
// declared in .proto files ([oauthgatev1.E_Method], [oauthgatev1.E_Service])
// or in Go ([ForService], [ForMethod]), and checks a token's
// [scopeset.Set] against them.
//
// The guide to it is https://github.com/oauthgate/oauthgate/blob/main/docs/rules.md.
//
// A [Policy] is compiled once by [NewPolicy], before the server starts, and
// is read-only afterwards. It is fail-closed: a method with no declaration
// has no [Rule] and must be denied, and [Policy.Covers] lists such methods so
// that a server can refuse to start. An invalid declaration (a rule that
// requires nothing, public combined with scopes, an empty scope string) makes
// NewPolicy fail, naming every method at fault.
//
// # Precedence
//
// A method option replaces its service's option; the two are never merged. A
// method is declared either in its .proto file or in Go, not both.
//
// # Rules
//
// A rule is public (no token at all), or a list of alternatives: the token
// must hold every scope of at least one alternative. The interceptor reports
// [Rule.Closest] in insufficient_scope challenges.
//
// # Conditions
//
// A rule may also carry named conditions, CEL expressions over the token
// and the request that must all hold ([Rule.If], the conditions field of
// the options). This package checks their names and keeps them with their
// rule and the method's descriptor ([Policy.Descriptor]); package
// conditions compiles and evaluates them, so that a server without
// conditions links no CEL. A server whose policy has conditions
// ([Policy.HasConditions]) must evaluate them or refuse to start.
//
// Besides [scopeset] and the generated option types of oauthgate.v1, this
// package depends on protobuf only: it imports neither gRPC nor the token
// layer (package verify), which returns the scopes it checks.
package scopes
