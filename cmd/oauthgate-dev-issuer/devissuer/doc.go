// Package devissuer is the local authorization server behind
// cmd/oauthgate-dev-issuer: an [oauthtest.Issuer] published on a fixed
// loopback address, plus a /token endpoint that mints access tokens on
// request. It is for development only: anybody who can reach the address
// can mint tokens. It is importable for the examples' tests, but it is no
// part of oauthgate's API and may change in any release.
//
// The guide to it is https://github.com/oauthgate/oauthgate/blob/main/docs/example-server.md.
package devissuer
