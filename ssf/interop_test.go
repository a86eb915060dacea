package ssf_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/ssf"
	"github.com/oauthgate/oauthgate/verify"
)

// TestInterop_NodeCrypto verifies SETs signed by an independent JOSE
// implementation: Node's built-in node:crypto, assembled by
// testdata/sign_set.js without npm packages. It skips without node
// (Debian/Ubuntu package nodejs), except under CI=true, where it fails.
func TestInterop_NodeCrypto(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is not installed (package nodejs); CI=true needs the interop test")
		}
		t.Skip("node is not installed (package nodejs)")
	}
	const issuer = "https://idp.example.com"
	for _, alg := range []string{"ES256", "RS256"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			now := time.Now()
			claims := map[string]any{"iss": issuer, "aud": receiverAudience, "iat": now.Unix(), "jti": "node-" + alg,
				"sub_id": map[string]any{"format": "iss_sub", "iss": issuer, "sub": "alice"},
				"events": map[string]any{ssf.SessionRevoked: map[string]any{"event_timestamp": now.Unix()}}}
			in, _ := json.Marshal(map[string]any{"alg": alg, "kid": "node-" + alg, "claims": claims})
			cmd := exec.CommandContext(t.Context(), node, "testdata/sign_set.js")
			cmd.Stdin = bytes.NewReader(in)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("node testdata/sign_set.js: %v: %s", err, stderr.String())
			}
			var signed struct {
				JWK jose.JSONWebKey `json:"jwk"`
				SET string          `json:"set"`
			}
			if err := json.Unmarshal(out, &signed); err != nil {
				t.Fatalf("node output: %v", err)
			}
			keys, err := verify.NewStaticKeySet(signed.JWK)
			if err != nil {
				t.Fatal(err)
			}
			rev, err := ssf.NewRevocations(ssf.RevocationsConfig{Retention: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			recv, err := ssf.NewReceiver(rev, ssf.Config{Issuer: issuer, Audience: receiverAudience, Keys: keys})
			if err != nil {
				t.Fatal(err)
			}
			// A flipped signature byte is refused, and changes nothing.
			sig := []byte(signed.SET[strings.LastIndexByte(signed.SET, '.')+1:])
			sig[3] = map[bool]byte{true: 'B', false: 'A'}[sig[3] == 'A']
			forged := signed.SET[:strings.LastIndexByte(signed.SET, '.')+1] + string(sig)
			if code := pushCode(recv, forged); code != http.StatusBadRequest {
				t.Errorf("push of a forged node SET = %d, want 400", code)
			}
			if n, _ := rev.Len(); n != 0 {
				t.Fatalf("Len() = %d after a forged SET, want 0", n)
			}
			if code := pushCode(recv, signed.SET); code != http.StatusAccepted {
				t.Fatalf("push of the node SET = %d, want 202", code)
			}
			c, err := verify.ParseClaims([]byte(`{"iss":"` + issuer + `","sub":"alice","iat":` + jsonNumber(now.Add(-time.Minute)) + `}`))
			if err != nil {
				t.Fatal(err)
			}
			if rv := rev.Lookup(c); rv.Revoked.IsZero() {
				t.Error("Lookup(alice) after the node SET = no revocation")
			}
		})
	}
}

func pushCode(h http.Handler, set string) int {
	status, _ := oauthtest.PushTo(h, set)
	return status
}

func jsonNumber(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }
