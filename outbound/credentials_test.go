package outbound_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/oauthgate/oauthgate/interceptor"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/outbound"
	"github.com/oauthgate/oauthgate/verify"
)

// defaultTestTimeout bounds every call of a test.
const defaultTestTimeout = 10 * time.Second

const (
	ordersID     = "orders"
	ordersSecret = "orders-secret-value"
	paymentsURI  = "https://payments.example.com"
)

// claimsOf returns the claims of a JWT the test issuer minted, unverified:
// the tests check what the issuer put in, the chain test verifies.
func claimsOf(t *testing.T, tok string) map[string]any {
	t.Helper()
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("jwt.ParseSigned: %v", err)
	}
	var c map[string]any
	if err := parsed.UnsafeClaimsWithoutVerification(&c); err != nil {
		t.Fatalf("claims: %v", err)
	}
	return c
}

func ctxWithTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
	t.Cleanup(cancel)
	return ctx
}

func mustClientCredentials(t *testing.T, cfg outbound.Config) *outbound.Credentials {
	t.Helper()
	c, err := outbound.ClientCredentials(cfg)
	if err != nil {
		t.Fatalf("ClientCredentials() error = %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestClientCredentials: each client authentication gets a token for the
// configured resource and scopes, with the client as subject; over mutual
// TLS it is bound to the client's certificate.
func TestClientCredentials(t *testing.T) {
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	certs := oauthtest.NewCertificates(t)
	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{TLS: true, Clients: []oauthtest.Client{
		{ID: ordersID, Secret: ordersSecret, PublicKey: key.Public(), Certificate: certs.Client.Leaf},
	}})
	plain := iss.Client()
	mtls := iss.Client()
	tr := mtls.Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.Certificates = []tls.Certificate{certs.Client}
	mtls = &http.Client{Transport: tr}

	tests := map[string]struct {
		client  outbound.ClientAuth
		http    *http.Client
		wantCnf bool
	}{
		"ClientSecretBasic":   {client: outbound.ClientSecretBasic(ordersID, ordersSecret), http: plain},
		"PrivateKeyJWT":       {client: outbound.PrivateKeyJWT(ordersID, key, jose.ES256, "k1"), http: plain},
		"TLSClientAuth":       {client: outbound.TLSClientAuth(ordersID), http: mtls, wantCnf: true},
		"SecretOverMutualTLS": {client: outbound.ClientSecretBasic(ordersID, ordersSecret), http: mtls, wantCnf: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := mustClientCredentials(t, outbound.Config{
				Issuer: iss.URL, Client: tc.client, HTTPClient: tc.http,
				Resource: []string{paymentsURI}, Scopes: []string{"payments.charge", "payments.read"},
			})
			tok, err := c.Token(ctxWithTimeout(t))
			if err != nil {
				t.Fatalf("Token() error = %v", err)
			}
			if tok.TokenType != "Bearer" || tok.Expiry.IsZero() {
				t.Errorf("Token() = type %q, expiry %v; want Bearer with an expiry", tok.TokenType, tok.Expiry)
			}
			claims := claimsOf(t, tok.AccessToken)
			if claims["sub"] != ordersID || claims["aud"] != paymentsURI || claims["scope"] != "payments.charge payments.read" {
				t.Errorf("token claims = %v; want sub %s, aud %s and both scopes", claims, ordersID, paymentsURI)
			}
			cnf, _ := claims["cnf"].(map[string]any)
			if got := cnf["x5t#S256"] == verify.CertificateThumbprint(certs.Client.Leaf); got != tc.wantCnf {
				t.Errorf("cnf = %v; want bound to the client certificate: %v", cnf, tc.wantCnf)
			}
		})
	}
}

// TestClientCredentials_failures: a refusal by the server is ErrRefused
// (PermissionDenied); a server that cannot be reached, or answers with
// something that is not a token, is ErrUnavailable (Unavailable), never
// Unauthenticated.
func TestClientCredentials_failures(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		secret   verify.Secret
		fault    oauthtest.Fault
		metadata map[string]any
		wantErr  error
		wantCode codes.Code
	}{
		"WrongSecret":  {secret: "wrong", wantErr: outbound.ErrRefused, wantCode: codes.PermissionDenied},
		"Down":         {fault: oauthtest.Fault{Down: true}, wantErr: outbound.ErrUnavailable, wantCode: codes.Unavailable},
		"ServerError":  {fault: oauthtest.Fault{Status: http.StatusServiceUnavailable}, wantErr: outbound.ErrUnavailable, wantCode: codes.Unavailable},
		"TooMany":      {fault: oauthtest.Fault{Status: http.StatusTooManyRequests}, wantErr: outbound.ErrUnavailable, wantCode: codes.Unavailable},
		"Garbage":      {fault: oauthtest.Fault{Garbage: true}, wantErr: outbound.ErrUnavailable, wantCode: codes.Unavailable},
		"NotAToken":    {fault: oauthtest.Fault{Body: `{"access_token":"a b","token_type":"Bearer"}`, ContentType: "application/json"}, wantErr: outbound.ErrUnavailable, wantCode: codes.Unavailable},
		"Redirect":     {fault: oauthtest.Fault{Location: "https://elsewhere.example/token"}, wantErr: outbound.ErrUnavailable, wantCode: codes.Unavailable},
		"NoEndpoint":   {metadata: map[string]any{"token_endpoint": nil}, wantErr: outbound.ErrUnavailable, wantCode: codes.Unavailable},
		"HTTPEndpoint": {metadata: map[string]any{"token_endpoint": "http://as.example/token"}, wantErr: outbound.ErrUnavailable, wantCode: codes.Unavailable},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{InMemory: true, Metadata: tc.metadata,
				Clients: []oauthtest.Client{{ID: ordersID, Secret: ordersSecret}}})
			iss.SetFault(oauthtest.EndpointToken, tc.fault)
			secret := tc.secret
			if secret == "" {
				secret = ordersSecret
			}
			c := mustClientCredentials(t, outbound.Config{Issuer: iss.URL, HTTPClient: iss.Client(),
				Client: outbound.ClientSecretBasic(ordersID, secret), Resource: []string{paymentsURI}})
			_, err := c.Token(ctxWithTimeout(t))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Token() error = %v, want %v", err, tc.wantErr)
			}
			if got := status.Code(err); got != tc.wantCode {
				t.Errorf("status.Code(Token() error) = %v, want %v", got, tc.wantCode)
			}
			for _, verb := range []string{"%v", "%+v", "%#v"} {
				if out := fmt.Sprintf(verb, err); strings.Contains(out, ordersSecret) || strings.Contains(out, "wrong") {
					t.Errorf("Sprintf(%q, Token() error) = %q quotes the secret", verb, out)
				}
			}
		})
	}
}

// TestNoSecretInOutput: no verb prints a secret or key material of a
// Config, its ClientAuth or the Credentials.
func TestNoSecretInOutput(t *testing.T) {
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, auth := range map[string]outbound.ClientAuth{
		"Basic": outbound.ClientSecretBasic(ordersID, ordersSecret),
		"JWT":   outbound.PrivateKeyJWT(ordersID, key, jose.ES256, ""),
	} {
		cfg := outbound.Config{Issuer: "https://as.example", Client: auth, Resource: []string{paymentsURI}}
		c, err := outbound.ClientCredentials(cfg)
		if err != nil {
			t.Fatalf("%s: ClientCredentials() error = %v", name, err)
		}
		defer c.Close()
		raw, err := key.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		d := fmt.Sprintf("%x", raw)
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			for what, v := range map[string]any{"Config": cfg, "ClientAuth": auth, "Credentials": c} {
				out := fmt.Sprintf(verb, v)
				if strings.Contains(out, ordersSecret) || strings.Contains(strings.ToLower(out), d) || strings.Contains(out, fmt.Sprint(raw)) {
					t.Errorf("%s: Sprintf(%q, %s) = %q prints the secret or the private key", name, verb, what, out)
				}
			}
		}
	}
}

// TestExchange_errors: outside an authenticated call the credentials fail
// with ErrNoSubject (Internal: the handler's bug); a subject token the
// server will not exchange is ErrRefused (PermissionDenied); an actor
// token that cannot be had fails the call without a request.
func TestExchange_errors(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{InMemory: true,
		Clients: []oauthtest.Client{{ID: ordersID, Secret: ordersSecret}}})
	claims, err := verify.ParseClaims([]byte(`{"sub":"alice"}`))
	if err != nil {
		t.Fatal(err)
	}
	authed := func(tok string) context.Context {
		return interceptor.NewContext(metadata.NewIncomingContext(ctxWithTimeout(t),
			metadata.Pairs("authorization", "Bearer "+tok)), claims)
	}
	revoked := iss.OpaqueToken(t, oauthtest.Token{Subject: "alice"})
	iss.Revoke(revoked)
	errActor := errors.New("no actor token today")
	tests := map[string]struct {
		ctx      context.Context
		actor    func(context.Context) (string, string, error)
		wantErr  error
		wantCode codes.Code
	}{
		"NoSubject":      {ctx: ctxWithTimeout(t), wantErr: outbound.ErrNoSubject, wantCode: codes.Internal},
		"ClaimsOnly":     {ctx: interceptor.NewContext(ctxWithTimeout(t), claims), wantErr: outbound.ErrNoSubject, wantCode: codes.Internal},
		"RevokedSubject": {ctx: authed(revoked), wantErr: outbound.ErrRefused, wantCode: codes.PermissionDenied},
		"ActorFails": {ctx: authed(iss.Token(t)), wantErr: errActor, wantCode: codes.Unavailable,
			actor: func(context.Context) (string, string, error) { return "", "", errActor }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) { // not parallel: it counts the issuer's requests
			c, err := outbound.Exchange(outbound.Config{Issuer: iss.URL, HTTPClient: iss.Client(), ActorToken: tc.actor,
				Client: outbound.ClientSecretBasic(ordersID, ordersSecret), Audience: []string{"payments"}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			before := iss.Requests(oauthtest.EndpointToken)
			_, err = c.Token(tc.ctx)
			if !errors.Is(err, tc.wantErr) || status.Code(err) != tc.wantCode {
				t.Fatalf("Token() error = %v (code %v), want %v (code %v)", err, status.Code(err), tc.wantErr, tc.wantCode)
			}
			if tc.actor != nil && iss.Requests(oauthtest.EndpointToken) != before {
				t.Error("a token request was made without the actor token")
			}
		})
	}
}

// TestExchange_SubjectToken: Config.SubjectToken finds the incoming token
// where interceptor.TokenFromContext cannot (a connect-go handler's
// context has no gRPC metadata), and the exchange uses that token.
func TestExchange_SubjectToken(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{InMemory: true,
		Clients: []oauthtest.Client{{ID: ordersID, Secret: ordersSecret}}})
	incoming := iss.Token(t, oauthtest.Token{Subject: "carol"})
	claims, err := verify.ParseClaims([]byte(`{"sub":"carol"}`))
	if err != nil {
		t.Fatal(err)
	}
	ctx := interceptor.NewContext(ctxWithTimeout(t), claims) // claims, no metadata
	c, err := outbound.Exchange(outbound.Config{Issuer: iss.URL, HTTPClient: iss.Client(),
		Client: outbound.ClientSecretBasic(ordersID, ordersSecret), Audience: []string{"payments"},
		SubjectToken: func(context.Context) (string, bool) { return incoming, true }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tok, err := c.Token(ctx)
	if err != nil {
		t.Fatalf("Token() error = %v", err)
	}
	parsed, err := jwt.ParseSigned(tok.AccessToken, []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA, jose.PS256})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Sub string `json:"sub"`
	}
	if err := parsed.UnsafeClaimsWithoutVerification(&got); err != nil {
		t.Fatal(err)
	}
	if got.Sub != "carol" {
		t.Fatalf("exchanged token's sub = %q, want carol, the subject of SubjectToken's token", got.Sub)
	}
}
