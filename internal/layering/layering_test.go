package layering

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/oauthgate/oauthgate"

// A layer says what the packages it names may depend on, directly or
// through other packages.
type layer struct {
	// pkgs names the packages of the layer: a path relative to the module
	// root, or a prefix ending in "/..." that also matches the path itself.
	pkgs string
	// may lists the packages of this module the layer may depend on, in the
	// same syntax; "..." is all of them. Its own packages are implied.
	may []string
	// stdOnly restricts every dependency to the standard library.
	stdOnly bool
	// never lists module paths outside this module (or their prefixes) the
	// layer must not depend on at all.
	never []string
}

var (
	// library is every public package of the module that users build
	// servers and clients with.
	library = []string{"scopeset", "proto/...", "verify", "dpop", "scopes", "conditions", "resource",
		"interceptor", "connectgate", "dpop/dpopgrpc", "dpop/dpophttp", "readiness", "outbound", "ssf", "internal/..."}
	// wire is what the token layer must keep out: gRPC and protobuf belong
	// to the adapters and to the policy's schema.
	wire = []string{"google.golang.org/grpc", "google.golang.org/protobuf", "google.golang.org/genproto"}
)

// cel is the CEL implementation: only package conditions (and what imports
// it on purpose) may link it.
const cel = "cel.dev/cel-go"

// The transports: only their adapters may link them.
const (
	grpcGo    = "google.golang.org/grpc"
	connectGo = "connectrpc.com/connect"
)

// layers is matched in order: the first layer naming a package rules it. A
// package that no layer names fails the test, so that a new package gets
// its place on purpose.
var layers = []layer{
	// The scope set is read by both tokens and policy, so it depends on
	// neither: the standard library only.
	{pkgs: "scopeset", stdOnly: true},

	// Generated code of the oauthgate.v1 schema: the method options and
	// the resource metadata service.
	{pkgs: "proto/...", may: nil},

	// The decision core sits above tokens and policy and below the
	// transport adapters (STYLE R35): it links no transport at all, so that
	// a connect-go server links no grpc-go (and the grpc-go adapter no
	// connect-go), and no CEL (conditions come in through an interface).
	{pkgs: "internal/core", may: []string{"internal/...", "proto/...", "scopeset", "scopes", "verify", "dpop"},
		never: []string{grpcGo, connectGo, cel}},

	// Internal helpers serve the public packages, never the reverse; they
	// may read the generated schema (ruleopt, the test protos).
	{pkgs: "internal/...", may: []string{"internal/...", "proto/..."}},

	// Tokens: no policy, no transport, no gRPC, no protobuf.
	{pkgs: "verify", may: []string{"internal/...", "scopeset"}, never: append(wire, cel)},
	{pkgs: "dpop", may: []string{"internal/..."}, never: append(wire, cel)},

	// Policy: the schema and the scope set, never tokens or transports.
	{pkgs: "scopes", may: []string{"internal/...", "proto/...", "scopeset"}, never: []string{cel, grpcGo, connectGo}},
	// The decision core above tokens and policy: conditions read the
	// verified token and the typed request, never a transport adapter. (gRPC
	// reaches it, as it reaches scopes, only through the generated schema's
	// resource service.)
	{pkgs: "conditions", may: []string{"internal/...", "proto/...", "scopeset", "scopes", "verify"}},
	// Resource metadata is derived from the policy.
	{pkgs: "resource", may: []string{"internal/...", "proto/...", "scopeset", "scopes"}},

	// Transport adapters translate gRPC in and out of the layers below.
	// The grpc-go adapter names conditions through an interface of its own,
	// so that a server without conditions links no CEL.
	{pkgs: "interceptor", may: []string{"internal/...", "proto/...", "scopeset", "scopes", "resource", "verify", "dpop"}, never: []string{cel, connectGo}},
	// The connect-go adapter: the same core, no grpc-go (nor CEL, for
	// servers without conditions).
	{pkgs: "connectgate", may: []string{"internal/...", "proto/...", "scopeset", "scopes", "verify", "dpop"}, never: []string{grpcGo, cel}},
	{pkgs: "dpop/dpopgrpc", may: []string{"internal/...", "dpop"}},
	// DPoP for HTTP clients: an http.RoundTripper over the token layer,
	// serving connect-go and net/http clients without linking either
	// transport's library.
	{pkgs: "dpop/dpophttp", may: []string{"internal/...", "dpop"}, never: []string{grpcGo, connectGo, cel}},
	{pkgs: "readiness", may: []string{"internal/...", "scopeset", "verify"}},
	// Shared Signals receipt feeds the verifiers' revocation check: tokens
	// and HTTP, no policy, no gRPC.
	{pkgs: "ssf", may: []string{"internal/...", "scopeset", "verify"}, never: append(wire, cel)},
	// Outgoing calls: token sources as gRPC per-RPC credentials and as an
	// http.RoundTripper, over the token layer's fetch policy, dpopgrpc and
	// dpophttp for proofs and the grpc-go adapter's context for the
	// incoming token (so it links what the interceptor links, no CEL),
	// plus connect-go's error type, so that a connect-go client reports
	// the code a gRPC call would (a refusal is PermissionDenied, not the
	// Unavailable connect-go gives any other transport error).
	{pkgs: "outbound", may: []string{"internal/...", "scopeset", "verify", "dpop", "dpop/dpopgrpc", "dpop/dpophttp", "interceptor", "proto/...", "scopes", "resource"},
		never: []string{cel}},

	// The test kit may use the whole library; nothing in it uses the kit.
	{pkgs: "oauthtest", may: library},
	// Commands and examples sit on top of everything; so do the
	// benchmarks and the fleet simulation, which run the test kit and the
	// verifiers.
	{pkgs: "cmd/...", may: append([]string{"oauthtest"}, library...)},
	{pkgs: "bench/...", may: append([]string{"oauthtest"}, library...)},
	// The adapters' shared scenario table: test files only.
	{pkgs: "conformance", may: append([]string{"oauthtest"}, library...)},
	{pkgs: "examples/...", may: []string{"..."}},
}

// match reports whether rel, a path relative to the module root, is named
// by pattern.
func match(pattern, rel string) bool {
	if pattern == "..." {
		return true
	}
	if dir, ok := strings.CutSuffix(pattern, "/..."); ok {
		return rel == dir || strings.HasPrefix(rel, dir+"/")
	}
	return rel == pattern
}

func matchAny(patterns []string, rel string) bool {
	for _, p := range patterns {
		if match(p, rel) {
			return true
		}
	}
	return false
}

func layerOf(rel string) (layer, bool) {
	for _, l := range layers {
		if match(l.pkgs, rel) {
			return l, true
		}
	}
	return layer{}, false
}

// pkg is what the test reads of `go list -json`.
type pkg struct {
	ImportPath string
	Standard   bool
	Deps       []string
	DepOnly    bool
}

// listModule returns the packages of the module and of everything they
// depend on, keyed by import path. Test files are not read: tests may use
// any package (the kit in oauthtest, for one).
func listModule(t *testing.T) map[string]pkg {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list the module's packages: %v", err)
	}
	// The test runs in internal/layering; "module/..." names the whole
	// root module (not the nested example modules) from here.
	cmd := exec.Command(goCmd, "list", "-deps", "-json=ImportPath,Standard,Deps,DepOnly", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	pkgs := make(map[string]pkg)
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("reading go list output: %v", err)
		}
		pkgs[p.ImportPath] = p
	}
	return pkgs
}

// ours returns the path of p relative to the module root, or false when p
// belongs to another module.
func ours(path string) (string, bool) {
	if path == module {
		return "", true
	}
	return strings.CutPrefix(path, module+"/")
}

// TestLayering checks every package of the module against its layer.
// go test does not see the files go list reads, so run it with -count=1
// (as CI does) after changing imports.
func TestLayering(t *testing.T) {
	pkgs := listModule(t)
	paths := slices.Sorted(maps.Keys(pkgs))
	checked := 0
	for _, path := range paths {
		p := pkgs[path]
		rel, mine := ours(path)
		if !mine || p.DepOnly {
			continue
		}
		checked++
		l, ok := layerOf(rel)
		if !ok {
			t.Errorf("%s: no layer names this package; add it to layers in internal/layering/layering_test.go", rel)
			continue
		}
		reported := make(map[string]bool)
		for _, dep := range p.Deps {
			if depRel, mine := ours(dep); mine {
				if !match(l.pkgs, depRel) && !matchAny(l.may, depRel) {
					t.Errorf("%s depends on %s, which its layer (%s) must not use", rel, depRel, l.pkgs)
				}
				continue
			}
			if l.stdOnly && !pkgs[dep].Standard {
				t.Errorf("%s depends on %s, outside the standard library", rel, dep)
			}
			for _, never := range l.never {
				if (dep == never || strings.HasPrefix(dep, never+"/")) && !reported[never] {
					reported[never] = true
					t.Errorf("%s depends on %s: nothing of %s may enter its layer (%s)", rel, dep, never, l.pkgs)
				}
			}
		}
	}
	// A go list that quietly returned too little would pass every check.
	for _, want := range []string{"verify", "dpop", "scopes", "scopeset", "interceptor"} {
		if _, ok := pkgs[module+"/"+want]; !ok {
			t.Fatalf("go list did not report %s (%d packages of the module checked)", want, checked)
		}
	}
}

// TestLayers checks the table itself: the patterns mean what they say, and
// the token layer's rules are the ones STYLE R33 asks for.
func TestLayers(t *testing.T) {
	tests := []struct {
		rel   string
		layer string
		may   map[string]bool
	}{
		{rel: "verify", layer: "verify", may: map[string]bool{"internal/b64url": true, "scopeset": true, "scopes": false, "interceptor": false, "proto/oauthgate/v1": false, "oauthtest": false}},
		{rel: "dpop", layer: "dpop", may: map[string]bool{"internal/b64url": true, "scopeset": false, "scopes": false, "verify": false, "dpop/dpopgrpc": false}},
		{rel: "dpop/dpopgrpc", layer: "dpop/dpopgrpc", may: map[string]bool{"dpop": true, "interceptor": false}},
		{rel: "scopes", layer: "scopes", may: map[string]bool{"scopeset": true, "proto/oauthgate/v1": true, "verify": false, "interceptor": false}},
		{rel: "conditions", layer: "conditions", may: map[string]bool{"verify": true, "scopes": true, "scopeset": true, "proto/oauthgate/v1": true, "interceptor": false, "dpop/dpopgrpc": false, "oauthtest": false}},
		{rel: "internal/b64url", layer: "internal/...", may: map[string]bool{"internal/flight": true, "verify": false, "oauthtest": false}},
		{rel: "internal", layer: "internal/...", may: map[string]bool{"scopes": false}},
		{rel: "internal/core", layer: "internal/core", may: map[string]bool{"verify": true, "scopes": true, "dpop": true, "internal/authheader": true, "resource": false, "interceptor": false, "conditions": false, "oauthtest": false}},
		{rel: "connectgate", layer: "connectgate", may: map[string]bool{"verify": true, "scopes": true, "dpop": true, "internal/core": true, "interceptor": false, "resource": false, "oauthtest": false}},
		{rel: "interceptor", layer: "interceptor", may: map[string]bool{"verify": true, "scopes": true, "conditions": false, "oauthtest": false, "examples/reports": false}},
		{rel: "cmd/protoc-gen-oauthgate", layer: "cmd/...", may: map[string]bool{"scopes": true, "examples/reports": false}},
		{rel: "examples/reports/serve", layer: "examples/...", may: map[string]bool{"oauthtest": true}},
		{rel: "verifyx", layer: ""},
	}
	for _, tc := range tests {
		t.Run(tc.rel, func(t *testing.T) {
			l, ok := layerOf(tc.rel)
			got := ""
			if ok {
				got = l.pkgs
			}
			if got != tc.layer {
				t.Fatalf("layerOf(%q) = %q, want %q", tc.rel, got, tc.layer)
			}
			for dep, want := range tc.may {
				if got := match(l.pkgs, dep) || matchAny(l.may, dep); got != want {
					t.Errorf("%s may depend on %s = %t, want %t", tc.rel, dep, got, want)
				}
			}
		})
	}
}
