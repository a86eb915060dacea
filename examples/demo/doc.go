// Command demo shows oauthgate protecting a gRPC service, end to end, in a
// few seconds and without any external server:
//
//	go run ./examples/demo
//
// It starts an in-process authorization server ([oauthtest.Start]) and the
// example report service ([reports.NewServer]) on 127.0.0.1, the service
// verifying JWT access tokens against the issuer's JWKS endpoint (a
// [verify.RemoteKeySet]) and opaque tokens through its RFC 7662
// introspection endpoint, routed by [verify.ByShape]. It then makes a
// scripted series of calls over real TCP and prints a table that fits a
// 100-column terminal: per call, the RPC, the token it carried (described,
// never printed), the gRPC code and the google.rpc.ErrorInfo reason, then,
// indented, the result or status message and the www-authenticate
// challenge (without its error_description, which repeats the message).
//
// The scenarios cover missing, malformed, garbage, expired and
// wrong-audience tokens; missing scopes; the OR rule of GetReport and the
// AND rule of DeleteReport and its step-up requirement (MFA in the last
// five minutes: refused without it, allowed with it); GetReport's owner
// condition (alice reading bob's report is denied with CONDITION_NOT_MET,
// naming the condition; an admin reads it); public methods; both streaming
// kinds; a token that expires mid-stream; a JWKS outage, which answers
// Unavailable rather than condemning a good token; opaque tokens, active
// and revoked; and a stream ended at once by a CAEP session-revoked event
// that an in-process Shared Signals transmitter pushes (package ssf).
package main
