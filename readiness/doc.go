// Package readiness ties what oauthgate needs to verify tokens (a remote
// key set, an introspection endpoint) to grpc-go's health service, so that
// load balancers and Kubernetes gRPC readiness probes
// (grpc.health.v1.Health/Check and Watch) send no traffic to a replica that
// cannot verify tokens.
//
// A [Watcher] polls its [Source] values and sets the health status of its
// services: NOT_SERVING until every source is ready (for a
// [verify.RemoteKeySet]: until its first key set is fetched), SERVING
// while they all are, and NOT_SERVING again as soon as one is not (for a
// key set: when the last good set is older than its MaxStale), until it
// recovers.
//
// Register the health service as public in the policy: probes carry no
// token.
//
//	hs := health.NewServer()
//	healthpb.RegisterHealthServer(srv, hs)
//	w, err := readiness.Watch(readiness.Config{Health: hs, Sources: []readiness.Source{keys}})
//	defer w.Close()
package readiness
