package interceptor_test

import (
	"context"
	"testing"

	"github.com/oauthgate/oauthgate/interceptor"
	"github.com/oauthgate/oauthgate/verify"
)

// TestFromContext: the claims NewContext put, and false for a context
// without claims, including one given nil claims: a handler that checks ok
// never dereferences nil.
func TestFromContext(t *testing.T) {
	claims, err := verify.ParseClaims([]byte(`{"sub":"alice"}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		ctx    context.Context
		want   *verify.Claims
		wantOK bool
	}{
		"WithClaims": {ctx: interceptor.NewContext(context.Background(), claims), want: claims, wantOK: true},
		"NilClaims":  {ctx: interceptor.NewContext(context.Background(), nil)},
		"None":       {ctx: context.Background()},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := interceptor.FromContext(tc.ctx)
			if got != tc.want || ok != tc.wantOK {
				t.Fatalf("FromContext() = %v, %t; want %v, %t", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}
