package interceptor

import (
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/oauthgate/oauthgate/scopes"
)

// challengeMetadata returns the response metadata that describes rej to an
// OAuth client, or nil: the www-authenticate challenges (RFC 6750 §3,
// RFC 9449 §7.1) and, for use_dpop_nonce, the dpop-nonce to retry with
// (RFC 9449 §8). Every challenge the interceptor sends is built here.
//
// With DPoP enabled, both schemes are offered, one www-authenticate value
// each; the error parameters go on the scheme the client used.
func (i *Interceptor) challengeMetadata(rej *rejection) metadata.MD {
	if !rej.challenge {
		return nil
	}
	md := metadata.MD{}
	var metaURL string
	if m := i.opts.resourceMeta; m != nil {
		metaURL = m.URL()
	}
	bearer := challenge{scheme: "Bearer", realm: i.opts.realm, resourceMetadata: metaURL}
	if !rej.dpop {
		bearer.rej = rej
	}
	md.Append("www-authenticate", bearer.String())
	if d := i.opts.dpop; d != nil {
		c := challenge{scheme: "DPoP", realm: i.opts.realm, algs: d.verifier.Algorithms(), resourceMetadata: metaURL}
		if rej.dpop {
			c.rej = rej
		}
		md.Append("www-authenticate", c.String())
		if rej.nonce {
			md.Append("dpop-nonce", d.verifier.Nonce())
		}
	}
	return md
}

// A challenge is one auth-scheme with its parameters (RFC 9110 §11.6.1).
type challenge struct {
	scheme string
	realm  string
	algs   string     // DPoP: the accepted proof algorithms
	rej    *rejection // the error, when it belongs to this scheme
	// resourceMetadata is the URL of the protected resource metadata
	// (RFC 9728 §5.1), or "".
	resourceMetadata string
}

func (c challenge) String() string {
	var b strings.Builder
	b.WriteString(c.scheme)
	sep := " "
	param := func(name, value string) {
		b.WriteString(sep)
		b.WriteString(name)
		b.WriteString(`="`)
		writeQuoted(&b, value)
		b.WriteByte('"')
		sep = ", "
	}
	if c.realm != "" {
		param("realm", c.realm)
	}
	if c.algs != "" {
		param("algs", c.algs)
	}
	if r := c.rej; r != nil {
		if r.oauthError != "" {
			param("error", r.oauthError)
			if r.description != "" {
				param("error_description", r.description)
			}
		}
		if len(r.scope) > 0 {
			param("scope", strings.Join(r.scope, " "))
		}
		if len(r.acrValues) > 0 {
			param("acr_values", strings.Join(r.acrValues, " "))
		}
		if r.maxAge != "" {
			param("max_age", r.maxAge)
		}
	}
	if c.resourceMetadata != "" {
		param("resource_metadata", c.resourceMetadata)
	}
	return b.String()
}

// stepUpRejection is the answer to a token that has the scopes but not the
// authentication rule asks for (RFC 9470 §3): Unauthenticated, so that the
// client asks the authorization server for a new token, with the
// requirements to ask it with.
func stepUpRejection(rule *scopes.Rule) *rejection {
	rej := &rejection{code: codes.Unauthenticated, reason: ReasonInsufficientUserAuthentication,
		oauthError: "insufficient_user_authentication", challenge: true, acrValues: rule.ACRValues()}
	d, hasMaxAge := rule.MaxAge()
	switch {
	case len(rej.acrValues) > 0 && hasMaxAge:
		rej.description = "a stronger and more recent authentication is required"
	case hasMaxAge:
		rej.description = "a more recent authentication is required"
	default:
		rej.description = "a stronger authentication is required"
	}
	if hasMaxAge {
		rej.maxAge = strconv.FormatInt(int64(d/time.Second), 10)
	}
	return rej
}
