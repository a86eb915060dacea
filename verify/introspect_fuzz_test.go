package verify

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/oauthgate/oauthgate/scopeset"
)

// FuzzIntrospection_parse feeds arbitrary bodies to the introspection
// response parser, as a broken or hostile authorization server could. It
// must never panic, must return claims or an error (never both, never
// neither), must classify a rejected token as ErrInvalidToken and a broken
// response as neither, and must return claims only for a response whose
// active member is the JSON literal true and whose iss, aud, exp and nbf
// pass the checks.
func FuzzIntrospection_parse(f *testing.F) {
	now := time.Unix(1_700_000_000, 0)
	i, err := NewIntrospection(IntrospectionConfig{
		Endpoint: "https://as.example.com/introspect", ClientID: "rs", ClientSecret: "secret",
		Issuer: "https://as.example.com", Audiences: []string{"https://api.example.com"},
		Now: func() time.Time { return now },
	})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		`{"active":true}`,
		`{"active":false}`,
		`{"active":"true"}`,
		`{"active":1}`,
		`{"active":true,"active":false}`,
		`{"Active":true}`,
		`{"active":true,"scope":"read write","client_id":"c","sub":"u","exp":1700000600,"iat":1699999000,"nbf":1699999000,"iss":"https://as.example.com","aud":"https://api.example.com","token_type":"Bearer"}`,
		`{"active":true,"aud":["https://other.example.com","https://api.example.com"],"scp":["a","b"]}`,
		`{"active":true,"aud":[]}`,
		`{"active":true,"aud":{"0":"https://api.example.com"}}`,
		`{"active":true,"scope":["read admin"]}`,
		`{"active":true,"scope":"read\tadmin"}`,
		`{"active":true,"exp":"1700000600"}`,
		`{"active":true,"exp":1e300}`,
		`{"active":true,"exp":-1}`,
		`{"active":true,"exp":1699999000}`,
		`{"active":true,"nbf":1800000000}`,
		`{"active":true,"iss":"https://as.example.com/"}`,
		`{"active":true,"token_type":"refresh_token"}`,
		`{"active":true,"token_use":"id"}`,
		`{"active":true,"sub":null,"exp":null}`,
		`[]`, `null`, `true`, ``, `{`, `{"active":true}x`, "\xff",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := i.parse(body, now)
		if (c == nil) == (err == nil) {
			t.Fatalf("parse(%q) = %v, %v; want exactly one of claims and error", body, c, err)
		}
		if err != nil {
			var te *TokenError
			if errors.As(err, &te) != errors.Is(err, ErrInvalidToken) {
				t.Fatalf("parse(%q) error %v: ErrInvalidToken without a *TokenError or the reverse", body, err)
			}
			if errors.Is(err, ErrUnavailable) {
				t.Fatalf("parse(%q) error %v matches ErrUnavailable; parse leaves that to its caller", body, err)
			}
			return
		}
		// An independent reading of the same body: encoding/json into a
		// map, the last of duplicate members winning, as parse's own map.
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("parse(%q) accepted a body that is not a JSON object", body)
		}
		if string(m["active"]) != "true" {
			t.Fatalf("parse(%q) accepted a response whose active is %s", body, m["active"])
		}
		if c.Issuer() != "" && c.Issuer() != i.rules.issuer {
			t.Fatalf("parse(%q) accepted issuer %q", body, c.Issuer())
		}
		if _, hasAud := m["aud"]; hasAud && string(m["aud"]) != "null" && !slices.ContainsFunc(i.rules.audiences, c.HasAudience) {
			t.Fatalf("parse(%q) accepted audiences %q", body, c.Audience())
		}
		if !c.Expiry().IsZero() && !now.Before(c.Expiry().Add(i.leeway)) {
			t.Fatalf("parse(%q) accepted exp %v at %v", body, c.Expiry(), now)
		}
		if c.NotBefore().After(now.Add(i.leeway)) {
			t.Fatalf("parse(%q) accepted nbf %v at %v", body, c.NotBefore(), now)
		}
		for _, s := range c.Scopes().Scopes() {
			if _, err := scopeset.New(s); err != nil {
				t.Fatalf("parse(%q) accepted the invalid scope %q", body, s)
			}
		}
	})
}
