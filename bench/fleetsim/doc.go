// Package fleetsim simulates a fleet of replicas of a service protected by
// oauthgate against one authorization server, to measure the load the
// fleet puts on that server and what its replicas answer meanwhile.
//
// It runs the production code, not a model of it: every replica is a real
// [verify.RemoteKeySet] (or [verify.Introspection]) with an HTTP client of
// its own, whose transport is the in-memory transport of one
// [oauthtest.Issuer], so no socket is opened. Everything runs inside one
// testing/synctest bubble, whose clock is fake: 24 hours of 10 000
// replicas take seconds of wall time, and every timer (refresh schedules,
// backoff, cooldowns, cache lifetimes) behaves as in production.
//
// A [Sim] counts the requests each endpoint receives in every simulated
// second, and what each call to a replica answered. [Scenarios] lists the
// scenarios of issue #20 (steady state, deploy storm, key rotation,
// outage and recovery, unknown-kid flood, opaque tokens) and of issue #28
// (opaque tokens with a second-level introspection cache the replicas
// share, modelled in memory by an [oauthtest.SharedStore], since no Redis
// runs in a synctest bubble); each adds what it measured, and the targets
// it checked, to a [Report], which [Report.Markdown] prints.
//
// # Running it
//
// The package's test runs every scenario and fails on any missed target.
// By default it uses a fleet of 100 replicas, fast enough for
// `go test -race ./...`; CI runs it again at 1 000 replicas without the
// race detector, and the committed RESULTS.md is produced at 10 000:
//
//	go test ./bench/fleetsim -run '^TestFleet$' -count=1 -fleet.n=10000 -fleet.out=RESULTS.md
//
// (testing/synctest needs a *testing.T, so the "command" is a test with
// flags; -fleet.out is relative to the package directory.)
package fleetsim
