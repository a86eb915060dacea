package scopes

import (
	"time"

	oauthgatev1 "github.com/oauthgate/oauthgate/proto/oauthgate/v1"
)

// The options are read by internal/ruleopt (typed, dynamic or unknown
// fields alike), shared with protoc-gen-oauthgate; compile judges them.

// maxMaxAge bounds max_age, in seconds: more would overflow a Duration and
// is no step-up requirement.
const maxMaxAge = 10 * 365 * 24 * 3600

// compile turns a declared rule into a Rule, validating it.
func compile(pb *oauthgatev1.Rule) Rule {
	var r Rule
	switch {
	case pb.GetPublic():
		r.public = true
		if len(pb.GetScopes()) > 0 || len(pb.GetAny()) > 0 {
			r.fail("public cannot be combined with scopes")
		}
	case len(pb.GetAny()) > 0:
		for _, alt := range pb.GetAny() {
			if len(alt.GetScopes()) == 0 {
				r.fail("an alternative in any lists no scopes")
				continue
			}
			r.addAlternative(pb.GetScopes(), alt.GetScopes())
		}
	case len(pb.GetScopes()) > 0:
		r.addAlternative(nil, pb.GetScopes())
	default:
		r.fail("rule is neither public nor requires scopes")
	}
	if len(pb.GetAudiences()) > 0 {
		r = r.WithAudiences(pb.GetAudiences()...)
	}
	if pb.GetSenderConstrained() {
		r = r.SenderConstrained()
	}
	if len(pb.GetAcrValues()) > 0 {
		r = r.WithACR(pb.GetAcrValues()...)
	}
	for _, c := range pb.GetConditions() {
		r = r.If(c.GetName(), c.GetExpr())
	}
	if pb.MaxAge != nil {
		if s := pb.GetMaxAge(); s < 0 || s > maxMaxAge {
			r.fail("max_age is negative or over 10 years")
		} else {
			r = r.WithMaxAge(time.Duration(s) * time.Second)
		}
	}
	return r
}
