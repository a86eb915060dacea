// Package loopback says whether a host names this machine: the one rule
// by which the module lets a token, a secret or a client credential go
// out over cleartext HTTP (to a local test server or sidecar) and nowhere
// else. It links the standard library only, so that packages low in the
// layering (the DPoP HTTP transport) can use it.
package loopback

import (
	"net"
	"strings"
)

// Is reports whether host names this machine: "localhost" or a loopback
// IP address, without brackets or port.
func Is(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
