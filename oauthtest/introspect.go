package oauthtest

import (
	"crypto/subtle"
	"net/http"
	"net/url"
)

// maxIntrospectionBody caps the form a client may post; tokens are small.
const maxIntrospectionBody = 64 << 10

// serveIntrospection implements the RFC 7662 §2 introspection endpoint with
// client authentication by client_secret_basic or client_secret_post.
func (iss *Issuer) serveIntrospection(w http.ResponseWriter, r *http.Request) {
	// RFC 7662 §2.1: "HTTP POST request with parameters sent as
	// application/x-www-form-urlencoded".
	form, ok := postedForm(w, r, maxIntrospectionBody)
	if !ok {
		return
	}

	basicID, basicSecret, basic := r.BasicAuth()
	_, postID := form["client_id"]
	_, postSecret := form["client_secret"]
	var id, secret string
	switch {
	case basic && (postID || postSecret):
		// RFC 6749 §2.3: the client MUST NOT use more than one
		// authentication method in each request.
		writeJSON(w, http.StatusBadRequest, oauthError("invalid_request", "more than one client authentication method"))
		return
	case basic:
		// RFC 6749 §2.3.1: client_secret_basic form-encodes id and secret
		// before Base64. Undecodable values simply fail to match.
		id, secret = formDecode(basicID), formDecode(basicSecret)
	default:
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	if !iss.clientOK(id, secret) {
		// RFC 6749 §5.2: invalid_client with 401 and a challenge for the
		// scheme the client tried (Basic when it used none).
		w.Header().Set("WWW-Authenticate", `Basic realm="oauthtest"`)
		writeJSON(w, http.StatusUnauthorized, oauthError("invalid_client", "client authentication failed"))
		return
	}

	token := form.Get("token")
	if token == "" {
		writeJSON(w, http.StatusBadRequest, oauthError("invalid_request", "missing token parameter"))
		return
	}
	// token_type_hint is optional and only a hint (RFC 7662 §2.1): ignored.
	writeJSON(w, http.StatusOK, iss.introspect(token))
}

// postedForm returns the form of a POST with an
// application/x-www-form-urlencoded body of at most limit bytes, the only
// requests the issuer's OAuth endpoints take (RFC 6749 §3.2, RFC 7662 §2.1);
// it answers any other request with invalid_request and returns false.
func postedForm(w http.ResponseWriter, r *http.Request, limit int64) (url.Values, bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, oauthError("invalid_request", "use POST"))
		return nil, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, oauthError("invalid_request", "malformed form body"))
		return nil, false
	}
	return r.PostForm, true
}

// clientOK compares the presented credentials in constant time, as a real
// server must.
func (iss *Issuer) clientOK(id, secret string) bool {
	idOK := subtle.ConstantTimeCompare([]byte(id), []byte(iss.cfg.ClientID))
	secretOK := subtle.ConstantTimeCompare([]byte(secret), []byte(iss.cfg.ClientSecret))
	return idOK&secretOK == 1
}

// formDecode undoes application/x-www-form-urlencoded encoding, returning
// "" if s is not validly encoded.
func formDecode(s string) string {
	v, err := url.QueryUnescape(s)
	if err != nil {
		return ""
	}
	return v
}

func oauthError(code, description string) map[string]string {
	return map[string]string{"error": code, "error_description": description}
}
