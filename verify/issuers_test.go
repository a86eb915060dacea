package verify

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// remoteMint signs claims as an RFC 9068 access token with priv.
func remoteMint(t testing.TB, priv jose.JSONWebKey, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.SignatureAlgorithm(priv.Algorithm), Key: priv},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func remoteClaims(iss string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": iss, "aud": "https://api.example.com", "sub": "alice", "client_id": "app",
		"scope": "orders.read", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

// remoteTenant is one authorization server: a JWKS endpoint, a remote key
// set for it and a JWT verifier on top.
type remoteTenant struct {
	issuer string
	priv   jose.JSONWebKey
	srv    *jwksServer
	keys   *RemoteKeySet
	jwt    *JWT
}

func newRemoteTenant(t *testing.T, issuer, kid string) *remoteTenant {
	t.Helper()
	priv, pub := remoteTestKey(t, kid)
	srv := newJWKSServer(t, pub)
	keys := newTestRemote(t, srv, RemoteKeySetConfig{Now: newRemoteClock().Now})
	jwt, err := NewJWT(keys, JWTConfig{Issuer: issuer, Audiences: []string{"https://api.example.com"}})
	if err != nil {
		t.Fatalf("NewJWT() error = %v", err)
	}
	return &remoteTenant{issuer: issuer, priv: priv, srv: srv, keys: keys, jwt: jwt}
}

func TestIssuers_Routing(t *testing.T) {
	t.Parallel()
	ctx := remoteTestContext(t)
	a := newRemoteTenant(t, "https://a.example.com", "ka")
	b := newRemoteTenant(t, "https://b.example.com/tenant", "ecb")
	is, err := NewIssuers(a.jwt, b.jwt)
	if err != nil {
		t.Fatalf("NewIssuers() error = %v", err)
	}

	// An unknown issuer is rejected before any key set is asked.
	_, err = is.Verify(ctx, remoteMint(t, a.priv, remoteClaims("https://evil.example.com")))
	var te *TokenError
	if !errors.As(err, &te) || !errors.Is(err, ErrIssuer) || te.Claim != "iss" {
		t.Fatalf("Verify(unknown iss) error = %v, want a *TokenError for iss", err)
	}
	remoteWantRequests(t, a.srv, 0)
	remoteWantRequests(t, b.srv, 0)

	for _, tn := range []*remoteTenant{a, b} {
		c, err := is.Verify(ctx, remoteMint(t, tn.priv, remoteClaims(tn.issuer)))
		if err != nil {
			t.Fatalf("Verify(token of %s) error = %v", tn.issuer, err)
		}
		if c.Issuer() != tn.issuer || c.Subject() != "alice" || !c.Scopes().Has("orders.read") {
			t.Fatalf("Verify(token of %s) = %+v", tn.issuer, c)
		}
		remoteWantRequests(t, tn.srv, 1)
	}

	// B's key cannot sign for A: routing by the unverified iss only picks
	// A's verifier, which checks the signature against A's keys.
	_, err = is.Verify(ctx, remoteMint(t, b.priv, remoteClaims(a.issuer)))
	if !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("Verify(B-signed token claiming A) error = %v, want %v", err, ErrInvalidToken)
	}
}

func TestIssuers_Malformed(t *testing.T) {
	t.Parallel()
	ctx := remoteTestContext(t)
	a := newRemoteTenant(t, "https://a.example.com", "ka")
	is, err := NewIssuers(a.jwt)
	if err != nil {
		t.Fatal(err)
	}
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	hdr := enc(`{"alg":"EdDSA","typ":"at+jwt","kid":"ka"}`)
	tests := map[string]struct {
		token string
		want  error
	}{
		"Empty":          {token: "", want: ErrMalformed},
		"OnePart":        {token: "abc", want: ErrMalformed},
		"TwoParts":       {token: hdr + "." + enc(`{"iss":"https://a.example.com"}`), want: ErrMalformed},
		"BadBase64":      {token: hdr + ".!!!.sig", want: ErrMalformed},
		"NotJSON":        {token: hdr + "." + enc("iss") + ".sig", want: ErrMalformed},
		"IssNotString":   {token: hdr + "." + enc(`{"iss":42}`) + ".sig", want: ErrMalformed},
		"NoIss":          {token: hdr + "." + enc(`{"sub":"x"}`) + ".sig", want: ErrMissingClaim},
		"JWE":            {token: "a.b.c.d.e", want: ErrUnsupported},
		"TooLarge":       {token: hdr + "." + strings.Repeat("A", 9<<10) + ".sig", want: ErrTooLarge},
		"ForgedKnownIss": {token: hdr + "." + enc(`{"iss":"https://a.example.com"}`) + ".c2ln", want: ErrInvalidToken},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := is.Verify(ctx, tc.token)
			if !errors.Is(err, tc.want) || !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify(%s) error = %v, want %v", name, err, tc.want)
			}
		})
	}
}

func TestNewIssuers_Errors(t *testing.T) {
	t.Parallel()
	a := newRemoteTenant(t, "https://a.example.com", "ka")
	a2 := newRemoteTenant(t, "https://a.example.com", "ka2")
	tests := map[string]struct {
		verifiers []*JWT
		want      string
	}{
		"None":      {want: "at least one"},
		"Nil":       {verifiers: []*JWT{a.jwt, nil}, want: "nil"},
		"Duplicate": {verifiers: []*JWT{a.jwt, a2.jwt}, want: "two verifiers"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := NewIssuers(tc.verifiers...)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "verify: ") {
				t.Fatalf("NewIssuers() error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestRemoteKeySet_JWT verifies tokens end to end through NewJWT and a
// remote key set, across a key rotation.
func TestRemoteKeySet_JWT(t *testing.T) {
	t.Parallel()
	ctx := remoteTestContext(t)
	clock := newRemoteClock()
	priv1, pub1 := remoteTestKey(t, "k1")
	priv2, pub2 := remoteTestKey(t, "ec2")
	srv := newJWKSServer(t, pub1)
	keys := newTestRemote(t, srv, RemoteKeySetConfig{Now: clock.Now})
	jwt, err := NewJWT(keys, JWTConfig{Issuer: "https://a.example.com", Audiences: []string{"https://api.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jwt.Verify(ctx, remoteMint(t, priv1, remoteClaims("https://a.example.com"))); err != nil {
		t.Fatalf("Verify(k1 token) error = %v", err)
	}
	// A token with a kid nobody published fails as an unknown key, without
	// a fetch inside the cooldown.
	_, err = jwt.Verify(ctx, remoteMint(t, priv2, remoteClaims("https://a.example.com")))
	if !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Verify(unpublished key) error = %v, want %v", err, ErrUnknownKey)
	}
	remoteWantRequests(t, srv, 1)

	// Rotation: the server publishes ec2 next to k1.
	srv.setKeys(pub1, pub2)
	clock.Advance(keys.cfg.UnknownKeyCooldown)
	if _, err := jwt.Verify(ctx, remoteMint(t, priv2, remoteClaims("https://a.example.com"))); err != nil {
		t.Fatalf("Verify(rotated key) error = %v", err)
	}
	remoteWantRequests(t, srv, 2)

	// Outage beyond MaxStale: the token is fine but cannot be checked.
	srv.setMode(jwksMode500)
	clock.Advance(keys.cfg.MaxStale)
	_, err = jwt.Verify(ctx, remoteMint(t, priv1, remoteClaims("https://a.example.com")))
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrInvalidToken) {
		t.Fatalf("Verify() during a long outage error = %v, want %v only", err, ErrUnavailable)
	}
}

// TestUnverifiedIssuer reads iss as the verifier does: exact names, and a
// repeated iss is malformed whichever copy a lenient reader would take.
func TestUnverifiedIssuer(t *testing.T) {
	t.Parallel()
	enc := base64.RawURLEncoding
	tok := func(payload string) string {
		return enc.EncodeToString([]byte(`{"alg":"ES256"}`)) + "." + enc.EncodeToString([]byte(payload)) + ".c2ln"
	}
	tests := map[string]struct {
		payload string
		want    string
		wantErr error
	}{
		"Plain":       {payload: `{"iss":"https://a"}`, want: "https://a"},
		"FoldedLongS": {payload: `{"iss":"https://a","iſs":"https://b"}`, want: "https://a"},
		"OtherCase":   {payload: `{"ISS":"https://b","iss":"https://a"}`, want: "https://a"},
		"Duplicate":   {payload: `{"iss":"https://a","iss":"https://b"}`, wantErr: ErrMalformed},
		"Escaped":     {payload: `{"iss":"https://a","\u0069ss":"https://b"}`, wantErr: ErrMalformed},
		"Missing":     {payload: `{"Iss":"https://a"}`, wantErr: ErrMissingClaim},
		"Trailing":    {payload: `{"iss":"https://a"}x`, wantErr: ErrMalformed},
	}
	for name, tc := range tests {
		got, err := unverifiedIssuer(tok(tc.payload))
		if tc.wantErr != nil {
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("%s: unverifiedIssuer() error = %v, want %v", name, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: unverifiedIssuer() = %q, %v; want %q", name, got, err, tc.want)
		}
	}
}
