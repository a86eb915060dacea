package oauthtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// An Endpoint names one of the issuer's HTTP endpoints, for fault injection
// and request counting. Its value is the endpoint's path on an issuer
// without an [IssuerConfig].Path; [Issuer.EndpointURL] gives the full URL.
type Endpoint string

// The issuer's endpoints.
const (
	// EndpointJWKS serves the JSON Web Key Set.
	EndpointJWKS Endpoint = "/jwks.json"
	// EndpointOAuthMetadata serves RFC 8414 metadata.
	EndpointOAuthMetadata Endpoint = "/.well-known/oauth-authorization-server"
	// EndpointOpenIDConfiguration serves OpenID Connect Discovery metadata.
	EndpointOpenIDConfiguration Endpoint = "/.well-known/openid-configuration"
	// EndpointIntrospection answers RFC 7662 introspection.
	EndpointIntrospection Endpoint = "/introspect"
	// EndpointToken is the token endpoint (RFC 6749 §3.2): client
	// credentials and token exchange for [IssuerConfig].Clients.
	EndpointToken Endpoint = "/token"
)

// endpoints lists the issuer's endpoints, in the order of Issuer.endpoints.
var endpoints = [...]Endpoint{EndpointJWKS, EndpointOAuthMetadata, EndpointOpenIDConfiguration, EndpointIntrospection, EndpointToken} //nolint:gochecknoglobals // static data

const numEndpoints = len(endpoints)

// index returns the index of e in endpoints, or -1 for an unknown e.
func (e Endpoint) index() int {
	for i, known := range endpoints {
		if e == known {
			return i
		}
	}
	return -1
}

// A Fault is a misbehaviour an endpoint shows, set with [Issuer.SetFault].
// The zero Fault is no fault: the endpoint answers normally. Faults are
// values; compare them with ==.
//
//	iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{Status: http.StatusServiceUnavailable})
//	iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{Down: true})
//	iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{Delay: 2 * time.Second})
//	iss.SetFault(oauthtest.EndpointIntrospection, oauthtest.Fault{ContentType: "text/html", Body: "<html>"})
//
// The fields combine: the endpoint waits Delay, then resets the connection
// if Down, else answers with the first of Location, Huge, Garbage, Body or
// ContentType that is set, else with Status and a JSON error body if
// Status is set, else normally.
type Fault struct {
	// Delay makes the endpoint wait before answering. The wait ends early,
	// without an answer, when the client gives up (the request context is
	// done) or the issuer closes, so a slow endpoint never hangs a test
	// beyond the client's own timeout. With no other field set, the answer
	// is the normal one.
	Delay time.Duration

	// Down makes the endpoint look unreachable: the server accepts the
	// request, then resets the connection without sending a response, so
	// the client gets a transport error (connection reset or EOF), never an
	// HTTP status. Go's http.Client may retry an idempotent request once
	// on a new connection; each attempt is counted.
	Down bool

	// Status is the HTTP status code of the answer: alone, it comes with a
	// short JSON error body ({"error":"server_error",…}); with another
	// field, it replaces that field's status (200, or 302 for Location). A
	// code outside 100–599 becomes 500.
	Status int

	// ContentType and Body make the endpoint answer with exactly this
	// Content-Type (none if empty) and body: a JSON document that is not
	// what the endpoint should serve, an HTML error page, a JSON answer
	// under a wrong content type.
	ContentType, Body string

	// Location makes the endpoint redirect to Location, which may be
	// relative to the request's URL, for tests of a client's redirect
	// policy.
	Location string

	// Huge makes the endpoint answer a syntactically valid JSON object of
	// [HugeSize] bytes, with Content-Length set, to test response size
	// limits.
	Huge bool

	// Garbage makes the endpoint answer with Content-Type application/json
	// and a body that is not JSON.
	Garbage bool
}

// status is the status code of an answer whose default is def.
func (f Fault) status(def int) int {
	switch {
	case f.Status == 0:
		return def
	case f.Status < 100 || f.Status > 599:
		return http.StatusInternalServerError
	}
	return f.Status
}

// endpointState is the run-time state of one endpoint.
type endpointState struct {
	requests atomic.Int64
	mu       sync.Mutex
	fault    Fault       // guarded by mu
	headers  http.Header // guarded by mu; replaced, never modified
}

// SetFault makes endpoint e show fault f on every request from now on, until
// the next SetFault for e; SetFault(e, Fault{}) restores normal answers.
// Requests already being served are not affected. An unknown e is ignored.
func (iss *Issuer) SetFault(e Endpoint, f Fault) {
	i := e.index()
	if i < 0 {
		return
	}
	st := &iss.endpoints[i]
	st.mu.Lock()
	defer st.mu.Unlock()
	st.fault = f
}

// SetHeader makes every answer of endpoint e, normal or faulty, carry the
// response header name with values, replacing what the issuer would send:
// Cache-Control, Expires, Date and Age of the JWKS for a key set's refresh
// schedule, Retry-After with a [Fault] Status. With no values, answers
// carry no header name at all (the issuer's own Cache-Control: no-store,
// for example, is dropped). Later calls for the same name replace earlier
// ones; calls for other names accumulate. Requests already being served are
// not affected. An unknown e is ignored.
func (iss *Issuer) SetHeader(e Endpoint, name string, values ...string) {
	i := e.index()
	if i < 0 {
		return
	}
	st := &iss.endpoints[i]
	st.mu.Lock()
	defer st.mu.Unlock()
	h := st.headers.Clone()
	if h == nil {
		h = http.Header{}
	}
	h[http.CanonicalHeaderKey(name)] = append([]string{}, values...)
	st.headers = h
}

// Requests returns how many requests endpoint e has received, whether or not
// they were answered normally, including those rejected for bad client
// authentication. It returns 0 for an unknown e.
func (iss *Issuer) Requests(e Endpoint) int {
	i := e.index()
	if i < 0 {
		return 0
	}
	return int(iss.endpoints[i].requests.Load())
}

// faulty counts the requests of endpoint e and applies its current fault.
func (iss *Issuer) faulty(e Endpoint, next http.Handler) http.Handler {
	st := &iss.endpoints[e.index()]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st.requests.Add(1)
		st.mu.Lock()
		f, headers := st.fault, st.headers
		st.mu.Unlock()
		if headers != nil {
			w = &headerWriter{ResponseWriter: w, headers: headers}
		}

		if f.Delay > 0 {
			t := time.NewTimer(f.Delay)
			defer t.Stop()
			select {
			case <-t.C:
			case <-r.Context().Done():
				return // the client gave up; nobody reads an answer
			case <-iss.closing:
				// Returning would send an empty 200; drop the connection.
				resetConnection(w)
				return
			}
		}
		switch {
		case f.Down:
			resetConnection(w)
		case f.Location != "":
			http.Redirect(w, r, f.Location, f.status(http.StatusFound))
		case f.Huge:
			writeHuge(w, f.status(http.StatusOK))
		case f.Garbage:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(f.status(http.StatusOK))
			_, _ = w.Write([]byte("<html><body>502 Bad Gateway</body></html>\x00{not json"))
		case f.Body != "" || f.ContentType != "":
			if f.ContentType != "" {
				w.Header().Set("Content-Type", f.ContentType)
			}
			w.WriteHeader(f.status(http.StatusOK))
			_, _ = io.WriteString(w, f.Body)
		case f.Status != 0:
			writeJSON(w, f.status(http.StatusInternalServerError), map[string]string{"error": "server_error", "error_description": "oauthtest: injected fault"})
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// A headerWriter applies an endpoint's SetHeader values when the answer's
// header is written, after the handler has set its own.
type headerWriter struct {
	http.ResponseWriter
	headers http.Header
	wrote   bool
}

func (w *headerWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		h := w.ResponseWriter.Header()
		for name, values := range w.headers {
			if len(values) == 0 {
				h.Del(name)
			} else {
				h[name] = values
			}
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *headerWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *headerWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// resetConnection drops the connection under w without a response. An RST
// (SO_LINGER 0) rather than a FIN makes it look like a crashed server.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// HTTP/2 and the in-memory transport cannot hijack; aborting the
		// handler resets the stream or fails the round trip.
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}

// writeHuge writes a HugeSize JSON object, {"keys":[],"padding":"xxxx…"},
// with status code.
func writeHuge(w http.ResponseWriter, code int) {
	const head, tail = `{"keys":[],"padding":"`, `"}`
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(HugeSize))
	w.WriteHeader(code)
	if _, err := w.Write([]byte(head)); err != nil {
		return
	}
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	left := HugeSize - len(head) - len(tail)
	for left > 0 {
		n := min(left, len(chunk))
		if _, err := w.Write(chunk[:n]); err != nil {
			return // the client stopped reading: that is what a size cap does
		}
		left -= n
	}
	_, _ = w.Write([]byte(tail))
}

// writeJSON writes v as a JSON response with status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Claims are checked to be encodable when minted; reaching this is a
		// bug in oauthtest.
		http.Error(w, "oauthtest: cannot encode response", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}
