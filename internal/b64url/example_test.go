package b64url_test

import (
	"fmt"

	"github.com/oauthgate/oauthgate/internal/b64url"
)

// Only the one encoding RFC 7515 §2 allows is canonical: no padding, no
// line breaks, no spare bits in the last character.
func ExampleCanonical() {
	for _, s := range []string{"aGk", "aGk=", "aGl", "a+k"} {
		fmt.Printf("%s %v\n", s, b64url.Canonical(s))
	}
	// Output:
	// aGk true
	// aGk= false
	// aGl false
	// a+k false
}
