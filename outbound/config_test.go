package outbound_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/outbound"
)

// TestConfig_invalid: every bad configuration is a constructor error
// naming the field, never a per-call failure.
func TestConfig_invalid(t *testing.T) {
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	basic := outbound.ClientSecretBasic(ordersID, ordersSecret)
	ok := outbound.Config{Issuer: "https://as.example", Client: basic, Resource: []string{paymentsURI}}
	with := func(f func(*outbound.Config)) outbound.Config {
		c := ok
		f(&c)
		return c
	}
	actor := func(context.Context) (string, string, error) { return "", "", nil }
	tests := map[string]struct {
		cfg          outbound.Config
		exchangeOnly bool // valid for ClientCredentials
		wantErr      string
	}{
		"NoIssuer":         {cfg: with(func(c *outbound.Config) { c.Issuer = "" }), wantErr: "Config.Issuer"},
		"HTTPIssuer":       {cfg: with(func(c *outbound.Config) { c.Issuer = "http://as.example" }), wantErr: "Config.Issuer"},
		"HTTPNotLoopback":  {cfg: with(func(c *outbound.Config) { c.Issuer, c.InsecureAllowHTTP = "http://as.example", true }), wantErr: "Config.Issuer"},
		"IssuerQuery":      {cfg: with(func(c *outbound.Config) { c.Issuer = "https://as.example/?a=b" }), wantErr: "Config.Issuer"},
		"HTTPEndpoint":     {cfg: with(func(c *outbound.Config) { c.TokenEndpoint = "http://as.example/token" }), wantErr: "Config.TokenEndpoint"},
		"NoClient":         {cfg: with(func(c *outbound.Config) { c.Client = outbound.ClientAuth{} }), wantErr: "Config.Client"},
		"EmptyClientID":    {cfg: with(func(c *outbound.Config) { c.Client = outbound.ClientSecretBasic("", "s") }), wantErr: "client ID"},
		"EmptySecret":      {cfg: with(func(c *outbound.Config) { c.Client = outbound.ClientSecretBasic(ordersID, "") }), wantErr: "empty secret"},
		"NoKey":            {cfg: with(func(c *outbound.Config) { c.Client = outbound.PrivateKeyJWT(ordersID, nil, jose.ES256, "") }), wantErr: "without a key"},
		"KeyDoesNotFit":    {cfg: with(func(c *outbound.Config) { c.Client = outbound.PrivateKeyJWT(ordersID, key, jose.RS256, "") }), wantErr: "does not fit"},
		"HMAC":             {cfg: with(func(c *outbound.Config) { c.Client = outbound.PrivateKeyJWT(ordersID, key, jose.HS256, "") }), wantErr: "does not fit"},
		"RelativeResource": {cfg: with(func(c *outbound.Config) { c.Resource = []string{"payments"} }), wantErr: "Config.Resource"},
		"FragmentResource": {cfg: with(func(c *outbound.Config) { c.Resource = []string{paymentsURI + "#x"} }), wantErr: "Config.Resource"},
		"EmptyAudience":    {cfg: with(func(c *outbound.Config) { c.Audience = []string{""} }), wantErr: "Config.Audience"},
		"ScopeSpace":       {cfg: with(func(c *outbound.Config) { c.Scopes = []string{"a b"} }), wantErr: "Config.Scopes"},
		"EmptyScope":       {cfg: with(func(c *outbound.Config) { c.Scopes = []string{""} }), wantErr: "Config.Scopes"},
		"NegativeTimeout":  {cfg: with(func(c *outbound.Config) { c.Timeout = -1 }), wantErr: "Config.Timeout"},
		"NegativeAhead":    {cfg: with(func(c *outbound.Config) { c.RefreshAhead = -1 }), wantErr: "Config.RefreshAhead"},
		"NoTarget":         {cfg: with(func(c *outbound.Config) { c.Resource = nil }), exchangeOnly: true, wantErr: "Resource or Config.Audience"},
		"NegativeCache":    {cfg: with(func(c *outbound.Config) { c.CacheSize = -1 }), wantErr: "CacheSize"},
		"ActorForCC":       {cfg: with(func(c *outbound.Config) { c.ActorToken = actor }), wantErr: "for Exchange"},
		"SubjectForCC": {cfg: with(func(c *outbound.Config) {
			c.SubjectToken = func(context.Context) (string, bool) { return "", false }
		}), wantErr: "for Exchange"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if name != "ActorForCC" && name != "SubjectForCC" {
				c, err := outbound.Exchange(tc.cfg)
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					if c != nil {
						c.Close()
					}
					t.Errorf("Exchange() error = %v, want one containing %q", err, tc.wantErr)
				}
			}
			c, err := outbound.ClientCredentials(tc.cfg)
			if tc.exchangeOnly {
				if err != nil {
					t.Errorf("ClientCredentials() error = %v, want nil", err)
				} else {
					c.Close()
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				if c != nil {
					c.Close()
				}
				t.Errorf("ClientCredentials() error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestRequireTransportSecurity: true except for a loopback target.
func TestRequireTransportSecurity(t *testing.T) {
	t.Parallel()
	for target, want := range map[string]bool{
		"":                              true,
		"payments.example.com:443":      true,
		"dns:///payments.example.com":   true,
		"passthrough:///bufnet":         true,
		"localhost.example.com:80":      true,
		"127.0.0.1:8443":                false,
		"localhost:8443":                false,
		"[::1]:8443":                    false,
		"passthrough:///127.0.0.1:8443": false,
		"dns:///localhost:8443":         false,
	} {
		c, err := outbound.ClientCredentials(outbound.Config{Issuer: "https://as.example", Target: target,
			Client: outbound.ClientSecretBasic(ordersID, ordersSecret)})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.RequireTransportSecurity(); got != want {
			t.Errorf("Target %q: RequireTransportSecurity() = %v, want %v", target, got, want)
		}
		c.Close()
	}
}
