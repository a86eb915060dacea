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
	raw      []string // public origins as given
	origins  []origin // public origins; nil: from the call
}

// An origin is a configured public origin, parsed.
type origin struct{ scheme, authority string }

// WithDPoP makes the interceptor accept DPoP-bound access tokens (RFC 9449)
// presented as "authorization: DPoP <token>" with a proof in the "dpop"
// metadata, checked by v for every call before the token is verified. A
// gRPC call is an HTTP/2 POST to /<package.Service>/<Method>, so the proof
// must have htm "POST" and htu "<scheme>://<authority>/<package.Service>/<Method>":
// scheme https on a TLS connection and http otherwise, authority the
// call's :authority. The :authority is chosen by the client: it must be an
// RFC 3986 host[:port] (else the call is refused with DPOP_PROOF_URI), and
// a client can still name any host there, so a proof made for another
// server that shares the client's key passes. Production servers should
// list the public origins they answer for ("https://api.example.com");
// htu must then match one of them, and the connection's own scheme and
// authority are not used. That is also what a server behind a proxy that
// rewrites the authority or terminates TLS needs.
//
// A proof is remembered, for its replay check, only once the token it came
// with has been verified and found bound to its key, so that callers
// without a token cannot fill the replay cache.
//
// Without WithDPoP, DPoP credentials are refused as invalid_request, and a
// DPoP-bound token (cnf.jkt) presented as a Bearer token is always refused,
// with or without it. The default is no DPoP. Later calls replace earlier
// ones.
func WithDPoP(v *dpop.Verifier, publicOrigins ...string) Option {
	origins := append([]string(nil), publicOrigins...)
	return optionFunc(func(o *options) { o.dpop = &dpopOptions{verifier: v, raw: origins} })
}

// validate checks the DPoP settings at New.
func (d *dpopOptions) validate() error {
	if d.verifier == nil {
		return errors.New("interceptor: WithDPoP: verifier is nil")
	}
	for _, o := range d.raw {
		n, err := dpop.NormalizeURI(o)
		if err != nil || n != strings.TrimSuffix(n, "/")+"/" || strings.Count(n, "/") != 3 {
			return fmt.Errorf("interceptor: WithDPoP: public origin %q must be scheme://host[:port] with no path", o)
		}
		scheme, authority, _ := strings.Cut(strings.TrimSuffix(n, "/"), "://")
		if _, err := dpop.RequestURI(scheme, authority, "/"); err != nil {
			return fmt.Errorf("interceptor: WithDPoP: public origin %q must be scheme://host[:port] with no path", o)
		}
		d.origins = append(d.origins, origin{scheme: scheme, authority: authority})
	}
	return nil
}

// checkProof checks the DPoP proof of a call to method. The proof is not
// recorded: recordProof does that once the token it came with has been
// verified and found bound to its key.
func (i *Interceptor) checkProof(ctx context.Context, method string, cred credential) (dpop.Proof, *rejection) {
	d := i.opts.dpop
	var buf [4]string
	uris := buf[:0]
	if len(d.origins) > 0 {
		for _, o := range d.origins {
			u, err := dpop.RequestURI(o.scheme, o.authority, method)
			if err != nil {
				return dpop.Proof{}, uriRejection(err)
			}
			uris = append(uris, u)
		}
	} else {
		u, err := callURI(ctx, method)
		if err != nil {
			return dpop.Proof{}, uriRejection(err)
		}
		uris = append(uris, u)
	}
	p, err := d.verifier.Check(cred.proof, dpop.Request{Method: "POST", URIs: uris, AccessToken: cred.token})
	if err != nil {
		return dpop.Proof{}, proofRejection(err)
	}
	return p, nil
}

// recordProof records a checked proof whose token was verified and found
// bound to its key: a proof is good once (RFC 9449 §11.1).
func (i *Interceptor) recordProof(ctx context.Context, p dpop.Proof) *rejection {
	if err := i.opts.dpop.verifier.Record(ctx, p); err != nil {
		if errors.Is(err, dpop.ErrReplayStoreUnavailable) {
			// Cannot check now, which says nothing of the proof: no
			// invalid_dpop_proof challenge.
			return &rejection{code: codes.Unavailable, reason: ReasonDPoPReplayStoreUnavailable,
				description: "the DPoP proof cannot be checked right now; retry with a new proof", cause: err}
		}
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return &rejection{code: codes.Unavailable, reason: ReasonDPoPReplayCacheFull,
				description: "the DPoP proof could not be checked in time; retry with a new proof", cause: err}
		}
		return proofRejection(err)
	}
	return nil
}

// callURI returns the normalized URI a client addressed the call to:
// https on TLS connections, http otherwise, with the call's :authority,
// which the client chooses and which is parsed as host[:port] first.
func callURI(ctx context.Context, method string) (string, error) {
	authority := metadata.ValueFromIncomingContext(ctx, ":authority")
	if len(authority) != 1 {
		return "", dpop.ErrAuthority
	}
	scheme := "http"
	if p, ok := peer.FromContext(ctx); ok {
		if _, tls := p.AuthInfo.(credentials.TLSInfo); tls {
			scheme = "https"
		}
	}
	return dpop.RequestURI(scheme, authority[0], method)
}
