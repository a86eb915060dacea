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
			got, ok := parseBearer(tc.in)
			if got != tc.want || ok != tc.wantOK {
				t.Fatalf("parseBearer(%q) = %q, %v, want %q, %v", tc.in, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestBearerTokenMetadata(t *testing.T) {
	tests := map[string]struct {
		md                  metadata.MD
		want                string
		wantPresent, wantOK bool
	}{
		"None":      {md: metadata.MD{}},
		"NoMD":      {md: nil},
		"One":       {md: metadata.Pairs("authorization", "Bearer t"), want: "t", wantPresent: true, wantOK: true},
		"Two":       {md: metadata.MD{"authorization": {"Bearer t", "Bearer u"}}, wantPresent: true},
		"Malformed": {md: metadata.Pairs("authorization", "Token t"), wantPresent: true},
		"OtherKey":  {md: metadata.Pairs("x-authorization", "Bearer t")},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			if tc.md != nil {
				ctx = metadata.NewIncomingContext(ctx, tc.md)
			}
			got, present, ok := bearerToken(ctx)
			if got != tc.want || present != tc.wantPresent || ok != tc.wantOK {
				t.Fatalf("bearerToken() = %q, %v, %v, want %q, %v, %v", got, present, ok, tc.want, tc.wantPresent, tc.wantOK)
			}
		})
	}
}

func TestWWWAuthenticateQuoting(t *testing.T) {
	r := &rejection{oauthError: "invalid_token", description: `bad "quoted" \ text` + "\x00\n"}
	got := r.wwwAuthenticate(`realm`)
	want := `Bearer realm="realm", error="invalid_token", error_description="bad \"quoted\" \\ text"`
	if got != want {
		t.Fatalf("wwwAuthenticate() = %s, want %s", got, want)
	}
}

func FuzzParseBearer(f *testing.F) {
	for _, seed := range []string{"Bearer abc", "bearer a.b.c", "Bearer ", "Basic x", "Bearer a b", "Bearer ===", "BEARER   x=="} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		tok, ok := parseBearer(in)
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
