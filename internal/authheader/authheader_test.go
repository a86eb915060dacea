package authheader

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
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
			got, ok := Parse(tc.in, "bearer")
			if got != tc.want || ok != tc.wantOK {
				t.Fatalf("Parse(%q, \"bearer\") = %q, %v, want %q, %v", tc.in, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

// TestParseBearer_EveryPosition puts each kind of byte b64token forbids at
// every position of tokens from 1 to 26 bytes: the scanner checks eight
// bytes at a time, so a bad byte must be found in the first, second and
// third block as well as in the tail, and "=" only counts as padding at the
// end.
func TestParse_EveryPosition(t *testing.T) {
	forbidden := map[string]byte{
		"NUL": 0x00, "Tab": '\t', "Newline": '\n', "Space": ' ', "Quote": '"', "Comma": ',',
		"Backslash": '\\', "Colon": ':', "At": '@', "Percent": '%', "DEL": 0x7f, "High": 0x80, "FF": 0xff,
	}
	const alphabet = "aAzZ09-._~+/" // every range's first and last letter or digit, and the rest
	for n := 1; n <= 26; n++ {
		good := make([]byte, n)
		for i := range good {
			good[i] = alphabet[i%len(alphabet)]
		}
		for _, tok := range []string{string(good), string(good) + "=", string(good) + "==="} {
			if got, ok := Parse("Bearer "+tok, "bearer"); !ok || got != tok {
				t.Errorf("Parse(%q) = %q, %v; want the token", "Bearer "+tok, got, ok)
			}
		}
		for p := range n {
			for name, c := range forbidden {
				if p == 0 && c == ' ' {
					continue // one more separating space: "scheme 1*SP b64token"
				}
				bad := string(good[:p]) + string(c) + string(good[p+1:])
				if got, ok := Parse("Bearer "+bad, "bearer"); ok {
					t.Errorf("%d-byte token, %s at %d: Parse() = %q, true; want false", n, name, p, got)
				}
			}
			if p < n-1 {
				bad := string(good[:p]) + "=" + string(good[p+1:])
				if got, ok := Parse("Bearer "+bad, "bearer"); ok {
					t.Errorf("%d-byte token, \"=\" at %d before the end: Parse() = %q, true; want false", n, p, got)
				}
			}
		}
	}
}

func FuzzParseBearer(f *testing.F) {
	for _, seed := range []string{"Bearer abc", "bearer a.b.c", "Bearer ", "Basic x", "Bearer a b", "Bearer ===", "BEARER   x=="} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		tok, ok := Parse(in, "bearer")
		if !ok {
			if tok != "" {
				t.Fatalf("Parse(%q, bearer) returned a token with ok false", in)
			}
			return
		}
		// An accepted token is a non-empty b64token taken from the end of
		// the input, after the case-insensitive scheme and spaces.
		if tok == "" || !strings.HasSuffix(in, tok) || !strings.EqualFold(in[:7], "bearer ") {
			t.Fatalf("Parse(%q, bearer) = %q", in, tok)
		}
		if strings.ContainsAny(tok, " \t\r\n\",\\") {
			t.Fatalf("Parse(%q, bearer) accepted a token with a separator: %q", in, tok)
		}
	})
}

// FuzzParseDPoP holds the DPoP scheme to the same grammar as Bearer: the
// two share the parser, and a token is accepted under one scheme only.
func FuzzParseDPoP(f *testing.F) {
	for _, seed := range []string{"DPoP abc", "dpop a.b.c", "DPoP ", "Bearer x", "DPoP a b", "DPOP   x=="} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		tok, ok := Parse(in, "dpop")
		if !ok {
			return
		}
		if tok == "" || !strings.HasSuffix(in, tok) || !strings.EqualFold(in[:5], "dpop ") || !IsB64Token(tok) {
			t.Fatalf("Parse(%q, \"dpop\") = %q", in, tok)
		}
		if _, bearer := Parse(in, "bearer"); bearer {
			t.Fatalf("Parse(%q) accepted under both schemes", in)
		}
	})
}
