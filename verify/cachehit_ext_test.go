package verify_test

import (
	"context"
	"testing"

	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/verify"
)

// TestVerifyCacheHit checks that each verifier reports a hit exactly when
// it answers from its cache: never the first time, always the second,
// never without a cache or for a verifier that cannot tell.
func TestVerifyCacheHit(t *testing.T) {
	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{ClientID: "rs", ClientSecret: "secret", InMemory: true})
	jwt := newStaticJWT(t, iss)
	keys, err := verify.NewStaticKeySet(iss.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	uncached, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: iss.URL, Audiences: []string{oauthtest.DefaultAudience}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	intro, err := verify.NewIntrospection(verify.IntrospectionConfig{Endpoint: iss.EndpointURL(oauthtest.EndpointIntrospection), ClientID: "rs",
		ClientSecret: "secret", Issuer: iss.URL, Audiences: []string{oauthtest.DefaultAudience}, HTTPClient: iss.Client()})
	if err != nil {
		t.Fatal(err)
	}
	issuers, err := verify.NewIssuers(newStaticJWT(t, iss))
	if err != nil {
		t.Fatal(err)
	}
	shape, err := verify.ByShape(newStaticJWT(t, iss), intro)
	if err != nil {
		t.Fatal(err)
	}
	plain := verify.Func(func(ctx context.Context, token string) (*verify.Claims, error) { return jwt.Verify(ctx, token) })
	jwtToken := func() string { return iss.Token(t) }
	opaque := func() string { return iss.OpaqueToken(t) }
	tests := map[string]struct {
		v         verify.Verifier
		token     func() string
		secondHit bool
	}{
		"JWT":               {jwt, jwtToken, true},
		"JWTWithoutCache":   {uncached, jwtToken, false},
		"Introspection":     {intro, opaque, true},
		"Issuers":           {issuers, jwtToken, true},
		"ByShapeJWT":        {shape, jwtToken, true},
		"ByShapeOpaque":     {shape, opaque, true},
		"NotACacheReporter": {plain, jwtToken, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tok := tc.token()
			for n, want := range []bool{false, tc.secondHit} {
				c, hit, err := verify.VerifyCacheHit(t.Context(), tc.v, tok)
				if err != nil || c == nil {
					t.Fatalf("VerifyCacheHit() #%d = %v, %v", n+1, c, err)
				}
				if hit != want {
					t.Errorf("VerifyCacheHit() #%d hit = %v, want %v", n+1, hit, want)
				}
			}
		})
	}
}
