package fleetsim_test

import (
	"fmt"

	"github.com/oauthgate/oauthgate/bench/fleetsim"
)

// Each scenario runs at every size up to the largest fleet; a scenario
// needs a *testing.T (its synctest bubble), so TestFleet plays them.
func ExampleSizes() {
	fmt.Println(fleetsim.Sizes(100))
	fmt.Println(fleetsim.Sizes(2500))
	fmt.Println(fleetsim.Sizes(10000))
	// Output:
	// [100]
	// [100 1000 2500]
	// [100 1000 10000]
}
