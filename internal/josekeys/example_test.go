package josekeys_test

import (
	"fmt"

	"github.com/go-jose/go-jose/v4"
	"github.com/oauthgate/oauthgate/internal/josekeys"
)

// The allowlist refuses what no verifier should accept, such as "none"
// or HMAC, whatever the configuration says.
func ExampleAllowlist() {
	algs, err := josekeys.Allowlist([]jose.SignatureAlgorithm{jose.ES256, jose.RS256})
	fmt.Println(algs, err)
	_, err = josekeys.Allowlist([]jose.SignatureAlgorithm{jose.HS256})
	fmt.Println(err != nil)
	// Output:
	// [ES256 RS256] <nil>
	// true
}
