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
// and request counting.
type Endpoint int

// The issuer's endpoints.
const (
	// EndpointJWKS serves the JSON Web Key Set at /jwks.json.
	EndpointJWKS Endpoint = iota
	// EndpointOAuthMetadata serves RFC 8414 metadata at
	// /.well-known/oauth-authorization-server.
	EndpointOAuthMetadata
	// EndpointOpenIDConfiguration serves OpenID Connect Discovery metadata at
	// /.well-known/openid-configuration.
	EndpointOpenIDConfiguration
	// EndpointIntrospection answers RFC 7662 introspection at /introspect.
	EndpointIntrospection

	numEndpoints
)

// String returns the endpoint's path, such as "/jwks.json", on an issuer
// without [WithIssuerPath]; [Issuer.EndpointURL] gives the full URL.
func (e Endpoint) String() string {
	if p := e.path(); p != "" {
		return p
	}
	return "Endpoint(" + strconv.Itoa(int(e)) + ")"
}

func (e Endpoint) path() string {
	switch e {
	case EndpointJWKS:
		return "/jwks.json"
	case EndpointOAuthMetadata:
		return "/.well-known/oauth-authorization-server"
	case EndpointOpenIDConfiguration:
		return "/.well-known/openid-configuration"
	case EndpointIntrospection:
		return "/introspect"
	}
	return ""
}

// A Fault is a misbehaviour an endpoint shows instead of its normal answer.
// The zero Fault is no fault: the endpoint answers normally. Faults are
// values; compare them with ==.
type Fault struct {
	kind        faultKind
	status      int
	delay       time.Duration
	contentType string // faultResponse
	body        string // faultResponse; faultRedirect: the Location
}

type faultKind int

const (
	faultNone faultKind = iota
	faultDown
	faultStatus
	faultSlow
	faultGarbage
	faultHuge
	faultResponse
	faultRedirect
)

// HugeSize is the body size of a [FaultHuge] response: 10 MiB.
const HugeSize = 10 << 20

// FaultDown makes the endpoint look unreachable: the server accepts the
// request, then resets the connection without sending a response, so the
// client gets a transport error (connection reset or EOF), never an HTTP
// status. Go's http.Client may retry an idempotent request once on a new
// connection; each attempt is counted.
func FaultDown() Fault { return Fault{kind: faultDown} }

// FaultStatus makes the endpoint answer with HTTP status code and a short
// JSON error body, e.g. FaultStatus(http.StatusInternalServerError) or
// FaultStatus(http.StatusServiceUnavailable). A code outside 100–599
// becomes 500.
func FaultStatus(code int) Fault {
	if code < 100 || code > 599 {
		code = http.StatusInternalServerError
	}
	return Fault{kind: faultStatus, status: code}
}

// FaultSlow makes the endpoint wait d before answering normally. The wait
// ends early, without an answer, when the client gives up (the request
// context is done) or the issuer closes, so a slow endpoint never hangs a
// test beyond the client's own timeout.
func FaultSlow(d time.Duration) Fault { return Fault{kind: faultSlow, delay: d} }

// FaultGarbage makes the endpoint answer 200 with Content-Type
// application/json and a body that is not JSON.
func FaultGarbage() Fault { return Fault{kind: faultGarbage} }

// FaultHuge makes the endpoint answer 200 with a syntactically valid JSON
// object of [HugeSize] bytes, to test response size limits. The
// Content-Length header is set.
func FaultHuge() Fault { return Fault{kind: faultHuge} }

// FaultResponse makes the endpoint answer with HTTP status code (100–599,
// else 500), the Content-Type contentType (none if "") and exactly body:
// a JSON document that is not what the endpoint should serve, an HTML
// error page, a JSON answer under a wrong content type.
func FaultResponse(code int, contentType, body string) Fault {
	if code < 100 || code > 599 {
		code = http.StatusInternalServerError
	}
	return Fault{kind: faultResponse, status: code, contentType: contentType, body: body}
}

// FaultRedirect makes the endpoint answer 302 Found with Location set to
// location, which may be relative to the request's URL, for tests of a
// client's redirect policy.
func FaultRedirect(location string) Fault {
	return Fault{kind: faultRedirect, status: http.StatusFound, body: location}
}

// String describes the fault, for test failure messages.
func (f Fault) String() string {
	switch f.kind {
	case faultDown:
		return "Down"
	case faultStatus:
		return "Status(" + strconv.Itoa(f.status) + ")"
	case faultSlow:
		return "Slow(" + f.delay.String() + ")"
	case faultGarbage:
		return "Garbage"
	case faultHuge:
		return "Huge"
	case faultResponse:
		return "Response(" + strconv.Itoa(f.status) + ", " + strconv.Quote(f.contentType) + ", " +
			strconv.Itoa(len(f.body)) + " bytes)"
	case faultRedirect:
		return "Redirect(" + strconv.Quote(f.body) + ")"
	}
	return "None"
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
	if e < 0 || e >= numEndpoints {
		return
	}
	st := &iss.endpoints[e]
	st.mu.Lock()
	defer st.mu.Unlock()
	st.fault = f
}

// SetHeader makes every answer of endpoint e, normal or faulty, carry the
// response header name with values, replacing what the issuer would send:
// Cache-Control, Expires, Date and Age of the JWKS for a key set's refresh
// schedule, Retry-After with a [FaultStatus]. With no values, answers carry
// no header name at all (the issuer's own Cache-Control: no-store, for
// example, is dropped). Later calls for the same name replace earlier ones;
// calls for other names accumulate. Requests already being served are not
// affected. An unknown e is ignored.
func (iss *Issuer) SetHeader(e Endpoint, name string, values ...string) {
	if e < 0 || e >= numEndpoints {
		return
	}
	st := &iss.endpoints[e]
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
	if e < 0 || e >= numEndpoints {
		return 0
	}
	return int(iss.endpoints[e].requests.Load())
}

// faulty counts the requests of endpoint e and applies its current fault.
func (iss *Issuer) faulty(e Endpoint, next http.Handler) http.Handler {
	st := &iss.endpoints[e]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st.requests.Add(1)
		st.mu.Lock()
		f, headers := st.fault, st.headers
		st.mu.Unlock()
		if headers != nil {
			w = &headerWriter{ResponseWriter: w, headers: headers}
		}

		switch f.kind {
		case faultDown:
			resetConnection(w)
		case faultStatus:
			writeJSON(w, f.status, map[string]string{"error": "server_error", "error_description": "oauthtest: injected fault"})
		case faultSlow:
			t := time.NewTimer(f.delay)
			defer t.Stop()
			select {
			case <-t.C:
				next.ServeHTTP(w, r)
			case <-r.Context().Done():
				// The client gave up; nobody reads an answer.
			case <-iss.closing:
				// Returning would send an empty 200; drop the connection.
				resetConnection(w)
			}
		case faultGarbage:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte("<html><body>502 Bad Gateway</body></html>\x00{not json"))
		case faultHuge:
			writeHuge(w)
		case faultResponse:
			if f.contentType != "" {
				w.Header().Set("Content-Type", f.contentType)
			}
			w.WriteHeader(f.status)
			_, _ = io.WriteString(w, f.body)
		case faultRedirect:
			http.Redirect(w, r, f.body, f.status)
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

// writeHuge writes a HugeSize JSON object: {"keys":[],"padding":"xxxx…"}.
func writeHuge(w http.ResponseWriter) {
	const head, tail = `{"keys":[],"padding":"`, `"}`
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(HugeSize))
	w.WriteHeader(http.StatusOK)
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
