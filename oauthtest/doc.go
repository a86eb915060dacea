// Package oauthtest is an in-process OAuth 2.0 authorization server for
// tests and demos of OAuth-protected gRPC services; it is not for
// production use.
//
// An [Issuer] listens on 127.0.0.1 and serves what a resource server needs
// from its authorization server:
//
//   - a JSON Web Key Set at /jwks.json ([Issuer.JWKSURL]), public keys only;
//   - RFC 8414 metadata at /.well-known/oauth-authorization-server and
//     OpenID Connect Discovery metadata at /.well-known/openid-configuration,
//     whose issuer is [Issuer].URL;
//   - RFC 7662 token introspection at /introspect ([Issuer.IntrospectionURL]),
//     with client_secret_basic or client_secret_post authentication
//     ([Issuer.ClientID], [Issuer.ClientSecret]).
//
// [Issuer.Token] mints RFC 9068 JWT access tokens signed with ES256
// (default), RS256 or EdDSA; [Issuer.OpaqueToken] mints opaque tokens only
// introspection can resolve. [TokenOption] values shape every header and
// claim, including invalid ones, so a verifier's failure paths can be
// tested. [Issuer.RotateKeys] rotates signing keys at once,
// [Issuer.RolloverKeys] keeps the previous ones published, and [Issuer.SetFault]
// makes an endpoint fail (down, error status, slow, garbage, huge, any
// status/content type/body, a redirect) at run time; [Issuer.SetHeader]
// sets response headers such as Cache-Control, Age, Expires and Date;
// [Issuer.Requests] counts the requests each endpoint received.
// [SharedStore] is an in-memory stand-in for the Redis that replicas share
// (a dpop.ReplayStore and a verify.IntrospectionCache), for tests of
// several replicas in one process.
// [WithIssuerPath] gives the issuer a path, as multi-tenant servers have.
//
// # Time
//
// A [Clock] is a settable clock to inject wherever code under test reads
// the time ([WithClock] for the issuer). Code that waits on timers is best
// tested inside a testing/synctest bubble, where time is fake; sockets do
// not work there, so create the issuer in the bubble with [WithInMemory]
// and give the code under test [Issuer.Client] (or [Issuer.Transport]),
// which serve the issuer's endpoints in memory.
//
// # gRPC servers
//
// [ServeServer] serves in memory a server your code built, [ServeGRPC] one
// it builds from options and a registration function ([ServeGRPCTCP] on
// 127.0.0.1), and [Bearer] attaches a token to one call, so a test of a
// protected service takes a few lines:
//
//	iss := oauthtest.NewIssuer(t)
//	srv, err := newServer(keys) // your server, with a verifier trusting iss
//	conn := oauthtest.ServeServer(t, srv)
//	_, err = pb.NewLibraryServiceClient(conn).GetBook(ctx, req,
//		oauthtest.Bearer(iss.Token(t, oauthtest.WithScopes("library.read"))))
//
// [CheckWiring] proves that no call to such a server gets past oauthgate:
// it calls every registered method, unary and streaming, without a token
// and with a token lacking the method's scopes, and fails naming each
// method that oauthgate did not deny.
//
// # Mutual TLS
//
// [NewCertificates] generates a throwaway CA with a server and a client
// certificate; [ServeGRPCTLS] serves gRPC over mutual TLS on 127.0.0.1 and
// [DialGRPC] with [Certificates.DialOption] connects as another client or
// as one without a certificate. [WithCertificateBinding] mints tokens bound
// to a certificate (RFC 8705), [WithConfirmation] any other cnf claim.
//
// # DPoP
//
// [NewDPoPKey] is a client's DPoP key (RFC 9449): [WithDPoPBinding] binds a
// token to it, [DPoPKey.Proof] signs proofs (broken on purpose with
// [WithProofClaim], [WithProofHeader], [WithPrivateKeyInProof]), and
// [DPoPKey.Credentials] gives grpc-go per-call credentials that send a
// fresh proof with every call.
//
// # Lifecycle
//
// [NewIssuer] follows net/http/httptest with a testing.TB: it calls
// tb.Helper, fails the test with tb.Fatalf on a setup error and closes the
// issuer with tb.Cleanup. Programs that have no testing.TB, such as demos
// and examples, call [Start], which returns an error, and must call
// [Issuer.Close]. Likewise [Issuer.MintToken] and [Issuer.MintOpaque] return
// errors where [Issuer.Token] and [Issuer.OpaqueToken] fail the test.
// Nothing in this package panics on bad input.
//
// # Security
//
// Keys are generated per issuer and never leave the process, but the
// issuer deliberately mints tokens that a correct verifier must reject, its
// default introspection credentials are public constants, and [Bearer]
// sends tokens over insecure connections. Never use it to protect anything.
package oauthtest
