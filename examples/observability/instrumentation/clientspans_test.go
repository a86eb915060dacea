package instrumentation_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/verify"
)

// TestClientSpans: every request verify makes to the authorization server
// (JWKS, discovery, introspection) is a client span of the global
// TracerProvider with the HTTP client attributes, an error type when it
// fails, and never the token, the form or the client secret. Not parallel:
// it sets the global provider.
func TestClientSpans(t *testing.T) {
	rec := recordSpans(t)
	ctx := context.Background()

	iss := oauthtest.NewIssuer(t)
	keys, err := verify.NewRemoteKeySet(verify.RemoteKeySetConfig{URL: iss.EndpointURL(oauthtest.EndpointJWKS), InsecureAllowHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = keys.Close() })
	if err := keys.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	intro, err := verify.NewIntrospection(verify.IntrospectionConfig{Endpoint: iss.EndpointURL(oauthtest.EndpointIntrospection), ClientID: iss.ClientID,
		ClientSecret: verify.Secret(iss.ClientSecret), Audiences: []string{oauthtest.DefaultAudience}, InsecureAllowHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	tok := iss.OpaqueToken(t, oauthtest.Token{Scopes: []string{"read"}})
	if _, err := intro.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	iss.SetFault(oauthtest.EndpointIntrospection, oauthtest.Fault{Status: http.StatusServiceUnavailable})
	if _, err := intro.Verify(ctx, iss.OpaqueToken(t)); err == nil {
		t.Fatal("Verify() with the endpoint failing succeeded")
	}

	byMethod := map[string][]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		if s.InstrumentationScope().Name == "github.com/oauthgate/oauthgate/verify" {
			byMethod[s.Name()] = append(byMethod[s.Name()], s)
		}
		for _, a := range s.Attributes() {
			v := a.Value.String()
			if strings.Contains(v, tok) || strings.Contains(v, iss.ClientSecret) {
				t.Errorf("span %s attribute %s carries the token or the secret", s.Name(), a.Key)
			}
		}
	}
	get, post := byMethod["GET"], byMethod["POST"]
	if len(get) == 0 || len(post) != 2 {
		t.Fatalf("client spans: %d GET, %d POST; want the JWKS fetch and two introspections", len(get), len(post))
	}
	attrs := func(s sdktrace.ReadOnlySpan) map[attribute.Key]string {
		m := map[attribute.Key]string{}
		for _, a := range s.Attributes() {
			m[a.Key] = a.Value.String()
		}
		return m
	}
	g := attrs(get[0])
	if get[0].SpanKind() != trace.SpanKindClient || g["url.full"] != iss.EndpointURL(oauthtest.EndpointJWKS) || g["http.request.method"] != "GET" ||
		g["http.response.status_code"] != "200" || g["server.address"] != "127.0.0.1" || g["server.port"] == "" {
		t.Errorf("JWKS span = %v %v", get[0].SpanKind(), g)
	}
	ok, failed := attrs(post[0]), attrs(post[1])
	if ok["http.response.status_code"] != "200" || post[0].Status().Code == codes.Error {
		t.Errorf("introspection span = %v, %v", ok, post[0].Status())
	}
	if failed["error.type"] != "503" || post[1].Status().Code != codes.Error {
		t.Errorf("failed introspection span = %v, %v; want error.type 503", failed, post[1].Status())
	}
}

// recordSpans makes a recorder the global TracerProvider's span processor
// until the test ends. Tests that call it must not be parallel.
func recordSpans(t *testing.T) *tracetest.SpanRecorder {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev); _ = tp.Shutdown(context.Background()) })
	return rec
}
