module github.com/oauthgate/oauthgate/redisstore
// Module redisstore keeps oauthgate's fleet-shared state in Redis or
// Valkey. It is a module of its own so that oauthgate's go.mod stays free
// of a Redis client. The replace directive points at this repository; a
// real module omits it.

go 1.26.0

replace github.com/oauthgate/oauthgate => ../

require (
	github.com/go-jose/go-jose/v4 v4.1.8
	github.com/oauthgate/oauthgate v0.0.0-00010101000000-000000000000
	github.com/valkey-io/valkey-go v1.0.80
	go.opentelemetry.io/otel v1.47.0
	go.opentelemetry.io/otel/metric v1.47.0
	go.opentelemetry.io/otel/sdk/metric v1.47.0
	google.golang.org/genproto/googleapis/rpc v0.0.0-20261019180522-ce908d29299b
	google.golang.org/grpc v1.85.0
)

require (
	connectrpc.com/connect v1.21.1 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/go-json-experiment/json v1.27.2 // indirect
	github.com/go-logr/logr v1.4.4 // indirect
	github.com/go-logr/stdr v1.2.2 // indirect
	github.com/google/uuid v1.6.0 // indirect
	go.opentelemetry.io/auto/sdk v1.2.1 // indirect
	go.opentelemetry.io/otel/log v1.47.0 // indirect
	go.opentelemetry.io/otel/sdk v1.47.0 // indirect
	go.opentelemetry.io/otel/trace v1.47.0 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/text v0.44.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)
