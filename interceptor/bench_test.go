package interceptor_test

import (
	"context"
	"testing"

	"github.com/oauthgate/oauthgate/interceptor"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
)

// BenchmarkInterceptor compares RPCs through the interceptor with RPCs
// through no interceptor, in one run, with a verifier that costs nothing:
// the ratio is the interceptor's own overhead on a real grpc-go call.
func BenchmarkInterceptor(b *testing.B) {
	gate, err := interceptor.New(newFakeVerifier(b), newPolicy(b))
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  serverConfig
	}{
		{"none", serverConfig{}},
		{"oauthgate", serverConfig{gate: gate}},
	} {
		client := testpb.NewLibraryServiceClient(startServer(b, tc.cfg))
		ctx := withToken(context.Background(), tokAll)
		b.Run("Unary/"+tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := client.GetBook(ctx, &testpb.GetBookRequest{Name: "b"}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("UnaryParallel/"+tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := client.GetBook(ctx, &testpb.GetBookRequest{Name: "b"}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
		b.Run("ServerStream/"+tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s, err := client.ListBooks(ctx, &testpb.ListBooksRequest{Count: 1})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.Recv(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
