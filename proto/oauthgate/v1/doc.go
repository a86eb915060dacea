// Package oauthgatev1 holds the Go code generated from
// oauthgate/v1/annotations.proto: the [E_Method] and [E_Service] extensions
// that declare, in a .proto file, which scopes each RPC requires, and the
// [Rule] message they carry.
//
// The guide to it is https://github.com/oauthgate/oauthgate/blob/main/docs/rules.md.
//
// Users do not normally touch this package; package
// github.com/oauthgate/oauthgate/scopes reads the annotations. Import the
// .proto file as "oauthgate/v1/annotations.proto" and the Go package as
// oauthgatev1.
package oauthgatev1
