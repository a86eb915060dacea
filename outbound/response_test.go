package outbound

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/oauthgate/oauthgate/internal/authheader"
)

func TestParseTokenResponse(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", maxTokenSize+1)
	tests := map[string]struct {
		body    string
		want    tokenResponse
		wantErr bool
	}{
		"Bearer":        {body: `{"access_token":"abc.def-_~+/=","token_type":"Bearer","expires_in":300,"scope":"a b"}`, want: tokenResponse{accessToken: "abc.def-_~+/=", tokenType: "Bearer", expiresIn: 300 * time.Second, scope: "a b"}},
		"LowerCase":     {body: `{"access_token":"t","token_type":"bearer"}`, want: tokenResponse{accessToken: "t", tokenType: "Bearer"}},
		"DPoP":          {body: `{"access_token":"t","token_type":"DPoP","expires_in":1}`, want: tokenResponse{accessToken: "t", tokenType: "DPoP", expiresIn: time.Second}},
		"Exchange":      {body: `{"access_token":"t","token_type":"Bearer","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","refresh_token":"r","x":[1]}`, want: tokenResponse{accessToken: "t", tokenType: "Bearer", issuedTokenType: "urn:ietf:params:oauth:token-type:access_token"}},
		"NoToken":       {body: `{"token_type":"Bearer"}`, wantErr: true},
		"EmptyToken":    {body: `{"access_token":"","token_type":"Bearer"}`, wantErr: true},
		"TokenSpace":    {body: `{"access_token":"a b","token_type":"Bearer"}`, wantErr: true},
		"TokenNewline":  {body: `{"access_token":"a\r\nx: y","token_type":"Bearer"}`, wantErr: true},
		"OnlyPadding":   {body: `{"access_token":"==","token_type":"Bearer"}`, wantErr: true},
		"PaddingInside": {body: `{"access_token":"a=b","token_type":"Bearer"}`, wantErr: true},
		"TokenTooLong":  {body: `{"access_token":"` + long + `","token_type":"Bearer"}`, wantErr: true},
		"TokenNumber":   {body: `{"access_token":1,"token_type":"Bearer"}`, wantErr: true},
		"NoType":        {body: `{"access_token":"t"}`, wantErr: true},
		"OtherType":     {body: `{"access_token":"t","token_type":"N_A"}`, wantErr: true},
		"MAC":           {body: `{"access_token":"t","token_type":"mac"}`, wantErr: true},
		"ExpiresZero":   {body: `{"access_token":"t","token_type":"Bearer","expires_in":0}`, wantErr: true},
		"ExpiresNeg":    {body: `{"access_token":"t","token_type":"Bearer","expires_in":-5}`, wantErr: true},
		"ExpiresFrac":   {body: `{"access_token":"t","token_type":"Bearer","expires_in":1.5}`, wantErr: true},
		"ExpiresHuge":   {body: `{"access_token":"t","token_type":"Bearer","expires_in":1e300}`, wantErr: true},
		"ExpiresYear":   {body: `{"access_token":"t","token_type":"Bearer","expires_in":31536000}`, want: tokenResponse{accessToken: "t", tokenType: "Bearer", expiresIn: 365 * 24 * time.Hour}},
		"ExpiresOver":   {body: `{"access_token":"t","token_type":"Bearer","expires_in":31536001}`, wantErr: true},
		"TokenAtLimit":  {body: `{"access_token":"` + long[1:] + `","token_type":"Bearer"}`, want: tokenResponse{accessToken: long[1:], tokenType: "Bearer"}},
		"ExpiresString": {body: `{"access_token":"t","token_type":"Bearer","expires_in":"300"}`, wantErr: true},
		"Duplicate":     {body: `{"access_token":"t","access_token":"u","token_type":"Bearer"}`, wantErr: true},
		"BadUTF8":       {body: "{\"access_token\":\"t\",\"token_type\":\"Bearer\",\"scope\":\"\xff\"}", wantErr: true},
		"Array":         {body: `[]`, wantErr: true},
		"Trailing":      {body: `{"access_token":"t","token_type":"Bearer"} {}`, wantErr: true},
		"Empty":         {body: ``, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := parseTokenResponse([]byte(tc.body))
			if tc.wantErr {
				if !errors.Is(err, errMalformed) {
					t.Fatalf("parseTokenResponse() error = %v, want errMalformed", err)
				}
				if strings.Contains(err.Error(), `"t"`) || strings.Contains(err.Error(), "\xff") {
					t.Errorf("parseTokenResponse() error = %q quotes the body", err)
				}
				return
			}
			if err != nil || *got != tc.want {
				t.Fatalf("parseTokenResponse() = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// FuzzParseTokenResponse: the parser never panics, and what it accepts is
// a JSON object whose access_token and token_type encoding/json reads the
// same, with a token that fits a header.
func FuzzParseTokenResponse(f *testing.F) {
	for _, s := range []string{
		`{"access_token":"abc","token_type":"Bearer","expires_in":300}`,
		`{"access_token":"abc","token_type":"dpop","scope":"a b","issued_token_type":"x"}`,
		`{"access_token":"a=","token_type":"Bearer","expires_in":1.0}`,
		`{"access_token":"a","access_token":"b","token_type":"Bearer"}`,
		`{"access_token":"\u0061","token_type":"BEARER"}`,
		`[]`, `null`, `{"access_token":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := parseTokenResponse(body)
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("parseTokenResponse() error = %v, not errMalformed", err)
			}
			return
		}
		// A map matches names exactly, as the parser does (a struct in
		// encoding/json would also read "ACCESS_TOKEN").
		var ref map[string]any
		if err := json.Unmarshal(body, &ref); err != nil {
			t.Fatalf("parseTokenResponse accepted what encoding/json refuses: %v", err)
		}
		tokenType, _ := ref["token_type"].(string)
		if ref["access_token"] != got.accessToken || !strings.EqualFold(tokenType, got.tokenType) {
			t.Fatalf("parseTokenResponse() = %q %q, encoding/json reads %v %v", got.accessToken, got.tokenType, ref["access_token"], ref["token_type"])
		}
		if !authheader.IsB64Token(got.accessToken) || len(got.accessToken) > maxTokenSize || strings.ContainsAny(got.accessToken, " \r\n") {
			t.Fatalf("parseTokenResponse() accepted a token that cannot go in a header: %q", got.accessToken)
		}
		if got.expiresIn < 0 || got.expiresIn > maxExpiresIn*time.Second {
			t.Fatalf("parseTokenResponse() expiresIn = %v out of range", got.expiresIn)
		}
	})
}

// TestSetNonce: only a nonce authheader.ValidNonce accepts (RFC 9449
// §8.1's syntax, not too long; tested there) goes into later proofs.
func TestSetNonce(t *testing.T) {
	t.Parallel()
	for nonce, keep := range map[string]bool{
		"eyJ7S_zG.9-l~x": true,
		"a b":            false,
		strings.Repeat("n", authheader.MaxNonce+1): false,
	} {
		e := &endpoint{nonce: "old"}
		e.setNonce(nonce)
		if got := e.nonce != "old"; got != keep {
			t.Errorf("setNonce(%q) kept = %v, want %v", nonce, got, keep)
		}
	}
}
