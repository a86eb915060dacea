package verify

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/oauthtest"
)

// remoteTenant is one authorization server: an in-memory issuer, a remote
// key set for its JWKS and a JWT verifier on top.
type remoteTenant struct {
	issuer string
	iss    *oauthtest.Issuer
	keys   *RemoteKeySet
	jwt    *JWT
}

// newRemoteTenant starts a tenant whose verifier expects issuer, or the
// issuer's own URL if issuer is "".
func newRemoteTenant(t *testing.T, issuer string, opts ...oauthtest.IssuerConfig) *remoteTenant {
	t.Helper()
	iss := newRemoteIssuer(t, opts...)
	keys := newTestRemote(t, iss, RemoteKeySetConfig{Now: oauthtest.NewClock(remoteStart).Now})
	if issuer == "" {
		issuer = iss.URL
	}
	jwt, err := NewJWT(keys, JWTConfig{Issuer: issuer, Audiences: []string{oauthtest.DefaultAudience}})
	if err != nil {
		t.Fatalf("NewJWT() error = %v", err)
	}
	return &remoteTenant{issuer: issuer, iss: iss, keys: keys, jwt: jwt}
}

// token mints a token of the tenant's issuer, with opts.
func (tn *remoteTenant) token(t *testing.T, opts ...oauthtest.Token) string {
	t.Helper()
	return tn.iss.Token(t, append([]oauthtest.Token{
		{Subject: "alice", Scopes: []string{"orders.read"}},
	}, opts...)...)
}

func TestIssuers_Routing(t *testing.T) {
	t.Parallel()
	ctx := remoteTestContext(t)
	a := newRemoteTenant(t, "")
	b := newRemoteTenant(t, "", oauthtest.IssuerConfig{Path: "/tenant", Algorithm: jose.EdDSA})
	is, err := NewIssuers(a.jwt, b.jwt)
	if err != nil {
		t.Fatalf("NewIssuers() error = %v", err)
	}

	// An unknown issuer is rejected before any key set is asked.
	_, err = is.Verify(ctx, a.token(t, oauthtest.Token{Issuer: "https://evil.example.com"}))
	var te *TokenError
	if !errors.As(err, &te) || !errors.Is(err, ErrIssuer) || te.Claim != "iss" {
		t.Fatalf("Verify(unknown iss) error = %v, want a *TokenError for iss", err)
	}
	remoteWantRequests(t, a.iss, 0)
	remoteWantRequests(t, b.iss, 0)

	for _, tn := range []*remoteTenant{a, b} {
		c, err := is.Verify(ctx, tn.token(t))
		if err != nil {
			t.Fatalf("Verify(token of %s) error = %v", tn.issuer, err)
		}
		if c.Issuer() != tn.issuer || c.Subject() != "alice" || !c.Scopes().Has("orders.read") {
			t.Fatalf("Verify(token of %s) = %+v", tn.issuer, c)
		}
		remoteWantRequests(t, tn.iss, 1)
	}

	// B's key cannot sign for A: routing by the unverified iss only picks
	// A's verifier, which checks the signature against A's keys.
	_, err = is.Verify(ctx, b.token(t, oauthtest.Token{Issuer: a.issuer}))
	if !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("Verify(B-signed token claiming A) error = %v, want %v", err, ErrInvalidToken)
	}
}

func TestIssuers_Malformed(t *testing.T) {
	t.Parallel()
	a := newRemoteTenant(t, "")
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
		"TwoParts":       {token: hdr + "." + enc(`{"iss":"`+a.issuer+`"}`), want: ErrMalformed},
		"BadBase64":      {token: hdr + ".!!!.sig", want: ErrMalformed},
		"NotJSON":        {token: hdr + "." + enc("iss") + ".sig", want: ErrMalformed},
		"IssNotString":   {token: hdr + "." + enc(`{"iss":42}`) + ".sig", want: ErrMalformed},
		"NoIss":          {token: hdr + "." + enc(`{"sub":"x"}`) + ".sig", want: ErrMissingClaim},
		"JWE":            {token: "a.b.c.d.e", want: ErrUnsupported},
		"TooLarge":       {token: hdr + "." + strings.Repeat("A", 9<<10) + ".sig", want: ErrTooLarge},
		"ForgedKnownIss": {token: hdr + "." + enc(`{"iss":"`+a.issuer+`"}`) + ".c2ln", want: ErrInvalidToken},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := remoteTestContext(t) // its own: a parallel subtest may start long after its parent
			_, err := is.Verify(ctx, tc.token)
			if !errors.Is(err, tc.want) || !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify(%s) error = %v, want %v", name, err, tc.want)
			}
		})
	}
}

func TestNewIssuers_Errors(t *testing.T) {
	t.Parallel()
	a := newRemoteTenant(t, "https://a.example.com")
	a2 := newRemoteTenant(t, "https://a.example.com")
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

// TestIssuers_Templates routes by issuer template: an exact issuer first,
// then the first template that accepts iss; an exact issuer that a template
// also accepts is a configuration error.
func TestIssuers_Templates(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	keys, err := NewStaticKeySet(iss.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	newJWT := func(cfg JWTConfig) *JWT {
		t.Helper()
		cfg.Audiences = []string{oauthtest.DefaultAudience}
		j, err := NewJWT(keys, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	v2 := newJWT(JWTConfig{Issuer: "https://login.example.com/{tenant}/v2.0", Tenants: []string{"t1", "t2"}})
	v1 := newJWT(JWTConfig{Issuer: "https://sts.example.net/{tenant}/", AnyTenant: true})
	exact := newJWT(JWTConfig{Issuer: "https://login.example.com/other"})
	is, err := NewIssuers(exact, v2, v1)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		iss, tid  string
		wantErr   error
		wantClaim string
	}{
		"V2":              {iss: "https://login.example.com/t2/v2.0", tid: "t2"},
		"V1AnyTenant":     {iss: "https://sts.example.net/t9/", tid: "t9"},
		"Exact":           {iss: "https://login.example.com/other"},
		"TenantNotListed": {iss: "https://login.example.com/t3/v2.0", tid: "t3", wantErr: ErrIssuer, wantClaim: "iss"},
		"OtherTid":        {iss: "https://login.example.com/t1/v2.0", tid: "t2", wantErr: ErrIssuer, wantClaim: "tid"},
		"TemplateItself":  {iss: "https://login.example.com/{tenant}/v2.0", tid: "{tenant}", wantErr: ErrIssuer, wantClaim: "iss"},
		// Any tenant is any non-empty path segment of printable ASCII.
		"TenantPrintable": {iss: "https://sts.example.net/!t~/", tid: "!t~"},
		"TenantSpace":     {iss: "https://sts.example.net/t 9/", tid: "t 9", wantErr: ErrIssuer, wantClaim: "iss"},
		"TenantDEL":       {iss: "https://sts.example.net/t\x7f/", tid: "t\x7f", wantErr: ErrIssuer, wantClaim: "iss"},
		"TenantEmpty":     {iss: "https://sts.example.net//", tid: "", wantErr: ErrIssuer, wantClaim: "iss"},
		"TenantTwoSegs":   {iss: "https://sts.example.net/t1/t2/", tid: "t1/t2", wantErr: ErrIssuer, wantClaim: "iss"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := remoteTestContext(t) // its own: a parallel subtest may start long after its parent
			opts := []oauthtest.Token{{Issuer: tc.iss}}
			if tc.tid != "" {
				opts = append(opts, oauthtest.Token{Claims: map[string]any{"tid": tc.tid}})
			}
			c, err := is.Verify(ctx, iss.Token(t, opts...))
			if tc.wantErr == nil {
				if err != nil || c.Issuer() != tc.iss {
					t.Fatalf("Verify() = %v, %v; want claims of %s", c, err, tc.iss)
				}
				return
			}
			te, ok := errors.AsType[*TokenError](err)
			if !errors.Is(err, tc.wantErr) || !ok || te.Claim != tc.wantClaim {
				t.Fatalf("Verify() error = %v, want %v on %q", err, tc.wantErr, tc.wantClaim)
			}
		})
	}
	shadowed := newJWT(JWTConfig{Issuer: "https://login.example.com/t1/v2.0"})
	if _, err := NewIssuers(v2, shadowed); err == nil || !strings.Contains(err.Error(), "template") {
		t.Errorf("NewIssuers(template, exact issuer it accepts) error = %v, want one naming the template", err)
	}
}

// TestRemoteKeySet_JWT verifies tokens end to end through NewJWT and a
// remote key set, across a key rotation.
func TestRemoteKeySet_JWT(t *testing.T) {
	t.Parallel()
	ctx := remoteTestContext(t)
	clock := oauthtest.NewClock(remoteStart)
	iss := newRemoteIssuer(t)
	keys := newTestRemote(t, iss, RemoteKeySetConfig{Now: clock.Now})
	jwt, err := NewJWT(keys, JWTConfig{Issuer: iss.URL, Audiences: []string{oauthtest.DefaultAudience}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jwt.Verify(ctx, iss.Token(t)); err != nil {
		t.Fatalf("Verify(token) error = %v", err)
	}
	// A token with a kid nobody published fails as an unknown key, without
	// a fetch inside the cooldown.
	_, err = jwt.Verify(ctx, iss.Token(t, oauthtest.Token{KeyID: "unpublished"}))
	if !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Verify(unpublished key) error = %v, want %v", err, ErrUnknownKey)
	}
	remoteWantRequests(t, iss, 1)

	// Rotation: the server publishes a second key next to the first.
	rotated := iss.Token(t, oauthtest.Token{Algorithm: jose.EdDSA})
	_, err = jwt.Verify(ctx, rotated)
	if !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Verify(new key within the cooldown) error = %v, want %v", err, ErrUnknownKey)
	}
	clock.Advance(keys.cfg.UnknownKeyCooldown)
	if _, err := jwt.Verify(ctx, rotated); err != nil {
		t.Fatalf("Verify(rotated key) error = %v", err)
	}
	remoteWantRequests(t, iss, 2)

	// Outage beyond MaxStale: the token is fine but cannot be checked.
	iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{Status: http.StatusInternalServerError})
	clock.Advance(keys.cfg.MaxStale)
	_, err = jwt.Verify(ctx, iss.Token(t))
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

// TestClaims_Tenant: Claims.Tenant is the tenant an issuer template
// matched (equal to tid), on every answer, cached or not, and "" for an
// exact issuer even when its token carries a tid.
func TestClaims_Tenant(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	keys, err := NewStaticKeySet(iss.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	newJWT := func(cfg JWTConfig) *JWT {
		t.Helper()
		cfg.Audiences = []string{oauthtest.DefaultAudience}
		j, err := NewJWT(keys, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	listed := newJWT(JWTConfig{Issuer: "https://login.example.com/{tenant}/v2.0", Tenants: []string{"t1", "t2"}})
	anyTenant := newJWT(JWTConfig{Issuer: "https://sts.example.net/{tenant}/", AnyTenant: true})
	exact := newJWT(JWTConfig{Issuer: "https://login.example.com/other"})
	is, err := NewIssuers(exact, listed, anyTenant)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		v          Verifier
		iss, tid   string
		wantTenant string
	}{
		"Listed":          {v: listed, iss: "https://login.example.com/t2/v2.0", tid: "t2", wantTenant: "t2"},
		"AnyTenant":       {v: anyTenant, iss: "https://sts.example.net/t9/", tid: "t9", wantTenant: "t9"},
		"ThroughIssuers":  {v: is, iss: "https://sts.example.net/t9/", tid: "t9", wantTenant: "t9"},
		"Exact":           {v: exact, iss: "https://login.example.com/other"},
		"ExactWithTid":    {v: exact, iss: "https://login.example.com/other", tid: "t1"},
		"ExactViaIssuers": {v: is, iss: "https://login.example.com/other", tid: "t1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := remoteTestContext(t) // its own: a parallel subtest may start long after its parent
			opts := []oauthtest.Token{{Issuer: tc.iss}}
			if tc.tid != "" {
				opts = append(opts, oauthtest.Token{Claims: map[string]any{"tid": tc.tid}})
			}
			tok := iss.Token(t, opts...)
			for _, call := range []string{"first", "cached"} {
				c, err := tc.v.Verify(ctx, tok)
				if err != nil {
					t.Fatalf("Verify() (%s) error = %v", call, err)
				}
				if got := c.Tenant(); got != tc.wantTenant {
					t.Errorf("Tenant() (%s) = %q, want %q", call, got, tc.wantTenant)
				}
			}
		})
	}
	c, err := ParseClaims([]byte(`{"iss":"https://sts.example.net/t9/","tid":"t9"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Tenant(); got != "" {
		t.Errorf("ParseClaims(with tid).Tenant() = %q, want \"\": no template matched", got)
	}
}
