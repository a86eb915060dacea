package oauthtest

import (
	"errors"
	"net/http"
	"net/http/httptest"
)

// errMemoryReset is what the in-memory transport reports when an endpoint
// drops the connection ([Fault].Down).
var errMemoryReset = errors.New("oauthtest: connection reset by the in-memory issuer")

// memoryTransport serves requests with h in memory.
type memoryTransport struct{ h http.Handler }

func (t memoryTransport) RoundTrip(req *http.Request) (resp *http.Response, err error) {
	// RoundTrip must not modify req and must close its body.
	r := req.Clone(req.Context())
	if r.Body == nil {
		r.Body = http.NoBody
	}
	defer r.Body.Close()
	r.RequestURI = req.URL.RequestURI()
	r.RemoteAddr = "127.0.0.1:1"
	if r.Host == "" {
		r.Host = req.URL.Host
	}
	rec := httptest.NewRecorder()
	defer func() {
		// A handler that drops the connection panics with ErrAbortHandler,
		// as net/http's server expects.
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler { //nolint:errorlint // a panic value, compared as net/http does
				panic(p)
			}
			resp, err = nil, errMemoryReset
		}
	}()
	t.h.ServeHTTP(rec, r)
	if err := req.Context().Err(); err != nil {
		return nil, err // the client gave up before the answer
	}
	resp = rec.Result()
	resp.Request = req
	return resp, nil
}
