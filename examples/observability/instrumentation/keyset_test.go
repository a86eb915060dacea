package instrumentation_test

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/verify"
)

// TestRemoteKeySet_Metrics follows a key set's instruments through a
// first fetch, unknown-kid fetches, a cooldown rejection and failed
// fetches. The key set's clock is an oauthtest.Clock; its background
// refresh never runs during the test. It runs in a synctest bubble, so
// that synctest.Wait lets each fetch finish completely (the single-flight
// forgets it) before the next call.
func TestRemoteKeySet_Metrics(t *testing.T) { synctest.Test(t, testRemoteKeySetMetrics) }

func testRemoteKeySetMetrics(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	clock := oauthtest.NewClock(time.Now())
	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{Now: clock.Now, InMemory: true})
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	// The refresh is an hour away, in fake and real time: the test's
	// clock.Advance calls never make it due.
	const maxStale, refresh, cooldown = 2 * time.Hour, time.Hour, 30 * time.Second
	keys, err := verify.NewRemoteKeySet(verify.RemoteKeySetConfig{URL: iss.EndpointURL(oauthtest.EndpointJWKS), HTTPClient: iss.Client(),
		MinRefresh: refresh, MaxRefresh: refresh, MaxStale: maxStale, UnknownKeyCooldown: cooldown, Now: clock.Now, MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Close()

	collect := func() map[string]float64 {
		t.Helper()
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(ctx, &rm); err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				switch d := m.Data.(type) {
				case metricdata.Sum[int64]:
					for _, dp := range d.DataPoints {
						name := m.Name
						if r, ok := dp.Attributes.Value("oauthgate.result"); ok {
							name += " " + r.AsString()
						}
						if ks, _ := dp.Attributes.Value("oauthgate.key_set"); ks.AsString() != iss.EndpointURL(oauthtest.EndpointJWKS) {
							t.Errorf("%s: oauthgate.key_set = %q, want %q", m.Name, ks.AsString(), iss.EndpointURL(oauthtest.EndpointJWKS))
						}
						got[name] += float64(dp.Value)
					}
				case metricdata.Gauge[int64]:
					for _, dp := range d.DataPoints {
						got[m.Name] = float64(dp.Value)
					}
				case metricdata.Gauge[float64]:
					for _, dp := range d.DataPoints {
						got[m.Name] = dp.Value
					}
				}
			}
		}
		return got
	}
	expect := func(step string, want map[string]float64) {
		t.Helper()
		got := collect()
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s = %v, want %v (all: %v)", step, k, got[k], v, got)
			}
		}
	}

	if got := collect(); len(got) != 0 {
		t.Errorf("before any fetch: %v, want no values", got)
	}
	if err := keys.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	synctest.Wait()
	clock.Advance(time.Minute)
	expect("loaded", map[string]float64{
		"oauthgate.jwks.fetches ok":    1,
		"oauthgate.jwks.keys":          float64(len(iss.JWKS().Keys)),
		"oauthgate.jwks.age":           60,
		"oauthgate.jwks.time_to_stale": (maxStale - time.Minute).Seconds(),
	})

	if _, err := keys.Keys(ctx, "made-up-1"); err == nil {
		t.Fatal("Keys(made-up-1) error = nil")
	}
	synctest.Wait()
	if _, err := keys.Keys(ctx, "made-up-2"); err == nil {
		t.Fatal("Keys(made-up-2) error = nil")
	}
	expect("unknown kids", map[string]float64{
		"oauthgate.jwks.fetches ok":          2,
		"oauthgate.jwks.unknown_kid_fetches": 1,
		"oauthgate.jwks.cooldown_rejections": 1,
		"oauthgate.jwks.age":                 0,
	})

	iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{Status: http.StatusInternalServerError})
	clock.Advance(cooldown)
	_, _ = keys.Keys(ctx, "made-up-3")
	synctest.Wait()
	iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{Down: true})
	clock.Advance(cooldown)
	_, _ = keys.Keys(ctx, "made-up-4")
	expect("outage", map[string]float64{
		"oauthgate.jwks.fetches http_status": 1,
		"oauthgate.jwks.fetches error":       1,
		"oauthgate.jwks.unknown_kid_fetches": 3,
		"oauthgate.jwks.age":                 (2 * cooldown).Seconds(),
	})
}
