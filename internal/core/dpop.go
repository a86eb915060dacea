package core

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/oauthgate/oauthgate/dpop"
)

// dpopOptions are the DPoP settings of a Gate (WithDPoP).
type dpopOptions struct {
	verifier *dpop.Verifier
	raw      []string // public origins as given
	origins  []origin // public origins; nil: from the call
}

// An origin is a configured public origin, parsed.
type origin struct{ scheme, authority string }

// validate checks the DPoP settings at New.
func (d *dpopOptions) validate(name string) error {
	if d.verifier == nil {
		return errors.New(name + ": WithDPoP: verifier is nil")
	}
	for _, o := range d.raw {
		n, err := dpop.NormalizeURI(o)
		if err != nil || n != strings.TrimSuffix(n, "/")+"/" || strings.Count(n, "/") != 3 {
			return fmt.Errorf("%s: WithDPoP: public origin %q must be scheme://host[:port] with no path", name, o)
		}
		scheme, authority, _ := strings.Cut(strings.TrimSuffix(n, "/"), "://")
		if _, err := dpop.RequestURI(scheme, authority, "/"); err != nil {
			return fmt.Errorf("%s: WithDPoP: public origin %q must be scheme://host[:port] with no path", name, o)
		}
		d.origins = append(d.origins, origin{scheme: scheme, authority: authority})
	}
	return nil
}

// checkProof checks the DPoP proof of r. The proof is not recorded:
// recordProof does that once the token it came with has been verified and
// found bound to its key.
func (g *Gate) checkProof(ctx context.Context, r *Request, cred credential) (dpop.Proof, *Denial) {
	d := g.opts.dpop
	target, err := r.Transport.Target(ctx)
	if err != nil {
		return dpop.Proof{}, transportDenial(err)
	}
	path := target.Path
	if path == "" {
		path = r.Procedure
	}
	var buf [4]string
	uris := buf[:0]
	if len(d.origins) > 0 {
		for _, o := range d.origins {
			u, err := dpop.RequestURI(o.scheme, o.authority, path)
			if err != nil {
				return dpop.Proof{}, uriDenial(err)
			}
			uris = append(uris, u)
		}
	} else {
		// The authority is the client's choice: RequestURI parses it as
		// host[:port] before it becomes part of a URI (STYLE R34).
		u, err := dpop.RequestURI(target.Scheme, target.Authority, path)
		if err != nil {
			return dpop.Proof{}, uriDenial(err)
		}
		uris = append(uris, u)
	}
	p, err := d.verifier.Check(cred.proof, dpop.Request{Method: target.Method, URIs: uris, AccessToken: cred.token})
	if err != nil {
		return dpop.Proof{}, proofDenial(err)
	}
	return p, nil
}

// recordProof records a checked proof whose token was verified and found
// bound to its key: a proof is good once (RFC 9449 §11.1).
func (g *Gate) recordProof(ctx context.Context, p dpop.Proof) *Denial {
	if err := g.opts.dpop.verifier.Record(ctx, p); err != nil {
		if errors.Is(err, dpop.ErrReplayStoreUnavailable) {
			// Cannot check now, which says nothing of the proof: no
			// invalid_dpop_proof challenge.
			return &Denial{Code: Unavailable, Reason: ReasonDPoPReplayStoreUnavailable,
				Description: "the DPoP proof cannot be checked right now; retry with a new proof", Cause: err}
		}
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return &Denial{Code: Unavailable, Reason: ReasonDPoPReplayCacheFull,
				Description: "the DPoP proof could not be checked in time; retry with a new proof", Cause: err}
		}
		return proofDenial(err)
	}
	return nil
}
