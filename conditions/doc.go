// Package conditions evaluates the authorization conditions of a
// [scopes.Policy]: named CEL expressions (the Common Expression Language,
// cel.dev) over the verified token, the typed request message and the
// call, declared next to each RPC in its .proto file or in Go with
// [scopes.Rule.If]:
//
// The guide to it is https://github.com/oauthgate/oauthgate/blob/main/docs/conditions.md.
//
//	rpc UpdateReport(UpdateReportRequest) returns (UpdateReportResponse) {
//	  option (oauthgate.v1.method) = {
//	    scopes: "write:reports"
//	    conditions: {
//	      name: "owner"
//	      expr: "request.owner == token.sub || 'admin' in token.scopes"
//	    }
//	  };
//	}
//
// [Compile] type-checks every condition once, before the server starts,
// against the input message of its method; protoc-gen-oauthgate runs the
// same compiler at build time and reports the same messages. An unknown
// field or variable, a type error, a result that is not a bool or a cost
// over the budget is an error that names the method and the condition.
// The compiled [Evaluator] is read-only and safe for concurrent use;
// [Evaluator.For] returns a method's conditions, or nil when it has none,
// so a call to such a method costs nothing.
//
// # Variables
//
// An expression sees these variables and nothing else: no clock, no I/O,
// no CEL extension library, only CEL's standard functions. Reading an
// undeclared one (token.foo) does not compile.
//
//	variable                    type                 value
//	token.sub                   string               the sub claim, "" when absent
//	token.client_id             string               the client_id claim, ""
//	token.scopes                list(string)         the scopes the rules are checked against
//	                                                 (scope, scp, or the verifier's Authorities),
//	                                                 in lexical order
//	token.audiences             list(string)         the aud claim
//	token.issuer                string               the iss claim
//	token.tenant                string               the tenant of a multi-tenant issuer
//	                                                 (verify.Claims.Tenant), "" otherwise
//	token.acr                   string               the acr claim, ""
//	token.amr                   list(string)         the amr claim, [] when absent
//	token.auth_time             timestamp            the auth_time claim; timestamp(0)
//	                                                 (1970-01-01T00:00:00Z) when absent
//	token.binding               string               "" (bearer), "mtls" (RFC 8705) or
//	                                                 "dpop" (RFC 9449, also when bound both ways)
//	token.claims                map(string, dyn)     every other claim of the token, as JSON
//	                                                 decodes it (numbers are doubles); not the
//	                                                 claims above: iss, sub, aud, client_id,
//	                                                 scope, scp, acr, amr, auth_time, cnf
//	request                     the input message    the request, fields by their .proto names;
//	                                                 on client and bidi streams, each message
//	call.method                 string               "/pkg.Service/Method"
//	call.certificate.subject    string               the subject DN of the client's mutual-TLS
//	                                                 certificate, "" without one
//	call.certificate.dns_names  list(string)         its DNS SANs, [] without one
//	call.certificate.uris       list(string)         its URI SANs, [] without one
//
// The token variables are plain values: has() applies to request fields
// (has(request.note)) and to token.claims keys (has(token.claims.org)),
// not to them; compare with "" instead. Reading a missing key
// (token.claims.org when the token has no org claim) is an evaluation
// error, which denies.
//
// # Recipes
//
// Only the owner of a resource:
//
//	request.owner == token.sub
//
// Tenant isolation, on a service rule so that every method inherits it
// (each method's input must then have a tenant field), with a token
// issuer that names the tenant (verify.JWTConfig.Issuer with {tenant}):
//
//	request.tenant == token.tenant
//
// The owner, or an administrator (admin override):
//
//	request.owner == token.sub || 'admin' in token.scopes
//
// # Decision order
//
// A call is decided in this order, the first failure denying it: the
// token (verified), its binding (mutual TLS, DPoP), the scopes, step-up
// authentication (acr_values, max_age), the conditions in declaration
// order, then the server's own Authorizer. A method's rule replaces its
// service's, conditions included, as for scopes. On client-streaming and
// bidi RPCs the conditions are evaluated on every received message, and
// the first failing message ends the stream.
//
// # Denials
//
// [Method.Eval] returns nil when every condition holds; otherwise a
// [*DenyError] naming the condition: false ([ErrConditionFalse]) or an
// evaluation error ([ErrEvaluation]: a missing map key, an overflow, the
// cost limit). Evaluation fails closed: an error denies like false. The
// error text names the condition only; DenyError.Cause, which may quote
// request data or claim values, is for the server's logs. The interceptor
// answers PermissionDenied with reason CONDITION_NOT_MET and the
// condition's name in the ErrorInfo metadata.
//
// # Cost
//
// Every condition has a cost budget, [DefaultCostLimit] (100 000) CEL cost
// units unless [WithCostLimit] says otherwise. Compile refuses a condition
// whose estimated worst-case cost exceeds it, estimating with every string
// of the token, the request and the call at up to 1 KiB and every list and
// map at up to 100 elements. The typical conditions above are estimated
// at about 100 to 200 units, one pass over a request's repeated field
// (request.items.all(i, i.owner == token.sub)) at about 11 000, and a
// nested pass (every pair of items) at 1.1 million, which is refused.
//
// At run time, a condition that iterates (all, exists, exists_one, map,
// filter) stops with [ErrEvaluation] when it spends the budget, whatever
// the size of the request: a request with a huge repeated field is
// denied, not evaluated at length. A condition without such a macro runs
// a fixed number of operations, each linear in what it reads, like
// decoding the request; it runs without cost tracking, which would only
// charge an operation after it ran and double the time of a typical
// condition. Regular expressions (matches) are limited to 1000 compiled
// instructions, constant or read from the request. An expression is at
// most 4096 characters long.
//
// token.claims decodes the token's claim set on every evaluation that
// reads it: several microseconds, where the other variables cost tens of
// nanoseconds. See BenchmarkEval.
package conditions
