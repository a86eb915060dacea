package oauthtest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// hmacKeyID is the kid of HS256 tokens. The secret behind it is never
// published, so no JWKS lookup can succeed for it.
const hmacKeyID = "hs256-secret"

// Token mints a signed JWT access token in the RFC 9068 profile and returns
// its compact serialization. It fails the test tb if the options cannot
// produce a token (an unsupported algorithm, a claim value JSON cannot
// encode).
//
// Without options the token has the header typ "at+jwt", alg (the issuer's
// default algorithm) and kid, and the claims iss (Issuer.URL), sub
// ([DefaultSubject]), aud (the default audience), exp (now plus
// [DefaultLifetime]), iat, jti (random) and client_id ([DefaultClientID]).
// It has no nbf and no scope unless options add them. The issuer remembers
// the token, so introspection reports it active until it expires or is
// revoked.
func (iss *Issuer) Token(tb testing.TB, opts ...TokenOption) string {
	tb.Helper()
	tok, err := iss.MintToken(opts...)
	if err != nil {
		tb.Fatalf("Issuer.Token: %v", err)
	}
	return tok
}

// MintToken is [Issuer.Token] for callers without a testing.TB, such as demo
// programs: it returns an error instead of failing a test.
func (iss *Issuer) MintToken(opts ...TokenOption) (string, error) {
	o := tokenOptions{alg: iss.opts.alg}
	for _, opt := range opts {
		opt.applyToken(&o)
	}
	if o.err != nil {
		return "", o.err
	}
	claims := iss.claims(&o)
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("oauthtest: encode claims: %w", err)
	}

	var (
		key any
		kid string
	)
	if o.alg == jose.HS256 {
		iss.mu.Lock()
		key, kid = iss.hmacKeyLocked(), hmacKeyID
		iss.mu.Unlock()
	} else {
		k, err := iss.key(o.alg)
		if err != nil {
			return "", err
		}
		key, kid = k.priv, k.kid
	}

	so := &jose.SignerOptions{}
	typ := "at+jwt" // RFC 9068 §2.1
	if o.typ != nil {
		typ = *o.typ
	}
	if typ != "" {
		so.WithType(jose.ContentType(typ))
	}
	if o.kid != nil {
		kid = *o.kid
	}
	if kid != "" {
		so.WithHeader("kid", kid)
	}
	for name, v := range o.headers {
		so.WithHeader(jose.HeaderKey(name), v)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: o.alg, Key: key}, so)
	if err != nil {
		return "", fmt.Errorf("oauthtest: create %s signer: %w", o.alg, err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("oauthtest: sign token: %w", err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("oauthtest: serialize token: %w", err)
	}
	iss.remember(tok, claims)
	return tok, nil
}

// OpaqueToken issues a random opaque access token that only the issuer's
// introspection endpoint can resolve, with the claims [Issuer.Token] would
// have put in a JWT for the same options (header options are ignored). It
// fails the test tb if the options cannot produce a token.
func (iss *Issuer) OpaqueToken(tb testing.TB, opts ...TokenOption) string {
	tb.Helper()
	tok, err := iss.MintOpaque(opts...)
	if err != nil {
		tb.Fatalf("Issuer.OpaqueToken: %v", err)
	}
	return tok
}

// MintOpaque is [Issuer.OpaqueToken] for callers without a testing.TB: it
// returns an error instead of failing a test.
func (iss *Issuer) MintOpaque(opts ...TokenOption) (string, error) {
	o := tokenOptions{alg: iss.opts.alg}
	for _, opt := range opts {
		opt.applyToken(&o)
	}
	if o.err != nil {
		return "", o.err
	}
	claims := iss.claims(&o)
	// Fail now rather than when the token is introspected.
	if _, err := json.Marshal(claims); err != nil {
		return "", fmt.Errorf("oauthtest: encode claims: %w", err)
	}
	// 256 random bits (RFC 6749 §10.10 asks for at least 128).
	tok := randomString(32)
	iss.remember(tok, claims)
	return tok, nil
}

// Revoke marks a token the issuer minted, JWT or opaque, as revoked:
// introspection reports it inactive from now on. A JWT still verifies
// against the JWKS, as with any real server. Unknown tokens are ignored.
func (iss *Issuer) Revoke(token string) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	if _, ok := iss.tokens[token]; ok {
		iss.revoked[token] = true
	}
}

func (iss *Issuer) remember(tok string, claims map[string]any) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.tokens[tok] = claims
}

// claims builds the claim set of one token. The map is never modified after
// it is returned.
func (iss *Issuer) claims(o *tokenOptions) map[string]any {
	now := iss.opts.now()
	c := map[string]any{
		"iat": now.Unix(),
		"jti": randomString(16),
	}
	setString(c, "iss", iss.URL, o.issuer)
	setString(c, "sub", DefaultSubject, o.subject)
	setString(c, "client_id", DefaultClientID, o.clientID)

	aud := iss.opts.audience
	if o.audSet {
		aud = o.audience
	}
	switch len(aud) {
	case 0:
	case 1:
		c["aud"] = aud[0]
	default:
		c["aud"] = aud
	}

	exp := now.Add(DefaultLifetime)
	switch {
	case o.expiry != nil:
		exp = *o.expiry
	case o.lifetime != nil:
		exp = now.Add(*o.lifetime)
	}
	c["exp"] = exp.Unix()

	if len(o.scopes) > 0 {
		if o.scp {
			c["scp"] = o.scopes
		} else {
			c["scope"] = strings.Join(o.scopes, " ")
		}
	}

	for name, v := range o.claims {
		if _, del := v.(deleteClaim); del {
			delete(c, name)
			continue
		}
		c[name] = v
	}
	return c
}

// setString sets c[name] to *override if given, else to def; an empty value
// omits the claim.
func setString(c map[string]any, name, def string, override *string) {
	v := def
	if override != nil {
		v = *override
	}
	if v != "" {
		c[name] = v
	}
}

// introspect answers an RFC 7662 §2.2 introspection request for token.
func (iss *Issuer) introspect(token string) map[string]any {
	inactive := map[string]any{"active": false}
	iss.mu.Lock()
	claims, ok := iss.tokens[token]
	revoked := iss.revoked[token]
	iss.mu.Unlock()
	if !ok || revoked {
		return inactive
	}
	if exp, ok := numericDate(claims["exp"]); ok && !iss.opts.now().Before(exp) {
		return inactive
	}
	resp := map[string]any{"active": true, "token_type": "Bearer"}
	// The token's own claims go on top so WithClaim can override even
	// active and token_type.
	for name, v := range claims {
		resp[name] = v
	}
	return resp
}

// numericDate interprets v as a NumericDate (RFC 7519 §2) if it is a number.
// Other values, set on purpose with WithClaim, are not expiry times.
func numericDate(v any) (time.Time, bool) {
	switch n := v.(type) {
	case int64:
		return time.Unix(n, 0), true
	case int:
		return time.Unix(int64(n), 0), true
	case float64:
		return time.Unix(int64(n), 0), true
	case json.Number:
		if f, err := n.Float64(); err == nil {
			return time.Unix(int64(f), 0), true
		}
	}
	return time.Time{}, false
}
