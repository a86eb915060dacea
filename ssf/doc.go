// Package ssf receives the security events of identity providers (the
// OpenID Shared Signals Framework 1.0, with CAEP and RISC events, carried
// as Security Event Tokens, RFC 8417) and makes the verifiers of package
// verify act on them within seconds: continuous access evaluation.
//
// The guide to it is https://github.com/oauthgate/oauthgate/blob/main/docs/continuous-access.md.
//
// A [Receiver] is the http.Handler of an RFC 8935 push endpoint; a
// [Poller] fetches SETs from an RFC 8936 poll endpoint. Both verify each
// SET and apply its events to [Revocations], which the verifiers consult
// on every call, cache hits included:
//
//	rev, err := ssf.NewRevocations(ssf.RevocationsConfig{Retention: time.Hour})
//	recv, err := ssf.NewReceiver(rev, ssf.Config{Issuer: "https://idp.example.com", Audience: "https://api.example.com"})
//	defer recv.Close()
//	mux.Handle("POST /ssf/events", recv)
//	jwt, err := verify.NewJWT(keys, verify.JWTConfig{..., Revocations: rev})
//
// and interceptor.WithRevocations(rev) ends the open streams of a revoked
// subject. See the package example and docs/continuous-access.md.
//
// # Verification of a SET
//
// A SET is accepted only if it is a compact JWS in canonical base64url,
// with one signature by an allowed asymmetric algorithm and a key of the
// transmitter's key set (Config.Keys, or the jwks_uri of its
// /.well-known/ssf-configuration); its typ is secevent+jwt and it has no
// crit, b64 or cty header; its iss is the transmitter's and its aud holds
// the receiver's audience; it has a jti and an iat neither in the future
// (beyond the leeway) nor older than MaxAge, and no exp that has passed;
// its events member is an object of at most 16 events; and a subject of
// every event acted upon is understood. A jti accepted before is refused
// as a duplicate. A SET that fails any check is refused as a whole,
// changes nothing and leaves no trace ([*SETError], with the RFC 8935
// error code).
//
// # Subjects
//
// The subject is sub_id (SSF 1.0) or, for older transmitters, the event's
// subject member. Formats: iss_sub (tokens with that iss and sub), email
// (the email claim), opaque (the sub claim, whatever the issuer), jwt_id
// (one token, by iss and jti), aliases (any of its identifiers), and
// complex, whose user member is one of the above, narrowed to a session
// (the sid claim) and a tenant (verify.Claims.Tenant) given as opaque ids;
// a complex subject with only a session or a tenant concerns all tokens of
// that session or tenant. A token that does not name its session or
// tenant matches either: it may be of that session. Other complex members
// (device, application, group) are not compared, which widens the event:
// failing closed. Values compare byte for byte.
//
// # Events and actions
//
// SessionRevoked, CredentialChange, AccountDisabled, AccountPurged and
// SessionsRevoked refuse the subject's tokens issued at or before the
// event with verify.ErrRevoked and end its open streams;
// TokenClaimsChange makes cached verifications of the subject stale;
// AssuranceLevelChange also drops the step-up claims of JWTs issued
// before it (see verify.Revocation). The event's time is its CAEP
// event_timestamp, else the SET's toe, else its iat. Other event types,
// such as the SSF verification event, are accepted and ignored.
//
// # Limits
//
// An event is remembered for RevocationsConfig.Retention after it
// happened, the longest a token issued before it can live. The subjects
// remembered are bounded, in all and per transmitter
// (RevocationsConfig.MaxSubjects, Config.MaxSubjects): a SET that would
// exceed a bound is accepted but not stored; instead every verification
// made until then becomes stale, so the verifiers verify every token
// afresh. That fails closed to "re-verify", never to "allow": an
// introspected token is asked about again; a JWT's signature is checked
// again, which cannot tell that its subject was revoked, so size the
// bounds for the events your identity provider sends and watch
// [Revocations.Len]. A receiver remembers the last 10 000 jtis, within
// MaxAge; a replay of a forgotten one applies the same event again, which
// changes nothing. SETs are capped in size (Config.MaxSETSize) and in
// events.
//
// Everything is safe for concurrent use.
package ssf
