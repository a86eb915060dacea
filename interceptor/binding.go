package interceptor

import (
	"context"
	"crypto/x509"
	"errors"

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
			p.CertificateThumbprint = i.thumbs.of(cert)
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

// tokenRejection is the answer to a token error: Unauthenticated with an
// invalid_token challenge, and an ErrorInfo reason that says which check
// failed where a client can act on it.
func tokenRejection(err error) *rejection {
	description := "the access token is invalid"
	var te *verify.TokenError
	if errors.As(err, &te) {
		description = te.Description()
	}
	return &rejection{code: codes.Unauthenticated, reason: tokenReason(err), oauthError: "invalid_token",
		description: description, challenge: true, cause: err}
}

// tokenReason is the ErrorInfo reason of a token error.
func tokenReason(err error) string {
	for _, r := range bindingReasons {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return ReasonInvalidToken
}

// bindingReasons is static data: the ErrorInfo reasons of binding failures.
var bindingReasons = [...]struct {
	err    error
	reason string
}{
	{verify.ErrCertificateRequired, ReasonCertificateRequired},
	{verify.ErrCertificateMismatch, ReasonCertificateMismatch},
	{verify.ErrUnsupportedBinding, ReasonUnsupportedBinding},
	{verify.ErrProofRequired, ReasonDPoPProofRequired},
	{verify.ErrProofKeyMismatch, ReasonDPoPKeyMismatch},
	{verify.ErrNotSenderConstrained, ReasonSenderConstraintRequired},
}

// A thumbprintMemo gives the thumbprints of client certificates. It
// remembers nothing: SHA-256 of a certificate's DER costs well under a
// microsecond, which BenchmarkThroughputRatioMTLS (internal/benchmarks)
// cannot tell apart from the noise of an mTLS call, while a memo keyed by
// certificate identity needed unsafe. The Interceptor field that holds it
// can go too.
type thumbprintMemo struct{}

// of returns verify.CertificateThumbprint(cert).
func (thumbprintMemo) of(cert *x509.Certificate) string { return verify.CertificateThumbprint(cert) }
