package oauthtest

import (
	"maps"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Defaults used when a field says nothing else. They are constants so that
// a test can compare against them.
const (
	// DefaultAudience is the aud of every token unless
	// [IssuerConfig].Audience or [Token].Audience says otherwise.
	DefaultAudience = "https://api.example.com"
	// DefaultSubject is the sub of every token unless [Token].Subject says
	// otherwise.
	DefaultSubject = "user-1"
	// DefaultClientID is the client_id claim of every token unless
	// [Token].ClientID says otherwise.
	DefaultClientID = "client-1"
	// DefaultLifetime is how long a token is valid unless [Token].Lifetime
	// or [Token].Expiry says otherwise.
	DefaultLifetime = 5 * time.Minute
	// DefaultIntrospectionClientID is the client_id the introspection
	// endpoint accepts unless [IssuerConfig].ClientID says otherwise.
	DefaultIntrospectionClientID = "resource-server"
	// DefaultIntrospectionClientSecret is the client secret the
	// introspection endpoint accepts unless [IssuerConfig].ClientSecret says
	// otherwise. It is a well-known test value, never a real secret.
	DefaultIntrospectionClientSecret = "resource-server-secret"
	// HugeSize is the body size of a [Fault] with Huge set: 10 MiB.
	HugeSize = 10 << 20
)

// An IssuerConfig configures an [Issuer] started by [NewIssuer] or [Start].
// The zero IssuerConfig, like passing none, gives an issuer on 127.0.0.1
// over plain HTTP that signs with ES256.
//
//	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{InMemory: true, Now: clock.Now})
//
// Several IssuerConfigs are merged in order: a field set (not zero, not
// nil) in a later one replaces that of an earlier one, and Metadata maps
// are merged by name, so a helper can pass its own config after the
// caller's or before.
type IssuerConfig struct {
	// Algorithm is the signing algorithm of tokens that set none:
	// jose.ES256 (P-256), jose.RS256 (RSA-2048) or jose.EdDSA (Ed25519).
	// If empty, ES256. Other algorithms make the issuer fail to start.
	Algorithm jose.SignatureAlgorithm

	// Audience is the aud of tokens whose [Token].Audience is nil. If nil,
	// it is [DefaultAudience]; if empty but not nil, such tokens carry no
	// aud claim.
	Audience []string

	// Now is the issuer's clock, used for iat and exp of minted tokens and
	// to decide whether an introspected token has expired, such as the Now
	// method of a [Clock]. If nil, time.Now.
	Now func() time.Time

	// ClientID and ClientSecret are the client credentials the
	// introspection endpoint requires (RFC 7662 §2.1), by
	// client_secret_basic or client_secret_post. If empty,
	// [DefaultIntrospectionClientID] and [DefaultIntrospectionClientSecret].
	// [Issuer].ClientID and ClientSecret report the values in force.
	ClientID, ClientSecret string

	// TLS serves over HTTPS with a self-signed certificate, so
	// [Issuer].URL starts with "https://". Use [Issuer.Client] to talk to
	// it. It has no effect with InMemory.
	TLS bool

	// InMemory makes the issuer listen nowhere: it is reachable only
	// through [Issuer.Client], which serves its endpoints in memory. Its
	// URL is https://<random>.oauthtest.invalid, a name that never
	// resolves, so a verifier accepts it without an http opt-in and a
	// request sent any other way fails. Use it to run code under test
	// inside a testing/synctest bubble, where network I/O would stop fake
	// time; create the issuer inside the bubble.
	InMemory bool

	// Path, such as "/tenant1" or "/realms/a/", is appended to the issuer
	// identifier, as multi-tenant servers do, and every endpoint is served
	// under it; metadata is served at both locations derived from such an
	// issuer (see [Issuer.EndpointURL]). It must be a clean absolute path;
	// a trailing slash is kept in the issuer identifier. If empty, the
	// issuer has no path.
	Path string

	// Clients are the clients the token endpoint ([EndpointToken])
	// authenticates. With none, every token request is refused with
	// invalid_client.
	Clients []Client

	// TokenLifetime is how long tokens issued by the token endpoint are
	// valid (expires_in). If zero, [DefaultLifetime]. An exchanged token
	// never outlives its subject token.
	TokenLifetime time.Duration

	// DPoPNonce makes the token endpoint require a server nonce in DPoP
	// proofs (RFC 9449 §8): a proof without the current one is refused
	// with 400 use_dpop_nonce and the nonce in the DPoP-Nonce header, and
	// every answer carries the current nonce.
	DPoPNonce bool

	// Metadata sets members of both metadata documents (RFC 8414 and
	// OpenID discovery), replacing the issuer's own values; a nil value
	// removes the member. Use it to serve a wrong issuer or jwks_uri.
	Metadata map[string]any
}

// mergeConfigs merges cfgs in order and fills in the defaults.
func mergeConfigs(cfgs []IssuerConfig) IssuerConfig {
	var c IssuerConfig
	for _, n := range cfgs {
		if n.Algorithm != "" {
			c.Algorithm = n.Algorithm
		}
		if n.Audience != nil {
			c.Audience = n.Audience
		}
		if n.Now != nil {
			c.Now = n.Now
		}
		if n.ClientID != "" {
			c.ClientID = n.ClientID
		}
		if n.ClientSecret != "" {
			c.ClientSecret = n.ClientSecret
		}
		if n.Clients != nil {
			c.Clients = n.Clients
		}
		if n.TokenLifetime != 0 {
			c.TokenLifetime = n.TokenLifetime
		}
		c.DPoPNonce = c.DPoPNonce || n.DPoPNonce
		c.TLS = c.TLS || n.TLS
		c.InMemory = c.InMemory || n.InMemory
		if n.Path != "" {
			c.Path = n.Path
		}
		c.Metadata = mergeMaps(c.Metadata, n.Metadata)
	}
	if c.Algorithm == "" {
		c.Algorithm = jose.ES256
	}
	if c.Audience == nil {
		c.Audience = []string{DefaultAudience}
	} else {
		c.Audience = append([]string(nil), c.Audience...)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.TokenLifetime <= 0 {
		c.TokenLifetime = DefaultLifetime
	}
	c.Clients = append([]Client(nil), c.Clients...)
	if c.ClientID == "" {
		c.ClientID = DefaultIntrospectionClientID
	}
	if c.ClientSecret == "" {
		c.ClientSecret = DefaultIntrospectionClientSecret
	}
	return c
}

// mergeMaps returns base with the members of top on top, copying rather
// than modifying either; nil values are kept, as removal marks.
func mergeMaps(base, top map[string]any) map[string]any {
	if top == nil {
		return base
	}
	m := maps.Clone(base)
	if m == nil {
		m = make(map[string]any, len(top))
	}
	maps.Copy(m, top)
	return m
}
