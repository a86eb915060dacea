package verify

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
)

// A Secret is a credential such as an OAuth client secret. Its String,
// GoString, Format, MarshalJSON and LogValue methods all print "[REDACTED]",
// so printing or logging a config never leaks it; string(s) gives the value.
type Secret string

const redactedSecret = "[REDACTED]"

// String returns "[REDACTED]".
func (Secret) String() string { return redactedSecret }

// GoString returns "[REDACTED]", for the %#v verb.
func (Secret) GoString() string { return redactedSecret }

// Format writes "[REDACTED]" whatever the verb and flags.
func (Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redactedSecret) }

// MarshalJSON returns the JSON string "[REDACTED]".
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redactedSecret + `"`), nil }

// LogValue returns "[REDACTED]" for log/slog.
func (Secret) LogValue() slog.Value { return slog.StringValue(redactedSecret) }

// An AuthMethod is how an [Introspection] authenticates to the introspection
// endpoint (RFC 7662 §2.1), named as in the OAuth token endpoint
// authentication method registry (RFC 7591 §2).
type AuthMethod int

const (
	// ClientSecretBasic sends the client ID and secret in an HTTP Basic
	// Authorization header, each form-urlencoded first (RFC 6749 §2.3.1).
	// It is the default.
	ClientSecretBasic AuthMethod = iota
	// ClientSecretPost sends client_id and client_secret in the request body
	// (RFC 6749 §2.3.1).
	ClientSecretPost
)

// String returns the registered name: "client_secret_basic" or
// "client_secret_post".
func (m AuthMethod) String() string {
	switch m {
	case ClientSecretBasic:
		return "client_secret_basic"
	case ClientSecretPost:
		return "client_secret_post"
	}
	return "AuthMethod(" + strconv.Itoa(int(m)) + ")"
}

// clientCredentials authenticate an [Introspection] to its endpoint. They
// are kept as configured and encoded per request, so that no value derived
// from the secret (a Basic header, a form) sits in a printable field: fmt
// prints unexported fields without calling their String methods.
type clientCredentials struct {
	id     string
	secret Secret
	method AuthMethod
}

// apply adds the credentials to an introspection request: to form for
// ClientSecretPost, or as the returned function, which sets the
// Authorization header, for ClientSecretBasic.
func (c *clientCredentials) apply(form url.Values) func(*http.Request) {
	if c.method == ClientSecretPost {
		form.Set("client_id", c.id)
		form.Set("client_secret", string(c.secret))
		return nil
	}
	return func(r *http.Request) {
		// RFC 6749 §2.3.1: with HTTP Basic, the id and secret are each
		// encoded with application/x-www-form-urlencoded first, so a ':'
		// in the id is unambiguous.
		r.SetBasicAuth(url.QueryEscape(c.id), url.QueryEscape(string(c.secret)))
	}
}
