package benchmarks

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/connectgate"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
)

// The connect-go adapter's targets (issue #27): a cached authorized unary
// call over the Connect protocol keeps ≥ 0.95 of the throughput of the
// same handler without the Gate, and the Gate's cache-hit path allocates
// no more than the grpc-go interceptor's.

func newConnectGate(tb testing.TB, f *fixture) *connectgate.Gate {
	tb.Helper()
	gate, err := connectgate.New(newJWT(tb, f, true), f.policy)
	if err != nil {
		tb.Fatal(err)
	}
	return gate
}

func connectGetBook(_ context.Context, req *connect.Request[testpb.GetBookRequest]) (*connect.Response[testpb.GetBookResponse], error) {
	return connect.NewResponse(&testpb.GetBookResponse{Name: req.Msg.GetName()}), nil
}

// connectHandler is the library's GetBook as a connect-go handler behind
// gate (none if nil), wrapped by gate.Handler as a server must.
func connectHandler(gate *connectgate.Gate) http.Handler {
	mux := http.NewServeMux()
	if gate == nil {
		mux.Handle(getBook, connect.NewUnaryHandler(getBook, connectGetBook))
		return mux
	}
	mux.Handle(getBook, connect.NewUnaryHandler(getBook, connectGetBook, connect.WithInterceptors(gate)))
	return gate.Handler(mux)
}

// serveConnect serves connectHandler(gate) over h2c on 127.0.0.1 and
// returns a Connect protocol client.
func serveConnect(tb testing.TB, gate *connectgate.Gate) *connect.Client[testpb.GetBookRequest, testpb.GetBookResponse] {
	tb.Helper()
	srv := oauthtest.ServeConnect(tb, connectHandler(gate))
	return connect.NewClient[testpb.GetBookRequest, testpb.GetBookResponse](srv.Client(tb, nil), srv.URL+getBook)
}

// BenchmarkConnectThroughputRatio is BenchmarkThroughputRatio for
// connect-go: every client goroutine alternates Connect protocol calls
// between a handler without the Gate and one behind it with a warm
// verified-token cache, both over h2c on 127.0.0.1, and reports
// throughput-ratio, the no-auth time per call divided by the protected one
// (target ≥ 0.95); mode=serial alternates in one goroutine, where the
// machine's load disturbs the ratio least.
func BenchmarkConnectThroughputRatio(b *testing.B) {
	f := loadFixture(b)
	none := serveConnect(b, nil)
	gated := serveConnect(b, newConnectGate(b, f))
	tok := f.tokens[jose.ES256]
	call := func(c *connect.Client[testpb.GetBookRequest, testpb.GetBookResponse]) error {
		req := connect.NewRequest(&testpb.GetBookRequest{Name: "dune"})
		req.Header().Set("Authorization", "Bearer "+tok)
		_, err := c.CallUnary(b.Context(), req)
		return err
	}
	if err := call(gated); err != nil { // warm the cache
		b.Fatal(err)
	}
	b.Run("protocol=connect/auth=ES256-cached/mode=serial", func(b *testing.B) {
		b.ReportAllocs()
		var tNone, tGated time.Duration
		for i := 0; b.Loop(); i++ {
			client, total := none, &tNone
			if i%2 == 1 {
				client, total = gated, &tGated
			}
			start := time.Now()
			if err := call(client); err != nil {
				b.Fatal(err)
			}
			*total += time.Since(start)
		}
		if tGated > 0 {
			b.ReportMetric(float64(tNone)/float64(tGated), "throughput-ratio")
		}
	})
	b.Run("protocol=connect/auth=ES256-cached/mode=parallel", func(b *testing.B) {
		alternate(b, func() error { return call(none) }, func() error { return call(gated) })
	})
}

// connectAllocs returns the allocations of one in-memory Connect protocol
// call of h, the connect-go handler and net/http's recorder included.
func connectAllocs(t *testing.T, h http.Handler, tok string) float64 {
	t.Helper()
	const body = `{"name":"dune"}`
	call := func() int {
		req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, getBook, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := call(); code != http.StatusOK { // and warm the cache
		t.Fatalf("status = %d, want 200", code)
	}
	return testing.AllocsPerRun(200, func() { _ = call() })
}

// TestConnectAllocs pins the allocation target: what the Gate adds to a
// connect-go call on a cache hit (the Handler wrapper and the
// interceptor) is at most what TestAllocs allows the grpc-go interceptor,
// two allocations.
func TestConnectAllocs(t *testing.T) {
	f := loadFixture(t)
	for _, alg := range algs {
		tok := f.tokens[alg]
		none := connectAllocs(t, connectHandler(nil), tok)
		gated := connectAllocs(t, connectHandler(newConnectGate(t, f)), tok)
		t.Logf("%s: %v allocations per call without the Gate, %v with it", alg, none, gated)
		if added := gated - none; added > 2 {
			t.Errorf("%s: the Gate adds %v allocations to a cached connect call (%v → %v), want at most 2", alg, added, none, gated)
		}
	}
}

// BenchmarkConnectHandler is one Connect protocol call served in memory
// (net/http's recorder, no socket), alternating in one loop between the
// handler without the Gate and behind it with a warm cache: gate-ns, the
// difference of their mean times, is the Gate's own work per call, which
// the end-to-end ratio above dilutes in the network's.
func BenchmarkConnectHandler(b *testing.B) {
	f := loadFixture(b)
	tok := f.tokens[jose.ES256]
	handlers := [2]http.Handler{connectHandler(nil), connectHandler(newConnectGate(b, f))}
	var total [2]time.Duration
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		req := httptest.NewRequestWithContext(b.Context(), http.MethodPost, getBook, strings.NewReader(`{"name":"dune"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		start := time.Now()
		handlers[i%2].ServeHTTP(rec, req)
		total[i%2] += time.Since(start)
		if rec.Code != http.StatusOK {
			b.Fatalf("status = %d", rec.Code)
		}
	}
	if n := float64(b.N / 2); n > 0 {
		b.ReportMetric((float64(total[1])-float64(total[0]))/n, "gate-ns")
		b.ReportMetric(float64(total[0])/float64(total[1]), "throughput-ratio")
	}
}
