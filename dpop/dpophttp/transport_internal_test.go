package dpophttp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/dpop"
)

// TestTransport_OriginsBounded: servers cannot grow a Transport's nonce
// memory beyond maxOrigins, and the origin just set is always kept.
func TestTransport_OriginsBounded(t *testing.T) {
	t.Parallel()
	tr := newTestTransport(t, nil)
	for i := range 3 * maxOrigins {
		origin := fmt.Sprintf("https://api-%d.example.com", i)
		if err := tr.SetNonce(origin, "n"); err != nil {
			t.Fatal(err)
		}
		if tr.nonce(origin) != "n" {
			t.Fatalf("the nonce of %s, just set, is gone", origin)
		}
		if n, want := len(tr.nonces), min(i+1, maxOrigins); n != want {
			t.Fatalf("after %d origins the Transport holds nonces for %d, want %d", i+1, n, want)
		}
	}
	// A new nonce for an origin it holds takes no other origin's place.
	for o := range tr.nonces {
		if err := tr.SetNonce(o, "m"); err != nil {
			t.Fatal(err)
		}
		if n := len(tr.nonces); n != maxOrigins {
			t.Fatalf("a new nonce for a held origin left %d origins, want %d", n, maxOrigins)
		}
	}
}

// newTestTransport returns a Transport over base with a new ES256 key.
func newTestTransport(t *testing.T, base http.RoundTripper) *Transport {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := dpop.NewSigner(key, jose.ES256, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTransport(signer, func(context.Context) (string, error) { return "t", nil }, base)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// answer returns a response of status with the header fields kv.
func answer(status int, body string, kv ...string) *http.Response {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return &http.Response{StatusCode: status, Header: h, Trailer: http.Header{}, Body: io.NopCloser(strings.NewReader(body))}
}

// TestRefused: what counts as a refusal, and a body read to find out is
// given back whole.
func TestRefused(t *testing.T) {
	t.Parallel()
	const grpc = "application/grpc+proto"
	trailer := func(r *http.Response, status string) *http.Response {
		r.Trailer.Set("Grpc-Status", status)
		return r
	}
	tests := map[string]struct {
		resp     *http.Response
		want     bool
		wantBody string
	}{
		"401":                     {resp: answer(401, "x"), want: true},
		"403":                     {resp: answer(403, "x", "Content-Type", grpc, "Grpc-Status", "16"), wantBody: "x"},
		"400gRPCHeaders16":        {resp: answer(400, "", "Content-Type", grpc, "Grpc-Status", "16")},
		"200JSON16":               {resp: answer(200, "", "Content-Type", "application/json", "Grpc-Status", "16")},
		"gRPCHeaders16":           {resp: answer(200, "", "Content-Type", grpc, "Grpc-Status", "16"), want: true},
		"gRPCWebHeaders16":        {resp: answer(200, "", "Content-Type", "application/grpc-web+proto", "Grpc-Status", "16"), want: true},
		"gRPCHeaders7":            {resp: answer(200, "", "Content-Type", grpc, "Grpc-Status", "7")},
		"gRPCEmptyTrailers16":     {resp: trailer(answer(200, "", "Content-Type", grpc), "16"), want: true},
		"gRPCEmptyTrailers0":      {resp: trailer(answer(200, "", "Content-Type", grpc), "0")},
		"gRPCMessageTrailers16":   {resp: trailer(answer(200, "\x00\x00\x00\x00\x00", "Content-Type", grpc), "16"), wantBody: "\x00\x00\x00\x00\x00"},
		"gRPCMessageNoTrailers":   {resp: answer(200, "message", "Content-Type", grpc), wantBody: "message"},
		"gRPCLongMessageNoStatus": {resp: answer(200, strings.Repeat("m", 100<<10), "Content-Type", grpc), wantBody: strings.Repeat("m", 100<<10)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := refused(tc.resp); got != tc.want {
				t.Errorf("refused() = %v, want %v", got, tc.want)
			}
			if tc.want {
				return
			}
			body, err := io.ReadAll(tc.resp.Body)
			if err != nil || string(body) != tc.wantBody {
				t.Errorf("body after refused() = %.20q (%d bytes), %v; want %.20q", body, len(body), err, tc.wantBody)
			}
		})
	}
}

// TestReplayable: a request can be sent again when it has no body, or a
// GetBody for another copy of it.
func TestReplayable(t *testing.T) {
	t.Parallel()
	withBody := func(getBody bool) *http.Request {
		r, err := http.NewRequest(http.MethodPost, "https://api.example.com/x", strings.NewReader("msg"))
		if err != nil {
			t.Fatal(err)
		}
		if !getBody {
			r.GetBody = nil
		}
		return r
	}
	tests := map[string]struct {
		req  *http.Request
		want bool
		body string // of the copy to send
	}{
		"NilBody":     {req: &http.Request{Method: http.MethodGet}, want: true},
		"NoBody":      {req: &http.Request{Method: http.MethodGet, Body: http.NoBody}, want: true},
		"GetBody":     {req: withBody(true), want: true, body: "msg"},
		"WithoutCopy": {req: withBody(false)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := replayable(tc.req); got != tc.want {
				t.Fatalf("replayable() = %v, want %v", got, tc.want)
			}
			if !tc.want {
				return
			}
			body, err := replayBody(tc.req)
			if err != nil {
				t.Fatalf("replayBody() error = %v", err)
			}
			if body != tc.req.Body && tc.body == "" {
				t.Errorf("replayBody() = %v, want the request's own %v", body, tc.req.Body)
			}
			if tc.body != "" {
				if b, err := io.ReadAll(body); err != nil || string(b) != tc.body {
					t.Errorf("replayBody() reads %q, %v; want %q", b, err, tc.body)
				}
			}
		})
	}
}

// TestLearn: which answers' nonces are kept, and which demand one.
func TestLearn(t *testing.T) {
	t.Parallel()
	const demand = `DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`
	tests := map[string]struct {
		resp       *http.Response
		sent       string
		wantDemand bool
		wantKept   string
	}{
		"2xxNonce":         {resp: answer(200, "", "DPoP-Nonce", "n1"), wantKept: "n1"},
		"299Nonce":         {resp: answer(299, "", "DPoP-Nonce", "n1"), wantKept: "n1"},
		"199Nonce":         {resp: answer(199, "", "DPoP-Nonce", "n1")},
		"300Nonce":         {resp: answer(300, "", "DPoP-Nonce", "n1")},
		"401NonceNoDemand": {resp: answer(401, "", "DPoP-Nonce", "n1", "WWW-Authenticate", `DPoP error="invalid_token"`)},
		"Demand":           {resp: answer(401, "", "DPoP-Nonce", "n1", "WWW-Authenticate", demand), wantDemand: true, wantKept: "n1"},
		"DemandOfSent":     {resp: answer(401, "", "DPoP-Nonce", "n1", "WWW-Authenticate", demand), sent: "n1", wantKept: "n1"},
		"DemandNoNonce":    {resp: answer(401, "", "WWW-Authenticate", demand)},
		"TwoNonces":        {resp: answer(401, "", "DPoP-Nonce", "n1", "DPoP-Nonce", "n2", "WWW-Authenticate", demand)},
		"BadNonce":         {resp: answer(401, "", "DPoP-Nonce", "n 1", "WWW-Authenticate", demand)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tr := newTestTransport(t, nil)
			const origin = "https://api.example.com"
			if got := tr.learn(tc.resp, origin, tc.sent); got != tc.wantDemand {
				t.Errorf("learn() = %v, want %v", got, tc.wantDemand)
			}
			if got := tr.nonce(origin); got != tc.wantKept {
				t.Errorf("nonce kept = %q, want %q", got, tc.wantKept)
			}
		})
	}
}
