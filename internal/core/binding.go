package core

import (
	"context"
	"crypto/x509"
	"errors"

	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

// checkBinding holds claims to their confirmation (RFC 8705, RFC 9449) and
// to the rule's demand for a sender-constrained token. Bearer tokens on a
// rule that does not demand one cost nothing here.
func (g *Gate) checkBinding(ctx context.Context, rule *scopes.Rule, claims *verify.Claims, jkt string, t Transport) *Denial {
	cnf, bound := claims.Confirmation()
	if !bound {
		switch {
		case jkt != "":
			// A DPoP proof with a token that is not bound to its key.
			return tokenDenial(&verify.TokenError{Reason: verify.ErrProofKeyMismatch, Claim: "cnf"})
		case rule.RequiresSenderConstraint():
			return tokenDenial(&verify.TokenError{Reason: verify.ErrNotSenderConstrained})
		}
		return nil
	}
	p := verify.Presentation{DPoPKeyThumbprint: jkt}
	if cnf.X5TS256 != "" {
		cert, err := g.clientCertificate(ctx, t)
		if errors.Is(err, ErrMisconfigured) {
			return transportDenial(err)
		}
		if err != nil {
			return &Denial{Code: Unauthenticated, Reason: ReasonInvalidRequest, OAuthError: "invalid_request",
				Description: "the client certificate cannot be read", Challenge: true, Cause: err}
		}
		if cert != nil {
			p.CertificateThumbprint = verify.CertificateThumbprint(cert) // SHA-256 of the DER: well under a microsecond
		}
	}
	if err := verify.CheckBinding(claims, p); err != nil {
		return tokenDenial(err)
	}
	return nil
}

// clientCertificate returns the call's client certificate: from
// WithClientCertificate if set, else the transport's peer certificate.
func (g *Gate) clientCertificate(ctx context.Context, t Transport) (*x509.Certificate, error) {
	if g.opts.clientCert != nil {
		return g.opts.clientCert(ctx)
	}
	return t.PeerCertificate(ctx)
}
