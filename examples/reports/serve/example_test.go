package serve_test

import (
	"context"
	"fmt"
	"io"

	"github.com/oauthgate/oauthgate/examples/reports/serve"
)

// Main checks the whole command line before anything listens: here a
// server with neither -issuer nor -jwks has no way to verify tokens.
func ExampleCommand_Main() {
	status := serve.Command{}.Main(context.Background(), []string{"-addr", "127.0.0.1:0"},
		func(string) string { return "" }, io.Discard)
	fmt.Println("exit status:", status)
	// Output: exit status: 2
}
