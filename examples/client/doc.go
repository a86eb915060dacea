// Command client calls the example report service with an OAuth 2.0
// access token and prints what the server answers:
//
//	OAUTHGATE_TOKEN=$(get-a-token) go run ./examples/client -addr reports.example.com:443 -owner alice -id r-1
//	go run ./examples/client -addr 127.0.0.1:50051 -insecure -token "$TOKEN"
//
// It calls GetServerInfo (public) and GetReport. A failed call is printed
// as its gRPC code, its google.rpc.ErrorInfo reason (with the name of the
// condition that denied it, for CONDITION_NOT_MET), its message and the
// www-authenticate challenge, which tells an OAuth client what to do next:
// get a token (no error code), get a new one (invalid_token), or ask for
// more scopes (insufficient_scope, scope="…").
//
// Flags:
//
//	-addr      server address, host:port (default 127.0.0.1:50051)
//	-token     access token (default $OAUTHGATE_TOKEN; the variable keeps
//	           the token out of the process list and shell history)
//	-owner     sub of the owner of the report to read (default alice)
//	-id        report to read (default r-1)
//	-insecure  plaintext, for a server on a loopback address only
//
// Without -insecure the connection uses TLS with the system's roots. The
// exit status is 0 when every call succeeds, 1 when one fails and 2 for
// invalid flags.
package main
