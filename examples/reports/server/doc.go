// Command server runs the example report service ([reports.NewServer])
// behind oauthgate, against a real authorization server:
//
//	go run ./examples/reports/server -issuer https://auth.example.com/ \
//		-audience https://reports.example.com
//
// JWT access tokens (RFC 9068) are verified with the issuer's keys, found by
// discovery (RFC 8414, OpenID Connect) from -issuer, or at -jwks. Opaque
// tokens are verified by RFC 7662 introspection at -introspect, with
// -client-id and -client-secret (or the OAUTHGATE_CLIENT_SECRET environment
// variable, which keeps the secret out of the process list). With both, a
// token shaped like a JWT goes to JWT verification and any other to
// introspection ([verify.ByShape]).
//
// Flags:
//
//	-addr            listen address (default 127.0.0.1:50051)
//	-issuer          issuer identifier: the iss of JWTs; discovery finds the JWKS
//	-jwks            JWKS URL, instead of discovery (still needs -issuer)
//	-audience        this service's audience; repeat or comma-separate (required)
//	-allow-untyped   also accept JWTs with typ "JWT" or no typ (not RFC 9068)
//	-introspect      RFC 7662 introspection endpoint, for opaque tokens
//	-client-id       client ID for introspection
//	-client-secret   client secret for introspection
//	-insecure-http   allow http:// endpoints on loopback hosts, for local tests
//	-log-format      text or json (default text)
//	-decision-log    log every authorization decision, allowed calls
//	                 included, with the token's client_id and sub
//	-tls-cert        PEM certificate chain file: serve TLS (with -tls-key)
//	-tls-key         PEM private key file of -tls-cert
//	-client-ca       PEM CA bundle file: require client certificates signed
//	                 by it (mutual TLS), for certificate-bound tokens
//	-public-origin   public origin (https://host[:port]) that DPoP proofs
//	                 name when a proxy rewrites the authority; repeatable
//	-resource        resource identifier (https URL): publish RFC 9728
//	                 protected resource metadata (needs -issuer)
//	-metadata-addr   HTTP listen address serving the metadata document at
//	                 its RFC 9728 §3.1 path (needs -resource)
//	-ssf-transmitter issuer URL of a Shared Signals transmitter whose
//	                 pushed CAEP/RISC events (RFC 8935) revoke tokens
//	-ssf-audience    this receiver's aud in the transmitter's events
//	-ssf-addr        HTTP listen address of the push endpoint, POST
//	                 /ssf/events (with -ssf-transmitter)
//	-ssf-retention   how long events are remembered (default 1h): the
//	                 longest lifetime of the accepted tokens
//	-connect         serve with connect-go instead of grpc-go
//	-cors-origin     web origin (scheme://host[:port]) whose scripts may call
//	                 the server, with -connect; repeatable
//
// With -ssf-transmitter (package ssf), a session-revoked, credential-change,
// account-disabled, account-purged or sessions-revoked event refuses the
// subject's tokens issued before it, and its keys are found at the
// transmitter's /.well-known/ssf-configuration.
//
// With -connect, the same service, policy and checks are served by
// connect-go behind connectgate ([reports.NewConnectHandler]) on -addr:
// the Connect protocol (so curl and browsers can call it), gRPC and
// gRPC-Web, over HTTP/1.1 and HTTP/2 (h2c without TLS, by ALPN with it),
// without grpc health or reflection; a denial over the Connect protocol is
// an HTTP 401 or 403 with a WWW-Authenticate header. DPoP proofs name
// http(s)://<Host>/<package.Service>/<Method> with htm POST, or GET for a
// Connect GET. -cors-origin lets the scripts of a web origin call it: the
// server answers their preflight requests and exposes WWW-Authenticate
// and DPoP-Nonce to them.
//
// With -resource, every challenge carries resource_metadata="<URL>", the
// metadata is served over gRPC by oauthgate.v1.ResourceMetadataService
// (public), and, with -metadata-addr, over HTTP: scopes_supported lists the
// scopes of reports.proto's rules, authorization_servers the -issuer.
//
// Plaintext is the default, for local tests. Certificate-bound tokens
// (RFC 8705, cnf x5t#S256) are accepted only over mutual TLS with the
// client certificate they are bound to. DPoP-bound tokens (RFC 9449, cnf
// jkt) are accepted with no extra flag: clients send "authorization: DPoP
// <token>" and a fresh proof in "dpop" metadata per call, with htu
// <scheme>://<authority>/<package.Service>/<Method> (see the interceptor
// documentation); behind a proxy, -public-origin names the origin the
// proofs use. Bearer tokens are accepted as before, except on methods
// that require sender-constrained tokens.
//
// Invalid flags are reported on stderr with exit status 2, before anything
// listens. The server logs with log/slog to stderr, never logging tokens or
// the client secret, registers grpc health and reflection (both public),
// and stops gracefully on SIGINT or SIGTERM. For readiness probes
// (package readiness), grpc health says NOT_SERVING while the key set
// cannot verify tokens (not yet fetched, or stale past its MaxStale) or,
// when opaque tokens are all the server accepts, while the introspection
// endpoint does not answer; and NOT_SERVING once the server stops.
//
// The command is package [serve]; this main only runs it. The same server
// with its OpenTelemetry metrics exported to Prometheus (-metrics-addr) is
// examples/observability, a module of its own so that the OpenTelemetry
// SDK and the Prometheus exporter stay out of oauthgate's go.mod.
package main
