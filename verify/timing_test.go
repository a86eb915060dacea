package verify

import (
	"context"
	"maps"
	"testing"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/oauthgate/oauthgate/oauthtest"
)

// recordingProvider is a meter provider whose verification histogram
// counts its measurements by verifier kind and cache hit; every other
// instrument records nothing.
type recordingProvider struct {
	noop.MeterProvider
	hist *recordingHistogram
}

func (p *recordingProvider) Meter(string, ...metric.MeterOption) metric.Meter {
	return recordingMeter{hist: p.hist}
}

type recordingMeter struct {
	noop.Meter
	hist *recordingHistogram
}

func (m recordingMeter) Float64Histogram(name string, _ ...metric.Float64HistogramOption) (metric.Float64Histogram, error) {
	if name != metricVerify {
		return noop.Float64Histogram{}, nil
	}
	return m.hist, nil
}

type timedKey struct {
	kind, result string
	hit          bool
}

type recordingHistogram struct {
	noop.Float64Histogram
	timed map[timedKey]int
}

func (h *recordingHistogram) Enabled(context.Context) bool { return true }

func (h *recordingHistogram) Record(_ context.Context, _ float64, opts ...metric.RecordOption) {
	attrs := metric.NewRecordConfig(opts).Attributes()
	kind, _ := attrs.Value(keyVerifier)
	result, _ := attrs.Value(keyResult)
	hit, _ := attrs.Value(keyCacheHit)
	h.timed[timedKey{kind.AsString(), result.AsString(), hit.AsBool()}]++
}

// TestVerifyTiming checks the verification duration the JWT and
// introspection verifiers record, also behind Issuers and ByShape: every
// verification they made (cache misses and failures), and cache hits only
// when sampled, by kind, result and cache hit.
func TestVerifyTiming(t *testing.T) {
	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{ClientID: "rs", ClientSecret: "secret", InMemory: true})
	keys, err := NewStaticKeySet(iss.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	hist := &recordingHistogram{timed: map[timedKey]int{}}
	mp := &recordingProvider{hist: hist}
	jwt, err := NewJWT(keys, JWTConfig{Issuer: iss.URL, Audiences: []string{oauthtest.DefaultAudience}, MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	intro, err := NewIntrospection(IntrospectionConfig{Endpoint: iss.EndpointURL(oauthtest.EndpointIntrospection), ClientID: "rs", ClientSecret: "secret",
		Issuer: iss.URL, Audiences: []string{oauthtest.DefaultAudience}, HTTPClient: iss.Client(), MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	asked := 0
	sampler := func() bool { asked++; return asked%4 == 0 }
	jwt.timing.sampled, intro.timing.sampled = sampler, sampler
	issuers, err := NewIssuers(jwt)
	if err != nil {
		t.Fatal(err)
	}
	shape, err := ByShape(jwt, intro)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	jwtToken, opaque := iss.Token(t), iss.OpaqueToken(t)
	for _, call := range []struct {
		v     Verifier
		token string
	}{{jwt, jwtToken}, {issuers, jwtToken}, {shape, jwtToken}, {shape, opaque}, {intro, opaque}} {
		for range 4 {
			if _, err := call.v.Verify(ctx, call.token); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := jwt.Verify(ctx, "not.a.token"); err == nil {
		t.Fatal("Verify(garbage) succeeded")
	}
	// The JWT verifier answers 12 calls for one token, the first a miss,
	// the introspection verifier 8, the first a miss: 18 hits asked the
	// sampler, in this order, and it said yes to the 4th, 8th (JWT), 12th
	// and 16th (introspection).
	want := map[timedKey]int{
		{"jwt", "ok", false}:            1,
		{"jwt", "ok", true}:             2,
		{"jwt", "invalid_token", false}: 1,
		{"introspection", "ok", false}:  1,
		{"introspection", "ok", true}:   2,
	}
	if asked != 18 {
		t.Errorf("the sampler was asked %d times, want 18 (once per cache hit, never for a miss)", asked)
	}
	if !maps.Equal(hist.timed, want) {
		t.Errorf("timed verifications = %v, want %v", hist.timed, want)
	}
}
