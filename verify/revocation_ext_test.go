package verify_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/verify"
)

// revocationsFunc is a verify.Revocations answering r for every token.
type revocationsFunc func(*verify.Claims) verify.Revocation

func (f revocationsFunc) Lookup(c *verify.Claims) verify.Revocation { return f(c) }

// generational is a revocationsFunc with a Generation, which the test
// changes when it changes the answer.
type generational struct {
	revocationsFunc
	gen *atomic.Uint64
}

func (g generational) Generation() uint64 { return g.gen.Load() }

// TestJWT_Revocations applies each kind of event to a JWT, with the cache
// on (the second call is a hit) and off.
func TestJWT_Revocations(t *testing.T) {
	t.Parallel()
	clock := oauthtest.NewClock(time.Unix(1_800_000_000, 0))
	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{Now: clock.Now})
	event := clock.Now()
	issued := map[string]string{
		"Before":     iss.Token(t, oauthtest.Token{Claims: map[string]any{"acr": "mfa", "iat": event.Add(-time.Second).Unix()}}),
		"AtEvent":    iss.Token(t, oauthtest.Token{Claims: map[string]any{"acr": "mfa", "iat": event.Unix()}}),
		"After":      iss.Token(t, oauthtest.Token{Claims: map[string]any{"acr": "mfa", "iat": event.Add(time.Second).Unix()}}),
		"WithoutIat": iss.Token(t, oauthtest.Token{Claims: map[string]any{"acr": "mfa", "iat": nil}}),
	}
	tests := map[string]struct {
		rev     verify.Revocation
		token   string
		wantErr error
		wantACR string
	}{
		"RevokedBefore":     {rev: verify.Revocation{Revoked: event}, token: "Before", wantErr: verify.ErrRevoked},
		"RevokedAtEvent":    {rev: verify.Revocation{Revoked: event}, token: "AtEvent", wantErr: verify.ErrRevoked},
		"RevokedAfter":      {rev: verify.Revocation{Revoked: event}, token: "After", wantACR: "mfa"},
		"RevokedWithoutIat": {rev: verify.Revocation{Revoked: event}, token: "WithoutIat", wantErr: verify.ErrRevoked},
		"Changed":           {rev: verify.Revocation{Changed: event}, token: "Before", wantACR: "mfa"},
		"AssuranceBefore":   {rev: verify.Revocation{Assurance: event}, token: "Before"},
		"AssuranceAfter":    {rev: verify.Revocation{Assurance: event}, token: "After", wantACR: "mfa"},
		"AssuranceNoIat":    {rev: verify.Revocation{Assurance: event}, token: "WithoutIat"},
		"None":              {token: "Before", wantACR: "mfa"},
	}
	for name, tc := range tests {
		for _, mode := range []string{"Cached", "CachedGenerational", "Uncached"} {
			cached := mode != "Uncached"
			t.Run(name+"/"+mode, func(t *testing.T) {
				t.Parallel()
				keys, err := verify.NewStaticKeySet(iss.JWKS().Keys...)
				if err != nil {
					t.Fatal(err)
				}
				var on atomic.Bool // the event is known from the second call on
				var revs verify.Revocations = revocationsFunc(func(*verify.Claims) verify.Revocation {
					if on.Load() {
						return tc.rev
					}
					return verify.Revocation{}
				})
				gen := new(atomic.Uint64)
				if mode == "CachedGenerational" {
					revs = generational{revs.(revocationsFunc), gen}
				}
				jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: iss.URL, Audiences: []string{oauthtest.DefaultAudience},
					Now: clock.Now, DisableCache: !cached, Revocations: revs})
				if err != nil {
					t.Fatal(err)
				}
				tok := issued[tc.token]
				if _, err := jwt.Verify(t.Context(), tok); err != nil {
					t.Fatalf("Verify() before the event error = %v", err)
				}
				for range 2 { // a second hit at the same generation skips Lookup
					if _, err := jwt.Verify(t.Context(), tok); err != nil {
						t.Fatalf("Verify() before the event error = %v", err)
					}
				}
				on.Store(true)
				gen.Add(1)
				for range 2 {
					c, err := jwt.Verify(t.Context(), tok)
					if !errors.Is(err, tc.wantErr) {
						t.Fatalf("Verify() error = %v, want %v", err, tc.wantErr)
					}
					if err == nil && c.ACR() != tc.wantACR {
						t.Errorf("Verify().ACR() = %q, want %q", c.ACR(), tc.wantACR)
					}
				}
			})
		}
	}
}

// TestIntrospection_RevocationsWithoutIat: an introspected token without
// iat is asked about again after a revocation; the authorization server's
// new answer decides.
func TestIntrospection_RevocationsWithoutIat(t *testing.T) {
	t.Parallel()
	clock := oauthtest.NewClock(time.Unix(1_800_000_000, 0))
	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{Now: clock.Now})
	var rev verify.Revocation
	in, err := verify.NewIntrospection(verify.IntrospectionConfig{
		Endpoint: iss.EndpointURL(oauthtest.EndpointIntrospection), ClientID: iss.ClientID,
		ClientSecret: verify.Secret(iss.ClientSecret), Audiences: []string{oauthtest.DefaultAudience},
		InsecureAllowHTTP: true, CacheTTL: time.Hour, Now: clock.Now,
		Revocations: revocationsFunc(func(*verify.Claims) verify.Revocation { return rev }),
	})
	if err != nil {
		t.Fatal(err)
	}
	tok := iss.OpaqueToken(t, oauthtest.Token{Claims: map[string]any{"iat": nil}})
	if _, err := in.Verify(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	rev = verify.Revocation{Revoked: clock.Now()}
	clock.Advance(time.Second)
	before := iss.Requests(oauthtest.EndpointIntrospection)
	for range 2 {
		if _, err := in.Verify(t.Context(), tok); err != nil {
			t.Fatalf("Verify() error = %v", err)
		}
	}
	if got := iss.Requests(oauthtest.EndpointIntrospection) - before; got != 1 {
		t.Errorf("requests after the event = %d, want 1", got)
	}
	iss.Revoke(tok)
	clock.Advance(time.Second)
	rev = verify.Revocation{Revoked: clock.Now()}
	clock.Advance(time.Second)
	if _, err := in.Verify(t.Context(), tok); !errors.Is(err, verify.ErrInactive) {
		t.Errorf("Verify() of a token the server revoked too = %v, want ErrInactive", err)
	}
}
