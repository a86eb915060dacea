package ssf

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/oauthgate/oauthgate/verify"
)

// A Receiver is the http.Handler of an RFC 8935 push endpoint: the
// transmitter POSTs one SET per request, as application/secevent+jwt. A
// SET that passes every check (see the package documentation) is applied
// to the Revocations and answered with 202 Accepted; any other is
// answered with 400 and the RFC 8935 §2.3 error object
// {"err": code, "description": text}, and changes nothing. When the
// transmitter's keys cannot be fetched the answer is 503, which the
// transmitter retries.
//
// The Receiver authenticates SETs by their signatures; protect the
// endpoint as any other (TLS, and an Authorization check in front if the
// transmitter sends one). A Receiver is safe for concurrent use; Close
// releases the key set it made.
type Receiver struct {
	t *transmitter
}

// NewReceiver returns the push endpoint for the transmitter that cfg
// describes, feeding rev. It does no network I/O; the transmitter's keys
// are fetched with the first SET.
func NewReceiver(rev *Revocations, cfg Config) (*Receiver, error) {
	t, err := newTransmitter(rev, cfg, "NewReceiver")
	if err != nil {
		return nil, err
	}
	return &Receiver{t: t}, nil
}

// Close closes the key set the Receiver made (when Config.Keys was nil).
func (rc *Receiver) Close() error { return rc.t.close() }

// ServeHTTP implements RFC 8935 §2.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	// RFC 8935 §2.1: the body is a SET, typed application/secevent+jwt.
	if mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type")); err != nil || mt != "application/secevent+jwt" {
		writeSETError(w, &SETError{Reason: ErrMalformed, Member: "content-type"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, int64(rc.t.maxSize)))
	if err != nil {
		writeSETError(w, &SETError{Reason: ErrMalformed, Member: "size"})
		return
	}
	err = rc.t.receive(req.Context(), string(body), true)
	switch se, ok := errors.AsType[*SETError](err); {
	case err == nil:
		w.WriteHeader(http.StatusAccepted)
	case ok:
		writeSETError(w, se)
	case errors.Is(err, verify.ErrUnavailable):
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusServiceUnavailable)
	default:
		w.WriteHeader(http.StatusInternalServerError)
	}
}

// writeSETError writes the RFC 8935 §2.3 error response.
func writeSETError(w http.ResponseWriter, e *SETError) {
	b, _ := json.Marshal(errorObject{Err: e.Code(), Description: e.Description()})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write(b)
}

// errorObject is the RFC 8935 §2.3 error response, and an RFC 8936 §2.4
// setErrs value.
type errorObject struct {
	Err         string `json:"err"`
	Description string `json:"description"`
}
