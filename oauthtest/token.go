package oauthtest

import (
	"cmp"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// hmacKeyID is the kid of HS256 tokens. The secret behind it is never
// published, so no JWKS lookup can succeed for it.
const hmacKeyID = "hs256-secret"

// A Token describes an access token for [Issuer.Token] and the other
// minting methods. Zero fields take the issuer's defaults, so Token{}, like
// passing none, is the default token:
//
//	tok := iss.Token(t, oauthtest.Token{Subject: "alice", Scopes: []string{"orders.read"}})
//
// Claims and Header apply last and can set, change or remove any claim or
// header parameter, with values of the wrong type as well, so that a
// verifier's failure paths can be tested.
//
// The minting methods merge several Tokens in order: a field set (not
// zero, not nil) in a later Token replaces that of an earlier one, and
// Claims and Header are merged by name, so a helper can hold a base token
// that a test adds to: iss.Token(t, base, oauthtest.Token{Subject: "bob"}).
type Token struct {
	// Subject is the sub claim. If empty, [DefaultSubject].
	Subject string
	// ClientID is the client_id claim (RFC 9068 §2.2). If empty,
	// [DefaultClientID].
	ClientID string
	// Issuer is the iss claim. If empty, the issuer's URL.
	Issuer string
	// Audience is the aud claim: a string for one audience, an array for
	// several (RFC 7519 §4.1.3 allows both). If nil, the issuer's default
	// ([IssuerConfig].Audience); if empty but not nil, the token has no
	// aud.
	Audience []string
	// Scopes is the scope claim, space-delimited (RFC 9068 §2.2.3). If
	// empty, the token has no scope claim; in a merge, an empty but not
	// nil Scopes removes the scopes of earlier Tokens.
	Scopes []string
	// SCP puts Scopes in an scp claim holding a JSON array, the way Ory
	// Hydra and Microsoft Entra ID do, instead of a scope string. In a
	// merge, a later Token that sets Scopes decides SCP as well.
	SCP bool
	// Lifetime sets exp to the issuer's clock plus Lifetime; a negative
	// Lifetime mints a token that has already expired. If Lifetime and
	// Expiry are zero, exp is [DefaultLifetime] from now.
	Lifetime time.Duration
	// Expiry sets exp to Expiry (truncated to whole seconds, as a
	// NumericDate is), in place of Lifetime. In a merge, the later Token
	// that sets Lifetime or Expiry decides exp.
	Expiry time.Time

	// Certificate binds the token to a client certificate (RFC 8705 §3.1):
	// cnf has x5t#S256, the certificate's thumbprint, which a verifier
	// compares with the certificate of the client's mutual-TLS connection.
	// Use [Certificates] for it.
	Certificate *x509.Certificate
	// DPoPKey binds the token to a DPoP key (RFC 9449 §6): cnf has jkt, the
	// key's [DPoPKey.Thumbprint]. An introspected DPoP token also needs
	// Claims {"token_type": "DPoP"} (RFC 9449 §6.2), which introspection
	// returns in place of "Bearer".
	DPoPKey *DPoPKey
	// Confirmation holds members of the cnf claim (RFC 7800) beside those
	// of Certificate and DPoPKey, for other bindings and broken ones: a
	// member a verifier cannot check ({"jwk": …}), an empty object. The
	// token has a cnf claim if any of the three is set. In a merge, the
	// later Token that sets any of them decides cnf. Introspection reports
	// the same cnf for the token.
	Confirmation map[string]any

	// Claims sets claims after every other field, so it can add a claim or
	// override any standard one, with a value of the wrong type as well
	// ({"exp": "tomorrow"}). A nil value removes the claim ({"exp": nil});
	// json.RawMessage("null") sends JSON null.
	Claims map[string]any

	// Type is the typ header. If empty, "at+jwt" (RFC 9068 §2.1); Header
	// {"typ": nil} removes it.
	Type string
	// KeyID is the kid header. If empty, the kid of the signing key;
	// Header {"kid": nil} removes it. The token is still signed with the
	// issuer's key, so a kid the JWKS does not list tests unknown-key
	// handling.
	KeyID string
	// Header sets protected header parameters after Type and KeyID, for
	// attack tests: {"crit": []string{"exp"}}, {"jku": "https://evil.example"},
	// even {"alg": "none"} (the token is still signed with the real
	// algorithm, so the header lies). A nil value removes the parameter.
	// Opaque tokens have no header.
	Header map[string]any
	// Algorithm signs the token with the issuer's key for Algorithm,
	// created on first use: jose.ES256, jose.RS256 or jose.EdDSA. jose.HS256
	// is accepted too: the token is signed with an HMAC secret that is never
	// published, for tests that a verifier rejects symmetric algorithms. If
	// empty, the issuer's default ([IssuerConfig].Algorithm).
	Algorithm jose.SignatureAlgorithm
}

// mergeTokens merges toks in order, as documented on [Token].
func mergeTokens(toks []Token) Token {
	var m Token
	for _, t := range toks {
		if t.Subject != "" {
			m.Subject = t.Subject
		}
		if t.ClientID != "" {
			m.ClientID = t.ClientID
		}
		if t.Issuer != "" {
			m.Issuer = t.Issuer
		}
		if t.Audience != nil {
			m.Audience = t.Audience
		}
		if t.Scopes != nil {
			m.Scopes, m.SCP = t.Scopes, t.SCP
		} else if t.SCP {
			m.SCP = true
		}
		if t.Lifetime != 0 || !t.Expiry.IsZero() {
			m.Lifetime, m.Expiry = t.Lifetime, t.Expiry
		}
		if t.Certificate != nil || t.DPoPKey != nil || t.Confirmation != nil {
			m.Certificate, m.DPoPKey, m.Confirmation = t.Certificate, t.DPoPKey, t.Confirmation
		}
		m.Claims = mergeMaps(m.Claims, t.Claims)
		if t.Type != "" {
			m.Type = t.Type
		}
		if t.KeyID != "" {
			m.KeyID = t.KeyID
		}
		m.Header = mergeMaps(m.Header, t.Header)
		if t.Algorithm != "" {
			m.Algorithm = t.Algorithm
		}
	}
	return m
}

// Token mints a signed JWT access token in the RFC 9068 profile, described
// by toks (merged as [Token] says), and returns its compact serialization.
// It fails the test tb if no token can be made (an unsupported algorithm, a
// claim value JSON cannot encode).
//
// With no toks, or zero ones, the token has the header typ "at+jwt", alg
// (the issuer's default algorithm) and kid, and the claims iss
// ([Issuer].URL), sub ([DefaultSubject]), aud (the default audience), exp
// (now plus [DefaultLifetime]), iat, jti (random) and client_id
// ([DefaultClientID]). It has no nbf and no scope. The issuer remembers the
// token, so introspection reports it active until it expires or is revoked.
func (iss *Issuer) Token(tb testing.TB, toks ...Token) string {
	tb.Helper()
	tok, err := iss.MintToken(toks...)
	if err != nil {
		tb.Fatalf("Issuer.Token: %v", err)
	}
	return tok
}

// MintToken is [Issuer.Token] for callers without a testing.TB, such as demo
// programs: it returns an error instead of failing a test.
func (iss *Issuer) MintToken(toks ...Token) (string, error) {
	t := mergeTokens(toks)
	alg := t.Algorithm
	if alg == "" {
		alg = iss.cfg.Algorithm
	}
	claims := iss.claims(t)
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("oauthtest: encode claims: %w", err)
	}

	var (
		key any
		kid string
	)
	if alg == jose.HS256 {
		iss.mu.Lock()
		key, kid = iss.hmacKeyLocked(), hmacKeyID
		iss.mu.Unlock()
	} else {
		k, err := iss.key(alg)
		if err != nil {
			return "", err
		}
		key, kid = k.priv, k.kid
	}

	header := map[string]any{"typ": "at+jwt"} // RFC 9068 §2.1
	if t.Type != "" {
		header["typ"] = t.Type
	}
	if t.KeyID != "" {
		kid = t.KeyID
	}
	header["kid"] = kid
	maps.Copy(header, t.Header)
	so := &jose.SignerOptions{}
	for name, v := range header {
		if v != nil {
			so.WithHeader(jose.HeaderKey(name), v)
		}
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, so)
	if err != nil {
		return "", fmt.Errorf("oauthtest: create %s signer: %w", alg, err)
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
// have put in a JWT for the same toks (their header fields are ignored). It
// fails the test tb if no token can be made.
func (iss *Issuer) OpaqueToken(tb testing.TB, toks ...Token) string {
	tb.Helper()
	tok, err := iss.MintOpaque(toks...)
	if err != nil {
		tb.Fatalf("Issuer.OpaqueToken: %v", err)
	}
	return tok
}

// MintOpaque is [Issuer.OpaqueToken] for callers without a testing.TB: it
// returns an error instead of failing a test.
func (iss *Issuer) MintOpaque(toks ...Token) (string, error) {
	claims := iss.claims(mergeTokens(toks))
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

// claims builds the claim set of the merged token t. The map is never
// modified after it is returned.
func (iss *Issuer) claims(t Token) map[string]any {
	now := iss.cfg.Now()
	c := map[string]any{
		"iat": now.Unix(),
		"jti": randomString(16),
		"iss": cmp.Or(t.Issuer, iss.URL),
		"sub": cmp.Or(t.Subject, DefaultSubject),
		// RFC 9068 §2.2.
		"client_id": cmp.Or(t.ClientID, DefaultClientID),
	}

	aud := iss.cfg.Audience
	if t.Audience != nil {
		aud = t.Audience
	}
	switch len(aud) {
	case 0:
	case 1:
		c["aud"] = aud[0]
	default:
		c["aud"] = append([]string(nil), aud...)
	}

	exp := now.Add(DefaultLifetime)
	switch {
	case !t.Expiry.IsZero():
		exp = t.Expiry
	case t.Lifetime != 0:
		exp = now.Add(t.Lifetime)
	}
	c["exp"] = exp.Unix()

	if len(t.Scopes) > 0 {
		if t.SCP {
			c["scp"] = append([]string(nil), t.Scopes...)
		} else {
			c["scope"] = strings.Join(t.Scopes, " ")
		}
	}

	if t.Certificate != nil || t.DPoPKey != nil || t.Confirmation != nil {
		cnf := maps.Clone(t.Confirmation)
		if cnf == nil {
			cnf = map[string]any{}
		}
		if t.Certificate != nil {
			cnf["x5t#S256"] = certificateThumbprint(t.Certificate)
		}
		if t.DPoPKey != nil {
			cnf["jkt"] = t.DPoPKey.jkt
		}
		c["cnf"] = cnf
	}

	for name, v := range t.Claims {
		if v == nil {
			delete(c, name)
			continue
		}
		c[name] = v
	}
	return c
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
	if exp, ok := numericDate(claims["exp"]); ok && !iss.cfg.Now().Before(exp) {
		return inactive
	}
	resp := map[string]any{"active": true, "token_type": "Bearer"}
	// The token's own claims go on top so Token.Claims can override even
	// active and token_type.
	for name, v := range claims {
		resp[name] = v
	}
	return resp
}

// numericDate interprets v as a NumericDate (RFC 7519 §2) if it is a number.
// Other values, set on purpose with Token.Claims, are not expiry times.
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
