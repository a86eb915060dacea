// Package readiness ties what oauthgate needs to verify tokens (a remote
// key set, an introspection endpoint) to grpc-go's health service, so that
// load balancers and Kubernetes gRPC readiness probes
// (grpc.health.v1.Health/Check and Watch) send no traffic to a replica that
// cannot verify tokens.
//
// The guide to it is https://github.com/oauthgate/oauthgate/blob/main/docs/observability.md.
//
// A [Watcher] polls its [Source] values and sets the health status of its
// services: NOT_SERVING until every source is ready, SERVING while they all
// are, and NOT_SERVING again as soon as one is not, until it recovers.
//
//   - A [verify.RemoteKeySet] is ready once its first key set is fetched,
//     and not ready while the last good set is older than its MaxStale. It
//     is a [Prober] too: the Watcher's probe starts its background fetch,
//     so a key set nothing else has used yet still gets its keys.
//   - A [verify.Introspection] is ready once its endpoint has answered a
//     request, and not ready after a request the endpoint could not answer
//     (unreachable, too slow, an error status, a malformed answer). It is a
//     [Prober]: while it is not ready, the Watcher sends the endpoint a
//     probe at every poll (one at a time), a request for a random value that must come back
//     inactive, since a replica out of rotation makes no other request. The
//     first status is NOT_SERVING until the first probe succeeds; Watch
//     itself does no network I/O.
//
// Watch what every call needs. A replica that also verifies JWTs
// ([verify.ByShape]) should not watch its introspection endpoint: an
// outage of that endpoint would take the JWT calls, which do not need it,
// out of rotation too, on every replica at once.
//
// Register the health service as public in the policy: health checks carry
// no token.
//
//	hs := health.NewServer()
//	healthpb.RegisterHealthServer(srv, hs)
//	w, err := readiness.Watch(readiness.Config{Health: hs, Sources: []readiness.Source{keys}})
//	defer w.Close()
//
// See [Watch] for an introspection verifier.
package readiness
