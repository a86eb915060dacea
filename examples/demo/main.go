package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oauthgate/oauthgate/examples/reports"
	"github.com/oauthgate/oauthgate/examples/reports/reportsv1"
	"github.com/oauthgate/oauthgate/interceptor"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/ssf"
	"github.com/oauthgate/oauthgate/verify"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// audience identifies the report service; the issuer puts it in every
// token's aud unless a scenario says otherwise.
const audience = "https://reports.example.com"

// ssfAudience identifies the report service's Shared Signals receiver.
const ssfAudience = "https://reports.example.com/ssf"

// unknownKeyCooldown is the demo's RemoteKeySetConfig.UnknownKeyCooldown,
// shortened from 30s so that the JWKS recovery scenario needs no long wait.
const unknownKeyCooldown = 100 * time.Millisecond

// streamInterval is the pause between ListReports messages in the
// mid-stream expiry scenario.
const streamInterval = 500 * time.Millisecond

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := Run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// A Result is one row of the demo's table.
type Result struct {
	// Call is the RPC and its argument, such as "GetReport alice/r-1" (the
	// report r-1 of its owner alice).
	Call string
	// Token describes the token the call carried; it is never the token.
	Token string
	// Code is the call's gRPC status code.
	Code codes.Code
	// Reason is the ErrorInfo reason of a failed call, or "".
	Reason string
	// Condition names the condition that denied a call with reason
	// CONDITION_NOT_MET (its ErrorInfo metadata "condition"), or is "".
	Condition string
	// Result summarizes a successful call, or is the status message.
	Result string
	// WWWAuthenticate is the www-authenticate header, or "".
	WWWAuthenticate string
}

// Run runs the demo: it starts the issuer and the service, makes every
// scenario's call, writes the table to w and returns its rows. Everything
// it starts is stopped before it returns. An error means the demo could not
// run, not that a call failed: failed calls are what it shows.
func Run(ctx context.Context, w io.Writer) ([]Result, error) {
	return run(ctx, w, nil)
}

// run is Run; onToken, if not nil, sees every token sent, so that a test
// can check none of them is printed.
func run(ctx context.Context, w io.Writer, onToken func(string)) (results []Result, err error) {
	iss, err := oauthtest.Start(oauthtest.IssuerConfig{Audience: []string{audience}})
	if err != nil {
		return nil, err
	}
	defer iss.Close()

	keys, err := verify.NewRemoteKeySet(verify.RemoteKeySetConfig{
		URL:                iss.EndpointURL(oauthtest.EndpointJWKS),
		InsecureAllowHTTP:  true, // the issuer listens on 127.0.0.1 only
		Timeout:            2 * time.Second,
		UnknownKeyCooldown: unknownKeyCooldown,
	})
	if err != nil {
		return nil, err
	}
	defer keys.Close()
	if err := keys.WaitReady(ctx); err != nil {
		return nil, err
	}
	// Continuous access evaluation: an in-process Shared Signals
	// transmitter pushes CAEP events to a receiver on 127.0.0.1; the
	// verifiers consult the Revocations on every call, and open streams
	// subscribe to them.
	tr, err := oauthtest.StartTransmitter()
	if err != nil {
		return nil, err
	}
	defer tr.Close()
	revocations, err := ssf.NewRevocations(ssf.RevocationsConfig{Retention: time.Hour})
	if err != nil {
		return nil, err
	}
	receiver, err := ssf.NewReceiver(revocations, ssf.Config{Issuer: tr.URL, Audience: ssfAudience, InsecureAllowHTTP: true})
	if err != nil {
		return nil, err
	}
	defer receiver.Close()
	push := httptest.NewServer(receiver)
	defer push.Close()

	// A leeway of 1ms (the default is 30s) lets the stream below end at
	// its token's exp within the demo's second.
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: iss.URL, Audiences: []string{audience}, Leeway: time.Millisecond,
		Revocations: revocations})
	if err != nil {
		return nil, err
	}
	opaque, err := verify.NewIntrospection(verify.IntrospectionConfig{
		Endpoint:          iss.EndpointURL(oauthtest.EndpointIntrospection),
		ClientID:          iss.ClientID,
		ClientSecret:      verify.Secret(iss.ClientSecret),
		Issuer:            iss.URL,
		Audiences:         []string{audience},
		InsecureAllowHTTP: true,
	})
	if err != nil {
		return nil, err
	}
	verifier, err := verify.ByShape(jwt, opaque)
	if err != nil {
		return nil, err
	}

	srv, err := reports.NewServer(verifier, reports.WithInterceptorOptions(interceptor.WithRevocations(revocations)))
	if err != nil {
		return nil, err
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	defer func() {
		srv.Stop()
		if serr := <-served; serr != nil && !errors.Is(serr, grpc.ErrServerStopped) && err == nil {
			err = serr
		}
	}()

	// Plaintext is acceptable only because both ends are on loopback in
	// this process; a real client uses TLS (see examples/client).
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	defer conn.Close()

	d := &demo{iss: iss, tr: tr, push: push.URL, reports: reportsv1.NewReportServiceClient(conn), health: healthpb.NewHealthClient(conn), onToken: onToken}
	if err := d.script(ctx); err != nil {
		return d.results, err
	}
	fmt.Fprintf(w, "issuer %s, report service %s\n\n", iss.URL, lis.Addr())
	if err := writeTable(w, d.results); err != nil {
		return d.results, err
	}
	return d.results, nil
}

// demo holds what the scenarios share.
type demo struct {
	iss     *oauthtest.Issuer
	tr      *oauthtest.Transmitter
	push    string // the receiver's push endpoint
	reports reportsv1.ReportServiceClient
	health  healthpb.HealthClient
	onToken func(string)
	results []Result
}

// aliceRead returns the options of a read:reports token for alice, plus
// extra.
func aliceRead(extra ...oauthtest.Token) []oauthtest.Token {
	return append([]oauthtest.Token{{Subject: reports.SubjectAlice, Scopes: []string{reports.ScopeRead}}}, extra...)
}

// aliceWrite returns the options of a write:reports token for alice.
func aliceWrite() []oauthtest.Token {
	return []oauthtest.Token{{Subject: reports.SubjectAlice, Scopes: []string{reports.ScopeWrite}}}
}

// script runs the scenarios in order; later ones depend on the reports
// earlier ones create and delete.
func (d *demo) script(ctx context.Context) error {
	c := d.reports
	aliceR1, bobR3 := getReport(c, reports.SubjectAlice, "r-1"), getReport(c, reports.SubjectBob, "r-3")
	steps := []struct {
		call, token string
		mint        func() (string, error) // nil: no token
		rpc         rpc
	}{
		{"GetReport alice/r-1", "none", nil, aliceR1},
		{"GetReport alice/r-1", "garbage", d.literal("this-is-not-a-token"), aliceR1},
		// RFC 6750 §2.1 allows one Bearer token; other schemes are malformed.
		{"GetReport alice/r-1", "Basic credentials", d.header("Basic YWxpY2U6c2VjcmV0"), aliceR1},
		{"GetReport alice/r-1", "alice read, expired 1h ago", d.jwt(aliceRead(oauthtest.Token{Lifetime: -time.Hour})...), aliceR1},
		{"GetReport alice/r-1", "alice read, aud: another API", d.jwt(aliceRead(oauthtest.Token{Audience: []string{"https://billing.example.com"}})...), aliceR1},
		{"CreateReport", "alice read", d.jwt(aliceRead()...), createReport(c)},
		{"CreateReport", "alice write", d.jwt(aliceWrite()...), createReport(c)},
		{"GetReport alice/r-1", "alice read", d.jwt(aliceRead()...), aliceR1},
		// OR rule: admin alone is enough to read, and the owner
		// condition lets an admin read another user's report.
		{"GetReport bob/r-3", "carol admin", d.jwt(oauthtest.Token{Subject: "carol", Scopes: []string{reports.ScopeAdmin}}), bobR3},
		// The scope check passes; the owner condition denies.
		{"GetReport bob/r-3", "alice read", d.jwt(aliceRead()...), bobR3},
		// Under her own name alice learns nothing of bob's ids.
		{"GetReport alice/r-3", "alice read", d.jwt(aliceRead()...), getReport(c, reports.SubjectAlice, "r-3")},
		// AND rule: write:reports AND admin.
		{"DeleteReport r-4", "alice write", d.jwt(aliceWrite()...), deleteReport(c, "r-4")},
		{"DeleteReport r-4", "root write+admin", d.jwt(oauthtest.Token{Subject: "root", Scopes: []string{reports.ScopeWrite, reports.ScopeAdmin}}), deleteReport(c, "r-4")},
		{"DeleteReport r-4", "root write+admin, MFA 1m ago", d.jwt(oauthtest.Token{
			Subject: "root",
			Scopes:  []string{reports.ScopeWrite, reports.ScopeAdmin},
			Claims: map[string]any{
				"acr":       reports.ACRMultiFactor,
				"auth_time": time.Now().Add(-time.Minute).Unix(),
			},
		}), deleteReport(c, "r-4")},
		// Public methods need no token: GetServerInfo in reports.proto,
		// health in Go (scopes.ForService), for load balancers.
		{"GetServerInfo", "none", nil, getServerInfo(c)},
		{"Health/Check", "none", nil, checkHealth(d.health)},
		{"UploadReports (3 msgs)", "alice write", d.jwt(aliceWrite()...), uploadReports(c)},
		{"ListReports", "alice read", d.jwt(aliceRead()...), listReports(c, 0)},
	}
	for _, s := range steps {
		if err := d.do(ctx, s.call, s.token, s.mint, s.rpc); err != nil {
			return err
		}
	}

	// A stream never outlives its token: this exp falls after the first
	// message and before the last, whatever the sub-second part of now.
	exp := time.Now().Add(600 * time.Millisecond).Truncate(time.Second).Add(time.Second)
	if err := d.do(ctx, fmt.Sprintf("ListReports every %s", streamInterval), "alice read, exp in ≤1.6s",
		d.jwt(aliceRead(oauthtest.Token{Expiry: exp})...), listReports(c, streamInterval)); err != nil {
		return err
	}

	// JWKS outage: the issuer rotates its key while its JWKS endpoint is
	// down. A token signed with the new key cannot be checked, which is
	// Unavailable (retry with the same token), not invalid_token; once the
	// endpoint is back, the same token is accepted.
	d.iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{Down: true})
	d.iss.RotateKeys()
	newKey, err := d.iss.MintToken(aliceRead()...)
	if err != nil {
		return err
	}
	if err := d.do(ctx, "GetReport alice/r-1", "alice read, new key, JWKS down", d.literal(newKey), aliceR1); err != nil {
		return err
	}
	d.iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{})
	time.Sleep(unknownKeyCooldown + 50*time.Millisecond) // one fetch per cooldown
	if err := d.do(ctx, "GetReport alice/r-1", "alice read, new key, JWKS back", d.literal(newKey), aliceR1); err != nil {
		return err
	}

	// Tokens that are not JWTs go to introspection.
	if err := d.do(ctx, "GetReport alice/r-1", "opaque alice read", d.opaque(false), aliceR1); err != nil {
		return err
	}
	if err := d.do(ctx, "GetReport alice/r-1", "opaque alice read, revoked", d.opaque(true), aliceR1); err != nil {
		return err
	}

	// The identity provider revokes alice's session while her stream
	// runs: the CAEP session-revoked event it pushes ends the stream at
	// once, not at the token's exp an hour away.
	pushed := make(chan error, 1)
	go func() {
		time.Sleep(revokeAfter)
		pushed <- d.revokeSession(ctx, reports.SubjectAlice)
	}()
	if err := d.do(ctx, fmt.Sprintf("ListReports every %s", streamInterval), "alice read, session revoked",
		d.jwt(aliceRead(oauthtest.Token{Claims: map[string]any{"iat": time.Now().Add(-time.Second).Unix()}})...),
		listReports(c, streamInterval)); err != nil {
		return err
	}
	return <-pushed
}

// revokeAfter is when, after the revoked stream starts, the event is
// pushed: after its first message, well before its last.
const revokeAfter = 700 * time.Millisecond

// revokeSession pushes a CAEP session-revoked event for sub, as an
// identity provider would.
func (d *demo) revokeSession(ctx context.Context, sub string) error {
	set, err := d.tr.MintSET(oauthtest.Event{Audience: ssfAudience, Type: ssf.SessionRevoked, Subject: oauthtest.IssSub(d.iss.URL, sub)})
	if err != nil {
		return err
	}
	status, body, err := d.tr.PushContext(ctx, d.push, set)
	if err == nil && status != http.StatusAccepted {
		err = fmt.Errorf("push of session-revoked: %d %s", status, body)
	}
	return err
}

// jwt mints a JWT access token when the step runs.
func (d *demo) jwt(opts ...oauthtest.Token) func() (string, error) {
	return func() (string, error) { return d.iss.MintToken(opts...) }
}

// opaque mints an opaque token for alice, revoked at once if revoke is set.
func (d *demo) opaque(revoke bool) func() (string, error) {
	return func() (string, error) {
		tok, err := d.iss.MintOpaque(aliceRead()...)
		if err == nil && revoke {
			d.iss.Revoke(tok)
		}
		return tok, err
	}
}

// literal sends tok as a Bearer token.
func (d *demo) literal(tok string) func() (string, error) {
	return func() (string, error) { return tok, nil }
}

// header sends value as the whole authorization header: the prefix
// "header:" tells do not to add "Bearer ".
func (d *demo) header(value string) func() (string, error) {
	return func() (string, error) { return "header:" + value, nil }
}

// do runs one scenario and records its row. It returns an error only when
// the scenario could not run.
func (d *demo) do(ctx context.Context, call, token string, mint func() (string, error), rpc rpc) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if mint != nil {
		tok, err := mint()
		if err != nil {
			return fmt.Errorf("%s: minting %q token: %w", call, token, err)
		}
		auth, raw := strings.CutPrefix(tok, "header:")
		if !raw {
			auth = "Bearer " + tok // RFC 6750 §2.1
		}
		if d.onToken != nil {
			d.onToken(tok)
		}
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", auth)
	}
	var hdr, trl metadata.MD
	// Errors are trailers-only responses, which grpc-go clients read as
	// header and trailer alike; mid-stream errors have only the trailer.
	result, err := rpc(ctx, grpc.Header(&hdr), grpc.Trailer(&trl))
	d.record(call, token, result, err, hdr, trl)
	return nil
}

// record appends the row of one call.
func (d *demo) record(call, token, result string, err error, hdr, trl metadata.MD) {
	st := status.Convert(err)
	r := Result{Call: call, Token: token, Code: st.Code(), Result: result}
	if err != nil {
		r.Result = st.Message()
		if result != "" {
			r.Result = result + ", then: " + st.Message()
		}
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			r.Reason, r.Condition = info.GetReason(), info.GetMetadata()["condition"]
		}
	}
	if v := append(hdr.Get("www-authenticate"), trl.Get("www-authenticate")...); len(v) > 0 {
		r.WWWAuthenticate = v[0]
	}
	d.results = append(d.results, r)
}

// An rpc makes one call with opts and summarizes its answer. On a stream
// that fails after some messages it returns both a summary and the error.
type rpc func(ctx context.Context, opts ...grpc.CallOption) (string, error)

// getReport reads the report id of owner.
func getReport(c reportsv1.ReportServiceClient, owner, id string) rpc {
	return func(ctx context.Context, opts ...grpc.CallOption) (string, error) {
		resp, err := c.GetReport(ctx, &reportsv1.GetReportRequest{Owner: owner, Id: id}, opts...)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%q, owner %s", resp.GetReport().GetTitle(), resp.GetReport().GetOwner()), nil
	}
}

func createReport(c reportsv1.ReportServiceClient) rpc {
	return func(ctx context.Context, opts ...grpc.CallOption) (string, error) {
		resp, err := c.CreateReport(ctx, &reportsv1.CreateReportRequest{Title: "Q3 sales", Body: "Up 2%."}, opts...)
		if err != nil {
			return "", err
		}
		return "created " + resp.GetReport().GetId() + ", owner " + resp.GetReport().GetOwner(), nil
	}
}

func deleteReport(c reportsv1.ReportServiceClient, id string) rpc {
	return func(ctx context.Context, opts ...grpc.CallOption) (string, error) {
		if _, err := c.DeleteReport(ctx, &reportsv1.DeleteReportRequest{Id: id}, opts...); err != nil {
			return "", err
		}
		return "deleted " + id, nil
	}
}

func getServerInfo(c reportsv1.ReportServiceClient) rpc {
	return func(ctx context.Context, opts ...grpc.CallOption) (string, error) {
		resp, err := c.GetServerInfo(ctx, &reportsv1.GetServerInfoRequest{}, opts...)
		if err != nil {
			return "", err
		}
		return resp.GetName() + " " + resp.GetVersion(), nil
	}
}

func checkHealth(c healthpb.HealthClient) rpc {
	return func(ctx context.Context, opts ...grpc.CallOption) (string, error) {
		resp, err := c.Check(ctx, &healthpb.HealthCheckRequest{}, opts...)
		if err != nil {
			return "", err
		}
		return resp.GetStatus().String(), nil
	}
}

// uploadReports is the client-streaming call.
func uploadReports(c reportsv1.ReportServiceClient) rpc {
	return func(ctx context.Context, opts ...grpc.CallOption) (string, error) {
		stream, err := c.UploadReports(ctx, opts...)
		if err != nil {
			return "", err
		}
		for _, title := range []string{"Week 1", "Week 2", "Week 3"} {
			// Send reports only io.EOF when the server has ended the
			// stream; CloseAndRecv then returns the real status.
			if err := stream.Send(&reportsv1.UploadReportsRequest{Title: title}); err != nil {
				break
			}
		}
		resp, err := stream.CloseAndRecv()
		if err != nil {
			return "", err
		}
		return "stored " + strings.Join(resp.GetIds(), " "), nil
	}
}

// listReports is the server-streaming call, with interval between
// messages.
func listReports(c reportsv1.ReportServiceClient, interval time.Duration) rpc {
	return func(ctx context.Context, opts ...grpc.CallOption) (string, error) {
		stream, err := c.ListReports(ctx, &reportsv1.ListReportsRequest{IntervalMs: int32(interval.Milliseconds())}, opts...)
		if err != nil {
			return "", err
		}
		var ids []string
		for {
			resp, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				return fmt.Sprintf("%d reports: %s", len(ids), strings.Join(ids, " ")), nil
			}
			if err != nil {
				if len(ids) == 0 {
					return "", err
				}
				return fmt.Sprintf("%d reports", len(ids)), err
			}
			ids = append(ids, resp.GetReport().GetId())
		}
	}
}

// wrap writes text after first, breaking it after ", " into lines of at
// most maxWidth columns that start with next.
func wrap(first, next, text string) string {
	var b strings.Builder
	line := first
	for i, part := range strings.SplitAfter(text, ", ") {
		if i > 0 && utf8.RuneCountInString(line)+utf8.RuneCountInString(part) > maxWidth {
			b.WriteString(strings.TrimRight(line, " ") + "\n")
			line = next
		}
		line += part
	}
	b.WriteString(line + "\n")
	return b.String()
}

// maxWidth is the widest line the table may print: it must fit a
// 100-column terminal.
const maxWidth = 100

// writeTable prints the results as an aligned table that fits maxWidth
// columns: one line per call with its code and reason, then, indented, the
// status message or result and the www-authenticate challenge. The
// challenge's error_description repeats the status message, so it is left
// out.
func writeTable(w io.Writer, results []Result) error {
	headers := [4]string{"#", "CALL", "TOKEN", "CODE"}
	width := [4]int{}
	rows := make([][5]string, len(results))
	for i, r := range results {
		reason := r.Reason
		if r.Condition != "" {
			reason += " condition=" + r.Condition
		}
		rows[i] = [5]string{strconv.Itoa(i + 1), r.Call, r.Token, r.Code.String(), reason}
	}
	for c, h := range headers {
		width[c] = utf8.RuneCountInString(h)
		for _, row := range rows {
			width[c] = max(width[c], utf8.RuneCountInString(row[c]))
		}
	}
	var b strings.Builder
	cell := func(s string, c int) {
		b.WriteString(s)
		b.WriteString(strings.Repeat(" ", width[c]-utf8.RuneCountInString(s)+2))
	}
	for c, h := range headers {
		cell(h, c)
	}
	b.WriteString("REASON\n")
	for i, row := range rows {
		start := b.Len()
		for c := range headers {
			cell(row[c], c)
		}
		indent := strings.Repeat(" ", width[0]+2)
		if utf8.RuneCountInString(b.String()[start:])+len(row[4]) > maxWidth {
			b.WriteString("\n" + indent + "reason: ") // a long reason gets a line of its own
		}
		b.WriteString(row[4] + "\n")
		if r := results[i].Result; r != "" {
			b.WriteString(indent + r + "\n")
		}
		if ch := challengeWithoutDescription(results[i].WWWAuthenticate); ch != "" {
			b.WriteString(wrap(indent+"challenge: ", indent+"  ", ch))
		}
	}
	for line := range strings.Lines(b.String()) {
		if _, err := io.WriteString(w, strings.TrimRight(line, " \n")+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// challengeWithoutDescription drops the error_description parameter from a
// www-authenticate value. The interceptor's descriptions never contain a
// quote, so the parameter ends at the next quote.
func challengeWithoutDescription(ch string) string {
	const param = `, error_description="`
	i := strings.Index(ch, param)
	if i < 0 {
		return ch
	}
	j := strings.IndexByte(ch[i+len(param):], '"')
	if j < 0 {
		return ch
	}
	return ch[:i] + ch[i+len(param)+j+1:]
}
