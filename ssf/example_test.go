package ssf_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/ssf"
	"github.com/oauthgate/oauthgate/verify"
)

// A session-revoked event pushed by the identity provider refuses the
// tokens of the session's user issued before it, even from the
// verifier's cache.
func Example() {
	idp, _ := oauthtest.Start()
	defer idp.Close()
	tr, _ := oauthtest.StartTransmitter()
	defer tr.Close()

	rev, _ := ssf.NewRevocations(ssf.RevocationsConfig{Retention: time.Hour})
	recv, _ := ssf.NewReceiver(rev, ssf.Config{Issuer: tr.URL, Audience: "https://api.example.com/ssf", InsecureAllowHTTP: true})
	defer recv.Close()
	push := httptest.NewServer(recv) // in a server: mux.Handle("POST /ssf/events", recv)
	defer push.Close()

	keys, _ := verify.NewStaticKeySet(idp.JWKS().Keys...)
	jwt, _ := verify.NewJWT(keys, verify.JWTConfig{Issuer: idp.URL, Audiences: []string{oauthtest.DefaultAudience}, Revocations: rev})
	tok, _ := idp.MintToken(oauthtest.Token{Subject: "alice", Lifetime: time.Hour, Claims: map[string]any{"iat": time.Now().Add(-time.Minute).Unix()}})
	c, err := jwt.Verify(context.Background(), tok)
	fmt.Println("before:", c.Subject(), err)

	set, _ := tr.MintSET(oauthtest.Event{Audience: "https://api.example.com/ssf", Type: ssf.SessionRevoked,
		Subject: oauthtest.IssSub(idp.URL, "alice")})
	status, _, _ := tr.PushContext(context.Background(), push.URL, set)
	fmt.Println("push:", status)

	_, err = jwt.Verify(context.Background(), tok)
	fmt.Println("after:", err)
	// Output:
	// before: alice <nil>
	// push: 202
	// after: verify: invalid token: token revoked (iat)
}
