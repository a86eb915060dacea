package redisstore_test

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valkey-io/valkey-go"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/oauthgate/oauthgate/readiness"
	"github.com/oauthgate/oauthgate/redisstore"
)

// A Store joins a readiness.Watcher.
var _ readiness.Prober = (*redisstore.Store)(nil)

func TestNew_Errors(t *testing.T) {
	t.Parallel()
	client := newClient(t, shared)
	tests := map[string]struct {
		client valkey.Client
		cfg    redisstore.Config
		want   string
	}{
		"NilClient":     {nil, redisstore.Config{Secret: testSecret}, "client is nil"},
		"NoSecret":      {client, redisstore.Config{}, "Config.Secret"},
		"ShortSecret":   {client, redisstore.Config{Secret: testSecret[:31]}, "Config.Secret"},
		"LongPrefix":    {client, redisstore.Config{Secret: testSecret, Prefix: strings.Repeat("p", 65)}, "Config.Prefix"},
		"NegativeLimit": {client, redisstore.Config{Secret: testSecret, Timeout: -1}, "Config.Timeout"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := redisstore.New(tc.client, tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New() = %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

// TestNew_Limits: a configuration at each limit works, and the default
// round-trip timeout lets commands through.
func TestNew_Limits(t *testing.T) {
	t.Parallel()
	client := newClient(t, shared)
	atLimits, err := redisstore.New(client, redisstore.Config{Secret: testSecret[:32], Prefix: strings.Repeat("p", 64), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("New(a 32-byte secret, a 64-byte prefix) = %v", err)
	}
	ctx := testContext(t)
	var key [32]byte
	_, _ = rand.Read(key[:])
	for i, want := range []bool{false, true} {
		if replayed, err := atLimits.Record(ctx, key, time.Minute); replayed != want || err != nil {
			t.Fatalf("Record() #%d = %v, %v; want replayed %v", i+1, replayed, err, want)
		}
	}
	if n := strings.Fields(keys(t, strings.Repeat("p", 64)+"r:*")); len(n) == 0 {
		t.Fatal("no entry under the 64-byte prefix")
	}

	// The 50 ms default: a loaded machine can miss it now and then, so
	// the check is that a round trip gets through at all.
	byDefault, err := redisstore.New(client, redisstore.Config{Secret: testSecret, Prefix: "default-timeout:"})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "a Probe within the default timeout", func() bool { return byDefault.Probe(ctx) == nil })
}

// TestRecord: a proof's entry is recorded once, with PX for its ttl,
// under the prefix and the hex HMAC of its digest, never the digest;
// another Secret names it differently.
func TestRecord(t *testing.T) {
	t.Parallel()
	s, prefix := newStore(t, nil, nil)
	ctx := testContext(t)
	key := sha256.Sum256([]byte("jkt\x00jti-1"))
	for i, want := range []bool{false, true, true} {
		replayed, err := s.Record(ctx, key, 65*time.Second)
		if err != nil || replayed != want {
			t.Fatalf("Record() #%d = %v, %v, want %v", i+1, replayed, err, want)
		}
	}
	names := strings.Fields(strings.ReplaceAll(keys(t, prefix+"*"), "\n", " "))
	if len(names) != 1 || !strings.HasPrefix(names[0], prefix+"r:") || len(names[0]) != len(prefix)+2+64 {
		t.Fatalf("entries = %q, want one %sr:<64 hex>", names, prefix)
	}
	if strings.Contains(names[0], strings.ToLower(hexString(key[:]))) {
		t.Errorf("entry %s names the digest itself", names[0])
	}
	pttl, _ := strconv.Atoi(shared.MustCommand(t, "PTTL", names[0]))
	if pttl <= 60_000 || pttl > 65_000 {
		t.Errorf("PTTL = %d ms, want about 65000", pttl)
	}
	other, _ := newStore(t, nil, func(c *redisstore.Config) {
		c.Prefix, c.Secret = prefix, []byte("another secret of at least 32 bytes")
	})
	if replayed, err := other.Record(ctx, key, time.Minute); err != nil || replayed {
		t.Errorf("Record() under another Secret = %v, %v, want a new entry", replayed, err)
	}
}

// TestRecord_Concurrent: of 32 concurrent records of one proof through
// three clients, exactly one is not a replay.
func TestRecord_Concurrent(t *testing.T) {
	t.Parallel()
	first, prefix := newStore(t, nil, nil)
	stores := []*redisstore.Store{first}
	for range 2 {
		s, _ := newStore(t, nil, func(c *redisstore.Config) { c.Prefix = prefix })
		stores = append(stores, s)
	}
	ctx := testContext(t)
	key := sha256.Sum256([]byte("jkt\x00concurrent"))
	var fresh atomic.Int32
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			replayed, err := stores[i%3].Record(ctx, key, time.Minute)
			if err != nil {
				t.Errorf("Record() = %v", err)
			}
			if !replayed {
				fresh.Add(1)
			}
		})
	}
	wg.Wait()
	if fresh.Load() != 1 {
		t.Errorf("%d of 32 concurrent records were new, want 1", fresh.Load())
	}
}

// TestIntrospectionCache: values round-trip with PX; a value that lacks
// the tag of its key under the Secret (written by someone without it,
// damaged, or moved from another key) is absent; locks are exclusive
// until unlocked or expired.
func TestIntrospectionCache(t *testing.T) {
	t.Parallel()
	s, prefix := newStore(t, nil, nil)
	ctx := testContext(t)
	k1, k2 := sha256.Sum256([]byte("token 1")), sha256.Sum256([]byte("token 2"))
	if v, err := s.Get(ctx, k1); v != nil || err != nil {
		t.Fatalf("Get(absent) = %q, %v, want nil, nil", v, err)
	}
	value := []byte(`{"active":true,"sub":"alice"}`)
	if err := s.Set(ctx, k1, value, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get(ctx, k1); string(v) != string(value) || err != nil {
		t.Fatalf("Get() = %q, %v, want %q", v, err, value)
	}
	name := strings.TrimSpace(keys(t, prefix+"i:*"))
	if pttl, _ := strconv.Atoi(shared.MustCommand(t, "PTTL", name)); pttl <= 4000 || pttl > 5000 {
		t.Errorf("PTTL = %d ms, want about 5000", pttl)
	}

	// Move k1's value, tag and all, to k2's name: its tag is for k1.
	if err := s.Set(ctx, k2, value, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	name2 := ""
	for _, n := range strings.Fields(keys(t, prefix+"i:*")) {
		if n != name {
			name2 = n
		}
	}
	shared.MustCommand(t, "COPY", name, name2, "REPLACE")
	if v, err := s.Get(ctx, k2); v != nil || err != nil {
		t.Fatalf("Get(k2) holding k1's tagged value = %q, %v, want nil, nil: the tag binds the key", v, err)
	}
	// An empty value is a value: Get tells it from an absent one.
	if err := s.Set(ctx, k1, []byte{}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get(ctx, k1); v == nil || len(v) != 0 || err != nil {
		t.Fatalf("Get(empty value) = %q (nil: %v), %v; want an empty, non-nil value", v, v == nil, err)
	}
	for what, raw := range map[string]string{
		"Forged":    `{"active":true,"sub":"mallory"}` + strings.Repeat("x", 32),
		"Short":     "x",
		"Truncated": "",
	} {
		shared.MustCommand(t, "SET", name, raw)
		if v, err := s.Get(ctx, k1); v != nil || err != nil {
			t.Errorf("Get(%s value) = %q, %v, want nil, nil", what, v, err)
		}
	}

	for i, want := range []bool{true, false} {
		if ok, err := s.Lock(ctx, k1, time.Second); ok != want || err != nil {
			t.Fatalf("Lock() #%d = %v, %v, want %v", i+1, ok, err, want)
		}
	}
	if err := s.Unlock(ctx, k1); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Lock(ctx, k1, 50*time.Millisecond); !ok || err != nil {
		t.Fatalf("Lock() after Unlock = %v, %v, want true", ok, err)
	}
	eventually(t, "lock expires", func() bool { ok, _ := s.Lock(ctx, k1, time.Second); return ok })
}

// TestReady: a store is not ready until a round trip succeeds; Probe is
// one.
func TestReady(t *testing.T) {
	t.Parallel()
	s, prefix := newStore(t, nil, nil)
	if s.Ready() {
		t.Fatal("Ready() before any round trip = true")
	}
	if err := s.Probe(testContext(t)); err != nil || !s.Ready() {
		t.Fatalf("Probe() = %v, Ready() = %v; want nil, true", err, s.Ready())
	}
	if got := shared.MustCommand(t, "EXISTS", prefix+"probe"); got != "1" {
		t.Errorf("EXISTS probe entry = %s, want 1", got)
	}
}

// keys returns the names matching pattern on the shared server, one per
// line.
func keys(t *testing.T, pattern string) string {
	t.Helper()
	c := newClient(t, shared)
	names, err := c.Do(testContext(t), c.B().Keys().Pattern(pattern).Build()).AsStrSlice()
	if err != nil && !errors.Is(err, valkey.Nil) {
		t.Fatal(err)
	}
	return strings.Join(names, "\n")
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// TestMetrics: every round trip is counted and timed by operation and
// result; a value that fails its tag is counted as bad_value.
func TestMetrics(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	s, prefix := newStore(t, nil, func(c *redisstore.Config) {
		c.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	})
	ctx := testContext(t)
	key := sha256.Sum256([]byte("metrics"))
	_, _ = s.Record(ctx, key, time.Minute)
	_, _ = s.Record(ctx, key, time.Minute)
	_ = s.Set(ctx, key, []byte("v"), time.Minute)
	_, _ = s.Get(ctx, key)
	_, _ = s.Lock(ctx, key, time.Second)
	_ = s.Unlock(ctx, key)
	_ = s.Probe(ctx)
	shared.MustCommand(t, "SET", strings.TrimSpace(keys(t, prefix+"i:*")), "forged")
	_, _ = s.Get(ctx, key)
	for op, want := range map[string]int64{"replay": 2, "set": 1, "get": 1, "lock": 1, "unlock": 1, "probe": 1} {
		if got := sum(t, reader, "oauthgate.redis.commands", attribute.String("oauthgate.redis.op", op),
			attribute.String("oauthgate.result", "ok")); got != want {
			t.Errorf("oauthgate.redis.commands{%s, ok} = %d, want %d", op, got, want)
		}
	}
	// Every command succeeded: nothing fell back to the authorization
	// server or the in-process cache.
	if got := sum(t, reader, "oauthgate.redis.fallbacks"); got != 0 {
		t.Errorf("oauthgate.redis.fallbacks = %d with the server up, want 0", got)
	}
	if got := sum(t, reader, "oauthgate.redis.commands", attribute.String("oauthgate.redis.op", "get"),
		attribute.String("oauthgate.result", "bad_value")); got != 1 {
		t.Errorf("oauthgate.redis.commands{bad_value} = %d, want 1", got)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	var timed uint64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if h, ok := m.Data.(metricdata.Histogram[float64]); ok && m.Name == "oauthgate.redis.duration" {
				for _, p := range h.DataPoints {
					timed += p.Count
				}
			}
		}
	}
	if timed != 8 {
		t.Errorf("oauthgate.redis.duration holds %d round trips, want 8", timed)
	}
}
