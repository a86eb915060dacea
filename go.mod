module github.com/oauthgate/oauthgate

go 1.26.0

require (
	github.com/go-jose/go-jose/v4 v4.1.8
	github.com/grpc-ecosystem/go-grpc-middleware/v2 v2.3.4
	golang.org/x/oauth2 v0.36.0
	google.golang.org/genproto/googleapis/rpc v0.0.0-20261019180522-ce908d29299b
	google.golang.org/grpc v1.85.0
	google.golang.org/protobuf v1.36.12
)

require (
	cloud.google.com/go/compute/metadata v0.9.0 // indirect
	golang.org/x/net v0.60.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.42.0 // indirect
)
