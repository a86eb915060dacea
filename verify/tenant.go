package verify

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// tenantPlaceholder marks the tenant in an issuer template.
const tenantPlaceholder = "{tenant}"

// A tenantIssuer is a multi-tenant issuer: an issuer template such as
// https://login.microsoftonline.com/{tenant}/v2.0 with the tenants it
// accepts. The tenant in a token's iss must also be its tid claim.
type tenantIssuer struct {
	prefix, suffix string   // the template around {tenant}
	tenants        []string // accepted tenants; nil with any
	any            bool     // every tenant is accepted
}

// newTenantIssuer compiles the issuer template of cfg, or returns nil
// when cfg.Issuer is an exact issuer.
func newTenantIssuer(cfg *JWTConfig) (*tenantIssuer, error) {
	n := strings.Count(cfg.Issuer, tenantPlaceholder)
	switch {
	case n == 0 && (len(cfg.Tenants) > 0 || cfg.AnyTenant):
		return nil, errors.New("verify: JWTConfig.Tenants or AnyTenant is set but JWTConfig.Issuer has no {tenant} placeholder")
	case n == 0:
		return nil, nil
	case n > 1:
		return nil, errors.New("verify: JWTConfig.Issuer holds {tenant} more than once")
	case len(cfg.Tenants) > 0 && cfg.AnyTenant:
		return nil, errors.New("verify: JWTConfig.Tenants and JWTConfig.AnyTenant are both set; list the tenants, or accept any, not both")
	case len(cfg.Tenants) == 0 && !cfg.AnyTenant:
		return nil, errors.New("verify: JWTConfig.Issuer is a {tenant} template but JWTConfig.Tenants is empty; list the tenants to accept, or set AnyTenant to accept every tenant of the provider")
	}
	t := &tenantIssuer{any: cfg.AnyTenant}
	t.prefix, t.suffix, _ = strings.Cut(cfg.Issuer, tenantPlaceholder)
	if !strings.Contains(t.prefix, "://") || !strings.Contains(strings.SplitN(t.prefix, "://", 2)[1], "/") {
		// The tenant must sit in the path: in the host it would let a
		// token name any host under the template's domain.
		return nil, errors.New("verify: JWTConfig.Issuer must have {tenant} in the URL path, after the host")
	}
	for i, tn := range cfg.Tenants {
		if !validTenant(tn) {
			return nil, fmt.Errorf("verify: JWTConfig.Tenants[%d] is not a tenant: it must be a non-empty path segment of printable ASCII without '/', '?', '#', '{' or '}'", i)
		}
		if !slices.Contains(t.tenants, tn) {
			t.tenants = append(t.tenants, tn)
		}
	}
	return t, nil
}

// validTenant reports whether tn can be the tenant of an issuer: a
// non-empty path segment of printable ASCII.
func validTenant(tn string) bool {
	if tn == "" {
		return false
	}
	for i := 0; i < len(tn); i++ {
		if c := tn[i]; c <= ' ' || c > '~' || c == '/' || c == '{' || c == '}' || c == '?' || c == '#' {
			return false
		}
	}
	return true
}

// match returns the tenant of iss and whether iss is an issuer of t.
func (t *tenantIssuer) match(iss string) (string, bool) {
	rest, ok := strings.CutPrefix(iss, t.prefix)
	if !ok {
		return "", false
	}
	tn, ok := strings.CutSuffix(rest, t.suffix)
	if !ok || !validTenant(tn) {
		return "", false
	}
	if !t.any && !slices.Contains(t.tenants, tn) {
		return "", false
	}
	return tn, true
}

// checkTenant applies the rule of a multi-tenant issuer to claims read by
// r, once iss matched: the token's tid names the tenant of its iss, so a
// key shared by every tenant cannot sign for another tenant's issuer.
func checkTenant(r *claimReader) error {
	switch {
	case !r.has(seenTid):
		return &TokenError{Reason: ErrMissingClaim, Claim: "tid"}
	case r.tid != r.tenant:
		return &TokenError{Reason: ErrIssuer, Claim: "tid"}
	}
	return nil
}
