package verify

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

const (
	jwtTestIssuer   = "https://auth.example.com/"
	jwtTestAudience = "https://api.example.com"
	jwtTestTimeout  = 10 * time.Second
)

// jwtTestNow is the fixed clock of these tests.
var jwtTestNow = time.Unix(1_800_000_000, 0).UTC()

// jwtTestKeyPairs are generated once: RSA key generation is slow.
type jwtTestKeyPairs struct {
	rsa      *rsa.PrivateKey
	ec       *ecdsa.PrivateKey
	ed       ed25519.PrivateKey
	attacker *ecdsa.PrivateKey // not in the key set
}

var jwtTestKeys = sync.OnceValue(func() jwtTestKeyPairs {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	_, edk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	ak, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return jwtTestKeyPairs{rsa: rk, ec: ek, ed: edk, attacker: ak}
})

// jwtTestKeySet holds the public keys under kid "rsa", "ec", "ed"; the RSA
// key again as "rsa384" pinned to RS384, and as "enc-only" with use "enc".
func jwtTestKeySet(t testing.TB) *StaticKeySet {
	t.Helper()
	k := jwtTestKeys()
	ks, err := NewStaticKeySet(
		jose.JSONWebKey{Key: k.rsa.Public(), KeyID: "rsa", Use: "sig"},
		jose.JSONWebKey{Key: k.ec.Public(), KeyID: "ec"},
		jose.JSONWebKey{Key: k.ed.Public(), KeyID: "ed", Algorithm: string(jose.EdDSA)},
		jose.JSONWebKey{Key: k.rsa.Public(), KeyID: "rsa384", Algorithm: string(jose.RS384)},
		jose.JSONWebKey{Key: k.rsa.Public(), KeyID: "enc-only", Use: "enc"},
	)
	if err != nil {
		t.Fatalf("NewStaticKeySet() error = %v", err)
	}
	return ks
}

func jwtTestConfig() JWTConfig {
	return JWTConfig{
		Issuer:    jwtTestIssuer,
		Audiences: []string{"other", jwtTestAudience},
		Now:       func() time.Time { return jwtTestNow },
	}
}

// jwtMint describes a token to sign. Zero fields take defaults: RS256 with
// the "rsa" key, typ at+jwt and jwtTestClaims.
type jwtMint struct {
	alg     jose.SignatureAlgorithm
	key     any    // signing key; default by alg
	kid     string // "-" for none
	typ     string // "-" for none
	headers map[jose.HeaderKey]any
	embed   bool           // embed the signing key as a jwk header
	claims  map[string]any // merged over the defaults; a nil value deletes
	payload string         // raw payload, replacing claims
}

func jwtTestClaims() map[string]any {
	return map[string]any{
		"iss":       jwtTestIssuer,
		"sub":       "user-42",
		"aud":       jwtTestAudience,
		"exp":       jwtTestNow.Add(time.Hour).Unix(),
		"iat":       jwtTestNow.Add(-time.Minute).Unix(),
		"nbf":       jwtTestNow.Add(-time.Minute).Unix(),
		"jti":       "token-id-1",
		"client_id": "client-7",
		"scope":     "orders.read orders.write",
		"tenant":    "acme",
	}
}

func mintJWT(t testing.TB, m jwtMint) string {
	t.Helper()
	k := jwtTestKeys()
	if m.alg == "" {
		m.alg = jose.RS256
	}
	if m.key == nil {
		switch m.alg {
		case jose.ES256:
			m.key = k.ec
		case jose.EdDSA:
			m.key = k.ed
		default:
			m.key = k.rsa
		}
	}
	if m.kid == "" {
		switch m.alg {
		case jose.ES256:
			m.kid = "ec"
		case jose.EdDSA:
			m.kid = "ed"
		default:
			m.kid = "rsa"
		}
	}
	opts := &jose.SignerOptions{EmbedJWK: m.embed, ExtraHeaders: maps.Clone(m.headers)}
	switch m.typ {
	case "-":
	case "":
		opts = opts.WithType("at+jwt")
	default:
		opts = opts.WithType(jose.ContentType(m.typ))
	}
	if m.kid != "-" && !m.embed {
		opts = opts.WithHeader("kid", m.kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: m.alg, Key: m.key}, opts)
	if err != nil {
		t.Fatalf("jose.NewSigner() error = %v", err)
	}
	payload := []byte(m.payload)
	if m.payload == "" {
		claims := jwtTestClaims()
		for name, v := range m.claims {
			if v == nil {
				delete(claims, name)
			} else {
				claims[name] = v
			}
		}
		if payload, err = json.Marshal(claims); err != nil {
			t.Fatalf("json.Marshal() error = %v", err)
		}
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatalf("Sign() error = %v", err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatalf("CompactSerialize() error = %v", err)
	}
	return tok
}

// rawJWT assembles a compact JWS from a header, a payload and a signature
// function over the signing input, for tokens go-jose refuses to make.
func rawJWT(header, payload string, sign func(input []byte) []byte) string {
	enc := base64.RawURLEncoding
	input := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	return input + "." + enc.EncodeToString(sign([]byte(input)))
}

func jwtTestPayload(t testing.TB) string {
	t.Helper()
	b, err := json.Marshal(jwtTestClaims())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// replaceSegment replaces part i of a compact JWS with a base64url encoding
// of s.
func replaceSegment(tok string, i int, s string) string {
	parts := strings.Split(tok, ".")
	parts[i] = base64.RawURLEncoding.EncodeToString([]byte(s))
	return strings.Join(parts, ".")
}

func jwtTestContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), jwtTestTimeout)
	t.Cleanup(cancel)
	return ctx
}

func newTestJWT(t testing.TB, keys KeySet, edit func(*JWTConfig)) *JWT {
	t.Helper()
	cfg := jwtTestConfig()
	if edit != nil {
		edit(&cfg)
	}
	j, err := NewJWT(keys, cfg)
	if err != nil {
		t.Fatalf("NewJWT() error = %v", err)
	}
	return j
}

func TestJWT_VerifyValid(t *testing.T) {
	t.Parallel()
	ks := jwtTestKeySet(t)
	tests := map[string]struct {
		mint   jwtMint
		config func(*JWTConfig)
		check  func(t *testing.T, c *Claims)
	}{
		"RS256":        {mint: jwtMint{alg: jose.RS256}},
		"PS256":        {mint: jwtMint{alg: jose.PS256}},
		"ES256":        {mint: jwtMint{alg: jose.ES256}},
		"EdDSA":        {mint: jwtMint{alg: jose.EdDSA}},
		"NoKID":        {mint: jwtMint{alg: jose.ES256, kid: "-"}},
		"TypMediaType": {mint: jwtMint{typ: "application/AT+JWT"}},
		"TypJWTWhenUntypedAccepted": {
			mint:   jwtMint{typ: "JWT"},
			config: func(c *JWTConfig) { c.AcceptUntyped = true },
		},
		"NoTypWhenUntypedAccepted": {
			mint:   jwtMint{typ: "-"},
			config: func(c *JWTConfig) { c.AcceptUntyped = true },
		},
		"AudienceArrayHoldingOurs": {
			mint: jwtMint{claims: map[string]any{"aud": []string{"x", jwtTestAudience}}},
			check: func(t *testing.T, c *Claims) {
				if len(c.Audience()) != 2 || !c.HasAudience(jwtTestAudience) || !c.HasAudience("x") {
					t.Errorf("Audience = %q, want [x %s]", c.Audience(), jwtTestAudience)
				}
			},
		},
		"ExpFloat": {
			mint: jwtMint{claims: map[string]any{"exp": float64(jwtTestNow.Unix()) + 60.5}},
			check: func(t *testing.T, c *Claims) {
				if want := jwtTestNow.Add(60*time.Second + 500*time.Millisecond); !c.Expiry().Equal(want) {
					t.Errorf("Expiry = %v, want %v", c.Expiry(), want)
				}
			},
		},
		"ExpExponent": {mint: jwtMint{payload: `{"iss":"` + jwtTestIssuer + `","aud":"` + jwtTestAudience + `","exp":1.9e9}`}},
		"ExpJustInsideLeeway": {
			mint: jwtMint{claims: map[string]any{"exp": jwtTestNow.Add(-29 * time.Second).Unix()}},
		},
		"NbfAtLeewayBoundary": {
			mint: jwtMint{claims: map[string]any{"nbf": jwtTestNow.Add(30 * time.Second).Unix()}},
		},
		"IatAtLeewayBoundary": {
			mint: jwtMint{claims: map[string]any{"iat": jwtTestNow.Add(30 * time.Second).Unix()}},
		},
		"CustomLeeway": {
			mint:   jwtMint{claims: map[string]any{"exp": jwtTestNow.Add(-time.Minute).Unix()}},
			config: func(c *JWTConfig) { c.Leeway = 2 * time.Minute },
		},
		"ScpArray": {
			mint: jwtMint{claims: map[string]any{"scope": nil, "scp": []string{"b", "a"}}},
			check: func(t *testing.T, c *Claims) {
				if got := c.Scopes().String(); got != "a b" {
					t.Errorf("Scopes = %q, want %q", got, "a b")
				}
			},
		},
		"ScopeWinsOverScp": {
			mint: jwtMint{claims: map[string]any{"scp": []string{"admin"}}},
			check: func(t *testing.T, c *Claims) {
				if c.Scopes().Has("admin") {
					t.Errorf("Scopes = %q, want scp ignored when scope is present", c.Scopes())
				}
			},
		},
		"EscapedClaimName": {
			// "\u0065xp" is "exp": it must be read, not skipped.
			mint: jwtMint{payload: `{"iss":"` + jwtTestIssuer + `","aud":"` + jwtTestAudience +
				`","\u0065xp":1900000000,"sub":"a\"b\u00e9"}`},
			check: func(t *testing.T, c *Claims) {
				if c.Expiry().Unix() != 1900000000 || c.Subject() != "a\"bé" {
					t.Errorf("Expiry, Subject = %v, %q; want 1900000000, %q", c.Expiry().Unix(), c.Subject(), "a\"bé")
				}
			},
		},
		"ScopeWithEscapes": {
			// JSON escapes in scope are decoded before it is split.
			mint: jwtMint{payload: `{"iss":"` + jwtTestIssuer + `","aud":"` + jwtTestAudience +
				`","exp":1.9e9,"scope":"orders.read\u0020orders\u002ewrite"}`},
			check: func(t *testing.T, c *Claims) {
				if got := c.Scopes().String(); got != "orders.read orders.write" {
					t.Errorf("Scopes = %q, want %q", got, "orders.read orders.write")
				}
			},
		},
		"ExpLastSecondOf9999": {
			mint: jwtMint{claims: map[string]any{"exp": int64(253402300799)}},
			check: func(t *testing.T, c *Claims) {
				if want := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC); !c.Expiry().Equal(want) {
					t.Errorf("Expiry = %v, want %v", c.Expiry(), want)
				}
			},
		},
		"FractionalLastSecondOf9999": {
			mint: jwtMint{payload: `{"iss":"` + jwtTestIssuer + `","aud":"` + jwtTestAudience + `","exp":253402300799.0}`},
			check: func(t *testing.T, c *Claims) {
				if want := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC); !c.Expiry().Equal(want) {
					t.Errorf("Expiry = %v, want %v", c.Expiry(), want)
				}
			},
		},
		"FractionalZeroIat": {
			// 0 is a NumericDate (1970-01-01T00:00:00Z); only negatives are refused.
			mint: jwtMint{payload: `{"iss":"` + jwtTestIssuer + `","aud":"` + jwtTestAudience + `","exp":1.9e9,"iat":0.0}`},
			check: func(t *testing.T, c *Claims) {
				if !c.IssuedAt().Equal(time.Unix(0, 0)) {
					t.Errorf("IssuedAt = %v, want the epoch", c.IssuedAt())
				}
			},
		},
		"UnknownClaimsOfEveryType": {
			mint: jwtMint{claims: map[string]any{"x": map[string]any{"a": []any{1.5e3, true, false, nil, "s", map[string]any{}}}}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			j := newTestJWT(t, ks, tc.config)
			c, err := j.Verify(jwtTestContext(t), mintJWT(t, tc.mint))
			if err != nil {
				t.Fatalf("Verify() error = %v, want nil", err)
			}
			if c.Issuer() != jwtTestIssuer {
				t.Errorf("Issuer = %q, want %q", c.Issuer(), jwtTestIssuer)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

func TestJWT_VerifyClaims(t *testing.T) {
	t.Parallel()
	j := newTestJWT(t, jwtTestKeySet(t), nil)
	c, err := j.Verify(jwtTestContext(t), mintJWT(t, jwtMint{alg: jose.ES256}))
	if err != nil {
		t.Fatalf("Verify() error = %v", err)
	}
	want := struct {
		Issuer, Subject, ID, ClientID string
		Audience                      []string
		Expiry, NotBefore, IssuedAt   time.Time
	}{
		Issuer:    jwtTestIssuer,
		Subject:   "user-42",
		Audience:  []string{jwtTestAudience},
		Expiry:    jwtTestNow.Add(time.Hour),
		NotBefore: jwtTestNow.Add(-time.Minute),
		IssuedAt:  jwtTestNow.Add(-time.Minute),
		ID:        "token-id-1",
		ClientID:  "client-7",
	}
	if c.Issuer() != want.Issuer || c.Subject() != want.Subject || c.ID() != want.ID || c.ClientID() != want.ClientID ||
		!c.Expiry().Equal(want.Expiry) || !c.NotBefore().Equal(want.NotBefore) || !c.IssuedAt().Equal(want.IssuedAt) ||
		len(c.Audience()) != 1 || c.Audience()[0] != want.Audience[0] {
		t.Errorf("Verify() = %+v, want %+v", *c, want)
	}
	if got := c.Scopes().String(); got != "orders.read orders.write" {
		t.Errorf("Scopes = %q, want %q", got, "orders.read orders.write")
	}
	var custom struct {
		Tenant string `json:"tenant"`
	}
	if err := c.Decode(&custom); err != nil || custom.Tenant != "acme" {
		t.Errorf("Decode() = %q, %v; want %q, nil", custom.Tenant, err, "acme")
	}
}

func TestJWT_VerifyRejects(t *testing.T) {
	t.Parallel()
	k := jwtTestKeys()
	ks := jwtTestKeySet(t)
	base := jwtTestPayload(t)
	pubPEM := func() []byte {
		der, err := x509.MarshalPKIXPublicKey(k.rsa.Public())
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}()
	claims := func(c map[string]any) func(t testing.TB) string {
		return func(t testing.TB) string { return mintJWT(t, jwtMint{claims: c}) }
	}
	payload := func(p string) func(t testing.TB) string {
		return func(t testing.TB) string { return mintJWT(t, jwtMint{payload: p}) }
	}
	minted := func(m jwtMint) func(t testing.TB) string {
		return func(t testing.TB) string { return mintJWT(t, m) }
	}
	tests := map[string]struct {
		token     func(t testing.TB) string
		config    func(*JWTConfig)
		wantErr   error
		wantClaim string
	}{
		"Expired":          {token: claims(map[string]any{"exp": jwtTestNow.Add(-time.Hour).Unix()}), wantErr: ErrExpired, wantClaim: "exp"},
		"ExpiredAtLeeway":  {token: claims(map[string]any{"exp": jwtTestNow.Add(-30 * time.Second).Unix()}), wantErr: ErrExpired, wantClaim: "exp"},
		"NbfFuture":        {token: claims(map[string]any{"nbf": jwtTestNow.Add(31 * time.Second).Unix()}), wantErr: ErrNotYetValid, wantClaim: "nbf"},
		"IatFuture":        {token: claims(map[string]any{"iat": jwtTestNow.Add(31 * time.Second).Unix()}), wantErr: ErrIssuedInFuture, wantClaim: "iat"},
		"AuthTimeFuture":   {token: claims(map[string]any{"auth_time": jwtTestNow.Add(31 * time.Second).Unix()}), wantErr: ErrIssuedInFuture, wantClaim: "auth_time"},
		"MissingExp":       {token: claims(map[string]any{"exp": nil}), wantErr: ErrMissingClaim, wantClaim: "exp"},
		"MissingIss":       {token: claims(map[string]any{"iss": nil}), wantErr: ErrMissingClaim, wantClaim: "iss"},
		"MissingAud":       {token: claims(map[string]any{"aud": nil}), wantErr: ErrMissingClaim, wantClaim: "aud"},
		"WrongIss":         {token: claims(map[string]any{"iss": "https://evil.example/"}), wantErr: ErrIssuer, wantClaim: "iss"},
		"IssNoTrailingSl":  {token: claims(map[string]any{"iss": strings.TrimSuffix(jwtTestIssuer, "/")}), wantErr: ErrIssuer, wantClaim: "iss"},
		"IssExtraSlash":    {token: claims(map[string]any{"iss": jwtTestIssuer + "/"}), wantErr: ErrIssuer, wantClaim: "iss"},
		"IssNotString":     {token: claims(map[string]any{"iss": 7}), wantErr: ErrMalformed, wantClaim: "iss"},
		"WrongAud":         {token: claims(map[string]any{"aud": "https://evil.example"}), wantErr: ErrAudience, wantClaim: "aud"},
		"AudArrayNotOurs":  {token: claims(map[string]any{"aud": []string{"evil-a", "evil-b"}}), wantErr: ErrAudience, wantClaim: "aud"},
		"AudEmptyArray":    {token: claims(map[string]any{"aud": []string{}}), wantErr: ErrAudience, wantClaim: "aud"},
		"AudObject":        {token: claims(map[string]any{"aud": map[string]any{"a": jwtTestAudience}}), wantErr: ErrMalformed, wantClaim: "aud"},
		"AudArrayOfNumber": {token: claims(map[string]any{"aud": []any{jwtTestAudience, 1}}), wantErr: ErrMalformed, wantClaim: "aud"},
		"ExpString":        {token: claims(map[string]any{"exp": "1900000000"}), wantErr: ErrMalformed, wantClaim: "exp"},
		"ExpBool":          {token: claims(map[string]any{"exp": true}), wantErr: ErrMalformed, wantClaim: "exp"},
		"ExpNull":          {token: payload(`{"iss":"` + jwtTestIssuer + `","aud":"` + jwtTestAudience + `","exp":null}`), wantErr: ErrMissingClaim, wantClaim: "exp"}, // null is absent
		"ExpNegative":      {token: claims(map[string]any{"exp": -1}), wantErr: ErrMalformed, wantClaim: "exp"},
		"ExpHuge":          {token: claims(map[string]any{"exp": 1e20}), wantErr: ErrMalformed, wantClaim: "exp"},
		"ExpAfterYear9999": {token: claims(map[string]any{"exp": int64(253402300800)}), wantErr: ErrMalformed, wantClaim: "exp"},
		// With a typ that cannot tell ID tokens from access tokens, their
		// claims refuse a token; the error names the first of them.
		"IDTokenClaims": {
			token:   minted(jwtMint{typ: "JWT", claims: map[string]any{"nonce": "n", "at_hash": "h", "c_hash": "c"}}),
			config:  func(c *JWTConfig) { c.Types = []string{"JWT"} },
			wantErr: ErrType, wantClaim: "nonce",
		},
		"IDTokenHashes": {
			token:   minted(jwtMint{typ: "JWT", claims: map[string]any{"c_hash": "c", "at_hash": "h"}}),
			config:  func(c *JWTConfig) { c.Types = []string{"JWT"} },
			wantErr: ErrType, wantClaim: "at_hash",
		},
		"ExpFracAfter9999": {token: payload(`{"iss":"` + jwtTestIssuer + `","aud":"` + jwtTestAudience + `","exp":253402300799.5}`), wantErr: ErrMalformed, wantClaim: "exp"},
		"NbfString":        {token: claims(map[string]any{"nbf": "soon"}), wantErr: ErrMalformed, wantClaim: "nbf"},
		"SubNumber":        {token: claims(map[string]any{"sub": 42}), wantErr: ErrMalformed, wantClaim: "sub"},
		"DuplicateExp": {
			token:   payload(`{"iss":"` + jwtTestIssuer + `","aud":"` + jwtTestAudience + `","exp":1,"exp":1900000000}`),
			wantErr: ErrMalformed, wantClaim: "exp",
		},
		"ClaimNamesAreCaseSensitive": {
			// encoding/json would let "EXP" overwrite exp; RFC 7519 names
			// are case-sensitive, so exp stays expired.
			token:   payload(`{"iss":"` + jwtTestIssuer + `","aud":"` + jwtTestAudience + `","exp":1,"EXP":1900000000}`),
			wantErr: ErrExpired, wantClaim: "exp",
		},
		"PayloadNotJSON":    {token: payload(`not json`), wantErr: ErrMalformed},
		"PayloadArray":      {token: payload(`[1,2]`), wantErr: ErrMalformed},
		"PayloadTrailing":   {token: payload(base[:len(base)-1] + `}}`), wantErr: ErrMalformed},
		"PayloadTruncated":  {token: payload(base[:len(base)-1]), wantErr: ErrMalformed},
		"ScopeInjectionScp": {token: claims(map[string]any{"scope": nil, "scp": []string{"read admin"}}), wantErr: ErrMalformed, wantClaim: "scp"},
		"ScopeControlChar":  {token: claims(map[string]any{"scope": "read\tadmin"}), wantErr: ErrMalformed, wantClaim: "scope"},
		"ScopeNumber":       {token: claims(map[string]any{"scope": 1}), wantErr: ErrMalformed, wantClaim: "scope"},
		"AlgNotAllowed":     {token: minted(jwtMint{alg: jose.RS256}), config: func(c *JWTConfig) { c.Algorithms = []jose.SignatureAlgorithm{jose.ES256} }, wantErr: ErrAlgorithm, wantClaim: "alg"},
		"TypJWTByDefault":   {token: minted(jwtMint{typ: "JWT"}), wantErr: ErrType, wantClaim: "typ"},
		"NoTypByDefault":    {token: minted(jwtMint{typ: "-"}), wantErr: ErrType, wantClaim: "typ"},
		"TypIDToken":        {token: minted(jwtMint{typ: "id_token+jwt"}), config: func(c *JWTConfig) { c.AcceptUntyped = true }, wantErr: ErrType, wantClaim: "typ"},
		"TypNotString":      {token: minted(jwtMint{typ: "-", headers: map[jose.HeaderKey]any{"typ": 1}}), config: func(c *JWTConfig) { c.AcceptUntyped = true }, wantErr: ErrType, wantClaim: "typ"},
		// "" in Types accepts a token without typ, not one with an empty
		// typ, nor a bare "application/" (an empty media type).
		"TypEmptyWithEmptyInTypes":      {token: minted(jwtMint{typ: "-", headers: map[jose.HeaderKey]any{"typ": ""}}), config: func(c *JWTConfig) { c.Types = []string{"at+jwt", ""} }, wantErr: ErrType, wantClaim: "typ"},
		"TypBarePrefixWithEmptyInTypes": {token: minted(jwtMint{typ: "application/"}), config: func(c *JWTConfig) { c.Types = []string{"at+jwt", ""} }, wantErr: ErrType, wantClaim: "typ"},
		"TypBarePrefixAcceptUntyped":    {token: minted(jwtMint{typ: "application/"}), config: func(c *JWTConfig) { c.AcceptUntyped = true }, wantErr: ErrType, wantClaim: "typ"},
		"NestedJWT":                     {token: minted(jwtMint{headers: map[jose.HeaderKey]any{"cty": "JWT"}}), wantErr: ErrUnsupported, wantClaim: "cty"},
		"NestedJWTMediaType":            {token: minted(jwtMint{headers: map[jose.HeaderKey]any{"cty": "application/jwt"}}), wantErr: ErrUnsupported, wantClaim: "cty"},
		"UnknownCrit":                   {token: minted(jwtMint{headers: map[jose.HeaderKey]any{"crit": []string{"urn:x"}, "urn:x": 1}}), wantErr: ErrUnsupported, wantClaim: "crit"},
		"UnencodedPayload":              {token: minted(jwtMint{headers: map[jose.HeaderKey]any{"b64": true}}), wantErr: ErrUnsupported, wantClaim: "b64"},
		"JWE":                           {token: func(testing.TB) string { return "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d" }, wantErr: ErrUnsupported},
		"FourParts":                     {token: func(testing.TB) string { return "a.b.c.d" }, wantErr: ErrMalformed},
		"Empty":                         {token: func(testing.TB) string { return "" }, wantErr: ErrMalformed},
		"BadBase64":                     {token: func(testing.TB) string { return "!!.!!.!!" }, wantErr: ErrMalformed},
		"HeaderNotJSON": {
			token:   func(t testing.TB) string { return replaceSegment(mintJWT(t, jwtMint{}), 0, "nope") },
			wantErr: ErrMalformed,
		},
		"JSONSerialization": {
			token:   func(testing.TB) string { return `{"payload":"e30","protected":"e30","signature":""}` },
			wantErr: ErrMalformed,
		},
		"Oversized": {
			token:   claims(map[string]any{"pad": strings.Repeat("a", 9000)}),
			wantErr: ErrTooLarge,
		},
		"OverConfiguredSize": {
			token:   minted(jwtMint{}),
			config:  func(c *JWTConfig) { c.MaxTokenSize = 100 },
			wantErr: ErrTooLarge,
		},
		"TamperedPayload": {
			token: func(t testing.TB) string {
				return replaceSegment(mintJWT(t, jwtMint{}), 1, strings.Replace(jwtTestPayload(t), "user-42", "admin", 1))
			},
			wantErr: ErrSignature,
		},
		"TamperedHeader": {
			token: func(t testing.TB) string {
				return replaceSegment(mintJWT(t, jwtMint{}), 0, `{"alg":"RS256","kid":"rsa","typ":"at+jwt","x":1}`)
			},
			wantErr: ErrSignature,
		},
		"StrippedSignature": {
			token: func(t testing.TB) string {
				tok := mintJWT(t, jwtMint{})
				return tok[:strings.LastIndexByte(tok, '.')+1]
			},
			wantErr: ErrSignature,
		},
		"SignatureFromOtherKey": {
			token:   minted(jwtMint{alg: jose.ES256, key: k.attacker}),
			wantErr: ErrSignature,
		},
		"AlgNone": {
			token: func(t testing.TB) string {
				return rawJWT(`{"alg":"none","typ":"at+jwt","kid":"rsa"}`, jwtTestPayload(t), func([]byte) []byte { return nil })
			},
			wantErr: ErrAlgorithm, wantClaim: "alg",
		},
		"HS256KeyConfusion": {
			// The classic attack: HMAC keyed with the issuer's public key.
			token: func(t testing.TB) string {
				return rawJWT(`{"alg":"HS256","typ":"at+jwt","kid":"rsa"}`, jwtTestPayload(t), func(in []byte) []byte {
					mac := hmac.New(sha256.New, pubPEM)
					mac.Write(in)
					return mac.Sum(nil)
				})
			},
			wantErr: ErrAlgorithm, wantClaim: "alg",
		},
		"UnknownKID":         {token: minted(jwtMint{kid: "nope"}), wantErr: ErrUnknownKey, wantClaim: "kid"},
		"KIDOfWrongKeyType":  {token: minted(jwtMint{alg: jose.RS256, kid: "ec"}), wantErr: ErrAlgorithm, wantClaim: "alg"},
		"KIDOfEdKeyForES256": {token: minted(jwtMint{alg: jose.ES256, kid: "ed"}), wantErr: ErrAlgorithm, wantClaim: "alg"},
		"JWKPinnedToRS384":   {token: minted(jwtMint{alg: jose.RS256, kid: "rsa384"}), wantErr: ErrAlgorithm, wantClaim: "alg"},
		"EncKeyIgnored":      {token: minted(jwtMint{alg: jose.RS256, kid: "enc-only"}), wantErr: ErrUnknownKey, wantClaim: "kid"},
		"EmbeddedJWK": {
			// Signed by the attacker, whose key rides along in the header.
			token:   minted(jwtMint{alg: jose.ES256, key: k.attacker, embed: true}),
			wantErr: ErrSignature,
		},
		"EmbeddedJWKWithKID": {
			token: minted(jwtMint{alg: jose.ES256, key: k.attacker, headers: map[jose.HeaderKey]any{
				"jwk": jose.JSONWebKey{Key: k.attacker.Public()}, "kid": "ec",
			}}),
			wantErr: ErrSignature,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			j := newTestJWT(t, ks, tc.config)
			tok := tc.token(t)
			c, err := j.Verify(jwtTestContext(t), tok)
			if c != nil || !errors.Is(err, ErrInvalidToken) || !errors.Is(err, tc.wantErr) {
				t.Fatalf("Verify() = %v, %v; want nil, %v", c, err, tc.wantErr)
			}
			if errors.Is(err, ErrUnavailable) {
				t.Errorf("Verify() error = %v matches ErrUnavailable", err)
			}
			te, ok := errors.AsType[*TokenError](err)
			if !ok {
				t.Fatalf("Verify() error = %T, want *TokenError", err)
			}
			if te.Claim != tc.wantClaim {
				t.Errorf("TokenError.Claim = %q, want %q", te.Claim, tc.wantClaim)
			}
			msg := err.Error() + te.Description()
			leaks := []string{"evil", "user-42", "acme", "orders.read", "admin"}
			if tok != "" {
				leaks = append(leaks, tok)
				for part := range strings.SplitSeq(tok, ".") {
					if len(part) > 8 {
						leaks = append(leaks, part)
					}
				}
			}
			for _, s := range leaks {
				if strings.Contains(msg, s) {
					t.Errorf("Verify() error %q contains token data %q", msg, s)
				}
			}
		})
	}
}

// fakeKeySet returns a fixed answer.
type fakeKeySet struct {
	keys []jose.JSONWebKey
	err  error
}

func (f fakeKeySet) Keys(context.Context, string) ([]jose.JSONWebKey, error) { return f.keys, f.err }

func TestJWT_VerifyKeySetErrors(t *testing.T) {
	t.Parallel()
	k := jwtTestKeys()
	cause := errors.New("connection refused")
	tests := map[string]struct {
		keys       fakeKeySet
		wantErr    error
		notWantErr error
	}{
		"Unavailable": {
			keys:       fakeKeySet{err: &UnavailableError{Op: "fetch JWKS", Err: cause}},
			wantErr:    cause,
			notWantErr: ErrInvalidToken,
		},
		"UnknownKey": {
			keys:       fakeKeySet{err: &TokenError{Reason: ErrUnknownKey, Claim: "kid"}},
			wantErr:    ErrUnknownKey,
			notWantErr: ErrUnavailable,
		},
		"SymmetricKeyFromCustomSet": {
			// A KeySet that breaks its contract still cannot enable HMAC.
			keys:       fakeKeySet{keys: []jose.JSONWebKey{{Key: []byte("0123456789abcdef0123456789abcdef")}}},
			wantErr:    ErrAlgorithm,
			notWantErr: ErrUnavailable,
		},
		"EmptyFromCustomSet": {
			keys:       fakeKeySet{},
			wantErr:    ErrUnknownKey,
			notWantErr: ErrUnavailable,
		},
		"PrivateKeyFromCustomSet": {
			keys:       fakeKeySet{keys: []jose.JSONWebKey{{Key: k.rsa}}},
			wantErr:    ErrAlgorithm,
			notWantErr: ErrUnavailable,
		},
		"EncKeyFromCustomSet": {
			keys:       fakeKeySet{keys: []jose.JSONWebKey{{Key: k.rsa.Public(), Use: "enc"}}},
			wantErr:    ErrAlgorithm,
			notWantErr: ErrUnavailable,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			j := newTestJWT(t, tc.keys, nil)
			_, err := j.Verify(jwtTestContext(t), mintJWT(t, jwtMint{}))
			if !errors.Is(err, tc.wantErr) || errors.Is(err, tc.notWantErr) {
				t.Fatalf("Verify() error = %v, want %v and not %v", err, tc.wantErr, tc.notWantErr)
			}
		})
	}
	// The unavailable error must reach the caller unchanged.
	want := &UnavailableError{Op: "fetch JWKS", Err: cause}
	j := newTestJWT(t, fakeKeySet{err: want}, nil)
	if _, err := j.Verify(jwtTestContext(t), mintJWT(t, jwtMint{})); err != error(want) {
		t.Errorf("Verify() error = %v, want the key set's error unchanged", err)
	}
}

func TestNewJWT(t *testing.T) {
	t.Parallel()
	ks := jwtTestKeySet(t)
	tests := map[string]struct {
		keys     KeySet
		edit     func(*JWTConfig)
		wantText string // "" for success
	}{
		"Valid":            {keys: ks},
		"NilKeySet":        {keys: nil, wantText: "KeySet"},
		"NilStaticKeySet":  {keys: (*StaticKeySet)(nil), wantText: "StaticKeySet"},
		"EmptyIssuer":      {keys: ks, edit: func(c *JWTConfig) { c.Issuer = "" }, wantText: "JWTConfig.Issuer"},
		"NoAudiences":      {keys: ks, edit: func(c *JWTConfig) { c.Audiences = nil }, wantText: "JWTConfig.Audiences"},
		"EmptyAudience":    {keys: ks, edit: func(c *JWTConfig) { c.Audiences = []string{"a", ""} }, wantText: "JWTConfig.Audiences[1]"},
		"HS256":            {keys: ks, edit: func(c *JWTConfig) { c.Algorithms = []jose.SignatureAlgorithm{jose.RS256, jose.HS256} }, wantText: "JWTConfig.Algorithms"},
		"None":             {keys: ks, edit: func(c *JWTConfig) { c.Algorithms = []jose.SignatureAlgorithm{"none"} }, wantText: "JWTConfig.Algorithms"},
		"UnknownAlg":       {keys: ks, edit: func(c *JWTConfig) { c.Algorithms = []jose.SignatureAlgorithm{"RS1"} }, wantText: "JWTConfig.Algorithms"},
		"ExplicitAlgs":     {keys: ks, edit: func(c *JWTConfig) { c.Algorithms = []jose.SignatureAlgorithm{jose.ES256, jose.ES256} }},
		"NegativeLeeway":   {keys: ks, edit: func(c *JWTConfig) { c.Leeway = -time.Second }, wantText: "JWTConfig.Leeway"},
		"HugeLeeway":       {keys: ks, edit: func(c *JWTConfig) { c.Leeway = 6 * time.Minute }, wantText: "JWTConfig.Leeway"},
		"MaxLeeway":        {keys: ks, edit: func(c *JWTConfig) { c.Leeway = 5 * time.Minute }},
		"NegativeMaxSize":  {keys: ks, edit: func(c *JWTConfig) { c.MaxTokenSize = -1 }, wantText: "JWTConfig.MaxTokenSize"},
		"DefaultsOnlyReqd": {keys: ks, edit: func(c *JWTConfig) { *c = JWTConfig{Issuer: "i", Audiences: []string{"a"}} }},

		"Types":              {keys: ks, edit: func(c *JWTConfig) { c.Types = []string{"at+jwt", "application/JWT", ""} }},
		"TypesAndUntyped":    {keys: ks, edit: func(c *JWTConfig) { c.Types, c.AcceptUntyped = []string{"JWT"}, true }, wantText: "JWTConfig.Types and JWTConfig.AcceptUntyped"},
		"TypeWithSpace":      {keys: ks, edit: func(c *JWTConfig) { c.Types = []string{"at+jwt", "JWT "} }, wantText: "JWTConfig.Types[1]"},
		"IDTokensOnlyAT":     {keys: ks, edit: func(c *JWTConfig) { c.InsecureAcceptIDTokens = true }, wantText: "JWTConfig.InsecureAcceptIDTokens"},
		"GoogleWithoutOptIn": {keys: ks, edit: func(c *JWTConfig) { c.Issuer, c.Types = "https://accounts.google.com", []string{"JWT"} }, wantText: "JWTConfig.InsecureAcceptIDTokens"},
		"GoogleWithOptIn": {keys: ks, edit: func(c *JWTConfig) {
			c.Issuer, c.Types, c.InsecureAcceptIDTokens = "accounts.google.com", []string{"JWT"}, true
		}},
		"Authorities":    {keys: ks, edit: func(c *JWTConfig) { c.Authorities = []ClaimPath{{"scp"}, {"roles"}} }},
		"AuthoritiesBad": {keys: ks, edit: func(c *JWTConfig) { c.Authorities = []ClaimPath{{"aud"}} }, wantText: "JWTConfig.Authorities[0]"},
		"MergeAlone":     {keys: ks, edit: func(c *JWTConfig) { c.MergeAuthorities = true }, wantText: "JWTConfig.MergeAuthorities"},
		"ClientIDAudience": {keys: ks, edit: func(c *JWTConfig) {
			c.Audiences, c.ClientIDAudience = nil, &ClientIDAudience{ClientIDs: []string{"c"}, TokenUse: "access"}
		}},
		"ClientIDsEmpty": {keys: ks, edit: func(c *JWTConfig) { c.ClientIDAudience = &ClientIDAudience{TokenUse: "access"} }, wantText: "JWTConfig.ClientIDAudience.ClientIDs"},
		"ClientIDEmptyElement": {keys: ks, edit: func(c *JWTConfig) {
			c.ClientIDAudience = &ClientIDAudience{ClientIDs: []string{""}, TokenUse: "access"}
		}, wantText: "JWTConfig.ClientIDAudience.ClientIDs"},
		"TokenUseEmpty":        {keys: ks, edit: func(c *JWTConfig) { c.ClientIDAudience = &ClientIDAudience{ClientIDs: []string{"c"}} }, wantText: "JWTConfig.ClientIDAudience.TokenUse"},
		"NoAudienceNoClientID": {keys: ks, edit: func(c *JWTConfig) { c.Audiences = nil }, wantText: "JWTConfig.ClientIDAudience"},
		"Template":             {keys: ks, edit: func(c *JWTConfig) { c.Issuer, c.Tenants = "https://as.example/{tenant}/v2.0", []string{"t"} }},
		"TemplateAnyTenant":    {keys: ks, edit: func(c *JWTConfig) { c.Issuer, c.AnyTenant = "https://as.example/{tenant}/", true }},
		"TemplateNoTenants":    {keys: ks, edit: func(c *JWTConfig) { c.Issuer = "https://as.example/{tenant}/v2.0" }, wantText: "JWTConfig.Tenants"},
		"TemplateBoth": {keys: ks, edit: func(c *JWTConfig) {
			c.Issuer, c.Tenants, c.AnyTenant = "https://as.example/{tenant}/", []string{"t"}, true
		}, wantText: "JWTConfig.Tenants and JWTConfig.AnyTenant"},
		"TemplateTwice":       {keys: ks, edit: func(c *JWTConfig) { c.Issuer, c.AnyTenant = "https://as.example/{tenant}/{tenant}", true }, wantText: "more than once"},
		"TemplateInHost":      {keys: ks, edit: func(c *JWTConfig) { c.Issuer, c.AnyTenant = "https://{tenant}.as.example/", true }, wantText: "URL path"},
		"TenantsNoTemplate":   {keys: ks, edit: func(c *JWTConfig) { c.Tenants = []string{"t"} }, wantText: "{tenant} placeholder"},
		"AnyTenantNoTemplate": {keys: ks, edit: func(c *JWTConfig) { c.AnyTenant = true }, wantText: "{tenant} placeholder"},
		"TenantWithSlash":     {keys: ks, edit: func(c *JWTConfig) { c.Issuer, c.Tenants = "https://as.example/{tenant}/", []string{"a/b"} }, wantText: "JWTConfig.Tenants[0]"},
		"TenantWithSpace":     {keys: ks, edit: func(c *JWTConfig) { c.Issuer, c.Tenants = "https://as.example/{tenant}/", []string{"t", "a b"} }, wantText: "JWTConfig.Tenants[1]"},
		"TenantWithDEL":       {keys: ks, edit: func(c *JWTConfig) { c.Issuer, c.Tenants = "https://as.example/{tenant}/", []string{"a\x7fb"} }, wantText: "JWTConfig.Tenants[0]"},
		"TenantEmpty":         {keys: ks, edit: func(c *JWTConfig) { c.Issuer, c.Tenants = "https://as.example/{tenant}/", []string{""} }, wantText: "JWTConfig.Tenants[0]"},
		"TenantPrintableEnds": {keys: ks, edit: func(c *JWTConfig) { c.Issuer, c.Tenants = "https://as.example/{tenant}/", []string{"!~"} }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := jwtTestConfig()
			if tc.edit != nil {
				tc.edit(&cfg)
			}
			j, err := NewJWT(tc.keys, cfg)
			if tc.wantText == "" {
				if err != nil || j == nil {
					t.Fatalf("NewJWT() = %v, %v; want a verifier", j, err)
				}
				if j.Issuer() != cfg.Issuer {
					t.Errorf("Issuer() = %q, want %q", j.Issuer(), cfg.Issuer)
				}
				return
			}
			if err == nil || j != nil {
				t.Fatalf("NewJWT() = %v, %v; want an error", j, err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "verify: ") || !strings.Contains(msg, tc.wantText) {
				t.Errorf("NewJWT() error = %q, want it to start with %q and name %q", msg, "verify: ", tc.wantText)
			}
		})
	}
}

// TestJWT_MaxTokenSize: a token of exactly MaxTokenSize bytes is verified,
// one byte more is ErrTooLarge before anything else is looked at; Issuers
// caps at its largest verifier's size the same way.
func TestJWT_MaxTokenSize(t *testing.T) {
	t.Parallel()
	tok := mintJWT(t, jwtMint{})
	tests := map[string]struct {
		max     int
		wantErr error
	}{
		"Exactly":  {max: len(tok)},
		"OneShort": {max: len(tok) - 1, wantErr: ErrTooLarge},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			j := newTestJWT(t, jwtTestKeySet(t), func(c *JWTConfig) { c.MaxTokenSize = tc.max })
			is, err := NewIssuers(j)
			if err != nil {
				t.Fatal(err)
			}
			for verifier, v := range map[string]Verifier{"JWT": j, "Issuers": is} {
				_, err := v.Verify(jwtTestContext(t), tok)
				if tc.wantErr == nil && err != nil || !errors.Is(err, tc.wantErr) {
					t.Errorf("%s.Verify(%d-byte token) with MaxTokenSize %d = %v, want %v", verifier, len(tok), tc.max, err, tc.wantErr)
				}
			}
		})
	}
}

func TestNewJWT_Defaults(t *testing.T) {
	t.Parallel()
	algs := []jose.SignatureAlgorithm{jose.ES256}
	auds := []string{jwtTestAudience}
	j, err := NewJWT(jwtTestKeySet(t), JWTConfig{Issuer: jwtTestIssuer, Audiences: auds, Algorithms: algs})
	if err != nil {
		t.Fatal(err)
	}
	if j.leeway != 30*time.Second || j.maxTokenSize != 8<<10 || j.now == nil {
		t.Errorf("defaults = %v, %d, now set %t; want 30s, 8192, true", j.leeway, j.maxTokenSize, j.now != nil)
	}
	// The config's slices are copied: later changes have no effect.
	algs[0], auds[0] = jose.RS256, "changed"
	if j.algorithms[0] != jose.ES256 || j.rules.audiences[0] != jwtTestAudience {
		t.Errorf("NewJWT kept the caller's slices")
	}
}

func TestJWT_VerifyUsesClock(t *testing.T) {
	t.Parallel()
	now := jwtTestNow
	j := newTestJWT(t, jwtTestKeySet(t), func(c *JWTConfig) { c.Now = func() time.Time { return now } })
	tok := mintJWT(t, jwtMint{})
	if _, err := j.Verify(jwtTestContext(t), tok); err != nil {
		t.Fatalf("Verify() error = %v", err)
	}
	now = jwtTestNow.Add(2 * time.Hour)
	if _, err := j.Verify(jwtTestContext(t), tok); !errors.Is(err, ErrExpired) {
		t.Fatalf("Verify() after exp error = %v, want ErrExpired", err)
	}
}

func FuzzJWT_Verify(f *testing.F) {
	ks := jwtTestKeySet(f)
	j := newTestJWT(f, ks, nil)
	f.Add(mintJWT(f, jwtMint{}))
	f.Add(mintJWT(f, jwtMint{alg: jose.ES256}))
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := j.Verify(t.Context(), tok)
		if (c == nil) == (err == nil) {
			t.Fatalf("Verify() = %v, %v; want exactly one of claims and error", c, err)
		}
		if err != nil && !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("Verify() error = %v, want ErrInvalidToken", err)
		}
	})
}
