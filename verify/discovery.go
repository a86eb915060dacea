package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Metadata is the part of an authorization server's metadata document
// (RFC 8414 §2, OpenID Connect Discovery 1.0 §3) that a resource server uses.
type Metadata struct {
	// Issuer is the issuer identifier. [Discover] only returns documents
	// whose issuer equals the requested one exactly (RFC 8414 §3.3).
	Issuer string `json:"issuer"`
	// JWKSURI is the jwks_uri: where the server publishes its signing keys.
	// It may be empty for servers that only issue opaque tokens.
	JWKSURI string `json:"jwks_uri"`
	// IntrospectionEndpoint is the RFC 7662 introspection endpoint
	// (RFC 8414 §2, introspection_endpoint), if the server advertises one.
	IntrospectionEndpoint string `json:"introspection_endpoint"`
}

// Limits applied by [Discover].
const (
	discoveryTimeout = 5 * time.Second
	discoveryMaxSize = 1 << 20
)

// Discover fetches the metadata of the authorization server identified by
// issuer, an https URL. It tries the RFC 8414 location first
// (/.well-known/oauth-authorization-server, inserted between host and path
// as RFC 8414 §3.1 requires for issuers with a path), then the OpenID
// Connect location (issuer + /.well-known/openid-configuration).
//
// A document is accepted only if its issuer member equals issuer exactly,
// and every endpoint it names is an https URL; otherwise the next location
// is tried. Each request is bounded by a 5 second timeout (or ctx's earlier
// deadline) and a 1 MiB body cap, and must answer with a JSON content type.
// If client is nil, a client with that timeout is used; http.DefaultClient
// is never used. Whatever the client, redirects are followed only to https
// URLs, at most 5 (client is copied, not modified).
//
// When neither location yields an acceptable document, the error matches
// [ErrUnavailable] (a [*UnavailableError] with Op "discover").
func Discover(ctx context.Context, client *http.Client, issuer string) (*Metadata, error) {
	if err := checkIssuerURL(issuer, false); err != nil {
		return nil, fmt.Errorf("verify: discover: %w", err)
	}
	p := fetchPolicy{timeout: discoveryTimeout, maxSize: discoveryMaxSize}
	if client == nil {
		client = p.client(nil)
		defer client.CloseIdleConnections()
	} else {
		client = p.client(client)
	}
	return discover(ctx, client, issuer, p)
}

// discover is [Discover] for an issuer already checked by checkIssuerURL,
// with the limits and URL policy of p, sending with client, a client made
// by p.client.
func discover(ctx context.Context, client *http.Client, issuer string, p fetchPolicy) (*Metadata, error) {
	return discoverAt(ctx, client, issuer, wellKnownURLs, p)
}

// discoverAt is discover at the metadata locations that locs derives from
// issuer.
func discoverAt(ctx context.Context, client *http.Client, issuer string, locs func(string) []string, p fetchPolicy) (*Metadata, error) {
	var errs []error
	for _, loc := range locs(issuer) {
		md, err := fetchMetadata(ctx, client, loc, issuer, p)
		if err == nil {
			return md, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, &UnavailableError{Op: "discover", Err: errors.Join(errs...)}
}

// wellKnownURLs returns the metadata locations for issuer, most preferred
// first. issuer has been checked by checkIssuerURL.
func wellKnownURLs(issuer string) []string {
	u, _ := url.Parse(issuer) // checked by checkIssuerURL
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

// ssfWellKnownURLs returns the location of the transmitter configuration
// metadata of a Shared Signals transmitter whose issuer has been checked by
// checkIssuerURL. It holds issuer and jwks_uri as an authorization
// server's metadata does.
func ssfWellKnownURLs(issuer string) []string {
	u, _ := url.Parse(issuer) // checked by checkIssuerURL
	// SSF 1.0 §7.2.1: the well-known segment goes between host and path,
	// after removing a terminating "/" of the path.
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	return []string{u.Scheme + "://" + u.Host + "/.well-known/ssf-configuration" + path}
}

func fetchMetadata(ctx context.Context, client *http.Client, loc, issuer string, p fetchPolicy) (*Metadata, error) {
	body, _, err := fetch(ctx, client, p, fetchRequest{method: http.MethodGet, url: loc})
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
	} {
		if ep.url == "" {
			continue
		}
		if err := checkURL(ep.url, p.allowHTTP); err != nil {
			return nil, fmt.Errorf("metadata from %s: %s: %w", loc, ep.name, err)
		}
	}
	return &md, nil
}

// checkIssuerURL checks an issuer identifier: RFC 8414 §2 wants an https
// URL with no query or fragment.
func checkIssuerURL(issuer string, allowHTTP bool) error {
	if err := checkURL(issuer, allowHTTP); err != nil {
		return fmt.Errorf("issuer: %w", err)
	}
	u, _ := url.Parse(issuer)
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("issuer %q has a query, fragment or user info (RFC 8414 §2)", issuer)
	}
	return nil
}
