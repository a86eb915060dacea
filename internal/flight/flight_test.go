package flight

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestGroup_Coalesces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g Group[string, int]
		var runs atomic.Int64
		release := make(chan struct{})
		fn := func() (int, error) {
			runs.Add(1)
			<-release
			return 42, nil
		}
		const callers = 50
		var wg sync.WaitGroup
		results := make([]int, callers)
		for n := range callers {
			wg.Go(func() {
				c, _ := g.Start("k", fn)
				results[n], _ = c.Wait(t.Context())
			})
		}
		synctest.Wait() // every caller is waiting on the one call
		if c, ok := g.Lookup("k"); !ok || c == nil {
			t.Fatal("Lookup() found no call in flight")
		}
		close(release)
		wg.Wait()
		if got := runs.Load(); got != 1 {
			t.Errorf("fn ran %d times for %d concurrent callers, want 1", got, callers)
		}
		for n, r := range results {
			if r != 42 {
				t.Fatalf("caller %d got %d, want 42", n, r)
			}
		}
		g.Wait()
		if _, ok := g.Lookup("k"); ok {
			t.Error("Lookup() found a call after it ended")
		}
		// A new Start after the end runs fn again.
		release = make(chan struct{})
		close(release)
		c, started := g.Start("k", fn)
		if !started {
			t.Fatal("Start() after the call ended joined it")
		}
		<-c.Done()
		if v, err := c.Result(); v != 42 || err != nil || runs.Load() != 2 {
			t.Errorf("second call = %d, %v after %d runs, want 42, nil after 2", v, err, runs.Load())
		}
	})
}

func TestCall_WaitOwnContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g Group[int, string]
		wantErr := errors.New("boom")
		c, _ := g.Start(1, func() (string, error) {
			time.Sleep(time.Minute) // the fake clock of the bubble
			return "", wantErr
		})
		short, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		if _, err := c.Wait(short); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Wait(short ctx) error = %v, want DeadlineExceeded", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("Wait(short ctx) returned after %v, want 1s", d)
		}
		// The call went on; a patient waiter gets its result.
		if _, err := c.Wait(t.Context()); !errors.Is(err, wantErr) {
			t.Fatalf("Wait() error = %v, want %v", err, wantErr)
		}
		if d := time.Since(start); d != time.Minute {
			t.Errorf("call ended after %v, want 1m", d)
		}
		g.Wait()
	})
}

func TestGroup_KeysIndependent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g Group[int, int]
		a, startedA := g.Start(1, func() (int, error) { return 1, nil })
		b, startedB := g.Start(2, func() (int, error) { return 2, nil })
		if !startedA || !startedB {
			t.Fatal("Start() for a second key joined the first")
		}
		va, _ := a.Wait(t.Context())
		vb, _ := b.Wait(t.Context())
		if va != 1 || vb != 2 {
			t.Errorf("results = %d, %d, want 1, 2", va, vb)
		}
		g.Wait()
	})
}
