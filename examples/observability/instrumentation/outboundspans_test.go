package instrumentation_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/outbound"
)

// TestClientSpans_outbound: the token requests of package outbound are
// client spans under its own scope, with the HTTP client attributes and an
// error type when they fail, and never the client secret or a token. Not
// parallel: it sets the global provider.
func TestClientSpans_outbound(t *testing.T) {
	rec := recordSpans(t)
	ctx := context.Background()

	const secret = "orders-secret-value"
	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{Clients: []oauthtest.Client{{ID: "orders", Secret: secret}}})
	creds, err := outbound.ClientCredentials(outbound.Config{Issuer: iss.URL, InsecureAllowHTTP: true,
		Client: outbound.ClientSecretBasic("orders", secret), Resource: []string{"https://payments.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(creds.Close)
	tok, err := creds.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	failing, err := outbound.ClientCredentials(outbound.Config{Issuer: iss.URL, InsecureAllowHTTP: true,
		Client: outbound.ClientSecretBasic("orders", secret), Resource: []string{"https://ledger.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(failing.Close)
	iss.SetFault(oauthtest.EndpointToken, oauthtest.Fault{Status: http.StatusServiceUnavailable})
	if _, err := failing.Token(ctx); err == nil {
		t.Fatal("Token() with the token endpoint failing succeeded")
	}

	var posts []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		for _, a := range s.Attributes() {
			if v := a.Value.String(); strings.Contains(v, tok.AccessToken) || strings.Contains(v, secret) {
				t.Errorf("span %s attribute %s carries the token or the secret", s.Name(), a.Key)
			}
		}
		if s.InstrumentationScope().Name == "github.com/oauthgate/oauthgate/outbound" && s.Name() == "POST" {
			posts = append(posts, s)
		}
	}
	if len(posts) != 2 {
		t.Fatalf("outbound POST spans = %d, want 2", len(posts))
	}
	ok, failed := posts[0], posts[1]
	var okURL, failedType string
	for _, a := range ok.Attributes() {
		if a.Key == "url.full" {
			okURL = a.Value.AsString()
		}
	}
	for _, a := range failed.Attributes() {
		if a.Key == "error.type" {
			failedType = a.Value.AsString()
		}
	}
	if ok.SpanKind() != trace.SpanKindClient || okURL != iss.EndpointURL(oauthtest.EndpointToken) || ok.Status().Code == codes.Error {
		t.Errorf("token request span = %v %q %v", ok.SpanKind(), okURL, ok.Status())
	}
	if failedType != "503" || failed.Status().Code != codes.Error {
		t.Errorf("failed token request span: error.type %q, status %v; want 503", failedType, failed.Status())
	}
}
