package oauthtest

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/oauthgate/oauthgate/dpop"
)

// Registered names of the token endpoint (RFC 7523, RFC 8693).
const (
	grantTokenExchange     = "urn:ietf:params:oauth:grant-type:token-exchange"
	tokenTypeAccess        = "urn:ietf:params:oauth:token-type:access_token"
	tokenTypeJWT           = "urn:ietf:params:oauth:token-type:jwt"
	assertionTypeJWTBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	// maxTokenForm caps the form a client may post.
	maxTokenForm = 64 << 10
	// maxAssertionLifetime bounds exp of a private_key_jwt assertion.
	maxAssertionLifetime = 5 * time.Minute
	// maxAssertions bounds the remembered assertion jtis; past it the
	// expired ones are dropped, then all (the issuer is for tests).
	maxAssertions = 10_000
)

// assertionAlgs are the private_key_jwt algorithms the issuer verifies.
var assertionAlgs = []string{string(jose.ES256), string(jose.RS256), string(jose.PS256), string(jose.EdDSA)} //nolint:gochecknoglobals // static data

// serveToken implements the token endpoint (RFC 6749 §3.2) for the client
// credentials grant (§4.4) and token exchange (RFC 8693), with the client
// authentications of [Client], DPoP (RFC 9449 §5) and certificate-bound
// tokens (RFC 8705 §3).
func (iss *Issuer) serveToken(w http.ResponseWriter, r *http.Request) {
	if iss.cfg.DPoPNonce {
		// RFC 9449 §8.2: the server may send a fresh nonce with any answer.
		w.Header().Set("DPoP-Nonce", iss.dpop.Nonce())
	}
	form, ok := postedForm(w, r, maxTokenForm)
	if !ok {
		return
	}
	client, ok := iss.authenticateClient(r, form)
	if !ok {
		writeJSON(w, http.StatusUnauthorized, oauthError("invalid_client", "client authentication failed"))
		return
	}
	cnf := map[string]any{}
	if proofs := r.Header.Values("DPoP"); len(proofs) > 0 {
		jkt, code := iss.checkTokenProof(r, proofs)
		if code != "" {
			writeJSON(w, http.StatusBadRequest, oauthError(code, "the DPoP proof is not acceptable"))
			return
		}
		cnf["jkt"] = jkt
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		// RFC 8705 §3: a token requested over mutual TLS is bound to the
		// client's certificate.
		cnf["x5t#S256"] = certificateThumbprint(r.TLS.PeerCertificates[0])
	}
	var (
		tok  Token
		errc string
	)
	switch form.Get("grant_type") {
	case "client_credentials":
		tok, errc = iss.clientCredentialsGrant(client, form)
	case grantTokenExchange:
		tok, errc = iss.exchangeGrant(client, form)
	default:
		errc = "unsupported_grant_type"
	}
	if errc != "" {
		writeJSON(w, http.StatusBadRequest, oauthError(errc, "the token request is refused"))
		return
	}
	if len(cnf) > 0 {
		tok.Confirmation = cnf
	}
	access, err := iss.MintToken(tok)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, oauthError("server_error", "cannot mint the token"))
		return
	}
	now := iss.cfg.Now()
	resp := map[string]any{
		"access_token": access,
		"token_type":   "Bearer",
		"expires_in":   int64(tok.Expiry.Sub(now).Round(time.Second) / time.Second),
	}
	if cnf["jkt"] != nil {
		resp["token_type"] = "DPoP" // RFC 9449 §5
	}
	if len(tok.Scopes) > 0 {
		resp["scope"] = strings.Join(tok.Scopes, " ")
	}
	if form.Get("grant_type") == grantTokenExchange {
		resp["issued_token_type"] = tokenTypeAccess // RFC 8693 §2.2.1
	}
	writeJSON(w, http.StatusOK, resp)
}

// clientCredentialsGrant describes the token of a client credentials
// request (RFC 6749 §4.4): the client is the subject; resource indicators
// (RFC 8707) are the audience.
func (iss *Issuer) clientCredentialsGrant(c *Client, form url.Values) (Token, string) {
	aud, ok := requestedAudience(form)
	if !ok {
		return Token{}, "invalid_target"
	}
	return Token{
		Subject:  c.ID,
		ClientID: c.ID,
		Audience: aud,
		Scopes:   strings.Fields(form.Get("scope")),
		Expiry:   iss.cfg.Now().Add(iss.cfg.TokenLifetime).Truncate(time.Second),
	}, ""
}

// exchangeGrant describes the token of an RFC 8693 token exchange: the
// subject token's sub, with act naming the calling client (or the actor
// token's subject) and nesting any act the subject token had (§4.1).
func (iss *Issuer) exchangeGrant(c *Client, form url.Values) (Token, string) {
	subjectType := form.Get("subject_token_type")
	if subjectType != tokenTypeAccess && subjectType != tokenTypeJWT {
		return Token{}, "invalid_request"
	}
	if rt := form.Get("requested_token_type"); rt != "" && rt != tokenTypeAccess && rt != tokenTypeJWT {
		return Token{}, "invalid_request"
	}
	subject := iss.introspect(form.Get("subject_token"))
	if subject["active"] != true {
		return Token{}, "invalid_grant"
	}
	act := map[string]any{"sub": c.ID}
	if at := form.Get("actor_token"); at != "" {
		actor := iss.introspect(at)
		if actor["active"] != true || form.Get("actor_token_type") == "" {
			return Token{}, "invalid_grant"
		}
		act["sub"] = actor["sub"]
	}
	if prev, ok := subject["act"]; ok {
		act["act"] = prev
	}
	aud, ok := requestedAudience(form)
	if !ok {
		return Token{}, "invalid_target"
	}
	scopes := strings.Fields(form.Get("scope"))
	if len(scopes) == 0 {
		s, _ := subject["scope"].(string)
		scopes = strings.Fields(s)
	}
	now := iss.cfg.Now()
	exp := now.Add(iss.cfg.TokenLifetime).Truncate(time.Second)
	if subExp, ok := numericDate(subject["exp"]); ok && subExp.Before(exp) {
		exp = subExp
	}
	sub, _ := subject["sub"].(string)
	claims := map[string]any{"act": act}
	if sub == "" {
		claims["sub"] = nil
	}
	return Token{Subject: sub, ClientID: c.ID, Audience: aud, Scopes: scopes, Expiry: exp, Claims: claims}, ""
}

// requestedAudience returns the audience and resource parameters (RFC 8693
// §2.1, RFC 8707 §2), or nil for the issuer's default audience. A
// resource must be an absolute URI without a fragment.
func requestedAudience(form url.Values) ([]string, bool) {
	var aud []string
	for _, res := range form["resource"] {
		u, err := url.Parse(res)
		if err != nil || !u.IsAbs() || u.Fragment != "" {
			return nil, false
		}
		aud = append(aud, res)
	}
	aud = append(aud, form["audience"]...)
	if len(aud) == 0 {
		return nil, true
	}
	slices.Sort(aud)
	return slices.Compact(aud), true
}

// authenticateClient authenticates the client of a token request by
// exactly one method (RFC 6749 §2.3).
func (iss *Issuer) authenticateClient(r *http.Request, form url.Values) (*Client, bool) {
	basicID, basicSecret, basic := r.BasicAuth()
	assertion := form.Get("client_assertion")
	methods := 0
	for _, used := range []bool{basic, assertion != "", form.Has("client_secret")} {
		if used {
			methods++
		}
	}
	if methods > 1 {
		return nil, false
	}
	switch {
	case basic:
		c := iss.registered(formDecode(basicID))
		if c == nil || c.Secret == "" || subtle.ConstantTimeCompare([]byte(formDecode(basicSecret)), []byte(c.Secret)) != 1 {
			return nil, false
		}
		return c, true
	case assertion != "":
		if form.Get("client_assertion_type") != assertionTypeJWTBearer {
			return nil, false
		}
		return iss.checkAssertion(assertion, form.Get("client_id"))
	case form.Has("client_secret"):
		return nil, false // client_secret_post is not offered
	}
	// RFC 8705 §2: tls_client_auth names the client in client_id and
	// authenticates it by the certificate of the connection.
	c := iss.registered(form.Get("client_id"))
	if c == nil || c.Certificate == nil || r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, false
	}
	want := sha256.Sum256(c.Certificate.Raw)
	got := sha256.Sum256(r.TLS.PeerCertificates[0].Raw)
	if subtle.ConstantTimeCompare(want[:], got[:]) != 1 {
		return nil, false
	}
	return c, true
}

// registered returns the registered client id, or nil.
func (iss *Issuer) registered(id string) *Client {
	for i := range iss.cfg.Clients {
		if c := &iss.cfg.Clients[i]; c.ID == id && id != "" {
			return c
		}
	}
	return nil
}

// checkAssertion verifies a private_key_jwt client assertion (RFC 7523
// §3): signed by the client's key, iss = sub = the client, aud the issuer
// or the token endpoint, unexpired, short-lived, and never replayed.
func (iss *Issuer) checkAssertion(assertion, formID string) (*Client, bool) {
	algs := make([]jose.SignatureAlgorithm, len(assertionAlgs))
	for i, a := range assertionAlgs {
		algs[i] = jose.SignatureAlgorithm(a)
	}
	parsed, err := jwt.ParseSigned(assertion, algs)
	if err != nil {
		return nil, false
	}
	var unverified jwt.Claims
	if err := parsed.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return nil, false
	}
	c := iss.registered(unverified.Issuer)
	if c == nil || c.PublicKey == nil || formID != "" && formID != c.ID {
		return nil, false
	}
	var claims jwt.Claims
	if err := parsed.Claims(c.PublicKey, &claims); err != nil {
		return nil, false
	}
	now := iss.cfg.Now()
	if claims.Issuer != c.ID || claims.Subject != c.ID || claims.ID == "" || claims.Expiry == nil ||
		!now.Before(claims.Expiry.Time()) || claims.Expiry.Time().After(now.Add(maxAssertionLifetime)) {
		return nil, false
	}
	if !claims.Audience.Contains(iss.URL) && !claims.Audience.Contains(iss.EndpointURL(EndpointToken)) {
		return nil, false
	}
	iss.mu.Lock()
	defer iss.mu.Unlock()
	key := c.ID + "\x00" + claims.ID
	if exp, seen := iss.assertions[key]; seen && now.Before(exp) {
		return nil, false // RFC 7523 §3 item 7: a jti is used once
	}
	if len(iss.assertions) >= maxAssertions {
		maps.DeleteFunc(iss.assertions, func(_ string, exp time.Time) bool { return !now.Before(exp) })
		if len(iss.assertions) >= maxAssertions {
			clear(iss.assertions)
		}
	}
	iss.assertions[key] = claims.Expiry.Time()
	return c, true
}

// checkTokenProof checks the DPoP proof of a token request (RFC 9449 §5)
// and returns its key's thumbprint, or the error code of the refusal.
func (iss *Issuer) checkTokenProof(r *http.Request, proofs []string) (jkt, code string) {
	if len(proofs) != 1 {
		return "", "invalid_dpop_proof"
	}
	htu, err := dpop.NormalizeURI(iss.EndpointURL(EndpointToken))
	if err != nil {
		return "", "invalid_dpop_proof"
	}
	p, err := iss.dpop.Check(proofs[0], dpop.Request{Method: http.MethodPost, URIs: []string{htu}})
	switch {
	case errors.Is(err, dpop.ErrUseNonce):
		return "", "use_dpop_nonce"
	case err != nil:
		return "", "invalid_dpop_proof"
	}
	if err := iss.dpop.Record(r.Context(), p); err != nil {
		return "", "invalid_dpop_proof"
	}
	return p.Thumbprint(), ""
}
