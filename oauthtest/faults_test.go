package oauthtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"
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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, iss.URL+e.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := iss.Client().Do(req)
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
			fault: oauthtest.FaultDown(),
			check: func(t *testing.T, resp *http.Response, _ []byte, err error, _ time.Duration) {
				if err == nil {
					t.Errorf("status = %d, want a transport error", resp.StatusCode)
				}
			},
		},
		"Status503": {
			fault: oauthtest.FaultStatus(http.StatusServiceUnavailable),
			check: func(t *testing.T, resp *http.Response, _ []byte, err error, _ time.Duration) {
				if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
					t.Errorf("GET = %v, %v; want status 503", resp, err)
				}
			},
		},
		"Slow": {
			fault: oauthtest.FaultSlow(100 * time.Millisecond),
			check: func(t *testing.T, resp *http.Response, body []byte, err error, elapsed time.Duration) {
				if err != nil || elapsed < 100*time.Millisecond {
					t.Errorf("GET = %v after %v, want an answer after at least 100ms", err, elapsed)
				}
				if err == nil && resp.StatusCode != http.StatusMethodNotAllowed && !json.Valid(body) {
					t.Errorf("slow answer is not the normal JSON: %.40q", body)
				}
			},
		},
		"SlowerThanClient": {
			fault: oauthtest.FaultSlow(time.Hour),
			// Long enough for the request to reach the server on a loaded
			// machine, so that it is counted.
			timeout: 500 * time.Millisecond,
			check: func(t *testing.T, _ *http.Response, _ []byte, err error, _ time.Duration) {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("GET error = %v, want %v", err, context.DeadlineExceeded)
				}
			},
		},
		"Garbage": {
			fault: oauthtest.FaultGarbage(),
			check: func(t *testing.T, resp *http.Response, body []byte, err error, _ time.Duration) {
				if err != nil || resp.StatusCode != http.StatusOK || json.Valid(body) {
					t.Errorf("GET = %v, valid JSON %v; want 200 with invalid JSON", err, json.Valid(body))
				}
			},
		},
		"Huge": {
			fault: oauthtest.FaultHuge(),
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
			t.Run(name+e.String(), func(t *testing.T) {
				t.Parallel()
				iss := oauthtest.NewIssuer(t)
				iss.SetFault(e, tc.fault)
				timeout := tc.timeout
				if timeout == 0 {
					timeout = defaultTestTimeout
				}
				start := time.Now()
				resp, body, err := get(t, iss, e, timeout)
				tc.check(t, resp, body, err, time.Since(start))
				// The server may count a request the client gave up on a
				// moment after the client returned.
				for deadline := time.Now().Add(2 * time.Second); iss.Requests(e) < 1 && time.Now().Before(deadline); {
					time.Sleep(10 * time.Millisecond)
				}
				if got := iss.Requests(e); got < 1 {
					t.Errorf("Requests(%v) = %d, want at least 1", e, got)
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
			})
		}
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
	if got := iss.Requests(oauthtest.Endpoint(99)); got != 0 {
		t.Errorf("Requests(unknown) = %d, want 0", got)
	}
	iss.SetFault(oauthtest.Endpoint(-1), oauthtest.FaultDown()) // ignored, no panic
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
				f = oauthtest.FaultStatus(http.StatusInternalServerError)
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
	iss, err := oauthtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	iss.SetFault(oauthtest.EndpointJWKS, oauthtest.FaultSlow(time.Hour))
	done := make(chan error, 1)
	go func() {
		_, _, err := get(t, iss, oauthtest.EndpointJWKS, time.Hour)
		done <- err
	}()
	deadline := time.Now().Add(defaultTestTimeout)
	for iss.Requests(oauthtest.EndpointJWKS) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("slow request never arrived")
		}
		time.Sleep(time.Millisecond)
	}
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
}

func TestFault_String(t *testing.T) {
	t.Parallel()
	tests := map[string]oauthtest.Fault{
		"None":        {},
		"Down":        oauthtest.FaultDown(),
		"Status(500)": oauthtest.FaultStatus(42), // out of range → 500
		"Slow(1s)":    oauthtest.FaultSlow(time.Second),
		"Garbage":     oauthtest.FaultGarbage(),
		"Huge":        oauthtest.FaultHuge(),
	}
	for want, f := range tests {
		if got := f.String(); got != want {
			t.Errorf("Fault.String() = %q, want %q", got, want)
		}
	}
	a, b := oauthtest.FaultSlow(time.Second), oauthtest.FaultSlow(time.Second)
	if a != b {
		t.Error("equal faults compare unequal")
	}
}
