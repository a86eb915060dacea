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
//   - a fine-grained [interceptor.Authorizer], [Service.Authorize]: only the
//     owner of a report, or an admin token, may read it;
//   - handlers that read the verified claims with [interceptor.FromContext]:
//     the token's sub owns the reports it creates.
//
// [NewServer] wires all of it, with grpc health and reflection declared
// public, and refuses to build a server with an RPC that has no rule.
//
// # Security posture
//
// Handlers fail closed: a call that reaches them without verified claims is
// rejected, and GetReport checks ownership again even though the Authorizer
// already has. Sizes are capped (see [MaxTitleSize], [MaxBodySize],
// [MaxReports]) because the standalone server may face the network.
package reports
