package serve

import (
	"context"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/oauthgate/oauthgate/examples/reports"
	"github.com/oauthgate/oauthgate/examples/reports/reportsv1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/ssf"
)

// TestRun_SharedSignals serves the push endpoint of -ssf-transmitter:
// after a session-revoked event, alice's token issued before it is
// refused, a newer one works, and bob's is untouched.
func TestRun_SharedSignals(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	tr := oauthtest.NewTransmitter(t)
	const audience = "https://reports.example.com/ssf"
	addrs := start(t, Command{}, "-issuer", iss.URL, "-insecure-http", "-audience", oauthtest.DefaultAudience,
		"-ssf-transmitter", tr.URL, "-ssf-audience", audience, "-ssf-addr", "127.0.0.1:0")
	client := reportsv1.NewReportServiceClient(oauthtest.DialGRPC(t, addrs[listenerGRPC], grpc.WithTransportCredentials(insecure.NewCredentials())))
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	now := time.Now()
	token := func(sub string, iat time.Time) string {
		return iss.Token(t, oauthtest.Token{Subject: sub, Scopes: []string{reports.ScopeRead}, Claims: map[string]any{"iat": iat.Unix()}})
	}
	old, bob := token(reports.SubjectAlice, now.Add(-10*time.Second)), token("bob", now.Add(-10*time.Second))
	get := func(tok string) error {
		_, err := client.GetReport(ctx, &reportsv1.GetReportRequest{Owner: reports.SubjectAlice, Id: "r-1"}, oauthtest.Bearer(tok))
		return err
	}
	if err := get(old); err != nil {
		t.Fatalf("GetReport(alice) before the event = %v", err)
	}
	set := tr.SET(t, oauthtest.Event{Audience: audience, Type: ssf.SessionRevoked, Time: now.Add(-5 * time.Second),
		Subject: oauthtest.IssSub(iss.URL, reports.SubjectAlice)})
	if code, body := tr.Push(t, "http://"+addrs[listenerSSF]+"/ssf/events", set); code != http.StatusAccepted {
		t.Fatalf("Push() = %d %s, want 202", code, body)
	}
	if err := get(old); status.Code(err) != codes.Unauthenticated {
		t.Errorf("GetReport(alice's token from before the event) = %v, want Unauthenticated", err)
	}
	if err := get(token(reports.SubjectAlice, now)); err != nil {
		t.Errorf("GetReport(alice's token from after the event) = %v", err)
	}
	if err := get(bob); status.Code(err) == codes.Unauthenticated {
		t.Errorf("GetReport(bob) = %v, want bob's token accepted", err)
	}
}
