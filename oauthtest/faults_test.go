package oauthtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/oauthgate/oauthgate/oauthtest"
)

var endpoints = []oauthtest.Endpoint{
	oauthtest.EndpointJWKS,
	oauthtest.EndpointOAuthMetadata,
	oauthtest.EndpointOpenIDConfiguration,
	oauthtest.EndpointIntrospection,
}

// get issues a GET to endpoint e with a timeout and returns the response
// with its body read, or the transport error.
func get(t *testing.T, iss *oauthtest.Issuer, e oauthtest.Endpoint, timeout time.Duration) (*http.Response, []byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, iss.EndpointURL(e), nil)
	if err != nil {
		t.Fatal(err)
	}
	client := *iss.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

func TestIssuer_SetFault(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		fault   oauthtest.Fault
		timeout time.Duration
		check   func(t *testing.T, resp *http.Response, body []byte, err error, elapsed time.Duration)
	}{
		"Down": {
			fault: oauthtest.Fault{Down: true},
			check: func(t *testing.T, resp *http.Response, _ []byte, err error, _ time.Duration) {
				if err == nil {
					t.Errorf("status = %d, want a transport error", resp.StatusCode)
				}
			},
		},
		"Status503": {
			fault: oauthtest.Fault{Status: http.StatusServiceUnavailable},
			check: func(t *testing.T, resp *http.Response, _ []byte, err error, _ time.Duration) {
				if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
					t.Errorf("GET = %v, %v; want status 503", resp, err)
				}
			},
		},
		"Slow": {
			fault: oauthtest.Fault{Delay: 100 * time.Millisecond},
			check: func(t *testing.T, resp *http.Response, body []byte, err error, elapsed time.Duration) {
				if err != nil || elapsed != 100*time.Millisecond {
					t.Errorf("GET = %v after %v, want an answer after 100ms", err, elapsed)
				}
				if err == nil && resp.StatusCode != http.StatusMethodNotAllowed && !json.Valid(body) {
					t.Errorf("slow answer is not the normal JSON: %.40q", body)
				}
			},
		},
		"SlowerThanClient": {
			fault:   oauthtest.Fault{Delay: time.Hour},
			timeout: 500 * time.Millisecond,
			check: func(t *testing.T, _ *http.Response, _ []byte, err error, _ time.Duration) {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("GET error = %v, want %v", err, context.DeadlineExceeded)
				}
			},
		},
		"Garbage": {
			fault: oauthtest.Fault{Garbage: true},
			check: func(t *testing.T, resp *http.Response, body []byte, err error, _ time.Duration) {
				if err != nil || resp.StatusCode != http.StatusOK || json.Valid(body) {
					t.Errorf("GET = %v, valid JSON %v; want 200 with invalid JSON", err, json.Valid(body))
				}
			},
		},
		"Response": {
			fault: oauthtest.Fault{Status: http.StatusTeapot, ContentType: "text/html; charset=utf-8", Body: "<html>teapot</html>"},
			check: func(t *testing.T, resp *http.Response, body []byte, err error, _ time.Duration) {
				if err != nil || resp.StatusCode != http.StatusTeapot || string(body) != "<html>teapot</html>" ||
					resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
					t.Errorf("GET = %v, %v, %q; want 418 text/html with the body", resp, err, body)
				}
			},
		},
		"Redirect": {
			fault: oauthtest.Fault{Location: "https://elsewhere.example/jwks"},
			check: func(t *testing.T, resp *http.Response, _ []byte, err error, _ time.Duration) {
				if err != nil || resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "https://elsewhere.example/jwks" {
					t.Errorf("GET = %v, %v; want 302 to https://elsewhere.example/jwks", resp, err)
				}
			},
		},
		"Huge": {
			fault: oauthtest.Fault{Huge: true},
			check: func(t *testing.T, resp *http.Response, body []byte, err error, _ time.Duration) {
				if err != nil || resp.StatusCode != http.StatusOK || len(body) != oauthtest.HugeSize || !json.Valid(body) {
					t.Errorf("GET = %v, %d bytes; want 200 with %d bytes of JSON", err, len(body), oauthtest.HugeSize)
				}
				if resp != nil && resp.ContentLength != oauthtest.HugeSize {
					t.Errorf("Content-Length = %d, want %d", resp.ContentLength, oauthtest.HugeSize)
				}
			},
		},
	}
	for name, tc := range tests {
		for _, e := range endpoints {
			if name == "Huge" && e != oauthtest.EndpointJWKS {
				continue // 10 MiB under -race is slow; the fault code is shared
			}
			// In memory, in a synctest bubble: delays are exact and cost no
			// real time. TestIssuer_SetFaultTCP covers the network.
			t.Run(name+string(e), func(t *testing.T) {
				t.Parallel()
				synctest.Test(t, func(t *testing.T) {
					testSetFault(t, e, tc.fault, tc.timeout, tc.check)
				})
			})
		}
	}
}

func testSetFault(t *testing.T, e oauthtest.Endpoint, fault oauthtest.Fault, timeout time.Duration,
	check func(t *testing.T, resp *http.Response, body []byte, err error, elapsed time.Duration),
) {
	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{InMemory: true})
	iss.SetFault(e, fault)
	if timeout == 0 {
		timeout = defaultTestTimeout
	}
	start := time.Now()
	resp, body, err := get(t, iss, e, timeout)
	check(t, resp, body, err, time.Since(start))
	if got := iss.Requests(e); got != 1 {
		t.Errorf("Requests(%v) = %d, want 1", e, got)
	}
	// Other endpoints are unaffected.
	for _, other := range endpoints {
		if other == e || other == oauthtest.EndpointIntrospection {
			continue
		}
		if resp, _, err := get(t, iss, other, defaultTestTimeout); err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("GET %v = %v, %v; want 200", other, resp, err)
		}
	}
	// The zero Fault restores normal answers.
	iss.SetFault(e, oauthtest.Fault{})
	want := http.StatusOK
	if e == oauthtest.EndpointIntrospection {
		want = http.StatusMethodNotAllowed // GET is not allowed
	}
	if resp, _, err := get(t, iss, e, defaultTestTimeout); err != nil || resp.StatusCode != want {
		t.Errorf("GET %v after clearing the fault = %v, %v; want %d", e, resp, err, want)
	}
}

// TestIssuer_SetFaultTCP checks the faults whose effect depends on the
// network: a reset connection and a streamed huge body.
func TestIssuer_SetFaultTCP(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{Down: true})
	if resp, _, err := get(t, iss, oauthtest.EndpointJWKS, defaultTestTimeout); err == nil {
		t.Errorf("Fault{Down: true} over TCP: status = %d, want a transport error", resp.StatusCode)
	}
	iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{Huge: true})
	resp, body, err := get(t, iss, oauthtest.EndpointJWKS, defaultTestTimeout)
	if err != nil || resp.ContentLength != oauthtest.HugeSize || len(body) != oauthtest.HugeSize {
		t.Errorf("Fault{Huge: true} over TCP = %v, %d bytes, want %d", err, len(body), oauthtest.HugeSize)
	}
}

func TestIssuer_Requests(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	for i := range 3 {
		for _, e := range endpoints[:i+1] {
			if _, _, err := get(t, iss, e, defaultTestTimeout); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, e := range endpoints {
		if got, want := iss.Requests(e), max(0, 3-i); got != want {
			t.Errorf("Requests(%v) = %d, want %d", e, got, want)
		}
	}
	if got := iss.Requests(oauthtest.Endpoint("/nope")); got != 0 {
		t.Errorf("Requests(unknown) = %d, want 0", got)
	}
	iss.SetFault(oauthtest.Endpoint("/nope"), oauthtest.Fault{Down: true}) // ignored, no panic
}

func TestIssuer_SetFaultConcurrent(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	const n = 50
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			f := oauthtest.Fault{}
			if i%2 == 0 {
				f = oauthtest.Fault{Status: http.StatusInternalServerError}
			}
			iss.SetFault(oauthtest.EndpointJWKS, f)
		}
	})
	for range 4 {
		wg.Go(func() {
			for range n / 4 {
				resp, _, err := get(t, iss, oauthtest.EndpointJWKS, defaultTestTimeout)
				if err != nil || (resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusInternalServerError) {
					t.Errorf("GET jwks = %v, %v; want 200 or 500", resp, err)
				}
			}
		})
	}
	wg.Wait()
	if got := iss.Requests(oauthtest.EndpointJWKS); got != 4*(n/4) {
		t.Errorf("Requests(EndpointJWKS) = %d, want %d", got, 4*(n/4))
	}
}

func TestIssuer_CloseAbortsSlowResponses(t *testing.T) {
	t.Parallel()
	t.Run("TCP", func(t *testing.T) {
		t.Parallel()
		iss, err := oauthtest.Start()
		if err != nil {
			t.Fatal(err)
		}
		iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{Delay: time.Hour})
		wrote := make(chan struct{})
		ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{
			WroteRequest: func(httptrace.WroteRequestInfo) { close(wrote) },
		})
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, iss.EndpointURL(oauthtest.EndpointJWKS), nil)
		done := make(chan error, 1)
		go func() {
			resp, err := iss.Client().Do(req)
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
		<-wrote
		// Whether or not the handler has started, Close must not wait for
		// the hour and the request must fail.
		closed := make(chan struct{})
		go func() { iss.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(defaultTestTimeout):
			t.Fatal("Close() blocked on a slow response")
		}
		if err := <-done; err == nil {
			t.Error("slow request after Close succeeded, want an error")
		}
	})
	t.Run("InMemory", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{InMemory: true})
			iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{Delay: time.Hour})
			done := make(chan error, 1)
			go func() {
				_, _, err := get(t, iss, oauthtest.EndpointJWKS, 2*time.Hour)
				done <- err
			}()
			synctest.Wait() // the handler waits out the Delay
			start := time.Now()
			iss.Close()
			if err := <-done; err == nil {
				t.Error("slow request after Close succeeded, want an error")
			}
			if d := time.Since(start); d != 0 {
				t.Errorf("the slow request ended %v after Close, want at once", d)
			}
		})
	})
}

// TestFault_Fields checks how the fields of a Fault combine.
func TestFault_Fields(t *testing.T) {
	t.Parallel()
	status := func(code int, wantJSON bool) func(*testing.T, *http.Response, []byte, error, time.Duration) {
		return func(t *testing.T, resp *http.Response, body []byte, err error, _ time.Duration) {
			if err != nil || resp.StatusCode != code || json.Valid(body) != wantJSON {
				t.Errorf("GET = %v, %v, valid JSON %v; want status %d, valid JSON %v", resp, err, json.Valid(body), code, wantJSON)
			}
		}
	}
	tests := map[string]struct {
		fault oauthtest.Fault
		check func(*testing.T, *http.Response, []byte, error, time.Duration)
	}{
		"StatusOutOfRange":  {fault: oauthtest.Fault{Status: 42}, check: status(http.StatusInternalServerError, true)},
		"GarbageWithStatus": {fault: oauthtest.Fault{Garbage: true, Status: http.StatusBadGateway}, check: status(http.StatusBadGateway, false)},
		"BodyWithoutStatus": {fault: oauthtest.Fault{Body: "no"}, check: status(http.StatusOK, false)},
		"ContentTypeOnly": {
			fault: oauthtest.Fault{ContentType: "text/plain"},
			check: func(t *testing.T, resp *http.Response, body []byte, err error, _ time.Duration) {
				if err != nil || resp.StatusCode != http.StatusOK || len(body) != 0 || resp.Header.Get("Content-Type") != "text/plain" {
					t.Errorf("GET = %v, %v, %q; want 200 text/plain with no body", resp, err, body)
				}
			},
		},
		"SlowThenStatus": {
			fault: oauthtest.Fault{Delay: time.Second, Status: http.StatusServiceUnavailable},
			check: func(t *testing.T, resp *http.Response, _ []byte, err error, elapsed time.Duration) {
				if err != nil || resp.StatusCode != http.StatusServiceUnavailable || elapsed != time.Second {
					t.Errorf("GET = %v, %v after %v; want 503 after 1s", resp, err, elapsed)
				}
			},
		},
		"RedirectWithStatus": {
			fault: oauthtest.Fault{Location: "/elsewhere", Status: http.StatusTemporaryRedirect},
			check: func(t *testing.T, resp *http.Response, _ []byte, err error, _ time.Duration) {
				if err != nil || resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "/elsewhere" {
					t.Errorf("GET = %v, %v; want 307 to /elsewhere", resp, err)
				}
			},
		},
		"DownWins": {
			fault: oauthtest.Fault{Down: true, Status: http.StatusOK, Body: "{}"},
			check: func(t *testing.T, resp *http.Response, _ []byte, err error, _ time.Duration) {
				if err == nil {
					t.Errorf("status = %d, want a transport error", resp.StatusCode)
				}
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				testSetFault(t, oauthtest.EndpointJWKS, tc.fault, 0, tc.check)
			})
		})
	}
	a, b := oauthtest.Fault{Delay: time.Second}, oauthtest.Fault{Delay: time.Second}
	if a != b {
		t.Error("equal faults compare unequal")
	}
}

func TestIssuer_SetHeader(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	iss.SetHeader(oauthtest.EndpointJWKS, "cache-control", "max-age=3600", "must-revalidate")
	iss.SetHeader(oauthtest.EndpointJWKS, "Age", "60")
	iss.SetHeader(oauthtest.EndpointJWKS, "Date", "Tue, 01 Jan 2030 00:05:00 GMT")
	resp, _, err := get(t, iss, oauthtest.EndpointJWKS, defaultTestTimeout)
	if err != nil {
		t.Fatal(err)
	}
	want := http.Header{
		"Cache-Control": {"max-age=3600", "must-revalidate"},
		"Age":           {"60"},
		"Date":          {"Tue, 01 Jan 2030 00:05:00 GMT"},
		"Content-Type":  {"application/json"},
	}
	for name, v := range want {
		if got := resp.Header.Values(name); strings.Join(got, "|") != strings.Join(v, "|") {
			t.Errorf("header %s = %q, want %q", name, got, v)
		}
	}
	// Other endpoints keep their headers.
	if resp, _, err := get(t, iss, oauthtest.EndpointOAuthMetadata, defaultTestTimeout); err != nil || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("metadata Cache-Control = %q, %v, want no-store", resp.Header.Get("Cache-Control"), err)
	}
	// No values: the header is dropped; faults carry the headers too.
	iss.SetHeader(oauthtest.EndpointJWKS, "Cache-Control")
	iss.SetHeader(oauthtest.EndpointJWKS, "Retry-After", "120")
	iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{Status: http.StatusServiceUnavailable})
	resp, _, err = get(t, iss, oauthtest.EndpointJWKS, defaultTestTimeout)
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("GET = %v, %v, want 503", resp, err)
	}
	if _, ok := resp.Header["Cache-Control"]; ok || resp.Header.Get("Retry-After") != "120" {
		t.Errorf("headers = %v, want no Cache-Control and Retry-After 120", resp.Header)
	}
	iss.SetHeader(oauthtest.Endpoint("/nope"), "X", "y") // ignored
}
