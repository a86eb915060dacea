//go:build unix

package reports_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/connectgate"
	"github.com/oauthgate/oauthgate/dpop"
	"github.com/oauthgate/oauthgate/examples/reports"
	"github.com/oauthgate/oauthgate/oauthtest"
)

// browserTimeout bounds a browser run; it takes under a second when the
// machine is idle.
const browserTimeout = time.Minute

// TestBrowser calls the example's Connect handler from a real browser,
// headless Chromium (Debian's chromium package): a page served by the test
// from one origin calls the handler on another, so each header its script
// reads proves the CORS configuration. The page reports, one line per step,
// a 401 and its WWW-Authenticate challenges parsed in JavaScript, a call
// with a bearer token, calls with a DPoP-bound token whose proofs a
// non-extractable WebCrypto ES256 key signs (POST, and a Connect GET with
// htm GET), and the replay of a proof. Without chromium the test is
// skipped, or fails under CI=true.
func TestBrowser(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed: apt-get install chromium (Debian's package); CI must run this test")
		}
		t.Skip("chromium is not installed: apt-get install chromium (Debian's package) to run this test")
	}
	iss := oauthtest.NewIssuer(t)
	page := httptest.NewServer(pageHandler(t, iss))
	t.Cleanup(page.Close)

	proofs, err := dpop.New(dpop.Config{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := reports.NewConnectHandler(newJWT(t, iss, 0),
		reports.WithCORS(page.URL), // http://127.0.0.1:port, as Chromium sends Origin
		reports.WithInterceptorOptions(connectgate.WithDPoP(proofs)))
	if err != nil {
		t.Fatal(err)
	}
	api := oauthtest.ServeConnect(t, h)

	lines := runBrowser(t, chromium, page.URL+"/?"+url.Values{"api": {api.URL}}.Encode())
	want := []string{
		`anonymous status=401 schemes=Bearer,DPoP realm=reports error=none`,
		`bearer status=200 owner=alice`,
		`key extractable=false`,
		`dpop status=200 owner=alice`,
		`dpop-get status=200 owner=alice`,
		`replay status=401 schemes=Bearer,DPoP realm=reports error=DPoP:invalid_dpop_proof`,
		`done`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("the page reported:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// pageHandler serves testdata/browser.html at / and, at POST /token, access
// tokens from iss for alice with read:reports: ?kind=bearer, or ?kind=dpop
// bound (cnf.jkt, RFC 9449 §6.1) to the public P-256 JWK in the body,
// whose private key the page cannot export.
func pageHandler(t *testing.T, iss *oauthtest.Issuer) http.Handler {
	t.Helper()
	body, err := os.ReadFile("testdata/browser.html")
	if err != nil {
		t.Fatal(err)
	}
	alice := oauthtest.Token{Subject: reports.SubjectAlice, Scopes: []string{reports.ScopeRead}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(body)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		tok := alice
		switch r.URL.Query().Get("kind") {
		case "bearer":
		case "dpop":
			jkt, err := thumbprint(http.MaxBytesReader(w, r.Body, 4<<10))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			tok.Confirmation = map[string]any{"jkt": jkt}
		default:
			http.Error(w, "kind must be bearer or dpop", http.StatusBadRequest)
			return
		}
		s, err := iss.MintToken(tok)
		if err != nil {
			http.Error(w, "cannot mint", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte(s))
	})
	return mux
}

// thumbprint reads a public P-256 JWK (WebCrypto's exportKey "jwk") and
// returns its RFC 7638 SHA-256 thumbprint, base64url: the jkt of tokens
// bound to it.
func thumbprint(r io.Reader) (string, error) {
	var jwk jose.JSONWebKey
	if err := json.NewDecoder(r).Decode(&jwk); err != nil {
		return "", err
	}
	if pub, ok := jwk.Key.(*ecdsa.PublicKey); !ok || pub.Curve.Params().Name != "P-256" {
		return "", errors.New("want a public P-256 key")
	}
	sum, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// runBrowser loads pageURL in headless Chromium, with a profile in a
// temporary directory, and returns the lines of the page's report once its
// script has run (--virtual-time-budget lets the page's fetches finish
// before --dump-dom). Chromium runs in a process group of its own, which
// is killed when the test's context ends and when the run is over, so that
// no renderer or helper process outlives the test.
func runBrowser(t *testing.T, chromium, pageURL string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), browserTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=10000", "--dump-dom", pageURL)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second // for pipes held by helper processes
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Start()
	if err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	pgid := cmd.Process.Pid
	err = cmd.Wait()
	_ = syscall.Kill(-pgid, syscall.SIGKILL) // helpers left behind, if any
	if err != nil {
		t.Fatalf("chromium: %v (context: %v)\nstderr:\n%s", err, ctx.Err(), stderr.String())
	}
	m := regexp.MustCompile(`(?s)<pre id="out">(.*?)</pre>`).FindSubmatch(stdout.Bytes())
	if m == nil {
		t.Fatalf("chromium's DOM has no report:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
	return strings.Split(strings.TrimSpace(html.UnescapeString(string(m[1]))), "\n")
}
