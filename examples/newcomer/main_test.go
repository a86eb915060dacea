package main

import (
	"testing"

	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/verify"
)

func TestWiring(t *testing.T) {
	iss := oauthtest.NewIssuer(t) // an authorization server on 127.0.0.1, for tests
	keys, err := verify.NewStaticKeySet(iss.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	srv, policy, err := newServer(iss.URL, keys)
	if err != nil {
		t.Fatal(err)
	}
	// Calls each RPC without a token, then without its scope: each must be denied.
	oauthtest.CheckWiring(t, srv, policy, iss, oauthtest.Token{Audience: []string{"https://hello.example.com"}})
}
