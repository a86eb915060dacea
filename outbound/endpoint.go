package outbound

import (
	"context"
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/oauthgate/oauthgate/dpop"
	"github.com/oauthgate/oauthgate/internal/authheader"
	"github.com/oauthgate/oauthgate/internal/josekeys"
	"github.com/oauthgate/oauthgate/internal/oauthhttp"
)

// tracerName is the instrumentation scope of the token requests' spans.
const tracerName = "github.com/oauthgate/oauthgate/outbound"

// An endpoint is the token endpoint of one authorization server as one
// client sees it: where it is (discovered once), how the client
// authenticates, and the server's latest DPoP nonce.
type endpoint struct {
	issuer    string
	auth      ClientAuth
	assertion jose.Signer // private_key_jwt only
	proofs    *dpop.Signer
	now       func() time.Time

	discovery       oauthhttp.Policy
	discoveryClient *http.Client
	policy          oauthhttp.Policy // token requests: no redirects
	client          *http.Client
	ownClient       bool // Config.HTTPClient was nil: Close drops idle connections

	mu    sync.Mutex
	url   string // guarded by mu; "" until discovered
	htu   string // guarded by mu; url normalized for DPoP proofs
	nonce string // guarded by mu; the server's latest DPoP-Nonce
}

func newEndpoint(cfg *Config, now func() time.Time) (*endpoint, error) {
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = defaultTimeout
	}
	if timeout < 0 {
		return nil, errors.New("outbound: Config.Timeout is negative")
	}
	e := &endpoint{issuer: cfg.Issuer, auth: cfg.Client, proofs: cfg.DPoP, now: now}
	e.discovery = oauthhttp.Policy{Timeout: timeout, MaxSize: maxResponseSize, AllowHTTP: cfg.InsecureAllowHTTP, Tracer: tracerName}
	e.policy = e.discovery
	// The request carries client credentials: a redirect could deliver
	// them to another host.
	e.policy.NoRedirects = true
	e.discoveryClient = e.discovery.Client(cfg.HTTPClient)
	e.client = e.policy.Client(cfg.HTTPClient)
	if cfg.HTTPClient == nil {
		// One transport for both, so that Close drops every connection.
		e.discoveryClient.Transport = e.client.Transport
		e.ownClient = true
	}

	switch {
	case cfg.Issuer == "" && cfg.TokenEndpoint == "":
		return nil, errors.New("outbound: Config.Issuer is empty; set it (or TokenEndpoint) to the authorization server")
	case cfg.Issuer != "":
		if err := oauthhttp.CheckIssuerURL(cfg.Issuer, cfg.InsecureAllowHTTP); err != nil {
			return nil, fmt.Errorf("outbound: Config.Issuer: %w", err)
		}
	}
	if cfg.TokenEndpoint != "" {
		if err := e.setURL(cfg.TokenEndpoint, cfg.InsecureAllowHTTP); err != nil {
			return nil, fmt.Errorf("outbound: Config.TokenEndpoint: %w", err)
		}
	}
	a := cfg.Client
	switch {
	case a.method == authNone:
		return nil, errors.New("outbound: Config.Client is not set; use ClientSecretBasic, PrivateKeyJWT or TLSClientAuth")
	case a.id == "":
		return nil, errors.New("outbound: Config.Client has an empty client ID")
	case a.method == authSecretBasic && a.secret == "":
		return nil, errors.New("outbound: Config.Client: ClientSecretBasic with an empty secret")
	case a.method == authPrivateKeyJWT:
		if a.key == nil {
			return nil, errors.New("outbound: Config.Client: PrivateKeyJWT without a key")
		}
		opts := (&jose.SignerOptions{}).WithType("JWT")
		if a.kid != "" {
			opts = opts.WithHeader(jose.HeaderKey("kid"), a.kid)
		}
		if !keyFits(a.key, a.alg) {
			return nil, fmt.Errorf("outbound: Config.Client: PrivateKeyJWT key does not fit algorithm %q", a.alg)
		}
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: a.alg, Key: a.key}, opts)
		if err != nil {
			return nil, fmt.Errorf("outbound: Config.Client: PrivateKeyJWT: %w", err)
		}
		e.assertion = s
	}
	return e, nil
}

// setURL checks and records the token endpoint.
func (e *endpoint) setURL(raw string, allowHTTP bool) error {
	if err := oauthhttp.CheckURL(raw, allowHTTP); err != nil {
		return err
	}
	htu, err := dpop.NormalizeURI(raw)
	if err != nil {
		return errors.New("not a URI a DPoP proof can name")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.url, e.htu = raw, htu
	return nil
}

// endpointURL returns the token endpoint, discovering it on first use.
func (e *endpoint) endpointURL(ctx context.Context) (string, string, error) {
	e.mu.Lock()
	u, htu := e.url, e.htu
	e.mu.Unlock()
	if u != "" {
		return u, htu, nil
	}
	md, err := oauthhttp.Discover(ctx, e.discoveryClient, e.discovery, e.issuer)
	if err != nil {
		return "", "", &UnavailableError{Op: "discover", Err: err}
	}
	u = md.TokenEndpoint
	if e.auth.method == authTLSClient && md.MTLSEndpointAliases.TokenEndpoint != "" {
		u = md.MTLSEndpointAliases.TokenEndpoint // RFC 8705 §5
	}
	if u == "" {
		return "", "", &UnavailableError{Op: "discover", Err: errors.New("the metadata has no token_endpoint")}
	}
	if err := e.setURL(u, e.discovery.AllowHTTP); err != nil {
		return "", "", &UnavailableError{Op: "discover", Err: fmt.Errorf("token_endpoint: %w", err)}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.url, e.htu, nil
}

// request posts form to the token endpoint with the client's
// authentication and, with DPoP, a proof, retrying once with the server's
// nonce (RFC 9449 §8); it returns the parsed answer.
func (e *endpoint) request(ctx context.Context, form url.Values) (*tokenResponse, error) {
	u, htu, err := e.endpointURL(ctx)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		body, header, err := e.post(ctx, u, htu, form)
		var se *oauthhttp.StatusError
		if errors.As(err, &se) && se.OAuthCode == "use_dpop_nonce" && se.Nonce != "" && e.proofs != nil && attempt == 0 {
			e.setNonce(se.Nonce)
			continue
		}
		if err != nil {
			return nil, classify(err)
		}
		if n := header.Get("DPoP-Nonce"); n != "" && e.proofs != nil {
			e.setNonce(n) // RFC 9449 §8.2: the next request uses it
		}
		resp, err := parseTokenResponse(body)
		if err != nil {
			return nil, &UnavailableError{Op: "token", Err: err}
		}
		if e.proofs != nil && resp.tokenType != "DPoP" {
			// RFC 9449 §5: a Bearer answer to a DPoP request is an
			// unbound token; refused rather than sent unbound.
			return nil, &UnavailableError{Op: "token", Err: errors.New("the server issued a Bearer token to a DPoP request")}
		}
		if e.proofs == nil && resp.tokenType != "Bearer" {
			return nil, &UnavailableError{Op: "token", Err: fmt.Errorf("token_type %s was not requested", resp.tokenType)}
		}
		return resp, nil
	}
}

// post sends one token request.
func (e *endpoint) post(ctx context.Context, u, htu string, form url.Values) ([]byte, http.Header, error) {
	f := cloneForm(form)
	var setHeaders []func(*http.Request)
	switch e.auth.method {
	case authSecretBasic:
		id, secret := e.auth.id, e.auth.secret
		setHeaders = append(setHeaders, func(r *http.Request) {
			// RFC 6749 §2.3.1: each form-encoded before Base64.
			r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(string(secret)))
		})
	case authPrivateKeyJWT:
		a, err := e.clientAssertion(u)
		if err != nil {
			return nil, nil, err
		}
		f.Set("client_id", e.auth.id)
		f.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		f.Set("client_assertion", a)
	case authTLSClient:
		f.Set("client_id", e.auth.id) // RFC 8705 §2
	}
	if e.proofs != nil {
		e.mu.Lock()
		nonce := e.nonce
		e.mu.Unlock()
		proof, err := e.proofs.Proof(http.MethodPost, htu, "", nonce)
		if err != nil {
			return nil, nil, fmt.Errorf("outbound: DPoP proof: %w", err)
		}
		setHeaders = append(setHeaders, func(r *http.Request) { r.Header.Set("DPoP", proof) })
	}
	return oauthhttp.Do(ctx, e.client, e.policy, oauthhttp.Request{
		Method: http.MethodPost, URL: u, Form: f, StrictJSON: true,
		Auth: func(r *http.Request) {
			for _, h := range setHeaders {
				h(r)
			}
		},
	})
}

// clientAssertion signs a private_key_jwt assertion (RFC 7523 §3) for the
// token endpoint u.
func (e *endpoint) clientAssertion(u string) (string, error) {
	aud := e.issuer
	if aud == "" {
		aud = u
	}
	jti := make([]byte, 16)
	_, _ = rand.Read(jti) // crypto/rand.Read never fails (Go 1.24+)
	now := e.now()
	claims := jwt.Claims{
		Issuer:   e.auth.id,
		Subject:  e.auth.id,
		Audience: jwt.Audience{aud},
		ID:       base64.RawURLEncoding.EncodeToString(jti),
		IssuedAt: jwt.NewNumericDate(now),
		Expiry:   jwt.NewNumericDate(now.Add(assertionLifetime)),
	}
	tok, err := jwt.Signed(e.assertion).Claims(claims).Serialize()
	if err != nil {
		return "", errors.New("outbound: cannot sign the client assertion")
	}
	return tok, nil
}

// setNonce keeps the server's nonce for the next proofs, if it is one:
// RFC 9449 §8.1, nonce = 1*NQCHAR, here at most authheader.MaxNonce
// bytes, since it is the server's input to every later proof.
func (e *endpoint) setNonce(n string) {
	if !authheader.ValidNonce(n) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.nonce = n
}

// classify turns a failed token request into an [*UnavailableError] or, for
// a refusal of the server's own, a [*RefusedError].
func classify(err error) error {
	var se *oauthhttp.StatusError
	if errors.As(err, &se) && se.Code >= 400 && se.Code < 500 && se.Code != http.StatusTooManyRequests &&
		se.Code != http.StatusRequestTimeout {
		return &RefusedError{Status: se.Code, Code: se.OAuthCode}
	}
	// Transport failures, timeouts, 5xx, 429, redirects refused, bodies
	// that are not JSON: the server is not answering as a token endpoint.
	return &UnavailableError{Op: "token", Err: err}
}

// keyFits reports whether key can sign with alg.
func keyFits(key interface{ Public() crypto.PublicKey }, alg jose.SignatureAlgorithm) bool {
	pub := jose.JSONWebKey{Key: key.Public()}
	return pub.Valid() && josekeys.Fits(&pub, alg)
}

// joinScopes is the scope parameter (RFC 6749 §3.3).
func joinScopes(s []string) string { return strings.Join(s, " ") }
