package oauthtest

import (
	"crypto"
	"crypto/x509"
	"fmt"
)

// A Client is a client the issuer's token endpoint knows ([IssuerConfig].Clients),
// with the ways it may authenticate (RFC 6749 §2.3): any of the three that
// is set is accepted, one per request.
//
//	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{Clients: []oauthtest.Client{
//		{ID: "orders", Secret: "orders-secret"},
//	}})
type Client struct {
	// ID is the client_id. It must not be empty.
	ID string
	// Secret, if set, authenticates the client with client_secret_basic
	// (RFC 6749 §2.3.1).
	Secret string
	// PublicKey, if set, verifies the client's private_key_jwt assertions
	// (RFC 7523 §2.2, OpenID Connect Core §9): iss and sub the client ID,
	// aud the issuer or the token endpoint, exp in the future and at most
	// 5 minutes away, a jti not seen before. ES256, RS256, PS256 and EdDSA
	// are accepted.
	PublicKey crypto.PublicKey
	// Certificate, if set, authenticates the client with tls_client_auth
	// (RFC 8705 §2) when it presents exactly this certificate over mutual
	// TLS ([IssuerConfig].TLS): the issuer compares the leaf certificate's
	// SHA-256 thumbprint, not a subject DN, which is enough for tests.
	Certificate *x509.Certificate
}

// String describes the client without its secret.
func (c Client) String() string {
	return fmt.Sprintf("oauthtest.Client{ID: %q, Secret: %t, PublicKey: %t, Certificate: %t}",
		c.ID, c.Secret != "", c.PublicKey != nil, c.Certificate != nil)
}

// GoString is String, so that %#v does not print the secret either.
func (c Client) GoString() string { return c.String() }
