package loopback

import "testing"

func TestIs(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]bool{
		"localhost":        true,
		"LocalHost":        true,
		"127.0.0.1":        true,
		"127.1.2.3":        true,
		"::1":              true,
		"":                 false,
		"[::1]":            false, // brackets are the caller's to remove
		"127.0.0.1:80":     false,
		"example.com":      false,
		"localhost.evil":   false,
		"10.0.0.1":         false,
		"::ffff:127.0.0.1": true,
	} {
		if got := Is(host); got != want {
			t.Errorf("Is(%q) = %v, want %v", host, got, want)
		}
	}
}
