package dpop_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/dpop"
)

// fuzzPath is the request path of every fuzzed request.
const fuzzPath = "/reports.v1.ReportService/GetReport"

// fuzzKey is a fixed proof key of the fuzz target: fixed, so that a
// reproducer written by the fuzzer names a key the next run still has.
type fuzzKey struct {
	jwk  map[string]any // the public JWK, as a header carries it
	jkt  string
	sign func(input []byte) []byte // a JWS signature over input
}

func fuzzKeys(tb testing.TB) []fuzzKey {
	tb.Helper()
	ecSeed := sha256.Sum256([]byte("oauthgate dpop fuzz key P-256"))
	ec, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), ecSeed[:])
	if err != nil {
		tb.Fatal(err)
	}
	edSeed := sha256.Sum256([]byte("oauthgate dpop fuzz key Ed25519"))
	ed := ed25519.NewKeyFromSeed(edSeed[:])
	keys := []fuzzKey{
		{sign: func(in []byte) []byte {
			h := sha256.Sum256(in)
			r, s, err := ecdsa.Sign(rand.Reader, ec, h[:])
			if err != nil {
				panic(err)
			}
			sig := make([]byte, 64)
			r.FillBytes(sig[:32])
			s.FillBytes(sig[32:])
			return sig
		}},
		{sign: func(in []byte) []byte { return ed25519.Sign(ed, in) }},
	}
	for i, pub := range []crypto.PublicKey{ec.Public(), ed.Public()} {
		jwk := jose.JSONWebKey{Key: pub}
		raw, err := jwk.MarshalJSON()
		if err != nil {
			tb.Fatal(err)
		}
		if err := json.Unmarshal(raw, &keys[i].jwk); err != nil {
			tb.Fatal(err)
		}
		thumb, err := jwk.Thumbprint(crypto.SHA256)
		if err != nil {
			tb.Fatal(err)
		}
		keys[i].jkt = base64.RawURLEncoding.EncodeToString(thumb)
	}
	return keys
}

// FuzzVerify builds a proof from a fuzzed protected header and claim set,
// signed by one of two fixed keys, and checks it against a request whose
// URI is built from a fuzzed :authority. The fuzzer thus explores the
// header, the claims and the authority grammar rather than base64 noise:
// Check must never panic, must answer a thumbprint or a *ProofError, never
// both, and may accept only a proof whose jwk is the key that signed it,
// whose htu is the request's URI; RequestURI must either refuse the
// authority or build a URI of exactly that host and path.
func FuzzVerify(f *testing.F) {
	keys := fuzzKeys(f)
	clock := func() time.Time { return testNow }
	v, err := dpop.New(dpop.Config{Now: clock})
	if err != nil {
		f.Fatal(err)
	}
	junk := make([]byte, 64)

	// Seeds: the proof of RFC 9449 §4.1 (with a key of ours in place of
	// the example's, whose private key is not published) and §7.1 (the
	// resource request, with ath), then variants each check refuses.
	ath := sha256.Sum256([]byte(testToken))
	athB64 := base64.RawURLEncoding.EncodeToString(ath[:])
	for ki, k := range keys {
		alg := []string{"ES256", "EdDSA"}[ki]
		header := func(edit func(map[string]any)) []byte {
			h := map[string]any{"typ": "dpop+jwt", "alg": alg, "jwk": k.jwk}
			if edit != nil {
				edit(h)
			}
			b, _ := json.Marshal(h)
			return b
		}
		claims := func(edit func(map[string]any)) []byte {
			c := map[string]any{"jti": "e1j3V_bKic8-LAEB", "htm": "POST",
				"htu": "https://api.example.com" + fuzzPath, "iat": testNow.Unix(), "ath": athB64}
			if edit != nil {
				edit(c)
			}
			b, _ := json.Marshal(c)
			return b
		}
		rfc41 := claims(func(c map[string]any) {
			c["jti"], c["htu"] = "-BwC3ESc6acc2lTc", "https://server.example.com/token"
			delete(c, "ath")
		})
		f.Add(header(nil), rfc41, "server.example.com", uint8(ki))
		f.Add(header(nil), claims(nil), "api.example.com", uint8(ki))
		f.Add(header(nil), claims(nil), "API.Example.COM:443", uint8(ki))
		f.Add(header(nil), claims(func(c map[string]any) { c["htu"] = "https://[::1]:8443" + fuzzPath }), "[::1]:8443", uint8(ki))
		f.Add(header(nil), claims(func(c map[string]any) { c["htu"] = "https://other-rs.example/pkg.Svc/ListBooks" }), "other-rs.example/pkg.Svc/ListBooks?", uint8(ki))
		f.Add(header(nil), claims(nil), "user@api.example.com", uint8(ki))
		f.Add(header(nil), claims(nil), "api.example.com:0", uint8(ki))
		f.Add(header(nil), claims(nil), "api%2eexample.com", uint8(ki))
		f.Add(header(nil), claims(func(c map[string]any) { c["nonce"] = "n" }), "api.example.com#frag", uint8(ki))
		f.Add(header(func(h map[string]any) { h["typ"] = "JWT" }), claims(nil), "api.example.com", uint8(ki))
		f.Add(header(func(h map[string]any) { h["alg"] = "none" }), claims(nil), "api.example.com", uint8(ki))
		f.Add(header(func(h map[string]any) { h["crit"] = []string{"x"} }), claims(nil), "api.example.com", uint8(ki))
		f.Add(header(func(h map[string]any) { delete(h, "jwk") }), claims(nil), "api.example.com", uint8(ki))
		f.Add(header(func(h map[string]any) { h["jwk"] = keys[1-ki].jwk }), claims(nil), "api.example.com", uint8(ki))
		f.Add(header(nil), claims(func(c map[string]any) { c["iat"] = "1800000000" }), "api.example.com", uint8(ki))
		f.Add(header(nil), claims(func(c map[string]any) { delete(c, "jti") }), "api.example.com", uint8(ki))
		f.Add(header(nil), []byte(`{"jti":"a","jti":"b","htm":"POST","htu":"https://api.example.com/reports.v1.ReportService/GetReport","iat":1800000000}`), "api.example.com", uint8(ki))
	}

	build := func(header, claims []byte, k fuzzKey) string {
		input := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(claims)
		sig := junk
		if json.Valid(header) && json.Valid(claims) { // else Check stops before the signature
			sig = k.sign([]byte(input))
		}
		return input + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	// The harness reaches acceptance: a seed of each key passes.
	for _, k := range keys {
		h, _ := json.Marshal(map[string]any{"typ": "dpop+jwt", "alg": map[bool]string{true: "ES256", false: "EdDSA"}[k.jwk["kty"] == "EC"], "jwk": k.jwk})
		c, _ := json.Marshal(map[string]any{"jti": "x", "htm": "POST", "htu": "https://api.example.com" + fuzzPath, "iat": testNow.Unix(), "ath": athB64})
		if _, err := v.Check(build(h, c, k), dpop.Request{Method: "POST", URIs: []string{"https://api.example.com" + fuzzPath}, AccessToken: testToken}); err != nil {
			f.Fatalf("the fuzz harness cannot build an acceptable proof: %v", err)
		}
	}

	f.Fuzz(func(t *testing.T, header, claims []byte, authority string, keyIndex uint8) {
		k := keys[int(keyIndex)%len(keys)]
		proof := build(header, claims, k)

		uri, uerr := dpop.RequestURI("https", authority, fuzzPath)
		if uerr == nil {
			checkRequestURI(t, authority, uri)
		} else if !errors.Is(uerr, dpop.ErrAuthority) {
			t.Fatalf("RequestURI(%q) error = %v, want ErrAuthority", authority, uerr)
		}
		req := dpop.Request{Method: "POST", AccessToken: testToken}
		if uerr == nil {
			req.URIs = []string{uri}
		}
		p, err := v.Check(proof, req)
		if (p.Thumbprint() == "") == (err == nil) {
			t.Fatalf("Check() = %q, %v; want exactly one", p.Thumbprint(), err)
		}
		if err != nil {
			if !errors.Is(err, dpop.ErrInvalidProof) {
				t.Fatalf("Check() error = %v, want ErrInvalidProof", err)
			}
			return
		}
		if p.Thumbprint() != k.jkt {
			t.Fatalf("Check() accepted a proof signed by another key than its jwk (jkt %q)", p.Thumbprint())
		}
		if uerr != nil {
			t.Fatalf("Check() accepted a proof for a request without a URI (authority %q)", authority)
		}
		var c struct{ HTU string }
		if json.Unmarshal(claims, &c) != nil {
			t.Fatal("Check() accepted claims encoding/json cannot read")
		}
		if n, err := dpop.NormalizeURI(c.HTU); err != nil || n != uri {
			t.Fatalf("Check() accepted htu %q for request URI %q", c.HTU, uri)
		}
	})
}

// checkRequestURI holds a URI that RequestURI built from authority to what
// it must be: in normal form, of exactly that host and port and the fuzzed
// path, and nothing else (no user, query or fragment smuggled in).
func checkRequestURI(t *testing.T, authority, uri string) {
	t.Helper()
	if n, err := dpop.NormalizeURI(uri); err != nil || n != uri {
		t.Fatalf("RequestURI(%q) = %q, not in normal form (%q, %v)", authority, uri, n, err)
	}
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatalf("RequestURI(%q) = %q: %v", authority, uri, err)
	}
	want := strings.ToLower(strings.TrimSuffix(authority, ":443"))
	if u.Host != want || u.Path != fuzzPath || u.RawPath != "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		t.Fatalf("RequestURI(%q) = %q: host %q, path %q; want host %q, path %q only", authority, uri, u.Host, u.Path, want, fuzzPath)
	}
}
