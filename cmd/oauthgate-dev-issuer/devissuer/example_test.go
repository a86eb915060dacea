package devissuer_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/oauthgate/oauthgate/cmd/oauthgate-dev-issuer/devissuer"
)

// Start serves the dev issuer (here on a free loopback port) and
// RequestToken asks it for a token, as `oauthgate-dev-issuer token` does.
func ExampleRequestToken() {
	srv, err := devissuer.Start("127.0.0.1:0", "https://hello.example.com")
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addr := strings.TrimPrefix(srv.URL, "http://")
	tok, err := devissuer.RequestToken(ctx, addr, devissuer.TokenRequest{Scopes: []string{"hello.read"}})
	if err != nil {
		panic(err)
	}
	fmt.Println("JWS segments:", strings.Count(tok, ".")+1)
	// Output: JWS segments: 3
}
