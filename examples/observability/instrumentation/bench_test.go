package instrumentation_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/oauthgate/oauthgate/interceptor"
)

// BenchmarkInterceptor_Unary is the cached path of an allowed unary call
// (a verified-token cache hit), without a transport: with the no-op meter
// provider, with the SDK and a manual reader, and with the SDK without
// exemplars. The difference is the cost of oauthgate's metrics with a real
// SDK.
func BenchmarkInterceptor_Unary(b *testing.B) {
	for _, tc := range []struct {
		name string
		mp   func(b *testing.B) interceptor.Option
	}{
		{"noop", func(*testing.B) interceptor.Option { return interceptor.WithMeterProvider(noop.NewMeterProvider()) }},
		{"sdk", func(b *testing.B) interceptor.Option {
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
			b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
			return interceptor.WithMeterProvider(mp)
		}},
		{"sdk_no_exemplars", func(b *testing.B) interceptor.Option {
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()),
				sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter))
			b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
			return interceptor.WithMeterProvider(mp)
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			f := newFixture(b, tc.mp(b))
			ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+f.token(b, "library.read")))
			info := &grpc.UnaryServerInfo{FullMethod: getBook}
			handler := func(context.Context, any) (any, error) { return nil, nil }
			if _, err := f.gate.Unary(ctx, nil, info, handler); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := f.gate.Unary(ctx, nil, info, handler); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
