package flight_test

import (
	"context"
	"fmt"

	"github.com/oauthgate/oauthgate/internal/flight"
)

// A second Start for a key whose call is in flight joins that call instead
// of starting another.
func ExampleGroup_Start() {
	var g flight.Group[string, int]
	release := make(chan struct{})
	first, started := g.Start("jwks", func() (int, error) { <-release; return 42, nil })
	fmt.Println("first started:", started)
	second, started := g.Start("jwks", func() (int, error) { return 0, nil })
	fmt.Println("second started:", started, "same call:", first == second)
	close(release)
	v, err := second.Wait(context.Background())
	fmt.Println(v, err)
	g.Wait()
	// Output:
	// first started: true
	// second started: false same call: true
	// 42 <nil>
}
