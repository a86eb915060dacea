// Package resource publishes a gRPC service's protected resource metadata
// (RFC 9728): a document that tells a client (or an agent) that only knows
// the service's address which authorization servers issue its tokens,
// which scopes exist and how tokens may be presented.
//
// The guide to it is https://github.com/oauthgate/oauthgate/blob/main/docs/step-up-and-metadata.md.
//
// A [Metadata] is built once from a [Config] and the service's
// [scopes.Policy]: scopes_supported lists every scope a rule names, so the
// document can never drift from the .proto files. It is served over HTTP
// ([Metadata.ServeHTTP], at [Metadata.Path] of a listener the application
// runs next to its gRPC server) and over gRPC ([Metadata.Register], the
// oauthgate.v1.ResourceMetadataService, public by construction). The
// interceptor's WithResourceMetadata option adds resource_metadata="<URL>"
// to every challenge (RFC 9728 §5.1).
//
// A Metadata is immutable and safe for concurrent use.
package resource
