package interceptor

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/oauthgate/oauthgate/dpop"
)

// dpopOptions are the DPoP settings of an Interceptor (WithDPoP).
type dpopOptions struct {
	verifier *dpop.Verifier
	origins  []string // normalized public origins, no trailing slash; nil: from the call
}

// WithDPoP makes the interceptor accept DPoP-bound access tokens (RFC 9449)
// presented as "authorization: DPoP <token>" with a proof in the "dpop"
// metadata, checked by v for every call before the token is verified. A
// gRPC call is an HTTP/2 POST to /<package.Service>/<Method>, so the proof
// must have htm "POST" and htu "<scheme>://<authority>/<package.Service>/<Method>":
// scheme https on a TLS connection and http otherwise, authority the
// call's :authority. Behind a proxy that rewrites the authority or
// terminates TLS, list the public origins the service answers for
// ("https://api.example.com"); htu must then match one of them, and the
// connection's own scheme and authority are not used.
//
// Without WithDPoP, DPoP credentials are refused as invalid_request, and a
// DPoP-bound token (cnf.jkt) presented as a Bearer token is always refused,
// with or without it. The default is no DPoP. Later calls replace earlier
// ones.
func WithDPoP(v *dpop.Verifier, publicOrigins ...string) Option {
	origins := append([]string(nil), publicOrigins...)
	return optionFunc(func(o *options) { o.dpop = &dpopOptions{verifier: v, origins: origins} })
}

// validate checks the DPoP settings at New.
func (d *dpopOptions) validate() error {
	if d.verifier == nil {
		return errors.New("interceptor: WithDPoP: verifier is nil")
	}
	for i, o := range d.origins {
		n, err := dpop.NormalizeURI(o)
		if err != nil || n != strings.TrimSuffix(n, "/")+"/" || strings.Count(n, "/") != 3 {
			return fmt.Errorf("interceptor: WithDPoP: public origin %q must be scheme://host[:port] with no path", o)
		}
		d.origins[i] = strings.TrimSuffix(n, "/")
	}
	return nil
}

// A credential is what the authorization metadata of a call presents.
type credential struct {
	token string
	dpop  bool   // the DPoP scheme, with proof
	proof string // the dpop metadata
}

// credentials reads the call's credentials (RFC 6750 §2.1, RFC 9449 §7.1):
// exactly one authorization value, Bearer or DPoP, and with DPoP exactly
// one dpop value. present is false when there is no authorization at all.
func (i *Interceptor) credentials(ctx context.Context) (cred credential, present bool, rej *rejection) {
	auth := metadata.ValueFromIncomingContext(ctx, "authorization")
	proofs := metadata.ValueFromIncomingContext(ctx, "dpop")
	switch len(auth) {
	case 0:
		return credential{}, false, nil
	case 1:
	default:
		// Two credentials make the request ambiguous (RFC 6750 §3.1).
		return credential{}, true, invalidRequest("the authorization metadata must hold exactly one Bearer token")
	}
	if tok, ok := parseCredentials(auth[0], "bearer"); ok {
		if len(proofs) > 0 {
			return credential{}, true, invalidRequest("a Bearer token cannot come with a DPoP proof; use the DPoP scheme")
		}
		return credential{token: tok}, true, nil
	}
	tok, ok := parseCredentials(auth[0], "dpop")
	switch {
	case !ok:
		return credential{}, true, invalidRequest("the authorization metadata must hold exactly one Bearer token")
	case i.opts.dpop == nil:
		return credential{}, true, invalidRequest("this server does not accept DPoP; use a Bearer token")
	case len(proofs) != 1:
		rej := invalidRequest("a DPoP token needs exactly one proof in the dpop metadata")
		rej.dpop = true
		return credential{}, true, rej
	}
	return credential{token: tok, dpop: true, proof: proofs[0]}, true, nil
}

func invalidRequest(description string) *rejection {
	return &rejection{code: codes.Unauthenticated, reason: ReasonInvalidRequest, oauthError: "invalid_request",
		description: description, challenge: true}
}

// checkProof verifies the DPoP proof of a call to method and returns its
// key's thumbprint.
func (i *Interceptor) checkProof(ctx context.Context, method string, cred credential) (string, *rejection) {
	d := i.opts.dpop
	var buf [4]string
	uris := buf[:0]
	if len(d.origins) > 0 {
		for _, o := range d.origins {
			uris = append(uris, o+method)
		}
	} else if u, ok := callURI(ctx, method); ok {
		uris = append(uris, u)
	}
	jkt, err := d.verifier.Verify(cred.proof, dpop.Request{Method: "POST", URIs: uris, AccessToken: cred.token})
	if err != nil {
		return "", proofRejection(err)
	}
	return jkt, nil
}

// callURI returns the normalized URI a client addressed the call to:
// https on TLS connections, http otherwise, with the :authority.
func callURI(ctx context.Context, method string) (string, bool) {
	authority := metadata.ValueFromIncomingContext(ctx, ":authority")
	if len(authority) != 1 {
		return "", false
	}
	scheme := "http"
	if p, ok := peer.FromContext(ctx); ok {
		if _, tls := p.AuthInfo.(credentials.TLSInfo); tls {
			scheme = "https"
		}
	}
	u, err := dpop.NormalizeURI(scheme + "://" + authority[0] + method)
	return u, err == nil
}

// proofRejection maps a proof error: Unauthenticated with
// invalid_dpop_proof (or use_dpop_nonce) on the DPoP challenge, an
// ErrorInfo reason per failure; a full replay cache is Unavailable.
func proofRejection(err error) *rejection {
	if errors.Is(err, dpop.ErrReplayCacheFull) {
		return &rejection{code: codes.Unavailable, reason: ReasonDPoPReplayCacheFull,
			description: "the DPoP proof cannot be checked right now; retry with a new proof", cause: err}
	}
	rej := &rejection{code: codes.Unauthenticated, reason: ReasonDPoPInvalidProof, oauthError: "invalid_dpop_proof",
		description: "the DPoP proof is invalid", challenge: true, dpop: true, cause: err}
	var pe *dpop.ProofError
	if errors.As(err, &pe) {
		rej.description = pe.Description()
		for _, r := range proofReasons {
			if errors.Is(err, r.err) {
				rej.reason = r.reason
			}
		}
	}
	if errors.Is(err, dpop.ErrUseNonce) {
		rej.oauthError, rej.nonce = "use_dpop_nonce", true
		rej.description = "the DPoP proof must carry the server's nonce from the dpop-nonce metadata"
	}
	return rej
}

// proofReasons is static data: the ErrorInfo reason of each proof failure.
var proofReasons = [...]struct {
	err    error
	reason string
}{
	{dpop.ErrMalformed, "DPOP_PROOF_MALFORMED"},
	{dpop.ErrType, "DPOP_PROOF_TYPE"},
	{dpop.ErrAlgorithm, "DPOP_PROOF_ALGORITHM"},
	{dpop.ErrKey, "DPOP_PROOF_KEY"},
	{dpop.ErrPrivateKey, "DPOP_PROOF_PRIVATE_KEY"},
	{dpop.ErrSignature, "DPOP_PROOF_SIGNATURE"},
	{dpop.ErrMethod, "DPOP_PROOF_METHOD"},
	{dpop.ErrURI, "DPOP_PROOF_URI"},
	{dpop.ErrStale, "DPOP_PROOF_STALE"},
	{dpop.ErrMissingClaim, "DPOP_PROOF_MISSING_CLAIM"},
	{dpop.ErrTokenHash, "DPOP_PROOF_TOKEN_HASH"},
	{dpop.ErrReplayed, "DPOP_PROOF_REPLAYED"},
	{dpop.ErrNonce, "DPOP_NONCE_REQUIRED"},
}
