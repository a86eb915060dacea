package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
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

// TestServer_Metrics starts the server against an issuer whose JWKS is
// down, makes calls during the outage, lets the key set recover (watched
// through grpc health), makes allowed and denied calls, then scrapes
// /metrics over HTTP.
func TestServer_Metrics(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	iss := oauthtest.NewIssuer(t)
	iss.SetFault(oauthtest.EndpointJWKS, oauthtest.FaultDown())

	cfg, err := parseFlags([]string{"-addr", "127.0.0.1:0", "-metrics-addr", "127.0.0.1:0", "-issuer", iss.URL,
		"-jwks", iss.JWKSURL(), "-audience", oauthtest.DefaultAudience, "-insecure-http", "-decision-log"})
	if err != nil {
		t.Fatal(err)
	}
	cfg.refresh, cfg.readyPoll = 50*time.Millisecond, 10*time.Millisecond
	addrs := make(chan [2]net.Addr, 1)
	cfg.onListen = func(g, m net.Addr) { addrs <- [2]net.Addr{g, m} }
	srvCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(srvCtx, cfg, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("run() = %v", err)
		}
	})
	var a [2]net.Addr
	select {
	case a = <-addrs:
	case err := <-done:
		t.Fatalf("run() = %v before listening", err)
	}
	conn, err := grpc.NewClient("passthrough:///"+a[0].String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := reportsv1.NewReportServiceClient(conn)
	healthClient := healthpb.NewHealthClient(conn)

	read := iss.Token(t, oauthtest.WithScopes(reports.ScopeRead), oauthtest.WithSubject(reports.SubjectAlice))
	get := func(tok, id string) codes.Code {
		t.Helper()
		var opts []grpc.CallOption
		if tok != "" {
			opts = append(opts, oauthtest.Bearer(tok))
		}
		_, err := client.GetReport(ctx, &reportsv1.GetReportRequest{Id: id}, opts...)
		return status.Code(err)
	}

	// Outage: no keys yet.
	if got := get(read, "r-1"); got != codes.Unavailable {
		t.Fatalf("GetReport during the outage = %v, want Unavailable", got)
	}
	// Recovery, seen through grpc health.
	watch, err := healthClient.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{})
	for {
		resp, err := watch.Recv()
		if err != nil {
			t.Fatalf("health Watch: %v", err)
		}
		if resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			break
		}
	}
	for range 3 {
		if got := get(read, "r-1"); got != codes.OK {
			t.Fatalf("GetReport(r-1) = %v, want OK", got)
		}
	}
	if got := get("", "r-1"); got != codes.Unauthenticated {
		t.Fatalf("GetReport without a token = %v, want Unauthenticated", got)
	}
	if got := get(read, "r-3"); got != codes.PermissionDenied { // bob's report
		t.Fatalf("GetReport(r-3) = %v, want PermissionDenied", got)
	}

	body := scrape(t, ctx, "http://"+a[1].String()+"/metrics")
	const getReport = `rpc_method="GetReport",rpc_service="examples.reports.v1.ReportService"`
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"oauthgate_server_decisions_total", []string{`oauthgate_decision="allow"`, getReport}, 3},
		{"oauthgate_server_decisions_total", []string{`oauthgate_reason="VERIFIER_UNAVAILABLE"`, `rpc_grpc_status_code="14"`, getReport}, 1},
		{"oauthgate_server_decisions_total", []string{`oauthgate_reason="MISSING_TOKEN"`, getReport}, 1},
		{"oauthgate_server_decisions_total", []string{`oauthgate_reason="NOT_REPORT_OWNER"`, getReport}, 1},
		// Every uncached verification is timed; cache hits are sampled.
		{"oauthgate_server_verification_duration_seconds_count", []string{`oauthgate_cache_hit="false"`, `oauthgate_result="ok"`, `oauthgate_verifier="jwt"`}, 1},
		{"oauthgate_server_verification_duration_seconds_count", []string{`oauthgate_cache_hit="false"`, `oauthgate_result="unavailable"`}, 1},
		{"oauthgate_jwks_fetches_total", []string{`oauthgate_result="ok"`}, 1},
		{"oauthgate_jwks_keys", nil, 1},
		{"oauthgate_cache_hits_total", []string{`oauthgate_cache="jwt"`}, 3},
		{"oauthgate_cache_misses_total", []string{`oauthgate_cache="jwt"`}, 2}, // the outage call, then the first good one
		{"oauthgate_cache_entries", []string{`oauthgate_cache="jwt"`}, 1},
	} {
		if got := sample(body, c.name, c.labels...); got != c.want {
			t.Errorf("%s{%s} = %v, want %v", c.name, strings.Join(c.labels, ","), got, c.want)
		}
	}
	for _, secret := range []string{read, strings.Split(read, ".")[2], reports.SubjectAlice} {
		if strings.Contains(body, secret) {
			t.Errorf("/metrics contains %q", secret)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
}

func scrape(t *testing.T, ctx context.Context, url string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
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
// contain every one of labels.
func sample(body, name string, labels ...string) float64 {
	var sum float64
	sc := bufio.NewScanner(strings.NewReader(body))
next:
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") {
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
