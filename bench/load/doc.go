// Command load is the load benchmark of issue #18: it serves the example
// report service (examples/reports, the service of the standalone example
// server) in this process on 127.0.0.1, once per configuration, and loads
// it with ghz's runner (github.com/bojand/ghz, pinned in this module).
//
// It compares, in short interleaved rounds so that machine noise hits
// every configuration alike: no auth (the same service, with fixed claims
// put in the context and no token check) · oauthgate with its verified-token
// cache · oauthgate uncached (RS256, ES256) · opaque tokens with a cached
// introspection answer · a fresh token on every call. Each is measured at a
// fixed concurrency (closed loop) and at a fixed offered rate (open loop:
// ghz's async mode sends on schedule whatever the answers, so queueing shows
// in the latencies). Tokens are reused realistically: 1 000 distinct tokens
// per configuration, picked per call from a Zipf distribution. The targets
// for the cached configurations are read from paired runs, in which no
// auth and the cached server are loaded at the same time by two ghz runs,
// so that both meet the same machine.
//
// Then it runs the fault scenarios, each with its own authorization server
// (oauthtest) and report server: key rotation under load, the JWKS endpoint
// down and slow, and a cold start while the key set loads. It writes a
// Markdown report with pass/fail against the targets of issue #18.
//
// Run it with bash bench/load/run.sh from the repository root; -h lists the
// flags. Every phase is bounded in time and the program stops on its own.
package main
