package main

import (
	"bytes"
	"context"
	"testing"
	"time"
)

const defaultTestTimeout = 30 * time.Second

// TestRun: the chain prints the user and the actor payments sees, refuses
// the user's own token at payments, and answers Unavailable at the edge
// when the token endpoint is down.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out); err != nil {
		t.Fatalf("run() error = %v", err)
	}
	const want = "alice: payments sees sub=alice act=orders\n" +
		"alice's own token at payments: Unauthenticated\n" +
		"bob, token endpoint down: Unavailable\n"
	if got := out.String(); got != want {
		t.Errorf("run() printed\n%s\nwant\n%s", got, want)
	}
}
