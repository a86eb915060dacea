// Package oauthtest is an in-process OAuth 2.0 authorization server for
// tests and demos of OAuth-protected gRPC services; it is not for
// production use.
//
// The guide to it is https://github.com/oauthgate/oauthgate/blob/main/docs/testing.md.
//
// An [Issuer] listens on 127.0.0.1 and serves what a resource server needs
// from its authorization server, at the URLs [Issuer.EndpointURL] gives:
//
//   - a JSON Web Key Set ([EndpointJWKS]), public keys only;
//   - RFC 8414 metadata ([EndpointOAuthMetadata]) and OpenID Connect
//     Discovery metadata ([EndpointOpenIDConfiguration]), whose issuer is
//     [Issuer].URL;
//   - RFC 7662 token introspection ([EndpointIntrospection]), with
//     client_secret_basic or client_secret_post authentication
//     ([Issuer].ClientID and ClientSecret);
//   - a token endpoint ([EndpointToken]) for the services of a chain that
//     call each other (package outbound): the client credentials grant and
//     RFC 8693 token exchange (issuing act) for the [Client]s of
//     [IssuerConfig].Clients, authenticated by client_secret_basic,
//     private_key_jwt or tls_client_auth, with DPoP proofs (and a nonce
//     challenge with [IssuerConfig].DPoPNonce) and tokens bound to the
//     client certificate over mutual TLS.
//
// [Issuer.Token] mints RFC 9068 JWT access tokens signed with ES256
// (default), RS256 or EdDSA; [Issuer.OpaqueToken] mints opaque tokens only
// introspection can resolve. A [Token] describes the token: its zero fields
// take the defaults, and its Claims and Header can set any claim or header
// parameter, including invalid ones, so a verifier's failure paths can be
// tested:
//
//	iss := oauthtest.NewIssuer(t)
//	tok := iss.Token(t, oauthtest.Token{Subject: "alice", Scopes: []string{"orders.read"}})
//	expired := iss.Token(t, oauthtest.Token{Lifetime: -time.Minute})
//	noExp := iss.Token(t, oauthtest.Token{Claims: map[string]any{"exp": nil}})
//
// An [IssuerConfig] configures the issuer itself: its default algorithm
// and audience, its clock, TLS, a path as multi-tenant servers have.
// [Issuer.RotateKeys] rotates signing keys at once, [Issuer.RolloverKeys]
// keeps the previous ones published, and [Issuer.SetFault] makes an
// endpoint misbehave ([Fault]: down, slow, an error status, garbage, a huge
// body, any status/content type/body, a redirect) at run time;
// [Issuer.SetHeader] sets response headers such as Cache-Control, Age,
// Expires and Date; [Issuer.Requests] counts the requests each endpoint
// received.
//
// A [Transmitter] is an in-process Shared Signals transmitter for package
// ssf: it signs Security Event Tokens ([Transmitter.SET], described by an
// [Event]), pushes them ([Transmitter.Push], or [PushTo] in memory) and
// serves its configuration metadata, keys and a poll endpoint.
//
// [NewIssuer] and [Start], the minting methods, [CheckWiring] and
// [DPoPKey.Proof] take an [IssuerConfig], a [Token] or a [Proof] as
// optional last arguments: none for the defaults, one, or several merged
// in order, so that a test helper can add its own to its caller's.
//
// # Time
//
// A [Clock] is a settable clock to inject wherever code under test reads
// the time ([IssuerConfig].Now for the issuer). Code that waits on timers
// is best tested inside a testing/synctest bubble, where time is fake;
// sockets do not work there, so create the issuer in the bubble with
// [IssuerConfig].InMemory and give the code under test [Issuer.Client],
// which serves the issuer's endpoints in memory.
//
// # gRPC servers
//
// [ServeGRPC] serves in memory a server your test or your code built
// ([ServeGRPCTCP] on 127.0.0.1), and [Bearer] attaches a token to one
// call, so a test of a protected service takes a few lines:
//
//	iss := oauthtest.NewIssuer(t)
//	srv, err := newServer(keys) // your server, with a verifier trusting iss
//	conn := oauthtest.ServeGRPC(t, srv)
//	_, err = pb.NewLibraryServiceClient(conn).GetBook(ctx, req,
//		oauthtest.Bearer(iss.Token(t, oauthtest.Token{Scopes: []string{"library.read"}})))
//
// [CheckWiring] proves that no call to such a server gets past oauthgate:
// it calls every registered method, unary and streaming, without a token
// and with a token lacking the method's scopes, and fails naming each
// method that oauthgate did not deny.
//
// # Mutual TLS
//
// [NewCertificates] generates a throwaway CA with a server and a client
// certificate; [ServeGRPCTCP] serves a server built with
// [Certificates.ServerTLSConfig] over mutual TLS, and [DialGRPC] with
// [Certificates.DialOption] connects as another client or as one without
// a certificate. [Token].Certificate mints tokens bound to a certificate
// (RFC 8705), [Token].Confirmation any other cnf claim.
//
// # DPoP
//
// [NewDPoPKey] is a client's DPoP key (RFC 9449): [Token].DPoPKey binds a
// token to it, [DPoPKey.Proof] signs proofs (broken on purpose with a
// [Proof]), and [DPoPKey.Credentials] gives grpc-go per-call credentials
// that send a fresh proof with every call.
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
