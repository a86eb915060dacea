package core

import (
	"strings"
	"testing"
)

// TestCredentialsMetadata reads credentials from the values of the
// authorization and dpop headers, as every adapter passes them.
func TestCredentialsMetadata(t *testing.T) {
	dpopGate := &Gate{opts: options{dpop: &dpopOptions{}}}
	tests := map[string]struct {
		md          map[string][]string
		gate        *Gate // default: no DPoP
		want        credential
		wantPresent bool
		wantRej     string // description of the rejection, "" for none
	}{
		"None":            {md: map[string][]string{}},
		"NoMD":            {md: nil},
		"One":             {md: map[string][]string{"authorization": {"Bearer t"}}, want: credential{token: "t"}, wantPresent: true},
		"Two":             {md: map[string][]string{"authorization": {"Bearer t", "Bearer u"}}, wantPresent: true, wantRej: "exactly one Bearer token"},
		"Malformed":       {md: map[string][]string{"authorization": {"Token t"}}, wantPresent: true, wantRej: "exactly one Bearer token"},
		"OtherKey":        {md: map[string][]string{"x-authorization": {"Bearer t"}}},
		"BearerWithProof": {md: map[string][]string{"authorization": {"Bearer t"}, "dpop": {"p"}}, gate: dpopGate, wantPresent: true, wantRej: "cannot come with a DPoP proof"},
		"DPoPDisabled":    {md: map[string][]string{"authorization": {"DPoP t"}, "dpop": {"p"}}, wantPresent: true, wantRej: "does not accept DPoP"},
		"DPoP":            {md: map[string][]string{"authorization": {"dpop t"}, "dpop": {"p"}}, gate: dpopGate, want: credential{token: "t", dpop: true, proof: "p"}, wantPresent: true},
		"DPoPNoProof":     {md: map[string][]string{"authorization": {"DPoP t"}}, gate: dpopGate, wantPresent: true, wantRej: "exactly one proof"},
		"DPoPTwoProofs":   {md: map[string][]string{"authorization": {"DPoP t"}, "dpop": {"p", "q"}}, gate: dpopGate, wantPresent: true, wantRej: "exactly one proof"},
		"BearerAndDPoP":   {md: map[string][]string{"authorization": {"Bearer t", "DPoP t"}, "dpop": {"p"}}, gate: dpopGate, wantPresent: true, wantRej: "exactly one Bearer token"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			gate := tc.gate
			if gate == nil {
				gate = &Gate{}
			}
			got, present, rej := gate.credentials(tc.md["authorization"], tc.md["dpop"])
			if got != tc.want || present != tc.wantPresent || (rej == nil) != (tc.wantRej == "") {
				t.Fatalf("credentials() = %+v, %v, %v; want %+v, %v, rejection %q", got, present, rej, tc.want, tc.wantPresent, tc.wantRej)
			}
			if rej != nil && (!strings.Contains(rej.Description, tc.wantRej) || rej.OAuthError != "invalid_request") {
				t.Errorf("rejection = %q (%s), want invalid_request containing %q", rej.Description, rej.OAuthError, tc.wantRej)
			}
		})
	}
}

func TestWWWAuthenticateQuoting(t *testing.T) {
	// A header carries tab and printable ASCII: controls, DEL and bytes
	// over 0x7f are dropped.
	r := &Denial{OAuthError: "invalid_token", Description: `bad "quoted" \ text` + "\x00\n\x7f\x80\xff\t~end"}
	got := challenge{scheme: "Bearer", realm: "realm", d: r}.String()
	want := `Bearer realm="realm", error="invalid_token", error_description="bad \"quoted\" \\ text` + "\t~end\""
	if got != want {
		t.Fatalf("challenge = %s, want %s", got, want)
	}
}
