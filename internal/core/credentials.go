package core

import "github.com/oauthgate/oauthgate/internal/authheader"

// A credential is what the authorization header of a call presents.
type credential struct {
	token string
	dpop  bool   // the DPoP scheme, with proof
	proof string // the dpop header
}

// credentials reads the call's credentials (RFC 6750 §2.1, RFC 9449 §7.1)
// from the values of its authorization and dpop headers: exactly one
// authorization value, Bearer or DPoP, and with DPoP exactly one dpop
// value. present is false when there is no authorization at all.
func (g *Gate) credentials(auth, proofs []string) (cred credential, present bool, d *Denial) {
	switch len(auth) {
	case 0:
		return credential{}, false, nil
	case 1:
	default:
		// Two credentials make the request ambiguous (RFC 6750 §3.1).
		return credential{}, true, invalidRequest("the authorization metadata must hold exactly one Bearer token")
	}
	if tok, ok := authheader.Parse(auth[0], "bearer"); ok {
		if len(proofs) > 0 {
			return credential{}, true, invalidRequest("a Bearer token cannot come with a DPoP proof; use the DPoP scheme")
		}
		return credential{token: tok}, true, nil
	}
	tok, ok := authheader.Parse(auth[0], "dpop")
	switch {
	case !ok:
		return credential{}, true, invalidRequest("the authorization metadata must hold exactly one Bearer token")
	case g.opts.dpop == nil:
		return credential{}, true, invalidRequest("this server does not accept DPoP; use a Bearer token")
	case len(proofs) != 1:
		d := invalidRequest("a DPoP token needs exactly one proof in the DPoP header")
		d.DPoP = true
		return credential{}, true, d
	}
	return credential{token: tok, dpop: true, proof: proofs[0]}, true, nil
}
