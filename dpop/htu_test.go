package dpop_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/oauthgate/oauthgate/dpop"
)

// TestRequestURI: the authority is the client's choice, so only an
// RFC 3986 host[:port] makes a URI; everything that could carry a path,
// query, fragment, user or escape into the URI is refused.
func TestRequestURI(t *testing.T) {
	t.Parallel()
	const path = "/pkg.Svc/GetBook"
	tests := []struct {
		scheme, authority, path string
		want                    string // "" for ErrAuthority or another error
	}{
		{"https", "api.example.com", path, "https://api.example.com/pkg.Svc/GetBook"},
		{"https", "API.Example.COM", path, "https://api.example.com/pkg.Svc/GetBook"},
		{"https", "api.example.com:443", path, "https://api.example.com/pkg.Svc/GetBook"},
		{"http", "api.example.com:80", path, "http://api.example.com/pkg.Svc/GetBook"},
		{"https", "api.example.com:80", path, "https://api.example.com:80/pkg.Svc/GetBook"},
		{"http", "127.0.0.1:50051", path, "http://127.0.0.1:50051/pkg.Svc/GetBook"},
		{"https", "[::1]", path, "https://[::1]/pkg.Svc/GetBook"},
		{"https", "[2001:DB8::1]:8443", path, "https://[2001:db8::1]:8443/pkg.Svc/GetBook"},
		{"https", "a-b_c~d.example", path, "https://a-b_c~d.example/pkg.Svc/GetBook"},
		{"https", "host:65535", path, "https://host:65535/pkg.Svc/GetBook"},
		{"https", "ZULU.example:9090", path, "https://zulu.example:9090/pkg.Svc/GetBook"},
		{"https", "zz99.example", path, "https://zz99.example/pkg.Svc/GetBook"},
		{"https", strings.Repeat("a", 256) + ":65535", path, "https://" + strings.Repeat("a", 256) + ":65535/pkg.Svc/GetBook"}, // 262 bytes, the most
		{"https", strings.Repeat("a", 257) + ":65535", path, ""},
		// Refused: what the attack of a path in the authority needs, and
		// every other character or form outside host[:port].
		{"https", "other-rs.example/pkg.Svc/ListBooks?", path, ""},
		{"https", "api.example.com/", path, ""},
		{"https", "api.example.com?", path, ""},
		{"https", "api.example.com#", path, ""},
		{"https", "user@api.example.com", path, ""},
		{"https", "user:pw@api.example.com", path, ""},
		{"https", "api%2eexample.com", path, ""},
		{"https", "api.example.com ", path, ""},
		{"https", "api example.com", path, ""},
		{"https", "api.example.com\t", path, ""},
		{"https", "api.example.com\\x", path, ""},
		{"https", "", path, ""},
		{"https", ":443", path, ""},
		{"https", "host:", path, ""},
		{"https", "host:0", path, ""},
		{"https", "host:08443", path, ""},
		{"https", "host:65536", path, ""},
		{"https", "host:123456", path, ""},
		{"https", "host:-1", path, ""},
		{"https", "host:1:2", path, ""},
		{"https", "::1", path, ""},
		{"https", "[::1", path, ""},
		{"https", "[::1]x", path, ""},
		{"https", "[::1]:", path, ""},
		{"https", "[fe80::1%25eth0]", path, ""},
		{"https", "[127.0.0.1]", path, ""},
		{"https", "[v1.x]", path, ""},
		{"https", strings.Repeat("a", 263), path, ""},
		{"https", "api.example.com", "pkg.Svc/GetBook", ""},
		{"https", "api.example.com", "/pkg.Svc/GetBook?x", ""},
		{"https", "api.example.com", "/pkg.Svc/GetBook#x", ""},
		{"https", "api.example.com", "/pkg.Svc/Get%42ook", ""},
		{"https", "api.example.com", "", ""},
		{"ftp", "api.example.com", path, ""},
		{"HTTPS", "api.example.com", path, ""},
	}
	for _, tc := range tests {
		got, err := dpop.RequestURI(tc.scheme, tc.authority, tc.path)
		if tc.want == "" {
			if err == nil {
				t.Errorf("RequestURI(%q, %q, %q) = %q, want an error", tc.scheme, tc.authority, tc.path, got)
			}
			if tc.path == path && tc.scheme == "https" && !errors.Is(err, dpop.ErrAuthority) {
				t.Errorf("RequestURI(%q) error = %v, want ErrAuthority", tc.authority, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("RequestURI(%q, %q, %q) = %q, %v; want %q", tc.scheme, tc.authority, tc.path, got, err, tc.want)
		}
		if n, err := dpop.NormalizeURI(got); err != nil || n != got {
			t.Errorf("RequestURI(%q) = %q is not in the normal form %q", tc.authority, got, n)
		}
	}
}
