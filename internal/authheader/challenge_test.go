package authheader

import (
	"strings"
	"testing"
)

func TestDemandsNonce(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		challenges []string
		want       bool
	}{
		"Quoted":          {[]string{`DPoP algs="ES256", error="use_dpop_nonce"`}, true},
		"Token":           {[]string{`dpop error=use_dpop_nonce`}, true},
		"SecondChallenge": {[]string{`Bearer realm="x"`, `DPoP error="use_dpop_nonce"`}, true},
		"QuotedComma":     {[]string{`DPoP realm="a, error=x", error="use_dpop_nonce"`}, true},
		"Escaped":         {[]string{`DPoP realm="a\"b", error="use\_dpop\_nonce"`}, true},
		"None":            {nil, false},
		"Bearer":          {[]string{`Bearer error="use_dpop_nonce"`}, false},
		"OtherError":      {[]string{`DPoP error="invalid_dpop_proof"`}, false},
		"InDescription":   {[]string{`DPoP error_description="use_dpop_nonce"`}, false},
		"InQuotedRealm":   {[]string{`DPoP realm="error=use_dpop_nonce"`}, false},
		"UnclosedQuote":   {[]string{`DPoP error="use_dpop_nonce`}, false},
		"EscapedQuoteEnd": {[]string{`DPoP realm="a\", error=use_dpop_nonce`}, false},
		"NoValue":         {[]string{`DPoP error`}, false},
		"EmptyValue":      {[]string{`DPoP error=, algs="ES256"`}, false},
		"EmptyThenValue":  {[]string{`DPoP error=, error=use_dpop_nonce`}, true},
		// A malformed element does not hide the elements after it.
		"JunkAfterQuoted": {[]string{`DPoP realm="x"=, error=use_dpop_nonce`}, true},
		// Several challenges in one value (RFC 9110 §11.6.1).
		"JoinedSecond":        {[]string{`Bearer realm="x", error="invalid_token", DPoP algs="ES256", error="use_dpop_nonce"`}, true},
		"JoinedFirst":         {[]string{`DPoP error="use_dpop_nonce", Bearer realm="x"`}, true},
		"JoinedNoParams":      {[]string{`Negotiate, DPoP error=use_dpop_nonce`}, true},
		"JoinedAfterToken68":  {[]string{`Basic dXNlcjpwYXNz==, DPoP error="use_dpop_nonce"`}, true},
		"JoinedSpaces":        {[]string{`Bearer , DPoP   error = "use_dpop_nonce"`}, true},
		"JoinedBearerOnly":    {[]string{`DPoP algs="ES256", Bearer error="use_dpop_nonce"`}, false},
		"JoinedSchemeToken68": {[]string{`Bearer realm="x", Basic error=use_dpop_nonce`}, false},
		"ParamBeforeScheme":   {[]string{`error="use_dpop_nonce", DPoP algs="ES256"`}, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := DemandsNonce(tc.challenges); got != tc.want {
				t.Fatalf("DemandsNonce(%q) = %v, want %v", tc.challenges, got, tc.want)
			}
		})
	}
}

func TestValidNonce(t *testing.T) {
	t.Parallel()
	for nonce, want := range map[string]bool{
		"eyJ7S_zG.9-l~x":                true,
		"!n~":                           true,
		strings.Repeat("n", MaxNonce):   true,
		strings.Repeat("n", MaxNonce+1): false,
		"":                              false,
		"a b":                           false,
		`a"b`:                           false,
		`a\b`:                           false,
		"a\r\nb":                        false,
		"caf\xc3\xa9":                   false,
	} {
		if got := ValidNonce(nonce); got != want {
			t.Errorf("ValidNonce(%q) = %v, want %v", nonce, got, want)
		}
	}
}
