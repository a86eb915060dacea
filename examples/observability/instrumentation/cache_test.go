package instrumentation_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/verify"
)

// cacheValues reads the oauthgate.cache.* instruments by "name cache".
func cacheValues(t *testing.T, reader *sdkmetric.ManualReader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			var points []metricdata.DataPoint[int64]
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				points = d.DataPoints
			case metricdata.Gauge[int64]:
				points = d.DataPoints
			}
			for _, dp := range points {
				c, _ := dp.Attributes.Value("oauthgate.cache")
				got[m.Name+" "+c.AsString()] += dp.Value
			}
		}
	}
	return got
}

func TestCache_Metrics(t *testing.T) {
	const size = 16 // one entry per shard
	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{ClientID: "rs", ClientSecret: "secret", InMemory: true})
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	keys, err := verify.NewStaticKeySet(iss.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: iss.URL, Audiences: []string{oauthtest.DefaultAudience},
		CacheSize: size, MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	intro, err := verify.NewIntrospection(verify.IntrospectionConfig{Endpoint: iss.EndpointURL(oauthtest.EndpointIntrospection), ClientID: "rs",
		ClientSecret: "secret", Issuer: iss.URL, Audiences: []string{oauthtest.DefaultAudience}, HTTPClient: iss.Client(), MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	verifyOK := func(v verify.Verifier, tok string) {
		t.Helper()
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	hot := iss.Token(t)
	verifyOK(jwt, hot)
	verifyOK(jwt, hot)
	const distinct = 4 * size
	for range distinct {
		verifyOK(jwt, iss.Token(t))
	}
	opaque := iss.OpaqueToken(t)
	verifyOK(intro, opaque)
	verifyOK(intro, opaque)
	verifyOK(intro, opaque)

	got := cacheValues(t, reader)
	for k, want := range map[string]int64{
		"oauthgate.cache.hits jwt":                1,
		"oauthgate.cache.misses jwt":              1 + distinct,
		"oauthgate.cache.hits introspection":      2,
		"oauthgate.cache.misses introspection":    1,
		"oauthgate.cache.entries introspection":   1,
		"oauthgate.cache.evictions introspection": 0,
	} {
		if got[k] != want {
			t.Errorf("%s = %d, want %d (all: %v)", k, got[k], want, got)
		}
	}
	// Every insert beyond the bound evicted one entry.
	if n, ev := got["oauthgate.cache.entries jwt"], got["oauthgate.cache.evictions jwt"]; n > size || n+ev != 1+distinct {
		t.Errorf("jwt cache: %d entries and %d evictions after %d inserts into %d slots", n, ev, 1+distinct, size)
	}
	if got["oauthgate.cache.bytes jwt"] <= 0 {
		t.Errorf("oauthgate.cache.bytes jwt = %d, want > 0", got["oauthgate.cache.bytes jwt"])
	}
}

func TestIntrospection_RequestMetrics(t *testing.T) {
	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{ClientID: "rs", ClientSecret: "secret", InMemory: true})
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	intro, err := verify.NewIntrospection(verify.IntrospectionConfig{Endpoint: iss.EndpointURL(oauthtest.EndpointIntrospection), ClientID: "rs",
		ClientSecret: "secret", Issuer: iss.URL, Audiences: []string{oauthtest.DefaultAudience}, HTTPClient: iss.Client(), MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	active := iss.OpaqueToken(t)
	for range 2 {
		if _, err := intro.Verify(ctx, active); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := intro.Verify(ctx, "unknown-opaque-token"); !errors.Is(err, verify.ErrInvalidToken) {
		t.Fatalf("Verify(unknown) error = %v, want ErrInvalidToken", err)
	}
	iss.SetFault(oauthtest.EndpointIntrospection, oauthtest.Fault{Status: http.StatusBadGateway})
	if _, err := intro.Verify(ctx, iss.OpaqueToken(t)); !errors.Is(err, verify.ErrUnavailable) {
		t.Fatalf("Verify() during the outage error = %v, want ErrUnavailable", err)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	requests, durations := map[string]int64{}, map[string]uint64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				if m.Name == "oauthgate.introspection.requests" {
					for _, dp := range d.DataPoints {
						r, _ := dp.Attributes.Value("oauthgate.result")
						requests[r.AsString()] += dp.Value
					}
				}
			case metricdata.Histogram[float64]:
				if m.Name == "oauthgate.introspection.duration" {
					for _, dp := range d.DataPoints {
						r, _ := dp.Attributes.Value("oauthgate.result")
						durations[r.AsString()] += dp.Count
					}
				}
			}
		}
	}
	want := map[string]int64{"active": 1, "inactive": 1, "http_status": 1}
	for r, n := range want {
		if requests[r] != n || durations[r] != uint64(n) {
			t.Errorf("result %s: %d requests, %d durations, want %d (all: %v, %v)", r, requests[r], durations[r], n, requests, durations)
		}
	}
	if len(requests) != len(want) {
		t.Errorf("requests = %v, want %v", requests, want)
	}
}
