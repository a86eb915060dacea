package oauthtest_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/oauthtest"
)

// fixedNow is the clock of tests that compare times.
var fixedNow = time.Unix(1_800_000_000, 0)

// decode splits a compact JWS without verifying it and returns its header
// and claims, numbers as json.Number.
func decode(t *testing.T, tok string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts, want 3", len(parts))
	}
	return decodePart(t, parts[0]), decodePart(t, parts[1])
}

func decodePart(t *testing.T, part string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		t.Fatalf("base64: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("json: %v", err)
	}
	return m
}

// num is n as decode returns it.
func num(n int64) json.Number { return json.Number(strconv.FormatInt(n, 10)) }

func TestIssuerToken_VerifiesAgainstServedJWKS(t *testing.T) {
	t.Parallel()
	for _, alg := range []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA} {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{Algorithm: alg})
			tok := iss.Token(t)
			p, err := verifyToken(t, tok, fetchJWKS(t, iss))
			if err != nil {
				t.Fatalf("verify(%s token) error = %v, want nil", alg, err)
			}
			if p.header.Algorithm != string(alg) {
				t.Errorf("header alg = %q, want %q", p.header.Algorithm, alg)
			}
			if got := p.header.ExtraHeaders["typ"]; got != "at+jwt" {
				t.Errorf("header typ = %v, want at+jwt", got)
			}
			if p.header.KeyID == "" {
				t.Error("header kid is empty")
			}
		})
	}
}

func TestIssuerToken_AnyAlgorithmOnOneIssuer(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t) // default ES256
	toks := map[jose.SignatureAlgorithm]string{}
	for _, alg := range []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA} {
		toks[alg] = iss.Token(t, oauthtest.Token{Algorithm: alg})
	}
	set := fetchJWKS(t, iss)
	if len(set.Keys) != 3 {
		t.Fatalf("JWKS has %d keys, want 3 (one per algorithm used)", len(set.Keys))
	}
	for _, k := range set.Keys {
		if !k.IsPublic() {
			t.Errorf("JWKS key %q is not public", k.KeyID)
		}
		if k.Use != "sig" || k.Algorithm == "" {
			t.Errorf("JWKS key %q use = %q alg = %q, want sig and an alg", k.KeyID, k.Use, k.Algorithm)
		}
	}
	for alg, tok := range toks {
		if _, err := verifyToken(t, tok, set); err != nil {
			t.Errorf("verify(%s token) error = %v, want nil", alg, err)
		}
	}
	// The served set and the JWKS method agree.
	if got, want := len(iss.JWKS().Keys), len(set.Keys); got != want {
		t.Errorf("len(JWKS().Keys) = %d, want %d", got, want)
	}
}

func TestIssuerToken_Fields(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{Now: func() time.Time { return fixedNow }})
	now := fixedNow.Unix()
	absent := struct{}{}
	tests := map[string]struct {
		opts          []oauthtest.Token
		wantClaims    map[string]any // absent means the claim must be missing
		wantHeader    map[string]any
		wantVerifyErr error
	}{
		"Defaults": {
			wantClaims: map[string]any{
				"iss": iss.URL, "sub": oauthtest.DefaultSubject, "aud": oauthtest.DefaultAudience,
				"client_id": oauthtest.DefaultClientID, "iat": num(now),
				"exp": num(now + int64(oauthtest.DefaultLifetime/time.Second)),
				"nbf": absent, "scope": absent, "scp": absent,
			},
			wantHeader: map[string]any{"typ": "at+jwt", "alg": "ES256"},
		},
		"Scopes":          {opts: opts(oauthtest.Token{Scopes: []string{"a.read", "b.write"}}), wantClaims: map[string]any{"scope": "a.read b.write", "scp": absent}},
		"SCP":             {opts: opts(oauthtest.Token{Scopes: []string{"a.read", "b.write"}, SCP: true}), wantClaims: map[string]any{"scp": []any{"a.read", "b.write"}, "scope": absent}},
		"SCPThenScopes":   {opts: opts(oauthtest.Token{Scopes: []string{"x"}, SCP: true}, oauthtest.Token{Scopes: []string{"y"}}), wantClaims: map[string]any{"scope": "y", "scp": absent}},
		"ScopesThenSCP":   {opts: opts(oauthtest.Token{Scopes: []string{"x"}}, oauthtest.Token{SCP: true}), wantClaims: map[string]any{"scp": []any{"x"}, "scope": absent}},
		"ScopesRemoved":   {opts: opts(oauthtest.Token{Scopes: []string{"x"}}, oauthtest.Token{Scopes: []string{}}), wantClaims: map[string]any{"scope": absent, "scp": absent}},
		"OneAudience":     {opts: opts(oauthtest.Token{Audience: []string{"https://a"}}), wantClaims: map[string]any{"aud": "https://a"}},
		"TwoAudiences":    {opts: opts(oauthtest.Token{Audience: []string{"https://a", "https://b"}}), wantClaims: map[string]any{"aud": []any{"https://a", "https://b"}}},
		"NoAudience":      {opts: opts(oauthtest.Token{Audience: []string{}}), wantClaims: map[string]any{"aud": absent}},
		"AudienceRemoved": {opts: opts(oauthtest.Token{Audience: []string{"https://a"}, Claims: map[string]any{"aud": nil}}), wantClaims: map[string]any{"aud": absent}},
		"Issuer":          {opts: opts(oauthtest.Token{Issuer: "https://evil.example"}), wantClaims: map[string]any{"iss": "https://evil.example"}},
		"NoIssuer":        {opts: opts(oauthtest.Token{Claims: map[string]any{"iss": nil}}), wantClaims: map[string]any{"iss": absent}},
		"Subject":         {opts: opts(oauthtest.Token{Subject: "alice"}), wantClaims: map[string]any{"sub": "alice"}},
		"ClientID":        {opts: opts(oauthtest.Token{ClientID: "cli"}), wantClaims: map[string]any{"client_id": "cli"}},
		"Expired":         {opts: opts(oauthtest.Token{Lifetime: -time.Minute}), wantClaims: map[string]any{"exp": num(now - 60)}},
		"Expiry":          {opts: opts(oauthtest.Token{Lifetime: time.Hour}, oauthtest.Token{Expiry: fixedNow.Add(90 * time.Second)}), wantClaims: map[string]any{"exp": num(now + 90)}},
		"ExpiryWins":      {opts: opts(oauthtest.Token{Lifetime: time.Hour, Expiry: fixedNow.Add(90 * time.Second)}), wantClaims: map[string]any{"exp": num(now + 90)}},
		"LaterLifetime":   {opts: opts(oauthtest.Token{Expiry: fixedNow}, oauthtest.Token{Lifetime: time.Hour}), wantClaims: map[string]any{"exp": num(now + 3600)}},
		"BadExpType":      {opts: opts(oauthtest.Token{Claims: map[string]any{"exp": "tomorrow"}}), wantClaims: map[string]any{"exp": "tomorrow"}},
		"NullClaim":       {opts: opts(oauthtest.Token{Claims: map[string]any{"sub": json.RawMessage("null")}}), wantClaims: map[string]any{"sub": nil}},
		"ExtraClaim":      {opts: opts(oauthtest.Token{Claims: map[string]any{"nbf": now + 10, "tenant": "t1"}}), wantClaims: map[string]any{"nbf": num(now + 10), "tenant": "t1"}},
		"WithoutExp":      {opts: opts(oauthtest.Token{Claims: map[string]any{"exp": nil}}), wantClaims: map[string]any{"exp": absent}},
		"ClaimsMerged":    {opts: opts(oauthtest.Token{Claims: map[string]any{"a": "1", "b": "1"}}, oauthtest.Token{Claims: map[string]any{"b": "2"}}), wantClaims: map[string]any{"a": "1", "b": "2"}},
		"LastClaimWins":   {opts: opts(oauthtest.Token{Claims: map[string]any{"jti": nil}}, oauthtest.Token{Claims: map[string]any{"jti": "x"}}), wantClaims: map[string]any{"jti": "x"}},
		"LastRemovalWins": {opts: opts(oauthtest.Token{Claims: map[string]any{"jti": "x"}}, oauthtest.Token{Claims: map[string]any{"jti": nil}}), wantClaims: map[string]any{"jti": absent}},
		"ClaimsOverField": {opts: opts(oauthtest.Token{Claims: map[string]any{"sub": "bob"}}, oauthtest.Token{Subject: "alice"}), wantClaims: map[string]any{"sub": "bob"}},
		"Type":            {opts: opts(oauthtest.Token{Type: "JWT"}), wantHeader: map[string]any{"typ": "JWT"}},
		"NoType":          {opts: opts(oauthtest.Token{Header: map[string]any{"typ": nil}}), wantHeader: map[string]any{"typ": absent}},
		"UnknownKeyID":    {opts: opts(oauthtest.Token{KeyID: "nope"}), wantHeader: map[string]any{"kid": "nope"}, wantVerifyErr: errNoKey},
		"NoKeyID":         {opts: opts(oauthtest.Token{Header: map[string]any{"kid": nil}}), wantHeader: map[string]any{"kid": absent}, wantVerifyErr: errNoKey},
		"Crit":            {opts: opts(oauthtest.Token{Header: map[string]any{"crit": []string{"exp"}}}), wantHeader: map[string]any{"crit": []any{"exp"}}},
		"HeaderOverType":  {opts: opts(oauthtest.Token{Type: "JWT", Header: map[string]any{"typ": "dpop+jwt", "x5t": "abc"}}), wantHeader: map[string]any{"typ": "dpop+jwt", "x5t": "abc"}},
		"RSA":             {opts: opts(oauthtest.Token{Algorithm: jose.RS256}), wantHeader: map[string]any{"alg": "RS256", "kid": "rs256-2"}},
		"HMAC":            {opts: opts(oauthtest.Token{Algorithm: jose.HS256}), wantHeader: map[string]any{"alg": "HS256", "kid": "hs256-secret"}, wantVerifyErr: errNoKey},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tok := iss.Token(t, tc.opts...)
			header, claims := decode(t, tok)
			check := func(kind string, got, want map[string]any) {
				for k, w := range want {
					g, ok := got[k]
					if w == absent {
						if ok {
							t.Errorf("%s %q = %v, want absent", kind, k, g)
						}
						continue
					}
					if !ok || !reflect.DeepEqual(g, w) {
						t.Errorf("%s %q = %#v (present %v), want %#v", kind, k, g, ok, w)
					}
				}
			}
			check("claim", claims, tc.wantClaims)
			check("header", header, tc.wantHeader)
			if _, ok := tc.wantHeader["crit"]; ok {
				return // go-jose rejects unknown crit on parse, as it should
			}
			if _, err := verifyToken(t, tok, iss.JWKS()); !errors.Is(err, tc.wantVerifyErr) {
				t.Errorf("verify() error = %v, want %v", err, tc.wantVerifyErr)
			}
		})
	}
}

func opts(o ...oauthtest.Token) []oauthtest.Token { return o }

func TestIssuerToken_DistinctJTI(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	_, a := decode(t, iss.Token(t))
	_, b := decode(t, iss.Token(t))
	if a["jti"] == b["jti"] || a["jti"] == "" {
		t.Errorf("jti = %v and %v, want two distinct non-empty values", a["jti"], b["jti"])
	}
}

func TestIssuerToken_AlgHeaderLie(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	tok := iss.Token(t, oauthtest.Token{Header: map[string]any{"alg": "none"}})
	header, _ := decode(t, tok)
	if header["alg"] != "none" {
		t.Fatalf("header alg = %v, want none", header["alg"])
	}
	if _, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.ES256}); err == nil {
		t.Error("ParseSignedCompact(alg none token) error = nil, want an error")
	}
}

func TestIssuerMintToken_Errors(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	tests := map[string][]oauthtest.Token{
		"UnsupportedAlgorithm": {{Algorithm: jose.PS512}},
		"UnencodableClaim":     {{Claims: map[string]any{"x": make(chan int)}}},
		"UnencodableHeader":    {{Header: map[string]any{"x": make(chan int)}}},
	}
	for name, o := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if tok, err := iss.MintToken(o...); err == nil || tok != "" {
				t.Errorf("MintToken() = %q, %v; want \"\", an error", tok, err)
			} else if !strings.HasPrefix(err.Error(), "oauthtest: ") {
				t.Errorf("MintToken() error = %q, want prefix \"oauthtest: \"", err)
			}
			// Opaque tokens have no header and no signature.
			if tok, err := iss.MintOpaque(o...); name == "UnencodableClaim" && (err == nil || tok != "") {
				t.Errorf("MintOpaque() = %q, %v; want \"\", an error", tok, err)
			}
		})
	}
}
