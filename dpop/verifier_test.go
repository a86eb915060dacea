package dpop_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/dpop"
	"github.com/oauthgate/oauthgate/oauthtest"
)

const (
	testURI   = "https://api.example.com/reports.v1.ReportService/GetReport"
	testToken = "access-token-1"
)

var testNow = time.Unix(1_800_000_000, 0)

func newVerifier(t testing.TB, edit func(*dpop.Config)) *dpop.Verifier {
	t.Helper()
	cfg := dpop.Config{Now: func() time.Time { return testNow }}
	if edit != nil {
		edit(&cfg)
	}
	v, err := dpop.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestVerify is the check list of RFC 9449 §4.3, one row per check, each
// failing closed with its own reason.
func TestVerify(t *testing.T) {
	t.Parallel()
	clock := func() time.Time { return testNow }
	key := oauthtest.NewDPoPKey(t, jose.ES256, clock)
	other := oauthtest.NewDPoPKey(t, jose.ES256, clock)
	ed := oauthtest.NewDPoPKey(t, jose.EdDSA, clock)
	rsa := oauthtest.NewDPoPKey(t, jose.RS256, clock)
	proof := func(k *oauthtest.DPoPKey, opts ...oauthtest.Proof) string {
		return k.Proof(t, "POST", testURI, testToken, opts...)
	}
	tests := map[string]struct {
		proof   string
		req     dpop.Request
		edit    func(*dpop.Config)
		wantJKT string
		want    error
	}{
		"ES256":              {proof: proof(key), wantJKT: key.Thumbprint()},
		"EdDSA":              {proof: proof(ed), wantJKT: ed.Thumbprint()},
		"RS256":              {proof: proof(rsa), wantJKT: rsa.Thumbprint()},
		"URINormalized":      {proof: key.Proof(t, "POST", "HTTPS://API.example.com:443/reports.v1.ReportService/GetReport?x=1#f", testToken), wantJKT: key.Thumbprint()},
		"NoTokenNoATH":       {proof: key.Proof(t, "POST", testURI, ""), req: dpop.Request{Method: "POST", URIs: []string{testURI}}, wantJKT: key.Thumbprint()},
		"IatEdgeOfWindow":    {proof: proof(key, oauthtest.Proof{Claims: map[string]any{"iat": testNow.Add(-60 * time.Second).Unix()}}), wantJKT: key.Thumbprint()},
		"WrongMethod":        {proof: key.Proof(t, "GET", testURI, testToken), want: dpop.ErrMethod},
		"MethodCase":         {proof: key.Proof(t, "post", testURI, testToken), want: dpop.ErrMethod},
		"WrongURI":           {proof: key.Proof(t, "POST", "https://api.example.com/reports.v1.ReportService/DeleteReport", testToken), want: dpop.ErrURI},
		"WrongHost":          {proof: key.Proof(t, "POST", "https://evil.example.com/reports.v1.ReportService/GetReport", testToken), want: dpop.ErrURI},
		"HTTPForHTTPS":       {proof: key.Proof(t, "POST", "http://api.example.com/reports.v1.ReportService/GetReport", testToken), want: dpop.ErrURI},
		"OtherPort":          {proof: key.Proof(t, "POST", "https://api.example.com:8443/reports.v1.ReportService/GetReport", testToken), want: dpop.ErrURI},
		"NotAURI":            {proof: key.Proof(t, "POST", "reports.v1.ReportService/GetReport", testToken), want: dpop.ErrURI},
		"OldIat":             {proof: proof(key, oauthtest.Proof{Claims: map[string]any{"iat": testNow.Add(-61 * time.Second).Unix()}}), want: dpop.ErrStale},
		"FutureIat":          {proof: proof(key, oauthtest.Proof{Claims: map[string]any{"iat": testNow.Add(61 * time.Second).Unix()}}), want: dpop.ErrStale},
		"StringIat":          {proof: proof(key, oauthtest.Proof{Claims: map[string]any{"iat": "1800000000"}}), want: dpop.ErrMalformed},
		"NegativeIat":        {proof: proof(key, oauthtest.Proof{Claims: map[string]any{"iat": -1}}), want: dpop.ErrMalformed},
		"MissingJTI":         {proof: proof(key, oauthtest.Proof{Claims: map[string]any{"jti": nil}}), want: dpop.ErrMissingClaim},
		"EmptyJTI":           {proof: proof(key, oauthtest.Proof{Claims: map[string]any{"jti": ""}}), want: dpop.ErrMissingClaim},
		"LongJTI":            {proof: proof(key, oauthtest.Proof{Claims: map[string]any{"jti": strings.Repeat("j", 129)}}), want: dpop.ErrMalformed},
		"MissingHTM":         {proof: proof(key, oauthtest.Proof{Claims: map[string]any{"htm": nil}}), want: dpop.ErrMissingClaim},
		"MissingHTU":         {proof: proof(key, oauthtest.Proof{Claims: map[string]any{"htu": nil}}), want: dpop.ErrMissingClaim},
		"MissingIat":         {proof: proof(key, oauthtest.Proof{Claims: map[string]any{"iat": nil}}), want: dpop.ErrMissingClaim},
		"MissingATH":         {proof: proof(key, oauthtest.Proof{Claims: map[string]any{"ath": nil}}), want: dpop.ErrMissingClaim},
		"ATHOfAnotherToken":  {proof: key.Proof(t, "POST", testURI, "another-token"), want: dpop.ErrTokenHash},
		"WrongType":          {proof: proof(key, oauthtest.Proof{Header: map[string]any{"typ": "JWT"}}), want: dpop.ErrType},
		"NoType":             {proof: proof(key, oauthtest.Proof{Header: map[string]any{"typ": ""}}), want: dpop.ErrType},
		"PrivateKeyInHeader": {proof: proof(key, oauthtest.Proof{PrivateKey: true}), want: dpop.ErrPrivateKey},
		"KeyOfAnother":       {proof: swapHeaderKey(t, proof(key), other), want: dpop.ErrSignature},
		"AlgNotAllowed":      {proof: proof(rsa), edit: func(c *dpop.Config) { c.Algorithms = []jose.SignatureAlgorithm{jose.ES256} }, want: dpop.ErrAlgorithm},
		"Crit":               {proof: proof(key, oauthtest.Proof{Header: map[string]any{"crit": []string{"exp"}}}), want: dpop.ErrMalformed},
		"NotJWS":             {proof: "not.a.proof", want: dpop.ErrMalformed},
		"Padded":             {proof: proof(key) + "=", want: dpop.ErrMalformed},
		"Huge":               {proof: strings.Repeat("a", 9000), want: dpop.ErrMalformed},
		"NonceRequired":      {proof: proof(key), edit: func(c *dpop.Config) { c.NoncePeriod = time.Minute }, want: dpop.ErrNonce},
		"NonceWrong":         {proof: proof(key, oauthtest.Proof{Claims: map[string]any{"nonce": "made-up"}}), edit: func(c *dpop.Config) { c.NoncePeriod = time.Minute }, want: dpop.ErrNonce},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			v := newVerifier(t, tc.edit)
			req := tc.req
			if req.Method == "" {
				req = dpop.Request{Method: "POST", URIs: []string{testURI}, AccessToken: testToken}
			}
			jkt, err := accept(v, tc.proof, req)
			if tc.want == nil {
				if err != nil || jkt != tc.wantJKT {
					t.Fatalf("Verify() = %q, %v; want %q, nil", jkt, err, tc.wantJKT)
				}
				return
			}
			var pe *dpop.ProofError
			if !errors.Is(err, tc.want) || !errors.Is(err, dpop.ErrInvalidProof) || !errors.As(err, &pe) || jkt != "" {
				t.Fatalf("Verify() = %q, %v; want a *ProofError for %v", jkt, err, tc.want)
			}
			if strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), tc.proof) {
				t.Errorf("error %q echoes the token or the proof", err)
			}
		})
	}
}

// swapHeaderKey returns proof with the jwk header of other: the signature
// no longer verifies with the key the proof names.
func swapHeaderKey(t *testing.T, proof string, other *oauthtest.DPoPKey) string {
	t.Helper()
	otherHeader := strings.SplitN(other.Proof(t, "POST", testURI, testToken), ".", 2)[0]
	return otherHeader + proof[strings.IndexByte(proof, '.'):]
}

func TestVerify_Nonce(t *testing.T) {
	t.Parallel()
	now := testNow
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	v := newVerifier(t, func(c *dpop.Config) { c.NoncePeriod = time.Minute; c.Now = clock })
	key := oauthtest.NewDPoPKey(t, jose.ES256, clock)
	req := dpop.Request{Method: "POST", URIs: []string{testURI}, AccessToken: testToken}
	nonce := v.Nonce()
	if nonce == "" {
		t.Fatal("Nonce() is empty with NoncePeriod set")
	}
	if _, err := accept(v, key.Proof(t, "POST", testURI, testToken, oauthtest.Proof{Claims: map[string]any{"nonce": nonce}}), req); err != nil {
		t.Fatalf("Verify(current nonce) = %v", err)
	}
	_, err := accept(v, key.Proof(t, "POST", testURI, testToken), req)
	if !errors.Is(err, dpop.ErrUseNonce) {
		t.Fatalf("Verify(no nonce) = %v, want ErrUseNonce", err)
	}
	mu.Lock()
	now = now.Add(time.Minute) // the next period: the old nonce still works
	mu.Unlock()
	if _, err := accept(v, key.Proof(t, "POST", testURI, testToken, oauthtest.Proof{Claims: map[string]any{"nonce": nonce}}), req); err != nil {
		t.Errorf("Verify(previous period's nonce) = %v", err)
	}
	if v.Nonce() == nonce {
		t.Error("the nonce did not rotate")
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	if _, err := accept(v, key.Proof(t, "POST", testURI, testToken, oauthtest.Proof{Claims: map[string]any{"nonce": nonce}}), req); !errors.Is(err, dpop.ErrNonce) {
		t.Errorf("Verify(nonce two periods old) = %v, want ErrNonce", err)
	}
	// Replicas sharing a key agree on the nonce.
	key1 := []byte("0123456789abcdef0123456789abcdef")
	a := newVerifier(t, func(c *dpop.Config) { c.NoncePeriod = time.Minute; c.NonceKey = key1; c.Now = clock })
	b := newVerifier(t, func(c *dpop.Config) { c.NoncePeriod = time.Minute; c.NonceKey = key1; c.Now = clock })
	if a.Nonce() != b.Nonce() {
		t.Error("verifiers with one NonceKey issue different nonces")
	}
}

// TestVerify_ReplayConcurrent presents one proof from many goroutines:
// exactly one is accepted.
func TestVerify_ReplayConcurrent(t *testing.T) {
	t.Parallel()
	v := newVerifier(t, nil)
	key := oauthtest.NewDPoPKey(t, jose.ES256, func() time.Time { return testNow })
	proof := key.Proof(t, "POST", testURI, testToken)
	req := dpop.Request{Method: "POST", URIs: []string{testURI}, AccessToken: testToken}
	var ok, replayed atomic.Int32
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			_, err := accept(v, proof, req)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, dpop.ErrReplayed):
				replayed.Add(1)
			default:
				t.Errorf("Verify() = %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 || replayed.Load() != 63 {
		t.Errorf("accepted %d, replayed %d; want 1 and 63", ok.Load(), replayed.Load())
	}
}

// TestVerify_ReplayWindow: a jti is remembered for as long as its proof
// could be accepted, and forgotten afterwards; a full cache refuses new
// proofs rather than forgetting.
func TestVerify_ReplayWindow(t *testing.T) {
	t.Parallel()
	now := testNow
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	set := func(d time.Duration) { mu.Lock(); now = testNow.Add(d); mu.Unlock() }
	v := newVerifier(t, func(c *dpop.Config) { c.Now = clock })
	key := oauthtest.NewDPoPKey(t, jose.ES256, clock)
	req := dpop.Request{Method: "POST", URIs: []string{testURI}, AccessToken: testToken}
	// iat 60s ahead: acceptable until now+120s.
	p := key.Proof(t, "POST", testURI, testToken, oauthtest.Proof{Claims: map[string]any{"iat": testNow.Add(60 * time.Second).Unix(), "jti": "fixed"}})
	if _, err := accept(v, p, req); err != nil {
		t.Fatal(err)
	}
	for _, d := range []time.Duration{time.Second, 60 * time.Second, 119 * time.Second} {
		set(d)
		if _, err := accept(v, p, req); !errors.Is(err, dpop.ErrReplayed) && !errors.Is(err, dpop.ErrStale) {
			t.Errorf("replay at +%v = %v, want ErrReplayed", d, err)
		}
		if _, err := accept(v, p, req); errors.Is(err, dpop.ErrStale) && d < 120*time.Second {
			t.Errorf("replay at +%v judged stale, want replayed", d)
		}
	}

	small := newVerifier(t, func(c *dpop.Config) { c.ReplayCacheSize = 16; c.Now = clock })
	set(0)
	var full int
	for i := range 200 {
		_, err := accept(small, key.Proof(t, "POST", testURI, testToken, oauthtest.Proof{Claims: map[string]any{"jti": fmt.Sprint("j", i)}}), req)
		if errors.Is(err, dpop.ErrReplayCacheFull) {
			full++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if full == 0 {
		t.Error("200 proofs into a cache of 16 were all accepted")
	}
	set(200 * time.Second) // every entry expired
	if _, err := accept(small, key.Proof(t, "POST", testURI, testToken, oauthtest.Proof{Claims: map[string]any{"jti": "after"}}), req); err != nil {
		t.Errorf("Verify() after expiry = %v", err)
	}
}

func TestNew_Errors(t *testing.T) {
	for name, cfg := range map[string]dpop.Config{
		"HMAC":           {Algorithms: []jose.SignatureAlgorithm{jose.HS256}},
		"None":           {Algorithms: []jose.SignatureAlgorithm{"none"}},
		"NegativeWindow": {Window: -time.Second},
		"HugeWindow":     {Window: time.Hour},
		"NegativeReplay": {ReplayCacheSize: -1},
		"ShortNonce":     {NoncePeriod: time.Second},
		"ShortNonceKey":  {NoncePeriod: time.Minute, NonceKey: []byte("short")},
	} {
		if _, err := dpop.New(cfg); err == nil || !strings.HasPrefix(err.Error(), "dpop: Config.") {
			t.Errorf("%s: New() error = %v, want one naming the Config field", name, err)
		}
	}
}

func TestNormalizeURI(t *testing.T) {
	tests := map[string]string{
		"https://API.Example.com:443/a/b?q#f": "https://api.example.com/a/b",
		"HTTP://h:80":                         "http://h/",
		"https://h:8443/x":                    "https://h:8443/x",
		"https://[::1]:443/x":                 "https://[::1]/x",
		"https://[::1]:8443/x":                "https://[::1]:8443/x",
		"http://127.0.0.1:50051/pkg.S/M":      "http://127.0.0.1:50051/pkg.S/M",
	}
	for in, want := range tests {
		if got, err := dpop.NormalizeURI(in); err != nil || got != want {
			t.Errorf("NormalizeURI(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"ftp://h/x", "/relative", "https://", "https://u:p@h/x", "::"} {
		if _, err := dpop.NormalizeURI(bad); err == nil {
			t.Errorf("NormalizeURI(%q) succeeded", bad)
		}
	}
}

// TestVerify_HeaderMemo: a header seen before is not parsed again, but
// every proof's own signature is still checked by go-jose over its own
// payload.
func TestVerify_HeaderMemo(t *testing.T) {
	t.Parallel()
	clock := func() time.Time { return testNow }
	key := oauthtest.NewDPoPKey(t, jose.ES256, clock)
	other := oauthtest.NewDPoPKey(t, jose.ES256, clock)
	v := newVerifier(t, nil)
	req := dpop.Request{Method: "POST", URIs: []string{testURI}, AccessToken: testToken}
	if _, err := accept(v, other.Proof(t, "POST", testURI, testToken), req); err != nil {
		t.Fatal(err) // other's header is now remembered
	}
	good := other.Proof(t, "POST", testURI, testToken)
	parts := strings.Split(good, ".")
	mine := strings.Split(key.Proof(t, "POST", testURI, testToken), ".")
	for name, p := range map[string]string{
		"OtherSignature": parts[0] + "." + mine[1] + "." + mine[2],
		"OtherPayload":   parts[0] + "." + mine[1] + "." + parts[2],
		"Truncated":      parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-4],
	} {
		if _, err := accept(v, p, req); !errors.Is(err, dpop.ErrSignature) && !errors.Is(err, dpop.ErrMalformed) {
			t.Errorf("%s: Verify() = %v, want the signature refused", name, err)
		}
	}
	if jkt, err := accept(v, good, req); err != nil || jkt != other.Thumbprint() {
		t.Errorf("Verify(good proof, remembered header) = %q, %v", jkt, err)
	}
}

// accept checks proof and records it, as a server does once the token it
// came with is verified and bound to its key, and returns its key's
// thumbprint.
func accept(v *dpop.Verifier, proof string, req dpop.Request) (string, error) {
	p, err := v.Check(proof, req)
	if err != nil {
		return "", err
	}
	return p.Thumbprint(), v.Record(context.Background(), p)
}
