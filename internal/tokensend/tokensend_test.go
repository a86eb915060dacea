package tokensend

import (
	"net/http"
	"net/url"
	"testing"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	// redirected returns a request for to that follows a redirect from the
	// requests for chain, first to last.
	redirected := func(to string, chain ...string) *http.Request {
		var prev *http.Request
		for _, u := range append(chain, to) {
			r := &http.Request{URL: mustParse(t, u)}
			if prev != nil {
				r.Response = &http.Response{Request: prev}
			}
			prev = r
		}
		return prev
	}
	cyclic := &http.Request{URL: mustParse(t, "https://api.example.com/x")}
	cyclic.Response = &http.Response{Request: cyclic} // no http.Client makes one; Check still ends
	tests := map[string]struct {
		req            *http.Request
		allowCleartext bool
		want           Verdict
	}{
		"HTTPS":                 {req: redirected("https://api.example.com/x"), want: Allowed},
		"LoopbackHTTP":          {req: redirected("http://127.0.0.1:8080/x"), want: Allowed},
		"LocalhostHTTP":         {req: redirected("http://localhost/x"), want: Allowed},
		"IPv6LoopbackHTTP":      {req: redirected("http://[::1]:80/x"), want: Allowed},
		"CleartextOther":        {req: redirected("http://api.example.com/x"), want: Cleartext},
		"CleartextLookalike":    {req: redirected("http://127.0.0.1.example.com/x"), want: Cleartext},
		"CleartextAllowed":      {req: redirected("http://api.example.com/x"), allowCleartext: true, want: Allowed},
		"NoURL":                 {req: &http.Request{}, want: NotHTTP},
		"FTP":                   {req: redirected("ftp://api.example.com/x"), want: NotHTTP},
		"SameOriginRedirect":    {req: redirected("https://API.example.com:443/y", "https://api.example.com/x"), want: Allowed},
		"OtherHostRedirect":     {req: redirected("https://evil.example/x", "https://api.example.com/x"), want: OtherOrigin},
		"OtherPortRedirect":     {req: redirected("https://api.example.com:8443/x", "https://api.example.com/x"), want: OtherOrigin},
		"SchemeRedirect":        {req: redirected("https://127.0.0.1/x", "http://127.0.0.1/x"), want: OtherOrigin},
		"BackToOriginViaOther":  {req: redirected("https://api.example.com/z", "https://api.example.com/x", "https://evil.example/y"), want: Allowed},
		"AwayAfterSameOrigin":   {req: redirected("https://evil.example/z", "https://api.example.com/x", "https://api.example.com/y"), want: OtherOrigin},
		"CyclicChain":           {req: cyclic, want: Allowed},
		"RedirectWithoutOrigin": {req: &http.Request{URL: mustParse(t, "https://api.example.com/x"), Response: &http.Response{Request: &http.Request{}}}, want: OtherOrigin},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := Check(tc.req, tc.allowCleartext); got != tc.want {
				t.Fatalf("Check(%v) = %v, want %v", tc.req.URL, got, tc.want)
			}
		})
	}
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
