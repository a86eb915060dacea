package interceptor

import (
	"context"

	"google.golang.org/grpc/metadata"
)

// parseCredentials parses RFC 6750 §2.1 credentials, scheme 1*SP b64token,
// with scheme ("bearer" or "dpop", lower case; RFC 9449 §7.1 uses the same
// syntax) matched case-insensitively (RFC 9110 §11.1).
func parseCredentials(v, scheme string) (string, bool) {
	if len(v) <= len(scheme) || v[len(scheme)] != ' ' {
		return "", false
	}
	for i := range len(scheme) {
		if v[i]|0x20 != scheme[i] {
			return "", false
		}
	}
	tok := v[len(scheme)+1:]
	for len(tok) > 0 && tok[0] == ' ' {
		tok = tok[1:]
	}
	if !isB64Token(tok) {
		return "", false
	}
	return tok, true
}

// isB64Token reports whether s matches
// b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
// Every protected call runs it over the whole token, so it checks eight
// bytes per step with a table, without a branch per byte.
func isB64Token(s string) bool {
	i := 0
	for len(s)-i >= 8 {
		b := s[i : i+8]
		if b64TokenChar[b[0]]&b64TokenChar[b[1]]&b64TokenChar[b[2]]&b64TokenChar[b[3]]&
			b64TokenChar[b[4]]&b64TokenChar[b[5]]&b64TokenChar[b[6]]&b64TokenChar[b[7]] == 0 {
			break
		}
		i += 8
	}
	for i < len(s) && b64TokenChar[s[i]] == 1 {
		i++
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// b64TokenChar is static data, never written: 1 for the characters of
// b64token before its "=" padding, 0 for every other byte.
var b64TokenChar = func() (t [256]uint8) {
	for c := range 256 {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' {
			t[c] = 1
		}
	}
	return t
}()

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
