// Package redisstore keeps the state that the replicas of a service
// protected by oauthgate must share in Redis or Valkey: the DPoP replay
// check ([dpop.ReplayStore]), so that a proof accepted by one replica is
// refused by all the others, a second-level introspection cache
// ([verify.IntrospectionCache]), so that the authorization server gets one
// introspection request per token per CacheTTL from the whole fleet rather
// than from each replica, and the fan-out of Shared Signals events
// ([ssf.Fanout]), so that an event pushed to one replica reaches every
// replica, also one that starts later.
//
// The guide to it is https://github.com/oauthgate/oauthgate/blob/main/docs/operations.md.
//
//	client, err := valkey.NewClient(valkey.ClientOption{InitAddress: []string{"redis:6379"}, ...}) // TLS, ACL user, cluster: yours
//	store, err := redisstore.New(client, redisstore.Config{Secret: secret}) // 32+ random bytes, the same on every replica
//	proofs, err := dpop.New(dpop.Config{ReplayStore: store})
//	intro, err := verify.NewIntrospection(verify.IntrospectionConfig{..., SharedCache: store})
//
// The application configures the client (addresses, TLS, ACL credentials,
// standalone or cluster) and owns it; a [Store] only sends commands
// through it.
//
// # What is stored
//
// Entries are named Prefix + kind + hex(HMAC-SHA256(Secret, digest)),
// where the digest is what oauthgate passes: SHA-256 of a proof key's
// thumbprint and jti, or of a token with the introspection endpoint and
// client ID. No token, proof or claim is ever a name. Kinds are r: (a
// recorded proof, value "1"), i: (an introspection response with when it
// was received, and an HMAC tag under the Secret that binds it to its
// name), l: (a fill lock) and e: (a sorted set of the signed SETs of one
// transmitter, scored by when each expires, also the name of the Pub/Sub
// channel they are published on). Every entry is written with PX and
// expires on its own: a proof when no replica could accept it any more, a
// response at the introspection CacheTTL (never beyond the token's exp) or
// NegativeCacheTTL, a lock after at most a second, a set of SETs after the
// receivers' MaxAge (its members are dropped as they expire, and beyond
// 10 000). Each operation touches one key, so the names need no hash tags
// in a cluster. SETs are stored as received: every replica verifies their
// signatures again, so whoever can write to the server can withhold
// events, never forge one.
//
// # Failures
//
// Every round trip has a deadline (Config.Timeout, 50 ms by default; on
// loopback a round trip takes tens of microseconds, but on a replica whose
// cores are all busy Go's scheduler may notice a network completion only
// at its next 10 ms poll, so raise it for replicas that run saturated).
// The replay check fails closed: if Redis is unreachable, slower than
// that, or refuses the write (out of memory), the DPoP call fails with
// Unavailable and the ErrorInfo reason DPOP_REPLAY_STORE_UNAVAILABLE,
// unless Config.InsecureLocalReplayFallback makes the dpop.Verifier fall
// back to its in-process cache. The introspection cache never rejects a
// token: on any error the Introspection asks the authorization server. A
// value without a valid tag is treated as absent and overwritten.
//
// # Memory
//
// The in-process replay cache bounds the proofs it holds, in all and per
// key (dpop.Config.ReplayCacheSize and ReplayKeyLimit); Redis is bounded
// by its maxmemory. Give the replay check a server (or database) with
// maxmemory-policy noeviction: when it is full, writes fail and DPoP calls
// are refused with Unavailable until proofs expire, which is fail-closed;
// an evicting policy would forget recorded proofs and let replays through.
// A proof's entry takes about 180 bytes (Redis 7.0, the default prefix)
// and lives until no replica could accept the proof (its iat plus the DPoP
// window plus 5 s: 65 s for a fresh proof with the default 60 s window, at
// most 125 s), so 10 000 DPoP calls a second hold about 650 000 entries,
// some 120 MB. Only proofs of authenticated calls (token verified and
// bound to the proof's key) are written; one client with a valid token can
// still write as fast as it can call, so rate-limit clients upstream if
// the server is small.
//
// A server that restarts empty, or a failover to a replica that had not
// received the latest writes, forgets the proofs it held, as a replica's
// own cache forgets its proofs when the replica restarts: each such proof
// can be replayed once within its window. Persistence (appendonly) or
// waiting one DPoP window before sending DPoP traffic to a fresh server
// closes that gap. After a restart each of the client's connections fails
// the first command sent on it; writes are not retried, because a retried
// SET NX would report its own first attempt as a replay.
//
// # Readiness
//
// A Store is a readiness.Prober: [Store.Ready] reports the outcome of its
// last round trip and [Store.Probe] writes a short-lived entry. Add it to
// the readiness sources when DPoP calls depend on it.
//
// # Observability
//
// With the meter provider of Config.MeterProvider (by default the global
// one):
//
//	oauthgate.redis.commands   counter, {command}: round trips, by oauthgate.redis.op
//	                           (replay, get, set, lock, unlock, probe) and oauthgate.result
//	                           (ok, timeout, error; bad_value for a get whose value failed its tag)
//	oauthgate.redis.duration   histogram, s, buckets 50µs to 1s: round trips, same attributes
//	oauthgate.redis.fallbacks  counter, {call}: calls that went on without Redis, by
//	                           oauthgate.redis.op: replay (in-process, with the insecure
//	                           fallback), introspection (asked the authorization server)
//
// # Client library
//
// The store uses github.com/valkey-io/valkey-go rather than
// github.com/redis/go-redis/v9. On this workload (SET NX PX and GET of a
// 600-byte value) against a local redis-server 7.0, on 2 cores, the two
// are alike for one caller at a time (13-19 µs per round trip each), but
// with 32 concurrent callers valkey-go's automatic pipelining gives 2.5-4
// times the throughput (SET NX PX 5.6-8.7 µs per call against 16-20 µs;
// GET 3.2-4.7 µs against 14-23 µs), with 4 allocations per call instead
// of 12. Every DPoP call of every request goroutine makes one round trip,
// so concurrency is the case that matters. valkey-go speaks RESP3, so it
// needs Redis 6 or later, or Valkey.
package redisstore
