package oauthhttp

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestStatusError: a non-200 answer quotes a registered OAuth error code
// and keeps the DPoP-Nonce header, never the body's free text.
func TestStatusError(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		body, nonce       string
		wantCode, wantMsg string
	}{
		"Registered":   {body: `{"error":"invalid_grant","error_description":"secret-ish text"}`, wantCode: "invalid_grant", wantMsg: "status 400 (invalid_grant)"},
		"UseNonce":     {body: `{"error":"use_dpop_nonce"}`, nonce: "n-1", wantCode: "use_dpop_nonce", wantMsg: "status 400 (use_dpop_nonce)"},
		"Unregistered": {body: `{"error":"my token abc.def is bad"}`, wantMsg: "status 400"},
		"NotJSON":      {body: `<html>abc.def</html>`, wantMsg: "status 400"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			resp := &http.Response{StatusCode: 400, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(tc.body))}
			if tc.nonce != "" {
				resp.Header.Set("DPoP-Nonce", tc.nonce)
			}
			e := newStatusError(resp, 1<<20)
			if e.OAuthCode != tc.wantCode || e.Nonce != tc.nonce || e.Error() != tc.wantMsg {
				t.Errorf("newStatusError() = %+v %q, want code %q nonce %q message %q", e, e.Error(), tc.wantCode, tc.nonce, tc.wantMsg)
			}
			var se *StatusError
			if !errors.As(error(e), &se) {
				t.Error("errors.As(*StatusError) = false")
			}
		})
	}
}
