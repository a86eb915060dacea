// Package interceptor enforces OAuth 2.0 access tokens on a grpc-go server.
//
// The guide to it is https://github.com/oauthgate/oauthgate/blob/main/docs/wiring.md.
//
// An [Interceptor] joins a [verify.Verifier] and a [scopes.Policy]: for every
// call it looks up the rule of the method, reads the bearer token from the
// "authorization" metadata (RFC 6750 §2.1), verifies it, checks its scopes,
// runs an optional fine-grained [Authorizer], and hands the verified claims
// to the handler through the context ([FromContext]). Package connectgate
// makes the same decisions, with the same options and errors, for
// connect-go handlers: both are adapters over one decision core.
//
//	gate, err := interceptor.New(jwt, policy, interceptor.WithRealm("reports"))
//	srv := grpc.NewServer(gate.ServerOptions()...) // unary and streaming calls
//	reportsv1.RegisterReportServiceServer(srv, impl)
//	if err := gate.Check(srv); err != nil { // every RPC has a rule
//		log.Fatal(err)
//	}
//
// # Start-up check and wiring test
//
// [Interceptor.Check] refuses a server on which a registered method has no
// rule, so that no server starts with a method that would deny every call.
// It only reads the server's list of services: the Interceptor adds
// nothing to your server and reads nothing of grpc-go's but its exported
// API.
//
// Whether every call passes through the Interceptor depends on how it was
// installed. [Interceptor.ServerOptions] installs it for unary and
// streaming calls in one step; other wirings (grpc.ChainUnaryInterceptor,
// go-grpc-middleware's auth with [Interceptor.AuthFunc], a selector, a
// service's AuthFuncOverride) can leave calls open. oauthtest.CheckWiring
// proves the wiring in your tests: it serves the server you built in
// memory and calls every registered method, without a token and with a
// token lacking the method's scopes, and fails naming each method whose
// calls get past oauthgate.
//
// With go-grpc-middleware's auth interceptors, a service that implements
// AuthFuncOverride is not protected at all: those interceptors call its
// override instead of [Interceptor.AuthFunc], and the check, whose probe
// service has no override, cannot notice. [Interceptor.ServerOptions]
// protects every service whatever it implements; prefer it.
//
// # Failures
//
// Each failure is a gRPC status with a google.rpc.ErrorInfo detail and, where
// RFC 6750 §3 defines one, a "www-authenticate" response header:
//
//	no credentials               Unauthenticated   Bearer realm="…"
//	malformed credentials        Unauthenticated   …, error="invalid_request"
//	invalid or expired token     Unauthenticated   …, error="invalid_token"
//	missing scope                PermissionDenied  …, error="insufficient_scope", scope="…"
//	verifier unavailable         Unavailable       (none: keep the token, retry)
//	condition false or failing   PermissionDenied  (none; CONDITION_NOT_MET, metadata condition)
//	Authorizer denies            PermissionDenied  (as the [DenyError] says)
//	method without a rule        PermissionDenied  (none)
//	bound token, wrong or no     Unauthenticated   …, error="invalid_token" (CERTIFICATE_*,
//	  certificate / DPoP proof                       DPOP_*, UNSUPPORTED_BINDING reasons)
//	invalid DPoP proof           Unauthenticated   DPoP …, error="invalid_dpop_proof"
//	weak or old authentication   Unauthenticated   …, error="insufficient_user_authentication",
//	  (step-up, RFC 9470)                            acr_values="…", max_age="…"
//	DPoP replay cache full       Unavailable       (none: retry with a new proof)
//	DPoP replay store down       Unavailable       (none: retry with a new proof)
//	verifier broke its contract  Internal          (none)
//
// The last row is a bug in a custom [verify.Verifier]: an error that is
// neither [verify.ErrInvalidToken] nor [verify.ErrUnavailable], or no
// claims and no error ([ReasonVerifierFailed]); [Interceptor.AuthFunc]
// called outside a gRPC call also answers Internal. No other code is
// returned by the interceptor itself; handlers' errors pass through.
//
// Status messages are fixed, client-safe sentences; they never contain the
// token or claim values.
//
// # Security posture
//
// It is fail-closed: a method without a rule is denied, never allowed, and
// [New] refuses a nil verifier or policy. Public methods skip verification
// entirely and carry no claims. The "authorization" metadata is left in the
// incoming context, so handlers that copy metadata into logs must drop it.
//
// # Streams
//
// A stream never outlives its token: at the token's deadline (exp plus the
// verifier's leeway, the instant unary calls with it start to fail) the
// handler's context is cancelled, further SendMsg and RecvMsg calls fail,
// and the stream ends with Unauthenticated ("the access token expired").
// The token is also verified again every [WithStreamRecheck] interval, so
// tokens without exp and revoked tokens end streams too. With
// [WithRevocations], an identity provider's event that revokes the token
// (package ssf) ends the stream at once, with [ReasonTokenRevoked].
//
// # Sender-constrained tokens
//
// A token bound to a client certificate (RFC 8705: cnf with x5t#S256) is
// accepted only on a call whose mutual-TLS connection was authenticated
// with that certificate; otherwise the call fails with Unauthenticated,
// error="invalid_token" and reason [ReasonCertificateRequired] (no
// certificate) or [ReasonCertificateMismatch] (another one). Bound tokens
// are held to their binding on every call, cached or not, whatever the
// rule says; bindings this package cannot check ([ReasonUnsupportedBinding])
// and DPoP-bound tokens without a proof ([ReasonDPoPProofRequired]) are
// refused, never treated as bearer tokens. A rule marked sender-constrained
// ([scopes.Rule.SenderConstrained], or sender_constrained in the proto
// rule) refuses bearer tokens ([ReasonSenderConstraintRequired]).
// [WithClientCertificate] reads the certificate from elsewhere, such as a
// header set by a TLS-terminating proxy, which it then trusts.
//
// # Observability
//
// An Interceptor records OpenTelemetry metrics through the meter provider
// of [WithMeterProvider] (by default the global one, which records nothing
// until the application installs an SDK):
//
//	oauthgate.server.decisions  counter, {call}: every decision, allowed or denied
//	  rpc.service, rpc.method, rpc.grpc.status_code, oauthgate.decision (allow, deny), oauthgate.reason (denials)
//
// The verifiers of package verify time their own verifications
// (oauthgate.verification.duration, with the cache hits they sampled) and
// set oauthgate.cache_hit on the call's span.
//
// The decisions counter is an observable counter over atomic counts, read
// when the SDK collects; its callback stays registered for the life of the
// meter provider. An [Authorizer]'s own [DenyError]
// reasons count as separate series up to 4096 (method, code, reason)
// series in all; further new reasons count as "_OTHER".
//
// Method names come from the policy: a method it does not declare is
// recorded as rpc.service and rpc.method "_OTHER", so a client cannot
// create series. No attribute carries a token, a claim value, a subject or
// a client ID. A denied stream message and a stream ended by its token are
// decisions too. With no SDK installed, recording allocates nothing; with
// one, it adds about 100 ns to a cached call.
//
// On the server span in the call's context (started by otelgrpc or grpc-go's
// stats/opentelemetry), a recording span gets oauthgate.decision,
// oauthgate.reason and oauthgate.cache_hit attributes, and a denial an
// "oauthgate.denied" event. [WithDecisionLog] writes every decision to a
// slog logger, for audit.
package interceptor
