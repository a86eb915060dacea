package dpophttp_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/dpop"
	"github.com/oauthgate/oauthgate/dpop/dpophttp"
)

// A client holds a DPoP key and a token bound to it; the Transport signs
// a proof for each request: its method, and its URL without the query.
// The server here checks the proof as a resource server does.
func Example() {
	verifier, err := dpop.New(dpop.Config{})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := r.Header.Get("Authorization")[len("DPoP "):]
		_, err := verifier.Check(r.Header.Get("DPoP"), dpop.Request{
			Method: r.Method, URIs: []string{"http://" + r.Host + r.URL.Path}, AccessToken: token})
		fmt.Println(r.Method, r.URL.Path, "proof error:", err)
	}))
	defer srv.Close()

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	signer, err := dpop.NewSigner(key, jose.ES256, nil)
	if err != nil {
		panic(err)
	}
	tokens := func(context.Context) (string, error) { return "token-bound-to-" + signer.Thumbprint(), nil }
	t, err := dpophttp.NewTransport(signer, tokens, nil) // cleartext is allowed to 127.0.0.1 only
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: t}
	for _, u := range []string{srv.URL + "/reports/7?format=pdf", "http://reports.example.com/reports/7"} {
		if resp, err := client.Get(u); err != nil {
			fmt.Println("error:", err)
		} else {
			resp.Body.Close()
		}
	}
	// Output:
	// GET /reports/7 proof error: <nil>
	// error: Get "http://reports.example.com/reports/7": dpophttp: refusing to send a token over cleartext http to a non-loopback host
}
