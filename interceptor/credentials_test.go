package interceptor

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"
)

func TestParseBearer(t *testing.T) {
	tests := map[string]struct {
		in     string
		want   string
		wantOK bool
	}{
		"Plain":           {in: "Bearer abc.DEF-123_~+/", want: "abc.DEF-123_~+/", wantOK: true},
		"Padding":         {in: "Bearer abc==", want: "abc==", wantOK: true},
		"LowerScheme":     {in: "bearer abc", want: "abc", wantOK: true},
		"UpperScheme":     {in: "BEARER abc", want: "abc", wantOK: true},
		"SeveralSpaces":   {in: "Bearer   abc", want: "abc", wantOK: true},
		"Empty":           {in: ""},
		"SchemeOnly":      {in: "Bearer"},
		"SchemeAndSpace":  {in: "Bearer "},
		"NoSpace":         {in: "Bearerabc"},
		"Tab":             {in: "Bearer\tabc"},
		"TrailingSpace":   {in: "Bearer abc "},
		"TwoTokens":       {in: "Bearer abc def"},
		"Basic":           {in: "Basic dXNlcjpwYXNz"},
		"DPoP":            {in: "DPoP abc"},
		"PaddingInMiddle": {in: "Bearer ab=c"},
		"OnlyPadding":     {in: "Bearer ==="},
		"Comma":           {in: "Bearer abc,def"},
		"Quote":           {in: `Bearer "abc"`},
		"NonASCII":        {in: "Bearer abcé"},
		"Newline":         {in: "Bearer abc\n"},
		"Bearerx":         {in: "Bearerx abc"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := parseCredentials(tc.in, "bearer")
			if got != tc.want || ok != tc.wantOK {
				t.Fatalf("parseBearer(%q) = %q, %v, want %q, %v", tc.in, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

// TestParseBearer_EveryPosition puts each kind of byte b64token forbids at
// every position of tokens from 1 to 26 bytes: the scanner checks eight
// bytes at a time, so a bad byte must be found in the first, second and
// third block as well as in the tail, and "=" only counts as padding at the
// end.
func TestParseBearer_EveryPosition(t *testing.T) {
	forbidden := map[string]byte{
		"NUL": 0x00, "Tab": '\t', "Newline": '\n', "Space": ' ', "Quote": '"', "Comma": ',',
		"Backslash": '\\', "Colon": ':', "At": '@', "Percent": '%', "DEL": 0x7f, "High": 0x80, "FF": 0xff,
	}
	const alphabet = "aZ09-._~+/"
	for n := 1; n <= 26; n++ {
		good := make([]byte, n)
		for i := range good {
			good[i] = alphabet[i%len(alphabet)]
		}
		for _, tok := range []string{string(good), string(good) + "=", string(good) + "==="} {
			if got, ok := parseCredentials("Bearer "+tok, "bearer"); !ok || got != tok {
				t.Errorf("parseCredentials(%q) = %q, %v; want the token", "Bearer "+tok, got, ok)
			}
		}
		for p := range n {
			for name, c := range forbidden {
				if p == 0 && c == ' ' {
					continue // one more separating space: "scheme 1*SP b64token"
				}
				bad := string(good[:p]) + string(c) + string(good[p+1:])
				if got, ok := parseCredentials("Bearer "+bad, "bearer"); ok {
					t.Errorf("%d-byte token, %s at %d: parseCredentials() = %q, true; want false", n, name, p, got)
				}
			}
			if p < n-1 {
				bad := string(good[:p]) + "=" + string(good[p+1:])
				if got, ok := parseCredentials("Bearer "+bad, "bearer"); ok {
					t.Errorf("%d-byte token, \"=\" at %d before the end: parseCredentials() = %q, true; want false", n, p, got)
				}
			}
		}
	}
}

func TestCredentialsMetadata(t *testing.T) {
	dpopGate := &Interceptor{opts: options{dpop: &dpopOptions{}}}
	tests := map[string]struct {
		md          metadata.MD
		gate        *Interceptor // default: no DPoP
		want        credential
		wantPresent bool
		wantRej     string // description of the rejection, "" for none
	}{
		"None":            {md: metadata.MD{}},
		"NoMD":            {md: nil},
		"One":             {md: metadata.Pairs("authorization", "Bearer t"), want: credential{token: "t"}, wantPresent: true},
		"Two":             {md: metadata.MD{"authorization": {"Bearer t", "Bearer u"}}, wantPresent: true, wantRej: "exactly one Bearer token"},
		"Malformed":       {md: metadata.Pairs("authorization", "Token t"), wantPresent: true, wantRej: "exactly one Bearer token"},
		"OtherKey":        {md: metadata.Pairs("x-authorization", "Bearer t")},
		"BearerWithProof": {md: metadata.Pairs("authorization", "Bearer t", "dpop", "p"), gate: dpopGate, wantPresent: true, wantRej: "cannot come with a DPoP proof"},
		"DPoPDisabled":    {md: metadata.Pairs("authorization", "DPoP t", "dpop", "p"), wantPresent: true, wantRej: "does not accept DPoP"},
		"DPoP":            {md: metadata.Pairs("authorization", "dpop t", "dpop", "p"), gate: dpopGate, want: credential{token: "t", dpop: true, proof: "p"}, wantPresent: true},
		"DPoPNoProof":     {md: metadata.Pairs("authorization", "DPoP t"), gate: dpopGate, wantPresent: true, wantRej: "exactly one proof"},
		"DPoPTwoProofs":   {md: metadata.MD{"authorization": {"DPoP t"}, "dpop": {"p", "q"}}, gate: dpopGate, wantPresent: true, wantRej: "exactly one proof"},
		"BearerAndDPoP":   {md: metadata.MD{"authorization": {"Bearer t", "DPoP t"}, "dpop": {"p"}}, gate: dpopGate, wantPresent: true, wantRej: "exactly one Bearer token"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			if tc.md != nil {
				ctx = metadata.NewIncomingContext(ctx, tc.md)
			}
			gate := tc.gate
			if gate == nil {
				gate = &Interceptor{}
			}
			got, present, rej := gate.credentials(ctx)
			if got != tc.want || present != tc.wantPresent || (rej == nil) != (tc.wantRej == "") {
				t.Fatalf("credentials() = %+v, %v, %v; want %+v, %v, rejection %q", got, present, rej, tc.want, tc.wantPresent, tc.wantRej)
			}
			if rej != nil && (!strings.Contains(rej.description, tc.wantRej) || rej.oauthError != "invalid_request") {
				t.Errorf("rejection = %q (%s), want invalid_request containing %q", rej.description, rej.oauthError, tc.wantRej)
			}
		})
	}
}

func TestWWWAuthenticateQuoting(t *testing.T) {
	// A header carries tab and printable ASCII: controls, DEL and bytes
	// over 0x7f are dropped.
	r := &rejection{oauthError: "invalid_token", description: `bad "quoted" \ text` + "\x00\n\x7f\x80\xff\t~end"}
	got := challenge{scheme: "Bearer", realm: "realm", rej: r}.String()
	want := `Bearer realm="realm", error="invalid_token", error_description="bad \"quoted\" \\ text` + "\t~end\""
	if got != want {
		t.Fatalf("challenge = %s, want %s", got, want)
	}
}

func FuzzParseBearer(f *testing.F) {
	for _, seed := range []string{"Bearer abc", "bearer a.b.c", "Bearer ", "Basic x", "Bearer a b", "Bearer ===", "BEARER   x=="} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		tok, ok := parseCredentials(in, "bearer")
		if !ok {
			if tok != "" {
				t.Fatalf("parseBearer(%q) returned a token with ok false", in)
			}
			return
		}
		// An accepted token is a non-empty b64token taken from the end of
		// the input, after the case-insensitive scheme and spaces.
		if tok == "" || !strings.HasSuffix(in, tok) || !strings.EqualFold(in[:7], "bearer ") {
			t.Fatalf("parseBearer(%q) = %q", in, tok)
		}
		if strings.ContainsAny(tok, " \t\r\n\",\\") {
			t.Fatalf("parseBearer(%q) accepted a token with a separator: %q", in, tok)
		}
	})
}
