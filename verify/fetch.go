package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/oauthgate/oauthgate/internal/urlpolicy"
)

// A fetchPolicy is the one HTTP policy of this package, applied to every
// request it makes: discovery (GET), the JWKS (GET) and introspection
// (POST). It holds
//
//   - the URL rule (checkURL): absolute https, or http to a loopback host
//     with the InsecureAllowHTTP opt-in, for the configured URL, every
//     redirect and the final URL;
//   - redirects: re-checked against the URL rule and at most
//     maxFetchRedirects, or refused outright (noRedirects) for requests
//     that carry credentials;
//   - a timeout for the whole exchange, body included;
//   - a cap on the response body;
//   - a JSON content type on the answer.
type fetchPolicy struct {
	timeout     time.Duration
	maxSize     int64
	allowHTTP   bool
	noRedirects bool
}

// maxFetchRedirects is how many redirects a GET may follow, as many as
// browsers' lower bound; a JWKS or metadata document behind more is broken.
const maxFetchRedirects = 5

// maxErrorBody caps what is read of a non-200 body to find its OAuth error
// code (RFC 6749 §5.2).
const maxErrorBody = 4 << 10

// A fetchRequest is one request made under a [fetchPolicy].
type fetchRequest struct {
	method string     // http.MethodGet or http.MethodPost
	url    string     // checked by checkURL when the verifier was built
	form   url.Values // POST only: the application/x-www-form-urlencoded body
	// auth, if set, adds client credentials to the request. It runs at
	// request time so that nothing derived from a secret is kept in a
	// printable form.
	auth func(*http.Request)
	// strictJSON accepts application/json only; otherwise any JSON media
	// type (application/json or a +json suffix, RFC 6839 §3.1) is accepted.
	strictJSON bool
}

// client returns the client the policy's requests use: a copy of c, or of
// a new client with a transport of its own and p's timeout when c is nil
// (http.DefaultClient, which has no timeout, never is used). The copy's
// redirect check applies the policy first and c's own CheckRedirect after;
// the caller's client is not modified.
func (p fetchPolicy) client(c *http.Client) *http.Client {
	var out http.Client
	if c != nil {
		out = *c
	} else {
		out = http.Client{
			// A transport of its own, so an owner with a Close can drop its
			// idle connections without touching anyone else's.
			Transport: http.DefaultTransport.(*http.Transport).Clone(),
			Timeout:   p.timeout,
		}
	}
	next := out.CheckRedirect
	out.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if p.noRedirects {
			// The request carries client credentials and a token: a
			// redirect could deliver them to another host. The 3xx is
			// returned as the answer, and refused as a non-200 status.
			return http.ErrUseLastResponse
		}
		if len(via) >= maxFetchRedirects {
			return fmt.Errorf("stopped after %d redirects", maxFetchRedirects)
		}
		if err := checkURL(req.URL.String(), p.allowHTTP); err != nil {
			return fmt.Errorf("redirect refused: %w", err)
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
	return &out
}

// fetch makes the request r with client under p and returns the body and
// header of a 200 response with a JSON content type. Errors name the method
// and URL, and for a non-200 answer its status and, if it is a registered
// OAuth error code, that code; never the body, the form or credentials.
func fetch(ctx context.Context, client *http.Client, p fetchPolicy, r fetchRequest) (_ []byte, _ http.Header, err error) {
	ctx, span := startClientSpan(ctx, r)
	defer func() { endClientSpan(span, err) }()
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	var body io.Reader
	if r.form != nil {
		body = strings.NewReader(r.form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", r.method, r.url, err)
	}
	if r.form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if r.strictJSON {
		req.Header.Set("Accept", "application/json")
	} else {
		req.Header.Set("Accept", "application/json, application/jwk-set+json")
	}
	if r.auth != nil {
		r.auth(req)
	}
	// The error of Do is a *url.Error naming the method and URL and the
	// transport failure; it never quotes headers or the body.
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		// Drain a little so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		_ = resp.Body.Close()
	}()
	// A redirect check of the caller's may have been bypassed (a
	// RoundTripper that follows redirects itself): the final URL must
	// satisfy the same rule as the configured one.
	if err := checkURL(resp.Request.URL.String(), p.allowHTTP); err != nil {
		return nil, nil, fmt.Errorf("%s %s: redirected: %w", r.method, r.url, err)
	}
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("%s %s: %w", r.method, r.url, newStatusError(resp, p.maxSize))
	}
	if !isJSON(resp.Header.Get("Content-Type"), r.strictJSON) {
		return nil, nil, fmt.Errorf("%s %s: response is not JSON", r.method, r.url)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, p.maxSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: reading body: %w", r.method, r.url, err)
	}
	if int64(len(data)) > p.maxSize {
		return nil, nil, fmt.Errorf("%s %s: response larger than %d bytes", r.method, r.url, p.maxSize)
	}
	return data, resp.Header, nil
}

// isJSON reports whether the Content-Type value ct names JSON: exactly
// application/json if strict, else also a type with the +json structured
// syntax suffix (RFC 6839 §3.1), such as application/jwk-set+json
// (RFC 7517 §8.5.1).
func isJSON(ct string, strict bool) bool {
	mt, _, err := mime.ParseMediaType(ct)
	switch {
	case err != nil:
		return false
	case mt == "application/json":
		return true
	case strict:
		return false
	}
	return strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}

// A statusError is a non-200 answer. It quotes the OAuth error code
// (RFC 6749 §5.2, RFC 6750 §3.1) only when it is a registered one, never
// free text from the body.
type statusError struct {
	code      int
	oauthCode string
}

func newStatusError(resp *http.Response, maxSize int64) *statusError {
	e := &statusError{code: resp.StatusCode}
	var body struct {
		Error string `json:"error"`
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, min(maxSize, maxErrorBody)))
	if json.Unmarshal(data, &body) == nil {
		switch body.Error {
		case "invalid_request", "invalid_client", "unauthorized_client", "invalid_token",
			"insufficient_scope", "temporarily_unavailable", "server_error", "access_denied":
			e.oauthCode = body.Error
		}
	}
	return e
}

func (e *statusError) Error() string {
	msg := "status " + strconv.Itoa(e.code)
	if e.oauthCode != "" {
		msg += " (" + e.oauthCode + ")"
	}
	return msg
}

// checkURL is the URL rule of package urlpolicy, shared with package ssf.
func checkURL(raw string, allowHTTP bool) error { return urlpolicy.Check(raw, allowHTTP) }

// isLoopback reports whether host names this machine (urlpolicy).
func isLoopback(host string) bool { return urlpolicy.IsLoopback(host) }

// cacheLifetime returns the freshness lifetime of a response that remains,
// for a private cache that received it now (RFC 9111 §4.2): max-age wins
// over Expires minus Date; the Age the response already has is deducted
// from either (RFC 9111 §4.2.3, §5.1); an unqualified no-store or no-cache
// means zero whatever the order of the directives and header lines
// (RFC 9111 §5.2.2.4, §5.2.2.5). The result is never negative. ok is false
// if the response says nothing about its lifetime.
func cacheLifetime(h http.Header, now time.Time) (ttl time.Duration, ok bool) {
	var (
		maxAge    time.Duration
		hasMaxAge bool
		zero      bool
	)
	for _, line := range h.Values("Cache-Control") {
		for dir := range strings.SplitSeq(line, ",") {
			name, val, hasVal := strings.Cut(strings.TrimSpace(dir), "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "no-store":
				zero = true
			case "no-cache":
				// With field names (no-cache="Set-Cookie") it only
				// restricts those fields (RFC 9111 §5.2.2.4).
				zero = zero || !hasVal
			case "max-age":
				if hasMaxAge {
					continue // RFC 9111 §4.2.1: use the first occurrence
				}
				hasMaxAge = true
				// An invalid max-age means stale (RFC 9111 §4.2.1).
				maxAge = parseDeltaSeconds(strings.Trim(val, `"`))
			}
		}
	}
	if zero {
		return 0, true
	}
	// RFC 9111 §5.1: an Age that is not a delta-seconds value is ignored.
	age := max(parseDeltaSeconds(h.Get("Age")), 0)
	if hasMaxAge {
		return max(maxAge-age, 0), true
	}
	if e := h.Get("Expires"); e != "" {
		exp, err := http.ParseTime(e)
		if err != nil {
			return 0, true // RFC 9111 §5.3: an invalid Expires is in the past
		}
		// RFC 9111 §4.2.1: Expires minus Date, so clock skew between us
		// and the server does not matter.
		base := now
		if d, err := http.ParseTime(h.Get("Date")); err == nil {
			base = d
		}
		return max(exp.Sub(base)-age, 0), true
	}
	return 0, false
}

// parseDeltaSeconds parses delta-seconds (RFC 9111 §1.2.2): digits only.
// It returns -1 for an invalid value, and caps values past 2^31 seconds
// as that section allows, so durations never overflow.
func parseDeltaSeconds(s string) time.Duration {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return -1
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > 1<<31 {
		n = 1 << 31
	}
	return time.Duration(n) * time.Second
}

// tracerName is the instrumentation scope of verify's client spans.
const tracerName = "github.com/oauthgate/oauthgate/verify"

// startClientSpan starts the OpenTelemetry client span of one request to
// the authorization server (discovery, JWKS, introspection), with the
// global TracerProvider: a no-op until the application installs an SDK.
// Its attributes follow the HTTP client semantic conventions and name the
// request only: method, server, and the URL without its query; never a
// header, the form (which holds the token) or credentials.
func startClientSpan(ctx context.Context, r fetchRequest) (context.Context, trace.Span) {
	attrs := []attribute.KeyValue{attribute.String("http.request.method", r.method)}
	if u, err := url.Parse(r.url); err == nil {
		attrs = append(attrs, attribute.String("server.address", u.Hostname()),
			attribute.String("url.full", u.Scheme+"://"+u.Host+u.EscapedPath()))
		if port := u.Port(); port != "" {
			if n, err := strconv.Atoi(port); err == nil {
				attrs = append(attrs, attribute.Int("server.port", n))
			}
		}
	}
	return otel.GetTracerProvider().Tracer(tracerName).Start(ctx, r.method,
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
}

// endClientSpan ends span, marking it failed with the kind of error (never
// its text, which may quote the server's answer) if err is not nil.
func endClientSpan(span trace.Span, err error) {
	if err != nil {
		kind := "error"
		var se *statusError
		switch {
		case errors.As(err, &se):
			kind = strconv.Itoa(se.code)
		case errors.Is(err, context.DeadlineExceeded):
			kind = "timeout"
		}
		span.SetAttributes(attribute.String("error.type", kind))
		span.SetStatus(codes.Error, kind)
	}
	span.End()
}
