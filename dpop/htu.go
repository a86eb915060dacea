package dpop

import (
	"errors"
	"net"
	"net/netip"
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

// maxAuthority bounds an authority: a DNS name of 253 bytes, or a
// bracketed IPv6 address, and a port.
const maxAuthority = 262

// ErrAuthority reports a request authority (HTTP/2 :authority or Host)
// that is not an RFC 3986 host[:port].
var ErrAuthority = errors.New("dpop: the request's authority is not a host[:port]")

// RequestURI returns the normalized URI (as [NormalizeURI] makes it) of a
// request for path on authority over scheme, "http" or "https". The
// authority is chosen by the client, so it is parsed to its grammar first:
// an RFC 3986 host (a reg-name without percent-encoding, an IPv4 address,
// or a bracketed IPv6 address without zone) and an optional port of 1 to
// 65535; anything else, such as a "/", "?", "#", "@", "%" or space, fails
// with [ErrAuthority]. path must be an absolute path of RFC 3986 pchars
// without percent-encoding ("/package.Service/Method"). The URI is built
// from the parsed parts, never by pasting the authority in front of the
// path.
func RequestURI(scheme, authority, path string) (string, error) {
	if scheme != "http" && scheme != "https" {
		return "", errors.New("dpop: scheme must be http or https")
	}
	host, port, err := splitAuthority(authority)
	if err != nil {
		return "", err
	}
	if !validPath(path) {
		return "", errors.New("dpop: the request path is not an absolute path")
	}
	if scheme == "https" && port == "443" || scheme == "http" && port == "80" {
		port = ""
	}
	n := len(scheme) + 3 + len(host) + 1 + len(port) + len(path)
	var b strings.Builder
	b.Grow(n)
	b.WriteString(scheme)
	b.WriteString("://")
	for i := 0; i < len(host); i++ {
		c := host[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	if port != "" {
		b.WriteByte(':')
		b.WriteString(port)
	}
	b.WriteString(path)
	return b.String(), nil
}

// splitAuthority parses authority as RFC 3986 host[:port] and returns the
// host (IPv6 in brackets) and the port ("" when absent).
func splitAuthority(authority string) (host, port string, err error) {
	if authority == "" || len(authority) > maxAuthority {
		return "", "", ErrAuthority
	}
	host, port = authority, ""
	if authority[0] == '[' {
		end := strings.IndexByte(authority, ']')
		if end < 0 {
			return "", "", ErrAuthority
		}
		addr, err := netip.ParseAddr(authority[1:end])
		if err != nil || !addr.Is6() || addr.Zone() != "" {
			return "", "", ErrAuthority
		}
		host, port = authority[:end+1], authority[end+1:]
		if port != "" {
			if port[0] != ':' {
				return "", "", ErrAuthority
			}
			port = port[1:]
			if !validPort(port) {
				return "", "", ErrAuthority
			}
		}
		return host, port, nil
	}
	if i := strings.LastIndexByte(authority, ':'); i >= 0 {
		host, port = authority[:i], authority[i+1:]
		if !validPort(port) {
			return "", "", ErrAuthority
		}
	}
	if host == "" {
		return "", "", ErrAuthority
	}
	for i := 0; i < len(host); i++ {
		if !regNameChar(host[i]) {
			return "", "", ErrAuthority
		}
	}
	return host, port, nil
}

// validPort reports whether p is a port of 1 to 65535 in decimal, without
// leading zeros.
func validPort(p string) bool {
	if p == "" || len(p) > 5 || p[0] == '0' {
		return false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
		n = n*10 + int(p[i]-'0')
	}
	return n <= 65535
}

// regNameChar reports whether c may appear in an RFC 3986 reg-name
// without percent-encoding: unreserved or sub-delims.
func regNameChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()*+,;=", c) >= 0
}

// validPath reports whether p is "/" followed by RFC 3986 pchars and "/",
// without percent-encoding.
func validPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	for i := 1; i < len(p); i++ {
		if c := p[i]; c != '/' && c != ':' && c != '@' && !regNameChar(c) {
			return false
		}
	}
	return true
}
