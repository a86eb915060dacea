package verify

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/oauthgate/oauthgate/internal/oauthhttp"
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
	md, err := oauthhttp.Discover(ctx, client, p.shared(), issuer)
	if err != nil {
		return nil, &UnavailableError{Op: "discover", Err: err}
	}
	return &Metadata{Issuer: md.Issuer, JWKSURI: md.JWKSURI, IntrospectionEndpoint: md.IntrospectionEndpoint}, nil
}

// discoverTransmitter is discover for a Shared Signals transmitter's
// configuration metadata (RemoteKeySetConfig.Transmitter).
func discoverTransmitter(ctx context.Context, client *http.Client, issuer string, p fetchPolicy) (*Metadata, error) {
	md, err := oauthhttp.DiscoverTransmitter(ctx, client, p.shared(), issuer)
	if err != nil {
		return nil, &UnavailableError{Op: "discover", Err: err}
	}
	return &Metadata{Issuer: md.Issuer, JWKSURI: md.JWKSURI}, nil
}

// checkIssuerURL checks an issuer identifier (see oauthhttp.CheckIssuerURL).
func checkIssuerURL(issuer string, allowHTTP bool) error {
	return oauthhttp.CheckIssuerURL(issuer, allowHTTP)
}
