package redisstore_test

import (
	"context"
	"crypto/sha256"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/grpc/codes"

	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/redisstore"
	"github.com/oauthgate/oauthgate/redisstore/internal/redistest"
)

// faultTimeout is the Timeout of the stores of the fault tests: short, so
// that a paused server fails calls quickly, and long enough for a loaded
// machine running the race detector to get an answer from a live one.
const faultTimeout = 500 * time.Millisecond

func withTimeout(c *redisstore.Config) { c.Timeout = faultTimeout }

// okEventually calls a fresh proof at replica r until it is accepted: the
// client reconnects to a server that came back on its own schedule.
func (f *fleet) okEventually(t *testing.T, r int, tok string) {
	t.Helper()
	ctx := testContext(t)
	eventually(t, "DPoP calls accepted again", func() bool {
		code, _ := f.call(ctx, r, tok, f.key.Proof(t, "POST", getBookURI, tok))
		return code == codes.OK
	})
}

// settle waits until every store's client has found out that its old
// connections broke: each broken connection fails the first command sent
// on it (writes are not retried, since a retried SET NX could report a
// replay). A client has several (valkey-go multiplexes commands over up
// to four connections, picked at random per command), so settle waits
// for a run of probes long enough to reach each of them: 64 in a row
// leave one of four unreached with a probability of 4·(3/4)^64, about
// 4·10⁻⁸; a run of 8, as before, misses one of two about once in 128.
func (f *fleet) settle(t *testing.T) {
	t.Helper()
	ctx := testContext(t)
	for _, s := range f.stores {
		eventually(t, "the client reconnects", func() bool {
			for range 64 {
				if s.Probe(ctx) != nil {
					return false
				}
			}
			return true
		})
	}
}

// wantUnavailable checks that a fresh, valid proof is refused as the
// replay store being unavailable, within a bound that a call waiting on
// the server indefinitely would exceed.
func (f *fleet) wantUnavailable(t *testing.T, r int, tok string) {
	t.Helper()
	start := time.Now()
	code, why := f.call(testContext(t), r, tok, f.key.Proof(t, "POST", getBookURI, tok))
	if code != codes.Unavailable || why != "DPOP_REPLAY_STORE_UNAVAILABLE" {
		t.Errorf("call: %v %s, want Unavailable DPOP_REPLAY_STORE_UNAVAILABLE", code, why)
	}
	if d := time.Since(start); d > 4*faultTimeout {
		t.Errorf("the refusal took %v, want about the store's Timeout %v", d, faultTimeout)
	}
}

// TestFaults_Replay: the replay check fails closed while Redis is killed,
// paused or full, recovers when it comes back, and reports readiness
// accordingly.
func TestFaults_Replay(t *testing.T) {
	t.Parallel()
	t.Run("Killed", func(t *testing.T) {
		t.Parallel()
		srv := redistest.Start(t)
		f := newFleet(t, 2, srv, withTimeout)
		tok := f.token(t)
		f.okEventually(t, 0, tok)
		srv.Kill()
		f.wantUnavailable(t, 0, tok)
		f.wantUnavailable(t, 1, tok)
		if f.stores[0].Ready() {
			t.Error("Ready() = true with the server killed")
		}
		if err := f.stores[0].Probe(testContext(t)); err == nil || f.stores[0].Ready() {
			t.Errorf("Probe() = %v, Ready() = %v with the server killed; want an error, false", err, f.stores[0].Ready())
		}
		if err := srv.Restart(); err != nil {
			t.Fatal(err)
		}
		f.okEventually(t, 0, tok)
		f.okEventually(t, 1, tok)
		if !f.stores[0].Ready() {
			t.Error("Ready() = false after the server came back and answered")
		}
	})
	t.Run("Paused", func(t *testing.T) {
		t.Parallel()
		srv := redistest.Start(t)
		f := newFleet(t, 1, srv, withTimeout)
		tok := f.token(t)
		f.okEventually(t, 0, tok)
		srv.Pause()
		f.wantUnavailable(t, 0, tok)
		f.wantUnavailable(t, 0, tok)
		if f.stores[0].Ready() {
			t.Error("Ready() = true with the server paused")
		}
		srv.Resume()
		f.okEventually(t, 0, tok)
	})
	t.Run("RestartedEmpty", func(t *testing.T) {
		t.Parallel()
		srv := redistest.Start(t)
		f := newFleet(t, 2, srv, withTimeout)
		tok := f.token(t)
		f.okEventually(t, 0, tok)
		proof := f.key.Proof(t, "POST", getBookURI, tok)
		ctx := testContext(t)
		if code, why := f.call(ctx, 0, tok, proof); code != codes.OK {
			t.Fatalf("first presentation: %v %s", code, why)
		}
		if err := srv.Restart(); err != nil {
			t.Fatal(err)
		}
		f.settle(t)
		// A server that restarts empty forgets the proofs it held, as a
		// replica's own cache forgets its proofs when it restarts: the
		// proof is accepted once more (see docs/operations.md).
		if code, why := f.call(ctx, 1, tok, proof); code != codes.OK {
			t.Errorf("proof recorded before the restart: %v %s; want it forgotten", code, why)
		}
		if code, why := f.call(ctx, 0, tok, proof); code != codes.Unauthenticated || why != "DPOP_PROOF_REPLAYED" {
			t.Errorf("the same proof again after the restart: %v %s, want DPOP_PROOF_REPLAYED", code, why)
		}
	})
	t.Run("MaxMemory", func(t *testing.T) {
		t.Parallel()
		srv := redistest.Start(t, "--maxmemory-policy", "noeviction")
		f := newFleet(t, 1, srv, withTimeout)
		tok := f.token(t)
		f.okEventually(t, 0, tok)
		used := memoryUsed(t, srv)
		srv.MustCommand(t, "CONFIG", "SET", "maxmemory", strconv.Itoa(used+256<<10))
		// Fill the rest with proofs, straight through the store.
		ctx := testContext(t)
		var err error
		for i := 0; err == nil; i++ {
			if i > 1_000_000 {
				t.Fatal("a million proofs did not fill 256 KiB")
			}
			_, err = f.stores[0].Record(ctx, sha256.Sum256([]byte(strconv.Itoa(i))), time.Minute)
		}
		if !strings.Contains(err.Error(), "OOM") {
			t.Errorf("Record() into a full server = %v, want its OOM error", err)
		}
		// Full at the edge, the server takes a write again as soon as its
		// memory dips (a client's buffer freed, a key expired): keep it
		// full for the checks below.
		srv.MustCommand(t, "CONFIG", "SET", "maxmemory", "1")
		f.wantUnavailable(t, 0, tok)
		if err := f.stores[0].Probe(ctx); err == nil || f.stores[0].Ready() {
			t.Errorf("Probe() = %v, Ready() = %v on a full server; want an error, false", err, f.stores[0].Ready())
		}
		srv.MustCommand(t, "CONFIG", "SET", "maxmemory", "0")
		f.okEventually(t, 0, tok)
		if err := f.stores[0].Probe(ctx); err != nil || !f.stores[0].Ready() {
			t.Errorf("Probe() = %v, Ready() = %v after maxmemory was lifted", err, f.stores[0].Ready())
		}
	})
}

// TestFaults_InsecureLocalReplayFallback: with the opt-in fallback, DPoP
// calls go on while Redis is down, each counted; replays to the same
// replica are still refused, replays to another are not, which is why it
// is an insecure opt-in.
func TestFaults_InsecureLocalReplayFallback(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	f := newFleet(t, 2, srv, func(c *redisstore.Config) {
		withTimeout(c)
		c.InsecureLocalReplayFallback = true
		c.MeterProvider = mp
	})
	tok := f.token(t)
	f.okEventually(t, 0, tok)
	srv.Kill()
	ctx := testContext(t)
	proof := f.key.Proof(t, "POST", getBookURI, tok)
	if code, why := f.call(ctx, 0, tok, proof); code != codes.OK {
		t.Fatalf("with the fallback and no server: %v %s, want OK", code, why)
	}
	if code, why := f.call(ctx, 0, tok, proof); why != "DPOP_PROOF_REPLAYED" {
		t.Errorf("replay to the same replica: %v %s, want DPOP_PROOF_REPLAYED", code, why)
	}
	if code, why := f.call(ctx, 1, tok, proof); code != codes.OK {
		t.Errorf("replay to another replica with the fallback: %v %s; the fallback is local only", code, why)
	}
	if got := sum(t, reader, "oauthgate.redis.fallbacks", attribute.String("oauthgate.redis.op", "replay")); got != 3 {
		t.Errorf("oauthgate.redis.fallbacks{replay} = %d, want 3", got)
	}
	if got := sum(t, reader, "oauthgate.redis.commands", attribute.String("oauthgate.redis.op", "replay"),
		attribute.String("oauthgate.result", "error")); got != 3 {
		t.Errorf("oauthgate.redis.commands{replay, error} = %d, want 3", got)
	}
}

// TestFaults_Introspection: with Redis killed or paused, every replica
// asks the authorization server itself and accepts a good token: a shared
// cache failure is never an invalid token, nor a wait beyond the store's
// Timeout per round trip.
func TestFaults_Introspection(t *testing.T) {
	t.Parallel()
	for name, fault := range map[string]func(*redistest.Server){
		"Killed": (*redistest.Server).Kill,
		"Paused": (*redistest.Server).Pause,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t)
			t.Cleanup(srv.Resume)
			iss := oauthtest.NewIssuer(t)
			reader := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
			replicas, _ := introspectionReplicas(t, iss, 3, srv, 0, func(c *redisstore.Config) {
				withTimeout(c)
				c.MeterProvider = mp
			})
			tok := iss.OpaqueToken(t, oauthtest.Token{Scopes: []string{"library.read"}})
			fault(srv)
			ctx := testContext(t)
			for r, v := range replicas {
				start := time.Now()
				if _, err := v.Verify(ctx, tok); err != nil {
					t.Errorf("replica %d: Verify() = %v, want the token accepted", r+1, err)
				}
				// At most a Get and a Lock, each cut at the Timeout.
				if d := time.Since(start); d > 6*faultTimeout {
					t.Errorf("replica %d: Verify() took %v", r+1, d)
				}
			}
			if got := introspections(iss); got != 3 {
				t.Errorf("introspection requests = %d, want one per replica", got)
			}
			if got := sum(t, reader, "oauthgate.redis.fallbacks", attribute.String("oauthgate.redis.op", "introspection")); got != 3 {
				t.Errorf("oauthgate.redis.fallbacks{introspection} = %d, want 3", got)
			}
		})
	}
}

// memoryUsed returns the server's used_memory.
func memoryUsed(t *testing.T, srv *redistest.Server) int {
	t.Helper()
	c := newClient(t, srv)
	info, err := c.Do(testContext(t), c.B().Info().Section("memory").Build()).ToString()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("INFO memory lacks used_memory")
	return 0
}

// sum returns the sum of the int64 counter name's points that carry all
// of attrs.
func sum(t *testing.T, r *sdkmetric.ManualReader, name string, attrs ...attribute.KeyValue) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			s, ok := m.Data.(metricdata.Sum[int64])
			if m.Name != name || !ok {
				continue
			}
		points:
			for _, p := range s.DataPoints {
				for _, a := range attrs {
					if v, ok := p.Attributes.Value(a.Key); !ok || v != a.Value {
						continue points
					}
				}
				n += p.Value
			}
		}
	}
	return n
}
