package reports_test

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"

	"github.com/oauthgate/oauthgate/connectgate"
	"github.com/oauthgate/oauthgate/dpop"
	"github.com/oauthgate/oauthgate/examples/reports"
	"github.com/oauthgate/oauthgate/examples/reports/reportsv1"
	"github.com/oauthgate/oauthgate/examples/reports/reportsv1/reportsv1connect"
	"github.com/oauthgate/oauthgate/oauthtest"
)

const (
	getReport  = "/examples.reports.v1.ReportService/GetReport"
	pageOrigin = "http://127.0.0.1:1234"
)

// serveConnect serves NewConnectHandler, with a JWT verifier for iss, DPoP
// and CORS for pageOrigin, on 127.0.0.1 (h2c and HTTP/1.1) until the test
// ends.
func serveConnect(t *testing.T, iss *oauthtest.Issuer, opts ...reports.Option) *oauthtest.ConnectServer {
	t.Helper()
	proofs, err := dpop.New(dpop.Config{})
	if err != nil {
		t.Fatal(err)
	}
	opts = append([]reports.Option{
		reports.WithInterceptorOptions(connectgate.WithDPoP(proofs)),
		reports.WithCORS(pageOrigin),
	}, opts...)
	h, err := reports.NewConnectHandler(newJWT(t, iss, 0), opts...)
	if err != nil {
		t.Fatalf("NewConnectHandler() error = %v", err)
	}
	return oauthtest.ServeConnect(t, h)
}

// withToken returns req with an Authorization header.
func withToken[T any](req *connect.Request[T], scheme, token string) *connect.Request[T] {
	if token != "" {
		req.Header().Set("Authorization", scheme+" "+token)
	}
	return req
}

// TestNewConnectHandler calls every kind of RPC of the connect-go server
// with connect-go's client over each protocol: unary, server and client
// streams, allowed and denied as over grpc-go.
func TestNewConnectHandler(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	srv := serveConnect(t, iss)
	alice := iss.Token(t, oauthtest.Token{Subject: reports.SubjectAlice, Scopes: []string{reports.ScopeRead}})
	bob := iss.Token(t, oauthtest.Token{Subject: reports.SubjectBob, Scopes: []string{reports.ScopeRead}})
	writer := iss.Token(t, oauthtest.Token{Subject: "carol", Scopes: []string{reports.ScopeWrite}})
	for _, p := range oauthtest.ConnectProtocols() {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			client := reportsv1connect.NewReportServiceClient(srv.Client(t, nil), srv.URL, p.ClientOption())
			get := func(token string) (*reportsv1.GetReportResponse, error) {
				res, err := client.GetReport(ctx, withToken(connect.NewRequest(&reportsv1.GetReportRequest{Id: "r-1", Owner: reports.SubjectAlice}), "Bearer", token))
				if err != nil {
					return nil, err
				}
				return res.Msg, nil
			}
			res, err := get(alice)
			if err != nil || res.GetReport().GetTitle() != "Q1 sales" {
				t.Fatalf("GetReport(alice) = %v, %v, want Q1 sales", res, err)
			}
			for name, tc := range map[string]struct {
				token string
				want  connect.Code
			}{
				"NoToken":           {"", connect.CodeUnauthenticated},
				"Garbage":           {"not-a-token", connect.CodeUnauthenticated},
				"NotTheOwner":       {bob, connect.CodePermissionDenied},
				"InsufficientScope": {writer, connect.CodePermissionDenied},
			} {
				if _, err := get(tc.token); connect.CodeOf(err) != tc.want {
					t.Errorf("GetReport(%s) error = %v, want %v", name, err, tc.want)
				}
			}

			info, err := client.GetServerInfo(ctx, connect.NewRequest(&reportsv1.GetServerInfoRequest{}))
			if err != nil || info.Msg.GetName() != reports.Name {
				t.Errorf("GetServerInfo() = %v, %v, want public", info, err)
			}

			list, err := client.ListReports(ctx, withToken(connect.NewRequest(&reportsv1.ListReportsRequest{}), "Bearer", alice))
			if err != nil {
				t.Fatalf("ListReports() error = %v", err)
			}
			var ids []string
			for list.Receive() {
				ids = append(ids, list.Msg().GetReport().GetId())
			}
			if err := list.Err(); err != nil || !slices.Equal(ids, []string{"r-1", "r-2"}) {
				t.Errorf("ListReports(alice) = %v, %v, want [r-1 r-2]", ids, err)
			}
			_ = list.Close()

			up := client.UploadReports(ctx)
			up.RequestHeader().Set("Authorization", "Bearer "+writer)
			for _, title := range []string{"a", "b"} {
				if err := up.Send(&reportsv1.UploadReportsRequest{Title: title}); err != nil && !errors.Is(err, io.EOF) {
					t.Fatalf("UploadReports.Send() error = %v", err)
				}
			}
			ures, err := up.CloseAndReceive()
			if err != nil || len(ures.Msg.GetIds()) != 2 {
				t.Errorf("UploadReports() = %v, %v, want two ids", ures, err)
			}
		})
	}
}

// TestNewConnectHandler_HTTP calls GetReport as curl and browsers do, with
// plain HTTP and the Connect protocol's JSON: a denial is a real 401 or
// 403 with an RFC 6750 / RFC 9449 WWW-Authenticate header.
func TestNewConnectHandler_HTTP(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	srv := serveConnect(t, iss)
	key := oauthtest.NewDPoPKey(t, "", nil)
	alice := iss.Token(t, oauthtest.Token{Subject: reports.SubjectAlice, Scopes: []string{reports.ScopeRead}})
	bound := iss.Token(t, oauthtest.Token{Subject: reports.SubjectAlice, Scopes: []string{reports.ScopeRead}, DPoPKey: key})
	writer := iss.Token(t, oauthtest.Token{Subject: reports.SubjectAlice, Scopes: []string{reports.ScopeWrite}})
	const body = `{"id":"r-1","owner":"alice"}`
	getURL := srv.URL + getReport + "?" + url.Values{"connect": {"v1"}, "encoding": {"json"}, "message": {body}}.Encode()
	htu := srv.URL + getReport

	tests := map[string]struct {
		method, auth, proof string
		wantStatus          int
		wantChallenge       string // in the WWW-Authenticate values
	}{
		"Bearer":             {method: "POST", auth: "Bearer " + alice, wantStatus: 200},
		"NoToken":            {method: "POST", wantStatus: 401, wantChallenge: `Bearer realm="reports"`},
		"InsufficientScope":  {method: "POST", auth: "Bearer " + writer, wantStatus: 403, wantChallenge: `Bearer realm="reports", error="insufficient_scope"`},
		"BearerGET":          {method: "GET", auth: "Bearer " + alice, wantStatus: 200},
		"DPoPGET":            {method: "GET", auth: "DPoP " + bound, proof: key.Proof(t, "GET", htu, bound), wantStatus: 200},
		"DPoPPOST":           {method: "POST", auth: "DPoP " + bound, proof: key.Proof(t, "POST", htu, bound), wantStatus: 200},
		"DPoPGETProofOfPOST": {method: "GET", auth: "DPoP " + bound, proof: key.Proof(t, "POST", htu, bound), wantStatus: 401, wantChallenge: `error="invalid_dpop_proof", error_description="the DPoP proof is invalid: proof is for another method"`},
		"DPoPWithoutProof":   {method: "POST", auth: "DPoP " + bound, wantStatus: 401, wantChallenge: `DPoP realm="reports", algs="`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequestWithContext(testContext(t), tc.method, getURL, nil)
			if tc.method == "POST" {
				req, err = http.NewRequestWithContext(testContext(t), tc.method, htu, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			if tc.proof != "" {
				req.Header.Set("DPoP", tc.proof)
			}
			res, err := srv.Client(t, nil).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			_ = res.Body.Close()
			if res.StatusCode != tc.wantStatus {
				t.Fatalf("%s GetReport: status %d (%s), want %d", tc.method, res.StatusCode, b, tc.wantStatus)
			}
			challenges := strings.Join(res.Header.Values("WWW-Authenticate"), " | ")
			if tc.wantChallenge == "" && challenges != "" || !strings.Contains(challenges, tc.wantChallenge) {
				t.Errorf("%s GetReport: WWW-Authenticate = %q, want %q in it", tc.method, challenges, tc.wantChallenge)
			}
			if tc.wantStatus == 200 && !strings.Contains(string(b), `"title":"Q1 sales"`) {
				t.Errorf("%s GetReport: body %s, want report r-1", tc.method, b)
			}
		})
	}
}

// TestNewConnectHandler_CORS checks that the preflight requests of an
// allowed origin are answered before oauthgate, that oauthgate's
// challenge headers are exposed to that origin only, and that other
// origins get no CORS header at all.
func TestNewConnectHandler_CORS(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	srv := serveConnect(t, iss)
	tests := map[string]struct {
		method, origin string
		wantStatus     int
		wantHeaders    map[string]string // "" means absent
	}{
		"PreflightAllowed": {method: "OPTIONS", origin: pageOrigin, wantStatus: 204, wantHeaders: map[string]string{
			"Access-Control-Allow-Origin":  pageOrigin,
			"Access-Control-Allow-Methods": "GET, POST",
			"Access-Control-Allow-Headers": "Authorization, DPoP, Content-Type, Connect-Protocol-Version, Connect-Timeout-Ms, Grpc-Timeout, X-Grpc-Web, X-User-Agent",
		}},
		"PreflightOther": {method: "OPTIONS", origin: "http://evil.example", wantStatus: 204, wantHeaders: map[string]string{
			"Access-Control-Allow-Origin": "", "Access-Control-Allow-Headers": "",
		}},
		"CallAllowed": {method: "POST", origin: pageOrigin, wantStatus: 401, wantHeaders: map[string]string{
			"Access-Control-Allow-Origin":   pageOrigin,
			"Access-Control-Expose-Headers": "WWW-Authenticate, DPoP-Nonce, Grpc-Status, Grpc-Message, Grpc-Status-Details-Bin",
			"Www-Authenticate":              `Bearer realm="reports"`,
		}},
		"CallOther": {method: "POST", origin: "http://evil.example", wantStatus: 401, wantHeaders: map[string]string{
			"Access-Control-Allow-Origin": "", "Access-Control-Expose-Headers": "",
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequestWithContext(testContext(t), tc.method, srv.URL+getReport, strings.NewReader(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Origin", tc.origin)
			if tc.method == "OPTIONS" {
				req.Header.Set("Access-Control-Request-Method", "POST")
				req.Header.Set("Access-Control-Request-Headers", "authorization,content-type,dpop")
			} else {
				req.Header.Set("Content-Type", "application/json")
			}
			res, err := srv.Client(t, nil).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = res.Body.Close()
			if res.StatusCode != tc.wantStatus {
				t.Errorf("%s from %s: status %d, want %d", tc.method, tc.origin, res.StatusCode, tc.wantStatus)
			}
			for k, want := range tc.wantHeaders {
				if got := res.Header.Get(k); got != want {
					t.Errorf("%s from %s: %s = %q, want %q", tc.method, tc.origin, k, got, want)
				}
			}
		})
	}
}

// TestNewConnectHandler_ResourceMetadata serves the RFC 9728 document on
// the same port, without a token, and names it in challenges.
func TestNewConnectHandler_ResourceMetadata(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	meta := newMetadata(t)
	srv := serveConnect(t, iss, reports.WithResourceMetadata(meta))
	c := srv.Client(t, nil)
	req, err := http.NewRequestWithContext(testContext(t), "GET", srv.URL+meta.Path(), nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(b), `"resource":"https://reports.example.com"`) {
		t.Errorf("GET %s = %d %s, want the document", meta.Path(), res.StatusCode, b)
	}
	client := reportsv1connect.NewReportServiceClient(c, srv.URL)
	_, err = client.GetReport(testContext(t), connect.NewRequest(&reportsv1.GetReportRequest{Id: "r-1", Owner: "alice"}))
	var ce *connect.Error
	if !errors.As(err, &ce) || !strings.Contains(ce.Meta().Get("WWW-Authenticate"), `resource_metadata="`+meta.URL()+`"`) {
		t.Errorf("GetReport() error = %v, want a challenge naming %s", err, meta.URL())
	}
}

// TestNewConnectHandler_Options checks that NewConnectHandler refuses
// what it cannot honour, and NewServer refuses CORS.
func TestNewConnectHandler_Options(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	jwt := newJWT(t, iss, 0)
	bad := map[string]reports.Option{
		"Wildcard":    reports.WithCORS("*"),
		"Path":        reports.WithCORS("https://app.example.com/"),
		"UpperCase":   reports.WithCORS("https://App.example.com"),
		"DefaultPort": reports.WithCORS("https://app.example.com:443"),
		"UserInfo":    reports.WithCORS("https://u@app.example.com"),
		"Scheme":      reports.WithCORS("ftp://app.example.com"),
		"Empty":       reports.WithCORS(""),
		"GRPCOptions": reports.WithGRPCOptions(grpc.MaxRecvMsgSize(1 << 20)),
		"Health":      reports.WithHealth(health.NewServer()),
	}
	for name, opt := range bad {
		if _, err := reports.NewConnectHandler(jwt, opt); err == nil {
			t.Errorf("NewConnectHandler(%s) error = nil, want an error", name)
		}
	}
	for _, origin := range []string{"https://app.example.com", "http://127.0.0.1:8080", "http://[::1]:3000"} {
		if _, err := reports.NewConnectHandler(jwt, reports.WithCORS(origin)); err != nil {
			t.Errorf("NewConnectHandler(WithCORS(%q)) error = %v, want nil", origin, err)
		}
	}
	if _, err := reports.NewServer(jwt, reports.WithCORS("https://app.example.com")); err == nil {
		t.Error("NewServer(WithCORS) error = nil, want an error")
	}
}
