package scopeset_test

import (
	"fmt"

	"github.com/oauthgate/oauthgate/scopeset"
)

// A scope claim is either a space-delimited string or an array of strings;
// anything else is an error, never an empty set.
func ExampleSet_UnmarshalJSON() {
	for _, claim := range []string{`"read:reports admin"`, `["read:reports","admin"]`, `42`, `["read:reports admin"]`} {
		var s scopeset.Set
		if err := s.UnmarshalJSON([]byte(claim)); err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(s.Len(), s)
	}
	// Output:
	// 2 admin read:reports
	// 2 admin read:reports
	// scopeset: invalid scope: scope claim is neither a string nor an array of strings
	// scopeset: invalid scope: scope contains a character outside RFC 6749 scope-token syntax
}
