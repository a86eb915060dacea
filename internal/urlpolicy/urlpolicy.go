// Package urlpolicy holds oauthgate's one rule for the URLs its clients
// fetch (key sets, metadata, introspection, Shared Signals poll
// endpoints): absolute https, or http to a loopback host when the caller
// opted in for tests.
package urlpolicy

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Check requires an absolute https URL; with allowHTTP, http is also
// accepted for a loopback host ("localhost" or a loopback IP), never for
// another host. A URL with user information is refused without being
// quoted, so that a password in it never reaches an error.
func Check(raw string, allowHTTP bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("invalid URL")
	}
	if u.User != nil {
		return errors.New("URL carries user information; never put credentials in a URL")
	}
	if u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("URL %q is not an absolute URL with a host", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if allowHTTP && IsLoopback(u.Hostname()) {
			return nil
		}
		if allowHTTP {
			return fmt.Errorf("URL %q uses http on a host that is not loopback; https is required", raw)
		}
		return fmt.Errorf("URL %q uses http; https is required (InsecureAllowHTTP permits http to a loopback host only)", raw)
	default:
		return fmt.Errorf("URL %q: scheme must be https", raw)
	}
}

// IsLoopback reports whether host names this machine.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
