// Package oauthhttp is the one HTTP policy for talking to an authorization
// server, applied to every request the module makes: discovery, the JWKS
// and introspection (package verify) and the token endpoint (package
// outbound). It holds
//
//   - the URL rule ([CheckURL]): absolute https, or http to a loopback host
//     with an explicit opt-in, for the configured URL, every redirect and
//     the final URL;
//   - redirects: re-checked against the URL rule and at most
//     [MaxRedirects], or refused outright ([Policy].NoRedirects) for
//     requests that carry credentials;
//   - a timeout for the whole exchange, body included;
//   - a cap on the response body;
//   - a JSON content type on the answer;
//   - an OpenTelemetry client span that names the request, never its
//     credentials, form or body.
package oauthhttp

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

	"github.com/oauthgate/oauthgate/internal/loopback"
)

// A Policy is the limits of the requests to one server.
type Policy struct {
	Timeout     time.Duration // for the whole exchange, body included
	MaxSize     int64         // response body cap, in bytes
	AllowHTTP   bool          // http to a loopback host is accepted
	NoRedirects bool          // for requests that carry credentials
	// Tracer is the instrumentation scope of the client spans: the
	// import path of the package that sends.
	Tracer string
}

// MaxRedirects is how many redirects a GET may follow, as many as
// browsers' lower bound; a JWKS or metadata document behind more is broken.
const MaxRedirects = 5

// maxErrorBody caps what is read of a non-200 body to find its OAuth error
// code (RFC 6749 §5.2).
const maxErrorBody = 4 << 10

// A Request is one request made under a [Policy].
type Request struct {
	Method string     // http.MethodGet or http.MethodPost
	URL    string     // checked by CheckURL when its owner was built
	Form   url.Values // POST only: the application/x-www-form-urlencoded body
	// Auth, if set, adds credentials to the request. It runs at request
	// time so that nothing derived from a secret is kept in a printable
	// form.
	Auth func(*http.Request)
	// StrictJSON accepts application/json only; otherwise any JSON media
	// type (application/json or a +json suffix, RFC 6839 §3.1) is accepted.
	StrictJSON bool
}

// Client returns the client the policy's requests use: a copy of c, or of
// a new client with a transport of its own and p's timeout when c is nil
// (http.DefaultClient, which has no timeout, never is used). The copy's
// redirect check applies the policy first and c's own CheckRedirect after;
// the caller's client is not modified.
func (p Policy) Client(c *http.Client) *http.Client {
	var out http.Client
	if c != nil {
		out = *c
	} else {
		out = http.Client{
			// A transport of its own, so an owner with a Close can drop its
			// idle connections without touching anyone else's.
			Transport: http.DefaultTransport.(*http.Transport).Clone(),
			Timeout:   p.Timeout,
		}
	}
	next := out.CheckRedirect
	out.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if p.NoRedirects {
			// The request carries client credentials and a token: a
			// redirect could deliver them to another host. The 3xx is
			// returned as the answer, and refused as a non-200 status.
			return http.ErrUseLastResponse
		}
		if len(via) >= MaxRedirects {
			return fmt.Errorf("stopped after %d redirects", MaxRedirects)
		}
		if err := CheckURL(req.URL.String(), p.AllowHTTP); err != nil {
			return fmt.Errorf("redirect refused: %w", err)
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
	return &out
}

// Do makes the request r with client under p and returns the body and
// header of a 200 response with a JSON content type. A non-200 answer is a
// [*StatusError]. Errors name the method and URL, and for a non-200 answer
// its status and, if it is a registered OAuth error code, that code; never
// the body, the form or credentials.
func Do(ctx context.Context, client *http.Client, p Policy, r Request) (_ []byte, _ http.Header, err error) {
	ctx, span := startClientSpan(ctx, p.Tracer, r)
	defer func() { endClientSpan(span, err) }()
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	var body io.Reader
	if r.Form != nil {
		body = strings.NewReader(r.Form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, body)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", r.Method, r.URL, err)
	}
	if r.Form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if r.StrictJSON {
		req.Header.Set("Accept", "application/json")
	} else {
		req.Header.Set("Accept", "application/json, application/jwk-set+json")
	}
	if r.Auth != nil {
		r.Auth(req)
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
	if err := CheckURL(resp.Request.URL.String(), p.AllowHTTP); err != nil {
		return nil, nil, fmt.Errorf("%s %s: redirected: %w", r.Method, r.URL, err)
	}
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("%s %s: %w", r.Method, r.URL, newStatusError(resp, p.MaxSize))
	}
	if !IsJSON(resp.Header.Get("Content-Type"), r.StrictJSON) {
		return nil, nil, fmt.Errorf("%s %s: response is not JSON", r.Method, r.URL)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, p.MaxSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: reading body: %w", r.Method, r.URL, err)
	}
	if int64(len(data)) > p.MaxSize {
		return nil, nil, fmt.Errorf("%s %s: response larger than %d bytes", r.Method, r.URL, p.MaxSize)
	}
	return data, resp.Header, nil
}

// IsJSON reports whether the Content-Type value ct names JSON: exactly
// application/json if strict, else also a type with the +json structured
// syntax suffix (RFC 6839 §3.1), such as application/jwk-set+json
// (RFC 7517 §8.5.1).
func IsJSON(ct string, strict bool) bool {
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

// A StatusError is a non-200 answer. It quotes the OAuth error code
// (RFC 6749 §5.2, RFC 6750 §3.1) only when it is a registered one, never
// free text from the body.
type StatusError struct {
	Code      int    // the HTTP status
	OAuthCode string // a registered error code, or ""
	// Nonce is the DPoP-Nonce header of the answer (RFC 9449 §8), which a
	// client retries with after use_dpop_nonce. A nonce is not a secret.
	Nonce string
}

// registered are the OAuth error codes a StatusError may quote: RFC 6749
// §5.2, RFC 6750 §3.1, RFC 7662, RFC 8693 §2.2.2, RFC 8707 §2 and RFC 9449
// §12.2. Anything else in a body is free text and is not repeated.
func registered(code string) bool {
	switch code {
	case "invalid_request", "invalid_client", "unauthorized_client", "invalid_token",
		"insufficient_scope", "temporarily_unavailable", "server_error", "access_denied",
		"invalid_grant", "unsupported_grant_type", "invalid_scope", "invalid_target",
		"use_dpop_nonce", "invalid_dpop_proof":
		return true
	}
	return false
}

func newStatusError(resp *http.Response, maxSize int64) *StatusError {
	e := &StatusError{Code: resp.StatusCode}
	var body struct {
		Error string `json:"error"`
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, min(maxSize, maxErrorBody)))
	if json.Unmarshal(data, &body) == nil && registered(body.Error) {
		e.OAuthCode = body.Error
	}
	if n := resp.Header.Get("DPoP-Nonce"); n != "" && len(n) <= maxErrorBody {
		e.Nonce = n
	}
	return e
}

// Error names the status and a registered error code, never the body.
func (e *StatusError) Error() string {
	msg := "status " + strconv.Itoa(e.Code)
	if e.OAuthCode != "" {
		msg += " (" + e.OAuthCode + ")"
	}
	return msg
}

// CheckURL requires an absolute https URL; with allowHTTP, http is also
// accepted for a loopback host ("localhost" or a loopback IP), never for
// another host. A URL with user information is refused without being
// quoted, so that a password in it never reaches an error.
func CheckURL(raw string, allowHTTP bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("invalid URL")
	}
	if u.User != nil {
		return errors.New("URL carries user information; never put credentials in a URL")
	}
	if u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("URL %q is not an absolute URL with a host", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if allowHTTP && IsLoopback(u.Hostname()) {
			return nil
		}
		if allowHTTP {
			return fmt.Errorf("URL %q uses http on a host that is not loopback; https is required", raw)
		}
		return fmt.Errorf("URL %q uses http; https is required (InsecureAllowHTTP permits http to a loopback host only)", raw)
	default:
		return fmt.Errorf("URL %q: scheme must be https", raw)
	}
}

// IsLoopback reports whether host names this machine: "localhost" or a
// loopback IP address.
func IsLoopback(host string) bool { return loopback.Is(host) }

// startClientSpan starts the OpenTelemetry client span of one request to
// the authorization server, with the global TracerProvider: a no-op until
// the application installs an SDK. Its attributes follow the HTTP client
// semantic conventions and name the request only: method, server, and the
// URL without its query; never a header, the form (which holds the token)
// or credentials.
func startClientSpan(ctx context.Context, tracer string, r Request) (context.Context, trace.Span) {
	attrs := []attribute.KeyValue{attribute.String("http.request.method", r.Method)}
	if u, err := url.Parse(r.URL); err == nil {
		attrs = append(attrs, attribute.String("server.address", u.Hostname()),
			attribute.String("url.full", u.Scheme+"://"+u.Host+u.EscapedPath()))
		if port := u.Port(); port != "" {
			if n, err := strconv.Atoi(port); err == nil {
				attrs = append(attrs, attribute.Int("server.port", n))
			}
		}
	}
	return otel.GetTracerProvider().Tracer(tracer).Start(ctx, r.Method,
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
}

// endClientSpan ends span, marking it failed with the kind of error (never
// its text, which may quote the server's answer) if err is not nil.
func endClientSpan(span trace.Span, err error) {
	if err != nil {
		kind := "error"
		var se *StatusError
		switch {
		case errors.As(err, &se):
			kind = strconv.Itoa(se.Code)
		case errors.Is(err, context.DeadlineExceeded):
			kind = "timeout"
		}
		span.SetAttributes(attribute.String("error.type", kind))
		span.SetStatus(codes.Error, kind)
	}
	span.End()
}
