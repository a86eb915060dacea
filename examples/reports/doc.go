// Package reports is the example service that oauthgate's demo, standalone
// server and tests protect: a small in-memory store of text reports behind
// an [interceptor.Interceptor].
//
// It shows the three layers of an OAuth-protected gRPC service:
//
//   - coarse rules in the .proto file (examples/reports/v1/reports.proto),
//     compiled into a [scopes.Policy]: GetReport needs read:reports OR admin,
//     DeleteReport write:reports AND admin plus a multi-factor sign-in in
//     the last five minutes (step-up, RFC 9470), GetServerInfo nothing;
//   - a condition next to a rule, in CEL, compiled with [conditions.Compile]:
//     GetReport's request names the report's owner beside its id (alice/r-1),
//     and its owner condition lets only that owner, or an admin token, read
//     it; a denial is PermissionDenied with reason CONDITION_NOT_MET;
//   - handlers that read the verified claims with [interceptor.FromContext]:
//     the token's sub owns the reports it creates.
//
// [NewServer] wires all of it, with grpc health and reflection declared
// public, and refuses to build a server with an RPC that has no rule.
// [NewConnectHandler] serves the same service, policy and conditions with
// connect-go behind a connectgate.Gate: Connect, gRPC and gRPC-Web on one
// port, and, with [WithCORS], to scripts of the web origins it names.
//
// # Security posture
//
// Handlers fail closed: a call that reaches them without verified claims is
// rejected, and GetReport checks the owner condition again even though the
// interceptor already has. GetReport answers NotFound for an id its owner
// does not have, whether the id exists or not, so no reader can probe the
// ids of other owners. Sizes are capped (see [MaxTitleSize], [MaxBodySize],
// [MaxReports]) because the standalone server may face the network.
package reports
