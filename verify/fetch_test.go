package verify

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/oauthgate/oauthgate/internal/oauthhttp"
	"github.com/oauthgate/oauthgate/oauthtest"
)

func TestCheckURL(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		url       string
		allowHTTP bool
		wantErr   string // "" for accepted
	}{
		"HTTPS":             {url: "https://as.example/jwks"},
		"HTTPSPort":         {url: "https://as.example:8443/jwks"},
		"HTTPLoopback":      {url: "http://127.0.0.1:8080/jwks", allowHTTP: true},
		"HTTPLocalhost":     {url: "http://localhost/jwks", allowHTTP: true},
		"HTTPIPv6Loopback":  {url: "http://[::1]:9/jwks", allowHTTP: true},
		"HTTPNoOptIn":       {url: "http://127.0.0.1/jwks", wantErr: "InsecureAllowHTTP"},
		"HTTPRemote":        {url: "http://as.example/jwks", allowHTTP: true, wantErr: "not loopback"},
		"HTTPLookalike":     {url: "http://localhost.example.com/jwks", allowHTTP: true, wantErr: "not loopback"},
		"OtherScheme":       {url: "ftp://as.example/jwks", wantErr: "scheme must be https"},
		"Relative":          {url: "/jwks", wantErr: "absolute"},
		"Opaque":            {url: "https:as.example", wantErr: "absolute"},
		"Unparsable":        {url: "https://%zz", wantErr: "invalid URL"},
		"UserInfo":          {url: "https://rs:pw@as.example/jwks", wantErr: "user information"},
		"UserInfoLoopback":  {url: "http://rs:pw@127.0.0.1/jwks", allowHTTP: true, wantErr: "user information"},
		"UnparsablePasswrd": {url: "https://rs:pw@%zz/", wantErr: "invalid URL"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := checkURL(tc.url, tc.allowHTTP)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("checkURL(%q) = %v, want nil", tc.url, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("checkURL(%q) = %v, want an error containing %q", tc.url, err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "pw") {
				t.Errorf("checkURL(%q) = %q quotes the password", tc.url, err)
			}
		})
	}
}

func TestIsLoopback(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST": true, "127.0.0.1": true, "127.1.2.3": true, "::1": true,
		"localhost.example.com": false, "10.0.0.1": false, "example.com": false, "": false,
	} {
		if got := isLoopback(host); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestIsJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ct                string
		wantLax, wantStrc bool
	}{
		{"application/json", true, true},
		{"application/json; charset=utf-8", true, true},
		{"Application/JSON", true, true},
		{"application/jwk-set+json", true, false},
		{"application/problem+json", true, false},
		{"application/token-introspection+jwt", false, false},
		{"text/json", false, false},
		{"text/plain; charset=utf-8", false, false},
		{"text/html", false, false},
		{"application/json+zip", false, false},
		{"", false, false},
		{"application/json; charset", false, false}, // malformed parameter
	}
	for _, tc := range tests {
		if got := isJSON(tc.ct, false); got != tc.wantLax {
			t.Errorf("isJSON(%q, false) = %v, want %v", tc.ct, got, tc.wantLax)
		}
		if got := isJSON(tc.ct, true); got != tc.wantStrc {
			t.Errorf("isJSON(%q, true) = %v, want %v", tc.ct, got, tc.wantStrc)
		}
	}
}

// TestFetch checks the one fetch policy against the faults of an in-memory
// issuer's JWKS endpoint.
func TestFetch(t *testing.T) {
	t.Parallel()
	const js = "application/json"
	tests := map[string]struct {
		fault   oauthtest.Fault
		policy  fetchPolicy
		strict  bool
		wantErr string // "" for success
		noQuote string // must not appear in the error
	}{
		"OK":               {},
		"JWKSetType":       {fault: oauthtest.Fault{Status: http.StatusOK, ContentType: "application/jwk-set+json", Body: `{"keys":[]}`}},
		"JWKSetTypeStrict": {fault: oauthtest.Fault{Status: http.StatusOK, ContentType: "application/jwk-set+json", Body: `{}`}, strict: true, wantErr: "not JSON"},
		"HTML":             {fault: oauthtest.Fault{Status: http.StatusOK, ContentType: "text/html", Body: `{}`}, wantErr: "not JSON"},
		"AtSizeCap": {
			fault:  oauthtest.Fault{Status: http.StatusOK, ContentType: js, Body: `{"p":"` + strings.Repeat("x", 92) + `"}`},
			policy: fetchPolicy{maxSize: 100},
		},
		"OverSizeCap": {
			fault:  oauthtest.Fault{Status: http.StatusOK, ContentType: js, Body: `{"p":"` + strings.Repeat("x", 93) + `"}`},
			policy: fetchPolicy{maxSize: 100}, wantErr: "larger than 100 bytes",
		},
		"RegisteredCode": {
			fault:   oauthtest.Fault{Status: http.StatusBadRequest, ContentType: js, Body: `{"error":"invalid_request","error_description":"secret detail"}`},
			wantErr: "status 400 (invalid_request)", noQuote: "secret detail",
		},
		"FreeTextCode": {
			fault:   oauthtest.Fault{Status: http.StatusBadRequest, ContentType: js, Body: `{"error":"token abc was bad"}`},
			wantErr: "status 400", noQuote: "abc",
		},
		"Redirected":  {fault: oauthtest.Fault{Location: "/elsewhere"}, wantErr: "status 404"},
		"NoRedirects": {fault: oauthtest.Fault{Location: "/elsewhere"}, policy: fetchPolicy{noRedirects: true}, wantErr: "status 302"},
		"RedirectLoop": {
			fault:   oauthtest.Fault{Location: "/jwks.json"},
			wantErr: "stopped after 5 redirects",
		},
		"RedirectDowngrade": {fault: oauthtest.Fault{Location: "http://127.0.0.1/jwks"}, wantErr: "redirect refused"},
		"RedirectLoopbackHTTP": {
			fault: oauthtest.Fault{Location: "http://127.0.0.1/jwks"}, policy: fetchPolicy{allowHTTP: true},
			wantErr: "status 404", // followed, within the policy
		},
		"Slow": {fault: oauthtest.Fault{Delay: time.Hour}, wantErr: context.DeadlineExceeded.Error()},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{InMemory: true})
				iss.SetFault(oauthtest.EndpointJWKS, tc.fault)
				p := tc.policy
				p.timeout = time.Second
				if p.maxSize == 0 {
					p.maxSize = 1 << 20
				}
				client := p.client(iss.Client())
				start := time.Now()
				body, _, err := fetch(t.Context(), client, p, oauthhttp.Request{Method: http.MethodGet, URL: iss.EndpointURL(oauthtest.EndpointJWKS), StrictJSON: tc.strict})
				if d := time.Since(start); d > p.timeout {
					t.Errorf("fetch() took %v, want at most the timeout %v", d, p.timeout)
				}
				if tc.wantErr == "" {
					if err != nil || len(body) == 0 {
						t.Fatalf("fetch() = %q, %v, want a body", body, err)
					}
					return
				}
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("fetch() error = %v, want one containing %q", err, tc.wantErr)
				}
				if tc.noQuote != "" && strings.Contains(err.Error(), tc.noQuote) {
					t.Errorf("fetch() error = %q quotes the body", err)
				}
			})
		})
	}
}

func TestFetchPolicy_ClientCopies(t *testing.T) {
	t.Parallel()
	p := fetchPolicy{timeout: time.Second}
	if c := p.client(nil); c == http.DefaultClient || c.Timeout != time.Second || c.Transport == http.DefaultTransport {
		t.Errorf("client(nil) = %+v, want a new client with its own transport and the timeout", c)
	}
	called := false
	user := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		called = true
		return errors.New("user says no")
	}}
	c := p.client(user)
	if c == user {
		t.Fatal("client(user) returned the caller's client")
	}
	req, _ := http.NewRequest(http.MethodGet, "https://as.example/b", nil)
	if err := c.CheckRedirect(req, []*http.Request{req}); err == nil || !called {
		t.Errorf("CheckRedirect = %v, called %v: want the caller's check to run after the policy's", err, called)
	}
	called = false
	req, _ = http.NewRequest(http.MethodGet, "http://as.example/b", nil)
	if err := c.CheckRedirect(req, []*http.Request{req}); err == nil || called {
		t.Errorf("CheckRedirect(http) = %v, called %v: want the policy to refuse first", err, called)
	}
}
