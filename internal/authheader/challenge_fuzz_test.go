package authheader

import (
	"strings"
	"testing"
)

// FuzzDemandsNonce feeds the challenge reader what a server may send: it
// must end, never panic, and find a demand only where one is written.
func FuzzDemandsNonce(f *testing.F) {
	for _, seed := range []string{
		`DPoP algs="ES256", error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`,
		`dpop error=use_dpop_nonce`,
		`DPoP realm="a, error=x", error="use_dpop_nonce"`,
		`DPoP error="use_dpop_nonce`,
		`DPoP error="use_\dpop_nonce"`,
		`Bearer error="use_dpop_nonce"`,
		`DPoP ,,, =, error`,
		`Bearer realm="x", Basic dXNl==, DPoP error="use_dpop_nonce"`,
		`Negotiate, dpop = , error = "use_dpop_nonce"`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, challenge string) {
		if DemandsNonce([]string{challenge}) && !strings.Contains(strings.ReplaceAll(challenge, `\`, ""), "use_dpop_nonce") {
			t.Fatalf("DemandsNonce(%q) = true without use_dpop_nonce in it", challenge)
		}
	})
}
