package interceptor

import (
	"context"
	"crypto/x509"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

// A CertificateFunc returns the client certificate of a call: the leaf the
// client authenticated with, or nil when there is none. An error means the
// evidence is present but unreadable, and the call is refused. See
// [WithClientCertificate].
type CertificateFunc func(ctx context.Context) (*x509.Certificate, error)

// checkBinding holds claims to their confirmation (RFC 8705, RFC 9449) and
// to the rule's demand for a sender-constrained token. Bearer tokens on a
// rule that does not demand one cost nothing here.
func (i *Interceptor) checkBinding(ctx context.Context, rule *scopes.Rule, claims *verify.Claims, jkt string) *rejection {
	cnf, bound := claims.Confirmation()
	if !bound {
		switch {
		case jkt != "":
			// A DPoP proof with a token that is not bound to its key.
			return tokenRejection(&verify.TokenError{Reason: verify.ErrProofKeyMismatch, Claim: "cnf"})
		case rule.RequiresSenderConstraint():
			return tokenRejection(&verify.TokenError{Reason: verify.ErrNotSenderConstrained})
		}
		return nil
	}
	p := verify.Presentation{DPoPKeyThumbprint: jkt}
	if cnf.X5TS256 != "" {
		cert, err := i.clientCertificate(ctx)
		if err != nil {
			return &rejection{code: codes.Unauthenticated, reason: ReasonInvalidRequest, oauthError: "invalid_request",
				description: "the client certificate cannot be read", challenge: true, cause: err}
		}
		if cert != nil {
			p.CertificateThumbprint = verify.CertificateThumbprint(cert) // SHA-256 of the DER: well under a microsecond
		}
	}
	if err := verify.CheckBinding(claims, p); err != nil {
		return tokenRejection(err)
	}
	return nil
}

// clientCertificate returns the call's client certificate: from
// WithClientCertificate if set, else the leaf of the mutual-TLS connection.
func (i *Interceptor) clientCertificate(ctx context.Context) (*x509.Certificate, error) {
	if i.opts.clientCert != nil {
		return i.opts.clientCert(ctx)
	}
	return peerCertificate(ctx), nil
}

// peerCertificate returns the leaf certificate the client presented in the
// TLS handshake of the call's connection, or nil. The handshake proved the
// client holds its private key (RFC 8705 §3: the binding does not depend on
// the certificate chain).
func peerCertificate(ctx context.Context) *x509.Certificate {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.PeerCertificates) == 0 {
		return nil
	}
	return info.State.PeerCertificates[0]
}
