package oauthhttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Metadata is the part of an authorization server's metadata document
// (RFC 8414 §2, OpenID Connect Discovery 1.0 §3) that the module reads.
type Metadata struct {
	Issuer                string `json:"issuer"`
	JWKSURI               string `json:"jwks_uri"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	// MTLSEndpointAliases are the endpoints of clients that use mutual
	// TLS (RFC 8705 §5); only token_endpoint is read.
	MTLSEndpointAliases struct {
		TokenEndpoint string `json:"token_endpoint"`
	} `json:"mtls_endpoint_aliases"`
}

// Discover fetches the metadata of the authorization server identified by
// issuer, already checked by [CheckIssuerURL], with client, a client made
// by p.Client. It tries the RFC 8414 location first, then the OpenID
// Connect one, and accepts a document only if its issuer equals issuer
// exactly and every endpoint it names satisfies the URL rule. The error
// joins the failure of each location.
func Discover(ctx context.Context, client *http.Client, p Policy, issuer string) (*Metadata, error) {
	return discoverAt(ctx, client, p, issuer, wellKnownURLs(issuer))
}

// DiscoverTransmitter fetches the transmitter configuration metadata of
// the Shared Signals transmitter identified by issuer, already checked by
// [CheckIssuerURL], as Discover does an authorization server's: SSF 1.0
// §7.2 puts it at /.well-known/ssf-configuration, inserted between host
// and path, and it holds issuer and jwks_uri with the same meaning.
func DiscoverTransmitter(ctx context.Context, client *http.Client, p Policy, issuer string) (*Metadata, error) {
	u, _ := url.Parse(issuer) // checked by CheckIssuerURL
	// SSF 1.0 §7.2.1: a terminating "/" of the path is removed first.
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	return discoverAt(ctx, client, p, issuer, []string{u.Scheme + "://" + u.Host + "/.well-known/ssf-configuration" + path})
}

// discoverAt tries the metadata locations locs of issuer in order.
func discoverAt(ctx context.Context, client *http.Client, p Policy, issuer string, locs []string) (*Metadata, error) {
	var errs []error
	for _, loc := range locs {
		md, err := fetchMetadata(ctx, client, loc, issuer, p)
		if err == nil {
			return md, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// wellKnownURLs returns the metadata locations for issuer, most preferred
// first. issuer has been checked by CheckIssuerURL.
func wellKnownURLs(issuer string) []string {
	u, _ := url.Parse(issuer) // checked by CheckIssuerURL
	// RFC 8414 §3.1 and OpenID Connect Discovery §4: a terminating "/" of
	// the path is removed first.
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	base := u.Scheme + "://" + u.Host
	return []string{
		// RFC 8414 §3.1: the well-known segment goes between host and path.
		base + "/.well-known/oauth-authorization-server" + path,
		// OpenID Connect Discovery §4: the segment is appended to the path.
		base + path + "/.well-known/openid-configuration",
	}
}

func fetchMetadata(ctx context.Context, client *http.Client, loc, issuer string, p Policy) (*Metadata, error) {
	body, _, err := Do(ctx, client, p, Request{Method: http.MethodGet, URL: loc})
	if err != nil {
		return nil, err
	}
	var md Metadata
	if err := json.Unmarshal(body, &md); err != nil {
		return nil, fmt.Errorf("metadata from %s is not a JSON object: %w", loc, err)
	}
	// RFC 8414 §3.3: the issuer must be identical to the one the location
	// was derived from, or the metadata must not be used (it may be an
	// impersonation by another tenant of the same host).
	if md.Issuer != issuer {
		return nil, fmt.Errorf("metadata from %s names issuer %q, want %q", loc, md.Issuer, issuer)
	}
	for _, ep := range [...]struct{ name, url string }{
		{"jwks_uri", md.JWKSURI},
		{"introspection_endpoint", md.IntrospectionEndpoint},
		{"token_endpoint", md.TokenEndpoint},
		{"mtls_endpoint_aliases.token_endpoint", md.MTLSEndpointAliases.TokenEndpoint},
	} {
		if ep.url == "" {
			continue
		}
		if err := CheckURL(ep.url, p.AllowHTTP); err != nil {
			return nil, fmt.Errorf("metadata from %s: %s: %w", loc, ep.name, err)
		}
	}
	return &md, nil
}

// CheckIssuerURL checks an issuer identifier: RFC 8414 §2 wants an https
// URL with no query or fragment.
func CheckIssuerURL(issuer string, allowHTTP bool) error {
	if err := CheckURL(issuer, allowHTTP); err != nil {
		return fmt.Errorf("issuer: %w", err)
	}
	u, _ := url.Parse(issuer)
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("issuer %q has a query, fragment or user info (RFC 8414 §2)", issuer)
	}
	return nil
}
