package verify

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
)

// Confirmation is the confirmation claim (cnf, RFC 7800) of a
// sender-constrained access token: the key or certificate the client must
// prove it holds for the token to be accepted. A token without one is a
// bearer token. Confirmation is a value: changing a copy changes nothing
// else.
type Confirmation struct {
	// X5TS256 is the x5t#S256 member (RFC 8705 §3.1): the base64url SHA-256
	// thumbprint of the DER client certificate the token is bound to, or "".
	X5TS256 string
	// JKT is the jkt member (RFC 9449 §6.1): the base64url JWK SHA-256
	// thumbprint (RFC 7638) of the DPoP key the token is bound to, or "".
	JKT string
	// DPoP reports a token that the authorization server introspected as
	// token_type "DPoP" (RFC 9449 §6.2): it needs a DPoP proof even if its
	// cnf says nothing else.
	DPoP bool
	// Unknown reports cnf members, or a cnf shape, that this package does
	// not check (jwk, jwe, jku, kid, x5t#S1, ...). Such a token is never
	// accepted: see [CheckBinding].
	Unknown bool
}

// Bound reports whether the token is sender-constrained in any way, known
// or not.
func (c Confirmation) Bound() bool { return c.X5TS256 != "" || c.JKT != "" || c.DPoP || c.Unknown }

// A Presentation is the evidence that came with a token: what
// [CheckBinding] holds its confirmation against. The interceptor builds it
// from the connection and the metadata of a call.
type Presentation struct {
	// CertificateThumbprint is the [CertificateThumbprint] of the leaf
	// certificate the client authenticated the connection with (mutual
	// TLS, RFC 8705 §3), or "" when there was none.
	CertificateThumbprint string
	// DPoPKeyThumbprint is the JWK SHA-256 thumbprint of the key of a DPoP
	// proof that was verified for this request, or "" when there was none.
	DPoPKeyThumbprint string
}

// CertificateThumbprint returns the x5t#S256 value of cert: the unpadded
// base64url SHA-256 digest of its DER encoding (RFC 8705 §3.1).
func CertificateThumbprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	var b [43]byte // 32 bytes in unpadded base64url; one allocation, the string
	base64.RawURLEncoding.Encode(b[:], sum[:])
	return string(b[:])
}

// CheckBinding decides whether a token with claims c may be used with the
// evidence p. It is a pure function, called on every request, cached token
// or not:
//
//   - a bearer token (no cnf, not a DPoP token) passes;
//   - a token bound by a confirmation method this package does not check is
//     refused ([ErrUnsupportedBinding]): it is never downgraded to a bearer
//     token;
//   - x5t#S256 requires a client certificate ([ErrCertificateRequired])
//     whose thumbprint matches, compared in constant time
//     ([ErrCertificateMismatch]);
//   - jkt (or an introspected DPoP token) requires a verified DPoP proof
//     whose key thumbprint matches ([ErrProofRequired],
//     [ErrProofKeyMismatch]).
//
// Every configured binding must hold. Errors are [*TokenError]s.
func CheckBinding(c *Claims, p Presentation) error {
	cnf := c.cnf
	if !cnf.Bound() {
		return nil
	}
	if cnf.Unknown {
		return &TokenError{Reason: ErrUnsupportedBinding, Claim: "cnf"}
	}
	if cnf.X5TS256 != "" {
		if p.CertificateThumbprint == "" {
			return &TokenError{Reason: ErrCertificateRequired, Claim: "cnf"}
		}
		if !thumbprintEqual(p.CertificateThumbprint, cnf.X5TS256) {
			return &TokenError{Reason: ErrCertificateMismatch, Claim: "cnf"}
		}
	}
	if cnf.JKT != "" || cnf.DPoP {
		switch {
		case p.DPoPKeyThumbprint == "":
			return &TokenError{Reason: ErrProofRequired, Claim: "cnf"}
		case cnf.JKT == "" || !thumbprintEqual(p.DPoPKeyThumbprint, cnf.JKT):
			return &TokenError{Reason: ErrProofKeyMismatch, Claim: "cnf"}
		}
	}
	return nil
}

// thumbprintEqual compares two thumbprints in constant time.
func thumbprintEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// Confirmation returns the token's confirmation claim; ok is false for a
// bearer token. A [Verifier] returns bound tokens like any other: whoever
// calls it directly must hold them to their binding with [CheckBinding]
// (package interceptor does, on every call).
func (c *Claims) Confirmation() (cnf Confirmation, ok bool) { return c.cnf, c.cnf.Bound() }
