package oauthtest_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oauthgate/oauthgate/oauthtest"
)

func TestIssuer_IntrospectActive(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{Now: func() time.Time { return fixedNow }})
	tests := map[string]struct {
		mint func(t *testing.T) string
		want map[string]any
	}{
		"Opaque": {
			mint: func(t *testing.T) string {
				return iss.OpaqueToken(t, oauthtest.Token{Scopes: []string{"a", "b"}, Subject: "alice", Audience: []string{"x", "y"}})
			},
			want: map[string]any{
				"active": true, "token_type": "Bearer", "scope": "a b", "sub": "alice",
				"client_id": oauthtest.DefaultClientID, "iss": iss.URL, "aud": []any{"x", "y"},
				"iat": float64(fixedNow.Unix()), "exp": float64(fixedNow.Add(oauthtest.DefaultLifetime).Unix()),
			},
		},
		"JWT": {
			mint: func(t *testing.T) string { return iss.Token(t, oauthtest.Token{Scopes: []string{"c"}}) },
			want: map[string]any{"active": true, "scope": "c", "aud": oauthtest.DefaultAudience},
		},
		"OverrideActive": {
			mint: func(t *testing.T) string {
				return iss.OpaqueToken(t, oauthtest.Token{Claims: map[string]any{"active": "yes"}})
			},
			want: map[string]any{"active": "yes"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := introspect(t, iss, tc.mint(t))
			for k, w := range tc.want {
				if g := got[k]; !jsonEqual(g, w) {
					t.Errorf("introspection %q = %#v, want %#v", k, g, w)
				}
			}
		})
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestIssuer_IntrospectInactive(t *testing.T) {
	t.Parallel()
	now := fixedNow
	clock := func() time.Time { return now }
	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{Now: clock})
	revokedOpaque := iss.OpaqueToken(t)
	iss.Revoke(revokedOpaque)
	revokedJWT := iss.Token(t)
	iss.Revoke(revokedJWT)
	tests := map[string]string{
		"Unknown":       "no-such-token",
		"ExpiredOpaque": iss.OpaqueToken(t, oauthtest.Token{Lifetime: -time.Minute}),
		"ExpiredJWT":    iss.Token(t, oauthtest.Token{Lifetime: -time.Second}),
		"ExpiresNow":    iss.OpaqueToken(t, oauthtest.Token{Expiry: now}),
		"RevokedOpaque": revokedOpaque,
		"RevokedJWT":    revokedJWT,
		"OtherIssuer":   oauthtest.NewIssuer(t).OpaqueToken(t),
	}
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := introspect(t, iss, tok)
			if len(got) != 1 || got["active"] != false {
				t.Errorf("introspect(%s) = %v, want exactly {active: false}", name, got)
			}
		})
	}
}

func TestIssuer_IntrospectClientAuth(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{ClientID: "rs:1", ClientSecret: "s%cr t"})
	tok := iss.OpaqueToken(t)
	basic := func(id, secret string) func(*http.Request) {
		return func(r *http.Request) {
			// RFC 6749 §2.3.1: form-encode, then Basic.
			r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
		}
	}
	tests := map[string]struct {
		form       url.Values
		edit       func(*http.Request)
		method     string
		wantStatus int
		wantError  string
	}{
		"Basic":            {edit: basic("rs:1", "s%cr t"), wantStatus: http.StatusOK},
		"Post":             {form: url.Values{"client_id": {"rs:1"}, "client_secret": {"s%cr t"}}, wantStatus: http.StatusOK},
		"BasicWrongSecret": {edit: basic("rs:1", "wrong"), wantStatus: http.StatusUnauthorized, wantError: "invalid_client"},
		"PostWrongSecret":  {form: url.Values{"client_id": {"rs:1"}, "client_secret": {"wrong"}}, wantStatus: http.StatusUnauthorized, wantError: "invalid_client"},
		"WrongID":          {edit: basic("rs:2", "s%cr t"), wantStatus: http.StatusUnauthorized, wantError: "invalid_client"},
		"NoAuth":           {wantStatus: http.StatusUnauthorized, wantError: "invalid_client"},
		"TwoMethods":       {form: url.Values{"client_id": {"rs:1"}, "client_secret": {"s%cr t"}}, edit: basic("rs:1", "s%cr t"), wantStatus: http.StatusBadRequest, wantError: "invalid_request"},
		"NoToken":          {form: url.Values{"token": {""}}, edit: basic("rs:1", "s%cr t"), wantStatus: http.StatusBadRequest, wantError: "invalid_request"},
		"Get":              {edit: func(r *http.Request) { basic("rs:1", "s%cr t")(r); r.Method = http.MethodGet }, wantStatus: http.StatusMethodNotAllowed},
	}
	// The group returns once its parallel subtests are done.
	t.Run("group", func(t *testing.T) {
		for name, tc := range tests {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				form := url.Values{"token": {tok}}
				for k, v := range tc.form {
					form[k] = v
				}
				resp := postIntrospect(t, iss, form, tc.edit)
				defer resp.Body.Close()
				if resp.StatusCode != tc.wantStatus {
					t.Fatalf("status = %d, want %d", resp.StatusCode, tc.wantStatus)
				}
				var body map[string]any
				if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
					t.Fatalf("decode body: %v", err)
				}
				if tc.wantStatus == http.StatusOK {
					if body["active"] != true {
						t.Errorf("active = %v, want true", body["active"])
					}
					return
				}
				if tc.wantError != "" && body["error"] != tc.wantError {
					t.Errorf("error = %v, want %q", body["error"], tc.wantError)
				}
				if tc.wantStatus == http.StatusUnauthorized && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
					t.Errorf("WWW-Authenticate = %q, want a Basic challenge", resp.Header.Get("WWW-Authenticate"))
				}
				if _, ok := body["active"]; ok {
					t.Errorf("error response carries active = %v", body["active"])
				}
			})
		}
	})
	if got := iss.Requests(oauthtest.EndpointIntrospection); got != len(tests) {
		t.Errorf("Requests(EndpointIntrospection) = %d, want %d", got, len(tests))
	}
}
