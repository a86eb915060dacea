// Command protoc-gen-oauthgate is a protoc and buf plugin that checks the
// oauthgate policy of .proto files at build time and writes a policy report
// that reviewers can read.
//
// The guide to it is https://github.com/oauthgate/oauthgate/blob/main/docs/plugin.md.
//
// It compiles the (oauthgate.v1.method) and (oauthgate.v1.service) options
// of the files to generate with scopes.NewPolicy, and their conditions with
// conditions.Compile, the functions a server calls at start-up, so a build
// passes exactly when the server would accept the rules. It fails the
// build, naming every problem at once in protoc's format (file:line:col:
// message, lines and columns from 1), when an RPC has no rule (every call
// would be denied), when a rule is invalid, or when a condition does not
// compile against the RPC's input message (placed on the condition's
// declaration, with the message a server prints at start-up: CEL's, at its
// position in the expression), and, if asked, when a rule breaks a house
// rule. Imported files (annotations.proto,
// the well-known types) are read, never checked. It writes no Go code; its
// only output is the report, when asked.
//
// Install it, or pin it in your go.mod and run it with go tool:
//
//	go install github.com/oauthgate/oauthgate/cmd/protoc-gen-oauthgate@latest
//	go get -tool github.com/oauthgate/oauthgate/cmd/protoc-gen-oauthgate
//
// With buf, in buf.gen.yaml (strategy: all gives one report for all files;
// buf's default runs the plugin once per directory):
//
//	plugins:
//	  - local: ["go", "tool", "protoc-gen-oauthgate"]
//	    out: .
//	    strategy: all
//	    opt: report=POLICY.md
//
// With protoc:
//
//	protoc -I proto -I "$OAUTHGATE_PROTO" \
//	  --plugin=protoc-gen-oauthgate="$(go tool -n protoc-gen-oauthgate)" \
//	  --oauthgate_out=. --oauthgate_opt=report=POLICY.md proto/notes/v1/notes.proto
//
// # Parameters
//
// Parameters are comma-separated key=value pairs (buf's opt, protoc's
// --oauthgate_opt). An unknown or repeated parameter is an error.
//
//	report=PATH                 write the policy report to PATH, relative to the
//	                            output directory (default: no report)
//	format=md|json              the report's format (default md)
//	lint=true|false             fail on RPCs without a rule and run the checks
//	                            below (default true); rules that scopes.NewPolicy
//	                            rejects fail the build either way, since no
//	                            server could start with them
//	scope_pattern=REGEXP        every declared scope must match REGEXP (Go RE2
//	                            syntax, unanchored: use ^ and $); write a comma
//	                            as \x2c, since commas separate parameters
//	scope_allowlist=FILE        every declared scope must be listed in FILE, one
//	                            scope a line, # starts a comment line; FILE is
//	                            relative to the directory protoc or buf runs in
//	require_public_reason=true  a public RPC needs a comment before it (or, with
//	                            a public service default, before the service)
//	                            saying why
//	no_mixed_services=true      a service without an (oauthgate.v1.service)
//	                            default may not mix public and protected RPCs
//	condition_cost_limit=N      the cost budget of each condition, in CEL cost
//	                            units (default conditions.DefaultCostLimit):
//	                            give the server's conditions.WithCostLimit
//
// # Report
//
// The report has one row per RPC of the files to generate, in declaration
// order: full method name, streaming kind, who may call it (public, or the
// scopes in AND-OR form, the audiences it is narrowed to, whether it takes
// sender-constrained tokens only, its step-up requirements and each
// condition's name and expression), where the rule comes from (the method, or
// the service default) and the RPC's leading comment. A scope index follows:
// each scope, the RPCs it unlocks and the scopes needed with it. The output
// depends only on the .proto files, so it can be committed and diffed in
// review. format=json writes the same content as JSON.
//
// Rules declared in Go with scopes.ForService or scopes.ForMethod are not in
// .proto files, so the plugin cannot see them: build such services with
// lint=false (the report then says "no rule" for their RPCs), and let the
// server's start-up check cover them.
package main
