package redisstore_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valkey-io/valkey-go"

	"github.com/oauthgate/oauthgate/redisstore"
	"github.com/oauthgate/oauthgate/redisstore/internal/redistest"
)

// testTimeout bounds every context and every wait of these tests.
const testTimeout = 10 * time.Second

// shared is the server of the tests that do not harm it; each test names
// its entries with a prefix of its own. Fault tests start their own.
var shared *redistest.Server

func TestMain(m *testing.M) {
	if msg := redistest.Missing(); msg != "" {
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, msg+" (CI=true: the tests need the real server)")
			os.Exit(1)
		}
		fmt.Println("SKIP: " + msg)
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "redisstore")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if shared, err = redistest.New(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	shared.Stop()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// testSecret is the Secret of every store of these tests.
var testSecret = []byte("0123456789abcdef0123456789abcdef")

var prefixes atomic.Int64

// newClient returns a client of srv, closed when t ends.
func newClient(t testing.TB, srv *redistest.Server) valkey.Client {
	t.Helper()
	c, err := valkey.NewClient(valkey.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true})
	if err != nil {
		t.Fatalf("valkey.NewClient: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// newStore returns a store on srv (the shared server if nil) with a
// prefix of its own; edit changes its Config.
func newStore(t testing.TB, srv *redistest.Server, edit func(*redisstore.Config)) (*redisstore.Store, string) {
	t.Helper()
	if srv == nil {
		srv = shared
	}
	cfg := redisstore.Config{
		Secret: testSecret,
		// Not the 50 ms default: a loaded machine running the race
		// detector takes that long to schedule a goroutine. Tests of the
		// deadline set their own.
		Timeout: 5 * time.Second,
		Prefix:  fmt.Sprintf("t%d:%s:", prefixes.Add(1), strings.ReplaceAll(t.Name(), "/", ".")),
	}
	if edit != nil {
		edit(&cfg)
	}
	s, err := redisstore.New(newClient(t, srv), cfg)
	if err != nil {
		t.Fatalf("redisstore.New: %v", err)
	}
	return s, cfg.Prefix
}

func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it holds or testTimeout passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, testTimeout)
		}
		<-tick.C
	}
}
