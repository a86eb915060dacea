// Command oauthgate-dev-issuer is a local OAuth 2.0 authorization server for
// development: it lets the example server, grpcurl and your own service run
// end to end on a fresh machine, without a real authorization server.
//
// The guide to it is https://github.com/oauthgate/oauthgate/blob/main/docs/example-server.md.
//
//	go run ./cmd/oauthgate-dev-issuer serve
//	go run ./cmd/oauthgate-dev-issuer token -scope read:reports
//
// serve listens on 127.0.0.1:8765 (-addr), serves a JSON Web Key Set,
// discovery metadata (RFC 8414, OpenID Connect) and RFC 7662 introspection
// with the issuer identifier http://127.0.0.1:8765, prints that URL and the
// command that starts the example server against it, and runs until
// interrupted. Its signing key is generated at start and never written to
// disk, so tokens do not survive a restart.
//
// token asks the running server for an RFC 9068 JWT access token and prints
// it on stdout, so that it can be used as $(go run … token …):
//
//	-addr       the dev issuer's address (default 127.0.0.1:8765)
//	-scope      space-separated scopes (default none)
//	-sub        subject (default alice, the owner of reports r-1 and r-2)
//	-aud        audience; repeat for several (default https://reports.example.com)
//	-client-id  client_id claim (default client-1)
//	-ttl        lifetime (default 1h, at most 24h)
//
// Anybody who can reach the address can mint tokens, so serve listens on
// loopback addresses only and refuses requests for any other Host. Never
// point a service that matters at it.
package main
