package dpop_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/dpop"
	"github.com/oauthgate/oauthgate/oauthtest"
)

// memoryStore is a dpop.ReplayStore in a map, shared by the verifiers of
// a test as Redis is shared by replicas. err, when set, is what every
// Record returns.
type memoryStore struct {
	mu   sync.Mutex
	keys map[[32]byte]time.Duration // the ttl each key was stored with
	err  error
	// block, when set, makes Record wait for ctx to end.
	block bool
}

func newMemoryStore() *memoryStore { return &memoryStore{keys: map[[32]byte]time.Duration{}} }

func (s *memoryStore) Record(ctx context.Context, key [32]byte, ttl time.Duration) (bool, error) {
	s.mu.Lock()
	block, err := s.block, s.err
	s.mu.Unlock()
	if block {
		<-ctx.Done()
		return false, fmt.Errorf("memory store: %w", ctx.Err())
	}
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[key]; ok {
		return true, nil
	}
	s.keys[key] = ttl
	return false, nil
}

func (s *memoryStore) set(err error, block bool) {
	s.mu.Lock()
	s.err, s.block = err, block
	s.mu.Unlock()
}

// TestReplayStore_Replicas: three verifiers sharing a store are one
// replay check: a proof accepted by one is refused by the others, and of
// concurrent presentations across the three exactly one is accepted.
func TestReplayStore_Replicas(t *testing.T) {
	t.Parallel()
	store := newMemoryStore()
	var replicas [3]*dpop.Verifier
	for i := range replicas {
		replicas[i] = newVerifier(t, func(c *dpop.Config) { c.ReplayStore = store })
	}
	key := oauthtest.NewDPoPKey(t, jose.ES256, func() time.Time { return testNow })
	req := dpop.Request{Method: "POST", URIs: []string{testURI}, AccessToken: testToken}
	proof := key.Proof(t, "POST", testURI, testToken)
	if _, err := accept(replicas[0], proof, req); err != nil {
		t.Fatalf("replica 1: %v", err)
	}
	for i, v := range replicas[1:] {
		if _, err := accept(v, proof, req); !errors.Is(err, dpop.ErrReplayed) {
			t.Errorf("replica %d: replay = %v, want ErrReplayed", i+2, err)
		}
	}

	proof = key.Proof(t, "POST", testURI, testToken)
	var ok atomic.Int32
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			_, err := accept(replicas[i%3], proof, req)
			switch {
			case err == nil:
				ok.Add(1)
			case !errors.Is(err, dpop.ErrReplayed):
				t.Errorf("concurrent replay = %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Errorf("32 concurrent presentations over 3 replicas: %d accepted, want 1", ok.Load())
	}
}

// TestReplayStore_KeyAndTTL: the store gets the digest of the key's
// thumbprint and the jti, never the proof, for as long as a replica could
// accept the proof: iat + window − now, plus 5 s for the replicas' clocks.
func TestReplayStore_KeyAndTTL(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		iat  time.Time
		want time.Duration
	}{
		"Now":          {testNow, 65 * time.Second},
		"WindowAhead":  {testNow.Add(60 * time.Second), 125 * time.Second},
		"WindowBehind": {testNow.Add(-60 * time.Second), 5 * time.Second},
		"Fraction":     {testNow.Add(-10 * time.Second), 55 * time.Second},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			store := newMemoryStore()
			v := newVerifier(t, func(c *dpop.Config) { c.ReplayStore = store })
			key := oauthtest.NewDPoPKey(t, jose.ES256, func() time.Time { return testNow })
			req := dpop.Request{Method: "POST", URIs: []string{testURI}, AccessToken: testToken}
			p := key.Proof(t, "POST", testURI, testToken,
				oauthtest.Proof{Claims: map[string]any{"iat": tc.iat.Unix(), "jti": "jti-1"}})
			if _, err := accept(v, p, req); err != nil {
				t.Fatal(err)
			}
			want := sha256.Sum256([]byte(key.Thumbprint() + "\x00jti-1"))
			got, ok := store.keys[want]
			if !ok || len(store.keys) != 1 {
				t.Fatalf("store holds %d keys, want only SHA-256(jkt NUL jti)", len(store.keys))
			}
			if got != tc.want {
				t.Errorf("Record ttl = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestReplayStore_Unavailable: a store that cannot answer fails the proof
// closed, as "cannot check now", not as an invalid proof; the caller's own
// context ending is reported as such; a store that asks for the fallback
// gets the in-process cache, which still refuses replays to this process.
func TestReplayStore_Unavailable(t *testing.T) {
	t.Parallel()
	errDown := errors.New("store down")
	key := oauthtest.NewDPoPKey(t, jose.ES256, func() time.Time { return testNow })
	req := dpop.Request{Method: "POST", URIs: []string{testURI}, AccessToken: testToken}
	check := func(t *testing.T, v *dpop.Verifier) dpop.Proof {
		t.Helper()
		p, err := v.Check(key.Proof(t, "POST", testURI, testToken), req)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	t.Run("Error", func(t *testing.T) {
		t.Parallel()
		store := newMemoryStore()
		store.set(errDown, false)
		v := newVerifier(t, func(c *dpop.Config) { c.ReplayStore = store })
		err := v.Record(context.Background(), check(t, v))
		if !errors.Is(err, dpop.ErrReplayStoreUnavailable) || !errors.Is(err, errDown) {
			t.Errorf("Record() = %v, want ErrReplayStoreUnavailable wrapping the store's error", err)
		}
		if errors.Is(err, dpop.ErrInvalidProof) {
			t.Errorf("Record() = %v: an unavailable store does not make a proof invalid", err)
		}
	})
	t.Run("CallerContext", func(t *testing.T) {
		t.Parallel()
		store := newMemoryStore()
		store.set(nil, true)
		v := newVerifier(t, func(c *dpop.Config) { c.ReplayStore = store })
		ctx, cancel := context.WithCancel(context.Background())
		p := check(t, v)
		go cancel()
		if err := v.Record(ctx, p); err != context.Canceled {
			t.Errorf("Record(cancelled) = %v, want context.Canceled", err)
		}
	})
	t.Run("InProcessFallback", func(t *testing.T) {
		t.Parallel()
		store := newMemoryStore()
		store.set(fmt.Errorf("%w: %w", dpop.ErrInProcessFallback, errDown), false)
		v := newVerifier(t, func(c *dpop.Config) { c.ReplayStore = store })
		p := check(t, v)
		if err := v.Record(context.Background(), p); err != nil {
			t.Fatalf("Record() with the fallback = %v, want accepted", err)
		}
		if err := v.Record(context.Background(), p); !errors.Is(err, dpop.ErrReplayed) {
			t.Errorf("replay to the same process with the fallback = %v, want ErrReplayed", err)
		}
	})
}
