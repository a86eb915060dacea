package serve

import "testing"

// TestOneLine checks that start-up errors are logged on one line, each
// prefix once.
func TestOneLine(t *testing.T) {
	t.Parallel()
	const in = "verify: cannot verify token now: fetch JWKS: context deadline exceeded\n" +
		"verify: cannot verify token now: discover: Get \"http://127.0.0.1:8765/a\": refused\n" +
		"Get \"http://127.0.0.1:8765/b\": refused"
	const want = "verify: cannot verify token now: fetch JWKS: context deadline exceeded; " +
		"discover: Get \"http://127.0.0.1:8765/a\": refused; Get \"http://127.0.0.1:8765/b\": refused"
	if got := oneLine(errString(in)); got != want {
		t.Errorf("oneLine() = %q, want %q", got, want)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
