package main

import (
	"testing"

	"github.com/oauthgate/oauthgate/oauthtest"
)

func TestWiring(t *testing.T) {
	iss := oauthtest.NewIssuer(t) // an authorization server on 127.0.0.1, for tests
	srv, policy, err := newServer(iss.URL)
	if err != nil {
		t.Fatal(err)
	}
	// Calls each RPC without a token, then without its scope: each must be denied.
	oauthtest.CheckWiring(t, srv, policy, iss, oauthtest.Token{Audience: []string{"https://hello.example.com"}})
}
