// Package core is oauthgate's transport-independent decision core: every
// check a protected call goes through (credentials → DPoP proof → token →
// binding → audiences → scopes → step-up → conditions → Authorizer), the
// denial that describes a failure, and what is recorded of each decision
// (metrics, span attributes, the denial log and the decision log), computed
// once from a small [Request] description (STYLE R35).
//
// The transport adapters (package interceptor for grpc-go, package
// connectgate for connect-go) only translate: they build a [Request] from
// their call, hand the authorized context to the handler, and render a
// [Denial] as their wire expects (a gRPC status with ErrorInfo and
// www-authenticate metadata; a Connect error and an HTTP 401/403 with a
// WWW-Authenticate header). A feature lands here, and both adapters get it.
//
// # Layering
//
// The core links no grpc-go and no connect-go (internal/layering checks
// it): it names gRPC's status codes with its own [Code], whose values are
// those of gRPC and Connect, and builds google.rpc.ErrorInfo from genproto.
//
// # Options
//
// The adapters' options are this package's [Option]s, made by one-line
// documented wrappers (interceptor.WithRealm is core.WithRealm), so that no
// setting is defined twice and both adapters validate it the same way.
//
// # Security posture
//
// Fail closed: a procedure without a rule is denied; a transport that
// cannot tell the core what a check needs (the request URI of a DPoP proof,
// the client certificate of a bound token) denies with Internal; tokens
// never appear in a denial, a log or a metric.
package core
