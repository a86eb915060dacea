package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/oauthgate/oauthgate/examples/reports"
	"github.com/oauthgate/oauthgate/examples/reports/reportsv1"
	"github.com/oauthgate/oauthgate/oauthtest"
)

const defaultTestTimeout = 10 * time.Second

// TestServer_Metrics runs the server against an in-process issuer, makes
// allowed and denied calls, then breaks the JWKS endpoint in the middle of
// the run and sends a token signed with a new key, whose fetch fails; it
// scrapes /metrics over real HTTP and checks the decision counters, the
// fetch errors, the verification histogram, and that no token appears.
//
// Nothing waits on a timer: the key set fetches once at start-up (the
// server waits for it) and once for the new kid, on demand, so every
// count is exact except the failed fetches, which the key set also
// retries in the background.
func TestServer_Metrics(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	iss := oauthtest.NewIssuer(t)
	addrs, stop := start(t, "-addr", "127.0.0.1:0", "-metrics-addr", "127.0.0.1:0", "-issuer", iss.URL,
		"-jwks", iss.EndpointURL(oauthtest.EndpointJWKS), "-audience", oauthtest.DefaultAudience, "-insecure-http", "-log-format", "json", "-decision-log")
	conn, err := grpc.NewClient("passthrough:///"+addrs["grpc"], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := reportsv1.NewReportServiceClient(conn)
	get := func(tok, owner, id string) codes.Code {
		t.Helper()
		var opts []grpc.CallOption
		if tok != "" {
			opts = append(opts, oauthtest.Bearer(tok))
		}
		_, err := client.GetReport(ctx, &reportsv1.GetReportRequest{Owner: owner, Id: id}, opts...)
		return status.Code(err)
	}
	alice := oauthtest.Token{Subject: reports.SubjectAlice}
	read := iss.Token(t, alice, oauthtest.Token{Scopes: []string{reports.ScopeRead}})
	noScope := iss.Token(t, alice)
	// Minted now, with the key the server has; first used during the outage.
	early := iss.Token(t, alice, oauthtest.Token{Scopes: []string{reports.ScopeRead}, ClientID: "early"})

	// Their reasons are checked in the metrics below.
	calls := []struct {
		name, tok, owner, id string
		want                 codes.Code
	}{
		{"Allowed", read, reports.SubjectAlice, "r-1", codes.OK},
		{"AllowedCached", read, reports.SubjectAlice, "r-1", codes.OK},
		{"AllowedCachedAgain", read, reports.SubjectAlice, "r-1", codes.OK},
		{"NoToken", "", reports.SubjectAlice, "r-1", codes.Unauthenticated},
		{"InsufficientScope", noScope, reports.SubjectAlice, "r-1", codes.PermissionDenied},
		{"NotOwner", read, reports.SubjectBob, "r-3", codes.PermissionDenied}, // the owner condition
	}
	for _, c := range calls {
		if got := get(c.tok, c.owner, c.id); got != c.want {
			t.Fatalf("%s: GetReport(%s/%s) = %v, want %v", c.name, c.owner, c.id, got, c.want)
		}
	}

	// The outage, mid-run: the JWKS endpoint fails, and the issuer signs
	// with a new key. The server still holds a good set, so it stays
	// ready and verifies tokens of the old key (stale-if-error); the new
	// kid makes it fetch, the fetch fails, and the call is Unavailable,
	// not an invalid token: the server cannot know the key is bad.
	iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{Status: http.StatusServiceUnavailable})
	iss.RotateKeys()
	rotated := iss.Token(t, alice, oauthtest.Token{Scopes: []string{reports.ScopeRead}})
	// Twice: the second call is turned away by the unknown-kid cooldown
	// (or joins a background retry), and is Unavailable too, since the last
	// fetch failed.
	for range 2 {
		if got := get(rotated, reports.SubjectAlice, "r-1"); got != codes.Unavailable {
			t.Fatalf("GetReport(token of a new key, JWKS failing) = %v, want Unavailable", got)
		}
	}
	if got := get(early, reports.SubjectAlice, "r-1"); got != codes.OK {
		t.Fatalf("GetReport(token of the old key, JWKS failing) = %v, want OK", got)
	}
	health, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || health.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("Health/Check during the outage = %v, %v; want SERVING", health, err)
	}

	body := scrape(t, ctx, "http://"+addrs["metrics"]+"/metrics")
	const getReport = `rpc_method="GetReport",rpc_service="examples.reports.v1.ReportService"`
	const uncached = `oauthgate_cache_hit="false"`
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		// Every decision, by reason and code.
		{"oauthgate_server_decisions_total", []string{`oauthgate_decision="allow"`, `rpc_grpc_status_code="0"`, getReport}, 4},
		{"oauthgate_server_decisions_total", []string{`oauthgate_reason="MISSING_TOKEN"`, `rpc_grpc_status_code="16"`, getReport}, 1},
		{"oauthgate_server_decisions_total", []string{`oauthgate_reason="INSUFFICIENT_SCOPE"`, `rpc_grpc_status_code="7"`, getReport}, 1},
		{"oauthgate_server_decisions_total", []string{`oauthgate_reason="CONDITION_NOT_MET"`, `rpc_grpc_status_code="7"`, getReport}, 1},
		{"oauthgate_server_decisions_total", []string{`oauthgate_reason="VERIFIER_UNAVAILABLE"`, `rpc_grpc_status_code="14"`, getReport}, 2},
		{"oauthgate_server_decisions_total", []string{`oauthgate_reason="INVALID_TOKEN"`}, 0},
		{"oauthgate_server_decisions_total", []string{`oauthgate_decision="deny"`}, 5},
		// Uncached verifications: read, noScope and early were verified
		// (ok), rotated could not be, twice (unavailable). Cache hits may
		// be sampled, so they are not counted here.
		{"oauthgate_verification_duration_seconds_count", []string{uncached, `oauthgate_result="ok"`, `oauthgate_verifier="jwt"`}, 3},
		{"oauthgate_verification_duration_seconds_count", []string{uncached, `oauthgate_result="unavailable"`, `oauthgate_verifier="jwt"`}, 2},
		{"oauthgate_verification_duration_seconds_count", []string{`oauthgate_result="invalid_token"`}, 0},
		// The key set: one good fetch at start-up, one fetch for the new
		// kid (the cooldown turned the second call away), and still the
		// old set's key.
		{"oauthgate_jwks_fetches_total", []string{`oauthgate_result="ok"`}, 1},
		{"oauthgate_jwks_unknown_kid_fetches_total", nil, 1},
		{"oauthgate_jwks_keys", nil, 1},
		// The token cache missed read, noScope, rotated (twice) and early.
		{"oauthgate_cache_misses_total", []string{`oauthgate_cache="jwt"`}, 5},
	} {
		if got := sample(body, c.name, c.labels...); got != c.want {
			t.Errorf("%s{%s} = %v, want %v", c.name, strings.Join(c.labels, ","), got, c.want)
		}
	}
	// The failed fetch for the new kid; the key set may have retried since.
	if got := sample(body, "oauthgate_jwks_fetches_total", `oauthgate_result="http_status"`); got < 1 {
		t.Errorf(`oauthgate_jwks_fetches_total{oauthgate_result="http_status"} = %v, want at least 1`, got)
	}
	// The histogram has observations, in its buckets too.
	const hist = "oauthgate_verification_duration_seconds"
	if n, sum, inf := sample(body, hist+"_count"), sample(body, hist+"_sum"), sample(body, hist+"_bucket", `le="+Inf"`); n < 4 || sum <= 0 || inf != n {
		t.Errorf("%s: count %v, sum %v, +Inf bucket %v; want count at least 4, sum above 0, +Inf bucket = count", hist, n, sum, inf)
	}

	logs := stop()
	if !strings.Contains(logs, `"msg":"stopped"`) {
		t.Errorf("the log lacks the stop message:\n%s", logs)
	}
	for name, tok := range map[string]string{"read": read, "noScope": noScope, "early": early, "rotated": rotated} {
		for i, part := range strings.Split(tok, ".") { // header, payload, signature
			if strings.Contains(body, part) {
				t.Errorf("/metrics contains part %d of token %s", i, name)
			}
			if strings.Contains(logs, part) {
				t.Errorf("the log contains part %d of token %s", i, name)
			}
		}
	}
	if strings.Contains(body, reports.SubjectAlice) || strings.Contains(body, "early") {
		t.Errorf("/metrics contains a subject or a client ID")
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("/metrics:\n%s", body)
	}
}

// start runs the server with args, and returns the address of each of
// its listeners by name, and a function that stops it and returns what it
// wrote to stderr. The server also stops when the test ends.
func start(t *testing.T, args ...string) (addrs map[string]string, stop func() string) {
	t.Helper()
	type listener struct{ name, addr string }
	listeners := make(chan listener, 2)
	onListen := func(name string, a net.Addr) { listeners <- listener{name, a.String()} }
	var stderr bytes.Buffer // read only once run has returned
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, func(string) string { return "" }, &stderr, onListen) }()
	stop = sync.OnceValue(func() string {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("run() = %d, want 0; stderr:\n%s", code, stderr.String())
		}
		return stderr.String()
	})
	t.Cleanup(func() { stop() })
	addrs = map[string]string{}
	for addrs["grpc"] == "" { // reported last
		select {
		case l := <-listeners:
			addrs[l.name] = l.addr
		case code := <-done:
			done <- 0 // for stop
			t.Fatalf("run() = %d before listening; stderr:\n%s", code, stderr.String())
		}
	}
	return addrs, stop
}

func scrape(t *testing.T, ctx context.Context, url string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A transport of its own: http.DefaultTransport's idle connections
	// are closed by any httptest.Server.Close, even under a request.
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d, %v", url, resp.StatusCode, err)
	}
	return string(b)
}

// sample sums the values of the samples of metric name whose labels
// contain every one of labels; it is 0 if there are none.
func sample(body, name string, labels ...string) float64 {
	var sum float64
	sc := bufio.NewScanner(strings.NewReader(body))
next:
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		for _, l := range labels {
			if !strings.Contains(line, l) {
				continue next
			}
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}
