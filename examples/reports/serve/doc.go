// Package serve is the command of the example report server: its flags,
// their validation, and the server they configure ([reports.NewServer]
// behind oauthgate, with TLS, DPoP, introspection, protected resource
// metadata and readiness; or, with -connect, [reports.NewConnectHandler]).
// The flags are documented in examples/reports/server, whose main is
//
//	code := serve.Command{}.Main(ctx, os.Args[1:], os.Getenv, os.Stderr)
//
// The package lets another binary serve the same server with more: the
// separate module examples/observability passes an OpenTelemetry SDK meter
// provider and a Prometheus /metrics endpoint, which must not enter
// oauthgate's go.mod.
//
// # Extension
//
// A [Command] takes three additions, all optional:
//
//   - MeterProvider receives the metrics of the interceptor, the key set,
//     the token caches and introspection;
//   - Endpoints are HTTP handlers, each served on a listener of its own
//     whose address is a flag the Command defines and validates;
//   - OnListen reports every listener's address, for tests that listen on
//     "127.0.0.1:0".
//
// None of them reaches the verifier, the policy or the interceptor's
// decisions: these are built from the server's own flags only, so no
// extension can make the server accept a call it would otherwise deny.
// An Endpoint's handler never sees a gRPC call or a token.
//
// # Security posture
//
// Every flag is validated before anything listens; a required input
// (-audience, a verification source) is never defaulted. The client secret
// is a [verify.Secret] and is never printed or logged, and neither is any
// token.
package serve
