package interceptor_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/metadata"

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

// TestTokenFromContext: the token of an authenticated call, Bearer or
// DPoP, and nothing without claims or without one well-formed credential.
func TestTokenFromContext(t *testing.T) {
	claims, err := verify.ParseClaims([]byte(`{"sub":"alice"}`))
	if err != nil {
		t.Fatal(err)
	}
	authed := func(auth ...string) context.Context {
		md := metadata.MD{}
		for _, a := range auth {
			md.Append("authorization", a)
		}
		return interceptor.NewContext(metadata.NewIncomingContext(context.Background(), md), claims)
	}
	tests := map[string]struct {
		ctx    context.Context
		want   string
		wantOK bool
	}{
		"Bearer":     {ctx: authed("Bearer abc.def"), want: "abc.def", wantOK: true},
		"DPoP":       {ctx: authed("DPoP abc.def"), want: "abc.def", wantOK: true},
		"NoClaims":   {ctx: metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer abc"))},
		"NoMetadata": {ctx: interceptor.NewContext(context.Background(), claims)},
		"Two":        {ctx: authed("Bearer a", "Bearer b")},
		"Basic":      {ctx: authed("Basic YTpi")},
		"NotToken":   {ctx: authed("Bearer a b")},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := interceptor.TokenFromContext(tc.ctx)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("TokenFromContext() = %q, %v; want %q, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}
