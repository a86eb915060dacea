package reason_test

import (
	"errors"
	"fmt"

	"github.com/oauthgate/oauthgate/internal/reason"
)

// A package declares a class and its reasons once; a rejection's message
// names both, and its description is the reason's sentence for clients.
func ExampleNew() {
	errInvalid := errors.New("verify: invalid token")
	errExpired := reason.New("verify: token expired", "the access token expired")
	fmt.Println(reason.Message(errInvalid, errExpired, "exp"))
	fmt.Println(reason.Describe(fmt.Errorf("checking: %w", errExpired), "the access token is invalid"))
	fmt.Println(reason.Describe(errors.New("other"), "the access token is invalid"))
	// Output:
	// verify: invalid token: token expired (exp)
	// the access token expired
	// the access token is invalid
}
