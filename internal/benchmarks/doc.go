// Package benchmarks holds the end-to-end benchmark suite of issue #8; it
// has no non-test code. One run reports, benchstat-friendly:
//
//   - BenchmarkUnary: a unary RPC (LibraryService.GetBook) over bufconn and
//     127.0.0.1, serial and with 16 parallel clients, with no interceptor
//     and through oauthgate with RS256, ES256 and EdDSA tokens, cache off
//     and on;
//   - BenchmarkAuthorize: the interceptor's whole per-call work (bearer
//     extraction, verified claims, rule lookup, scope check, context) with
//     the cache off and on, without a transport;
//   - BenchmarkVerify: oauthgate's JWT verifier uncached and cached, bare
//     go-jose (JWS only, and its jwt package), and the crypto floor
//     (SHA-256 and crypto/* verification) for the same token;
//   - BenchmarkThroughputRatio: calls alternating between a no-auth server
//     and a cached oauthgate server over 127.0.0.1 from 16 clients, reporting
//     the throughput ratio directly so that machine drift cancels out;
//   - BenchmarkThroughputRatioMTLS: the same over mutual TLS, with an
//     ES256 token bound to the client certificate (RFC 8705);
//   - BenchmarkPolicyLookup and BenchmarkCacheHit;
//   - BenchmarkCacheHitBinding: BenchmarkAuthorize with a cached bearer
//     token and a cached certificate-bound one (RFC 8705) on a mutual-TLS
//     call, interleaved, reporting the binding check's cost as binding-ns.
//
// Run it with
//
//	go test ./internal/benchmarks -run '^$' -bench . -benchmem -benchtime=1s -count=6 | tee new.txt
//	benchstat new.txt
//
// The targets are ratios within one run; see docs/performance.md.
package benchmarks
