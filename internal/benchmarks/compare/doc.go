// Package compare benchmarks oauthgate's uncached per-call authorization
// against golang-jwt v5 (github.com/golang-jwt/jwt/v5) and go-jose's jwt
// package used naively, on the same RS256 and ES256 access tokens as
// internal/benchmarks, interleaved with the crypto floor (issue #18). It
// has no non-test code; it lives in its own module so that users of
// oauthgate never inherit golang-jwt. Run it from this directory with
//
//	go test -run '^$' -bench Parity -benchmem -count=6 | tee new.txt
//
// See internal/benchmarks/README.md for the results and the profile.
package compare
