package verify_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/verify"
)

// newStaticJWT returns a JWT verifier for iss's current keys.
func newStaticJWT(t *testing.T, iss *oauthtest.Issuer) *verify.JWT {
	t.Helper()
	keys, err := verify.NewStaticKeySet(iss.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	j, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: iss.URL, Audiences: []string{oauthtest.DefaultAudience}})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

const base64URLAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// TestJWT_OneEncodingPerToken is finding 2: go-jose decodes base64url
// leniently, so one signed token used to verify under many strings. Only
// the canonical encoding may verify.
func TestJWT_OneEncodingPerToken(t *testing.T) {
	t.Parallel()
	for _, alg := range []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA} {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{Algorithm: alg})
			j := newStaticJWT(t, iss)
			ctx := context.Background()
			tok := iss.Token(t, oauthtest.Token{Scopes: []string{"read"}})
			parts := strings.Split(tok, ".")
			accepted := 0
			var variants []string
			for seg := range parts {
				// Every character in the last position: the canonical one
				// and those that differ only in spare bits (or not at all
				// in decoded bytes).
				s := parts[seg]
				for _, c := range base64URLAlphabet {
					p := append([]string(nil), parts...)
					p[seg] = s[:len(s)-1] + string(c)
					variants = append(variants, strings.Join(p, "."))
				}
				for _, extra := range []string{"=", "==", "\n", "\r\n", " "} {
					p := append([]string(nil), parts...)
					p[seg] = s[:len(s)/2] + extra + s[len(s)/2:]
					variants = append(variants, strings.Join(p, "."))
					p[seg] = s + extra
					variants = append(variants, strings.Join(p, "."))
				}
			}
			for _, v := range variants {
				c, err := j.Verify(ctx, v)
				switch {
				case err == nil:
					accepted++
					if v != tok {
						t.Errorf("Verify() accepted a non-canonical variant of the token (claims for %q)", c.Subject())
					}
				case v != tok && !errors.Is(err, verify.ErrInvalidToken):
					t.Errorf("Verify(variant) error = %v, want ErrInvalidToken", err)
				}
			}
			if accepted != 3 { // the original, once per segment loop
				t.Errorf("%d of %d encodings verified, want only the original (3 times)", accepted, len(variants))
			}
		})
	}
}

// TestIssuers_RoutesByExactIssuer is finding 3: the unverified iss that
// picks the verifier is read by the same exact reader that checks it, so
// a genuine token cannot be routed elsewhere by a look-alike member.
func TestIssuers_RoutesByExactIssuer(t *testing.T) {
	t.Parallel()
	a, b := oauthtest.NewIssuer(t), oauthtest.NewIssuer(t)
	is, err := verify.NewIssuers(newStaticJWT(t, a), newStaticJWT(t, b))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for name, extra := range map[string]string{
		"FoldedLongS": "iſs", // U+017F folds to s in encoding/json
		"UpperCase":   "ISS",
		"TitleCase":   "Iss",
	} {
		tok := a.Token(t, oauthtest.Token{Claims: map[string]any{extra: b.URL}})
		c, err := is.Verify(ctx, tok)
		if err != nil || c.Issuer() != a.URL {
			t.Errorf("%s: Verify(tenant A token with %q: B) = %v; want accepted as A", name, extra, err)
		}
	}
}

// TestJWT_SharedClaimsImmutable is finding 8: a cache hit hands every
// caller the same claims, which no caller can change.
func TestJWT_SharedClaimsImmutable(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	j := newStaticJWT(t, iss)
	tok := iss.Token(t, oauthtest.Token{Audience: []string{oauthtest.DefaultAudience, "other"}, Scopes: []string{"read"}})
	first, err := j.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	aud := first.Audience()
	aud[0] = "https://attacker.example"
	second, err := j.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if second.HasAudience("https://attacker.example") || !second.HasAudience(oauthtest.DefaultAudience) {
		t.Errorf("second caller sees audiences %v", second.Audience())
	}
	if d, ok := second.Deadline(); !ok || d.Sub(second.Expiry()) != 30*time.Second {
		t.Errorf("Deadline() = %v, %t; want exp plus the 30s default leeway", d, ok)
	}
}

// TestJWT_HeaderMemoStillVerifies: tokens that repeat a header already
// seen skip its parse, never their own signature check.
func TestJWT_HeaderMemoStillVerifies(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	j := newStaticJWT(t, iss)
	ctx := context.Background()
	good := iss.Token(t, oauthtest.Token{Scopes: []string{"read"}})
	if _, err := j.Verify(ctx, good); err != nil { // remembers the header
		t.Fatal(err)
	}
	other := strings.Split(iss.Token(t, oauthtest.Token{Scopes: []string{"admin"}}), ".")
	parts := strings.Split(good, ".")
	for name, tok := range map[string]string{
		"PayloadOfAnother":   parts[0] + "." + other[1] + "." + parts[2],
		"SignatureOfAnother": parts[0] + "." + parts[1] + "." + other[2],
		"Unsigned":           parts[0] + "." + parts[1] + ".",
	} {
		if _, err := j.Verify(ctx, tok); !errors.Is(err, verify.ErrInvalidToken) {
			t.Errorf("%s: Verify() = %v, want an invalid token", name, err)
		}
	}
	// The other token, verified with its own signature, is fine.
	if c, err := j.Verify(ctx, strings.Join(other, ".")); err != nil || !c.Scopes().Has("admin") {
		t.Errorf("Verify(another token with the same header) = %v", err)
	}
}
