package dpop

import (
	"errors"
	"net"
	"net/url"
	"strings"
)

// NormalizeURI returns the form of an HTTP URI that RFC 9449 §4.3 compares
// htu in: without query and fragment, scheme and host in lower case, the
// scheme's default port removed, and an empty path as "/". It fails on a
// URI that is not absolute http or https.
func NormalizeURI(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("dpop: invalid URI")
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" || u.Host == "" || u.Opaque != "" || u.User != nil {
		return "", errors.New("dpop: URI is not an absolute http or https URI")
	}
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // IPv6
	}
	if port := u.Port(); port != "" && !(scheme == "https" && port == "443" || scheme == "http" && port == "80") {
		host = net.JoinHostPort(strings.Trim(host, "[]"), port)
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path, nil
}
