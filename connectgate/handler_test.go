package connectgate_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/oauthgate/oauthgate/connectgate"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/resource"
)

// TestHandler_Missing: without Gate.Handler the Gate cannot see a
// request's URL nor its client certificate, so a call that needs either is
// denied with Internal; bearer calls, which need neither, work.
func TestHandler_Missing(t *testing.T) {
	f := newFixture(t)
	certs := oauthtest.NewCertificates(t)
	gate := f.gate(t, connectgate.WithDPoP(newDPoP(t, f, 0)))
	srv := oauthtest.ServeConnectTLS(t, mux(gate), certs) // no gate.Handler
	client := getBookClient(t, srv, &certs.Client)
	dpopTok := f.token(t, oauthtest.Token{DPoPKey: f.key})
	tests := map[string]struct {
		h          http.Header
		wantCode   connect.Code
		wantReason string
	}{
		"Bearer": {h: http.Header{"Authorization": {"Bearer " + f.token(t)}}},
		"DPoP": {h: http.Header{"Authorization": {"DPoP " + dpopTok}, "Dpop": {f.key.Proof(t, http.MethodPost, srv.URL+getBookProc, dpopTok)}},
			wantCode: connect.CodeInternal, wantReason: connectgate.ReasonMisconfigured},
		"CertificateBound": {h: http.Header{"Authorization": {"Bearer " + f.token(t, oauthtest.Token{Certificate: certs.Client.Leaf})}},
			wantCode: connect.CodeInternal, wantReason: connectgate.ReasonMisconfigured},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if code, r := reason(callGetBook(t, client, tc.h)); code != tc.wantCode || r != tc.wantReason {
				t.Fatalf("GetBook = %v, %q; want %v, %q", code, r, tc.wantCode, tc.wantReason)
			}
		})
	}
}

// TestHandler_Preflight: oauthgate neither authenticates nor denies a CORS
// preflight, whatever its headers; the CORS handler answers it.
func TestHandler_Preflight(t *testing.T) {
	f := newFixture(t)
	gate := f.gate(t)
	reached := 0
	cors := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodOptions {
			mux(gate).ServeHTTP(w, r)
			return
		}
		reached++
		w.Header().Set("Access-Control-Allow-Headers", strings.Join(append(connectgate.CORSAllowedHeaders(), "Content-Type", "Connect-Protocol-Version"), ", "))
		w.Header().Set("Access-Control-Expose-Headers", strings.Join(connectgate.CORSExposedHeaders(), ", "))
		w.WriteHeader(http.StatusNoContent)
	})
	srv := oauthtest.ServeConnect(t, gate.Handler(cors))
	for name, auth := range map[string]string{"NoToken": "", "Garbage": "Basic garbage"} {
		t.Run(name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(testContext(t), http.MethodOptions, srv.URL+getBookProc, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Origin", "https://app.example.com")
			req.Header.Set("Access-Control-Request-Method", http.MethodPost)
			if auth != "" {
				req.Header["Authorization"] = []string{auth}
			}
			res, err := srv.Client(t, nil).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.Header.Get("Access-Control-Allow-Headers") != "Authorization, DPoP, Content-Type, Connect-Protocol-Version" ||
				res.Header.Get("Access-Control-Expose-Headers") != "WWW-Authenticate, DPoP-Nonce" {
				t.Errorf("CORS headers = %q, %q", res.Header.Get("Access-Control-Allow-Headers"), res.Header.Get("Access-Control-Expose-Headers"))
			}
			if res.StatusCode != http.StatusNoContent || res.Header.Get("WWW-Authenticate") != "" {
				t.Fatalf("OPTIONS = %d, WWW-Authenticate %q; want 204 from the CORS handler, no challenge", res.StatusCode, res.Header.Get("WWW-Authenticate"))
			}
		})
	}
	if reached != 2 {
		t.Errorf("the CORS handler saw %d preflights, want 2", reached)
	}
}

// TestConnectGet: a Connect GET (a side-effect-free procedure) has htm
// GET, and htu its URL without the query that carries the message.
func TestConnectGet(t *testing.T) {
	f := newFixture(t)
	gate := f.gate(t, connectgate.WithDPoP(newDPoP(t, f, 0)))
	srv := oauthtest.ServeConnect(t, gate.Handler(mux(gate)))
	client := getBookClient(t, srv, nil, connect.WithHTTPGet(), connect.WithIdempotency(connect.IdempotencyNoSideEffects))
	tok := f.token(t, oauthtest.Token{DPoPKey: f.key})
	tests := map[string]struct {
		htm, htu   string
		wantCode   connect.Code
		wantReason string
	}{
		"GET":            {htm: http.MethodGet, htu: srv.URL + getBookProc},
		"POSTProof":      {htm: http.MethodPost, htu: srv.URL + getBookProc, wantCode: connect.CodeUnauthenticated, wantReason: "DPOP_PROOF_METHOD"},
		"QueryInHTU":     {htm: http.MethodGet, htu: srv.URL + getBookProc + "?connect=v1", wantCode: 0},
		"OtherProcedure": {htm: http.MethodGet, htu: srv.URL + pingProc, wantCode: connect.CodeUnauthenticated, wantReason: "DPOP_PROOF_URI"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := http.Header{"Authorization": {"DPoP " + tok}, "Dpop": {f.key.Proof(t, tc.htm, tc.htu, tok)}}
			if code, r := reason(callGetBook(t, client, h)); code != tc.wantCode || r != tc.wantReason {
				t.Fatalf("GetBook = %v, %q; want %v, %q", code, r, tc.wantCode, tc.wantReason)
			}
		})
	}
}

// TestDPoPNonce: a server that demands nonces answers a proof without one
// with a real 401, a DPoP challenge with use_dpop_nonce and a DPoP-Nonce
// header (RFC 9449 §8), which a retry then carries.
func TestDPoPNonce(t *testing.T) {
	f := newFixture(t)
	gate := f.gate(t, connectgate.WithRealm("library"), connectgate.WithDPoP(newDPoP(t, f, time.Minute)))
	srv := oauthtest.ServeConnect(t, gate.Handler(mux(gate)))
	tok := f.token(t, oauthtest.Token{DPoPKey: f.key})
	post := func(proof string) *http.Response {
		req, err := http.NewRequestWithContext(testContext(t), http.MethodPost, srv.URL+getBookProc, strings.NewReader(`{"name":"dune"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "DPoP "+tok)
		req.Header.Set("DPoP", proof)
		res, err := srv.Client(t, nil).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	res := post(f.key.Proof(t, http.MethodPost, srv.URL+getBookProc, tok))
	nonce := res.Header.Get("DPoP-Nonce")
	challenges := res.Header.Values("WWW-Authenticate")
	if res.StatusCode != http.StatusUnauthorized || nonce == "" || len(challenges) != 2 ||
		!strings.HasPrefix(challenges[1], `DPoP realm="library", algs="`) || !strings.Contains(challenges[1], `error="use_dpop_nonce"`) {
		t.Fatalf("without a nonce: %d, DPoP-Nonce %q, WWW-Authenticate %q; want 401, a nonce and a use_dpop_nonce challenge", res.StatusCode, nonce, challenges)
	}
	proof := f.key.Proof(t, http.MethodPost, srv.URL+getBookProc, tok, oauthtest.Proof{Claims: map[string]any{"nonce": nonce}})
	if res := post(proof); res.StatusCode != http.StatusOK {
		t.Fatalf("with the nonce: %d, want 200", res.StatusCode)
	}
}

// TestHTU: htu comes from the request's Host only once it parses as an
// RFC 3986 host[:port], and from the configured public origins instead
// when there are some; a URI is never pasted together from a Host the
// client chose.
func TestHTU(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, oauthtest.Token{DPoPKey: f.key})
	tests := map[string]struct {
		origins    []string
		host       string
		htu        string
		wantReason string // "" for allowed
	}{
		"Host":                 {host: "api.example.com:8443", htu: "http://api.example.com:8443" + getBookProc},
		"HostCaseAndPort":      {host: "API.example.com:80", htu: "http://api.example.com" + getBookProc},
		"HostWithPath":         {host: "api.example.com/x", htu: "http://api.example.com/x" + getBookProc, wantReason: "DPOP_PROOF_URI"},
		"HostWithUserinfo":     {host: "evil@api.example.com", htu: "http://api.example.com" + getBookProc, wantReason: "DPOP_PROOF_URI"},
		"HostPercentEncoded":   {host: "api%2eexample.com", htu: "http://api.example.com" + getBookProc, wantReason: "DPOP_PROOF_URI"},
		"OriginIgnoresHost":    {origins: []string{"https://api.example.com"}, host: "evil.example", htu: "https://api.example.com" + getBookProc},
		"OriginRefusesHostHTU": {origins: []string{"https://api.example.com"}, host: "evil.example", htu: "http://evil.example" + getBookProc, wantReason: "DPOP_PROOF_URI"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			gate := f.gate(t, connectgate.WithDPoP(newDPoP(t, f, 0), tc.origins...))
			req := httptest.NewRequestWithContext(testContext(t), http.MethodPost, getBookProc, strings.NewReader(`{"name":"dune"}`))
			req.Host = tc.host
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "DPoP "+tok)
			req.Header.Set("DPoP", f.key.Proof(t, http.MethodPost, tc.htu, tok))
			rec := httptest.NewRecorder()
			gate.Handler(mux(gate)).ServeHTTP(rec, req)
			switch {
			case tc.wantReason == "" && rec.Code != http.StatusOK:
				t.Fatalf("status = %d (%s), want 200", rec.Code, rec.Body)
			case tc.wantReason != "" && (rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "proof is for another URI") && !strings.Contains(rec.Body.String(), "not a host[:port]")):
				t.Fatalf("status = %d (%s), want 401 with %s", rec.Code, rec.Body, tc.wantReason)
			}
		})
	}
}

// TestResourceMetadata: with resource metadata every challenge names the
// RFC 9728 document, which the server serves over plain HTTP beside the
// connect handlers, outside the Gate.
func TestResourceMetadata(t *testing.T) {
	f := newFixture(t)
	md, err := resource.New(resource.Config{Resource: "https://library.example.com", AuthorizationServers: []string{"https://as.example.com"}, Policy: f.policy})
	if err != nil {
		t.Fatal(err)
	}
	gate := f.gate(t, connectgate.WithResourceMetadata(md))
	m := mux(gate)
	m.Handle(md.Path(), md)
	srv := oauthtest.ServeConnect(t, gate.Handler(m))
	res, err := srv.Client(t, nil).Post(srv.URL+getBookProc, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if want := `Bearer resource_metadata="` + md.URL() + `"`; res.StatusCode != http.StatusUnauthorized || res.Header.Get("WWW-Authenticate") != want {
		t.Errorf("no token: %d, WWW-Authenticate %q; want 401, %q", res.StatusCode, res.Header.Get("WWW-Authenticate"), want)
	}
	doc, err := srv.Client(t, nil).Get(srv.URL + md.Path())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(doc.Body)
	doc.Body.Close()
	if doc.StatusCode != http.StatusOK || !strings.Contains(string(body), `"resource":"https://library.example.com"`) {
		t.Errorf("GET %s = %d %s, want the document", md.Path(), doc.StatusCode, body)
	}
}
