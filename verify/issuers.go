package verify

import (
	"context"
	"errors"
	"fmt"
)

// Issuers is a [Verifier] for a resource server that accepts tokens from
// several authorization servers (tenants), each with its own [JWT]
// verifier and key set.
//
// Verify reads the iss claim of the token's payload WITHOUT verifying
// anything, only to choose the verifier; that verifier then checks the
// token completely, including iss. A token claiming an issuer that no
// verifier accepts is rejected with a [*TokenError] (reason [ErrIssuer],
// claim "iss") before any key set is consulted, so forged issuers cause no
// network traffic.
//
// Issuers is immutable and safe for concurrent use.
type Issuers struct {
	byIssuer  map[string]*JWT
	templates []*JWT // verifiers with an issuer template, in argument order
	maxSize   int    // largest MaxTokenSize among the verifiers
}

// NewIssuers returns a verifier that routes each token to the one of
// verifiers whose [JWT.Issuer] equals the token's iss claim or, failing
// that, to the first verifier whose issuer template (JWTConfig.Tenants,
// AnyTenant) accepts it. It fails if verifiers is empty, holds nil, holds
// two verifiers for one issuer or template, or an exact issuer that an
// earlier template accepts. Closing the verifiers' key sets remains the
// caller's job.
func NewIssuers(verifiers ...*JWT) (*Issuers, error) {
	if len(verifiers) == 0 {
		return nil, errors.New("verify: NewIssuers needs at least one verifier")
	}
	is := &Issuers{byIssuer: make(map[string]*JWT, len(verifiers))}
	for i, v := range verifiers {
		if v == nil {
			return nil, fmt.Errorf("verify: NewIssuers: verifier %d is nil", i)
		}
		if _, dup := is.byIssuer[v.Issuer()]; dup {
			return nil, fmt.Errorf("verify: NewIssuers: two verifiers for issuer %q; give each issuer one verifier", v.Issuer())
		}
		is.byIssuer[v.Issuer()] = v
		is.maxSize = max(is.maxSize, v.maxTokenSize)
		if v.rules.tenant != nil {
			is.templates = append(is.templates, v)
		}
	}
	for iss, v := range is.byIssuer {
		for _, t := range is.templates {
			if _, ok := t.rules.tenant.match(iss); ok && v.rules.tenant == nil {
				return nil, fmt.Errorf("verify: NewIssuers: issuer %q is also accepted by the template %q; give each issuer one verifier", iss, t.Issuer())
			}
		}
	}
	return is, nil
}

// route returns the verifier for the issuer iss.
func (is *Issuers) route(iss string) (*JWT, bool) {
	if v, ok := is.byIssuer[iss]; ok && v.rules.tenant == nil {
		return v, true
	}
	for _, v := range is.templates {
		if _, ok := v.rules.tenant.match(iss); ok {
			return v, true
		}
	}
	return nil, false
}

// Verify verifies token with the verifier for its issuer. Besides the
// errors of [JWT.Verify], it returns a [*TokenError] with reason
// [ErrIssuer] for an issuer it does not know, [ErrMalformed] for a token
// whose payload cannot be read, and [ErrTooLarge] for a token over every
// verifier's size cap.
func (is *Issuers) Verify(ctx context.Context, token string) (*Claims, error) {
	if len(token) > is.maxSize {
		return nil, &TokenError{Reason: ErrTooLarge}
	}
	iss, err := unverifiedIssuer(token)
	if err != nil {
		return nil, err
	}
	v, ok := is.route(iss)
	if !ok {
		return nil, &TokenError{Reason: ErrIssuer, Claim: "iss"}
	}
	return v.Verify(ctx, token)
}

// unverifiedIssuer returns the iss claim of a compact JWS's payload, read
// by the one claim reader (exact names, no duplicates): the verifier it
// selects reads the same value. The value is untrusted: it only selects a
// verifier, which checks the token completely.
func unverifiedIssuer(token string) (string, error) {
	payload, err := unverifiedPayload(token)
	if err != nil {
		return "", err
	}
	blk := &claimsBlock{}
	r := claimReader{aud: &blk.aud}
	if err := r.read(&claimRules{}, payload, &blk.c); err != nil {
		return "", err
	}
	if !r.has(seenIss) {
		return "", &TokenError{Reason: ErrMissingClaim, Claim: "iss"}
	}
	return blk.c.issuer, nil
}

var _ Verifier = (*Issuers)(nil)
