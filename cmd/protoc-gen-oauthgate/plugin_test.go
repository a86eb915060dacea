package main

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/oauthgate/oauthgate/conditions"
	lintv1 "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/lint/v1"
	oauthgatetestv1 "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	oauthgatev1 "github.com/oauthgate/oauthgate/proto/oauthgate/v1"
	"github.com/oauthgate/oauthgate/scopes"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// The fixtures, compiled by buf with source code info (bash .ci/gen
// rebuilds testdata/fixtures.binpb from internal/testproto).
const (
	fixtureMissing        = "oauthgatetest/lint/v1/missing.proto"
	fixtureServiceDefault = "oauthgatetest/lint/v1/service_default.proto"
	fixtureChecks         = "oauthgatetest/lint/v1/checks.proto"
	fixtureInvalid        = "oauthgatetest/v1/invalid.proto"
	fixtureLibrary        = "oauthgatetest/v1/library.proto"
	fixtureConditions     = "oauthgatetest/v1/conditions.proto"
	fixtureBadConditions  = "oauthgatetest/v1/conditions_invalid.proto"
)

// fixtures maps each fixture to the descriptor protoc-gen-go compiled into
// the Go package, which is what a server's scopes.NewPolicy reads.
var fixtures = map[string]protoreflect.FileDescriptor{
	fixtureMissing:        lintv1.File_oauthgatetest_lint_v1_missing_proto,
	fixtureServiceDefault: lintv1.File_oauthgatetest_lint_v1_service_default_proto,
	fixtureChecks:         lintv1.File_oauthgatetest_lint_v1_checks_proto,
	fixtureInvalid:        oauthgatetestv1.File_oauthgatetest_v1_invalid_proto,
	fixtureLibrary:        oauthgatetestv1.File_oauthgatetest_v1_library_proto,
	fixtureConditions:     oauthgatetestv1.File_oauthgatetest_v1_conditions_proto,
	fixtureBadConditions:  oauthgatetestv1.File_oauthgatetest_v1_conditions_invalid_proto,
}

func fixtureSet(tb testing.TB) *descriptorpb.FileDescriptorSet {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "fixtures.binpb"))
	if err != nil {
		tb.Fatal(err)
	}
	set := new(descriptorpb.FileDescriptorSet)
	if err := proto.Unmarshal(b, set); err != nil {
		tb.Fatal(err)
	}
	return set
}

// request is what protoc sends for `protoc --oauthgate_opt=param files...`.
func request(tb testing.TB, param string, files ...string) *pluginpb.CodeGeneratorRequest {
	tb.Helper()
	return &pluginpb.CodeGeneratorRequest{
		FileToGenerate:  files,
		Parameter:       proto.String(param),
		ProtoFile:       fixtureSet(tb).GetFile(),
		CompilerVersion: &pluginpb.Version{Major: proto.Int32(31)},
	}
}

// render writes a response as the golden files hold it.
func render(resp *pluginpb.CodeGeneratorResponse) string {
	var b strings.Builder
	if resp.Error != nil {
		b.WriteString("error:\n" + resp.GetError() + "\n")
	}
	for _, f := range resp.GetFile() {
		b.WriteString("file " + f.GetName() + ":\n" + f.GetContent())
	}
	return b.String()
}

const allChecks = `scope_pattern=^[a-z]+:[a-z_]+$,scope_allowlist=testdata/allowlist.txt,require_public_reason=true,no_mixed_services=true`

var goldenCases = map[string]struct {
	param string
	files []string
}{
	"missing":         {files: []string{fixtureMissing}},
	"service_default": {files: []string{fixtureServiceDefault}},
	"invalid":         {files: []string{fixtureInvalid}},
	"library":         {files: []string{fixtureLibrary}},
	"checks_off":      {files: []string{fixtureChecks}, param: "report=POLICY.md"},
	"checks_on":       {files: []string{fixtureChecks}, param: allChecks},
	"checks_json":     {files: []string{fixtureChecks}, param: "report=policy/checks.json,format=json"},
	"lint_false":      {files: []string{fixtureLibrary, fixtureMissing}, param: "lint=false,report=POLICY.md"},
	"lint_false_invalid": {
		files: []string{fixtureInvalid}, param: "lint=false,report=POLICY.md",
	},
	"conditions":         {files: []string{fixtureConditions}, param: "report=POLICY.md"},
	"conditions_json":    {files: []string{fixtureConditions}, param: "report=policy.json,format=json"},
	"conditions_invalid": {files: []string{fixtureBadConditions}},
	// A budget high enough for the nested loop leaves the other mistakes.
	"conditions_budget": {files: []string{fixtureBadConditions}, param: "condition_cost_limit=2000000"},
	// Conditions are compiled in the services whose rules are valid.
	"conditions_with_invalid": {files: []string{fixtureBadConditions, fixtureInvalid}},
	"all": {
		files: []string{fixtureChecks, fixtureBadConditions, fixtureConditions, fixtureInvalid, fixtureLibrary, fixtureMissing, fixtureServiceDefault},
		param: allChecks,
	},
}

// TestGolden asserts the exact diagnostics, positions included, and the
// exact reports. Run with -update to rewrite testdata/golden after a
// deliberate change, and review the diff.
func TestGolden(t *testing.T) {
	t.Parallel()
	for name, tc := range goldenCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := render(generate(request(t, tc.param, tc.files...), osEnv()))
			path := filepath.Join("testdata", "golden", name+".txt")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("generate(%s, %q) =\n%s\nwant (%s)\n%s", strings.Join(tc.files, " "), tc.param, got, path, want)
			}
		})
	}
}

// TestAgreesWithNewPolicy proves that the plugin and the server's
// scopes.NewPolicy find the same faults in every fixture: the plugin reads
// the descriptors protoc sends, the server those compiled into Go, and both
// name the same methods and services.
func TestAgreesWithNewPolicy(t *testing.T) {
	t.Parallel()
	for path, fd := range fixtures {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			var plugin []string
			_, err := run(request(t, "", path), osEnv())
			var le *lintError
			switch {
			case errors.As(err, &le):
				for _, d := range le.diags {
					plugin = append(plugin, d.name)
				}
			case err != nil:
				t.Fatalf("run(%s) = %v, want a lint error or nil", path, err)
			}
			slices.Sort(plugin)
			server := serverFaults(t, fd)
			if !slices.Equal(plugin, server) {
				t.Errorf("faults in %s: plugin %q, scopes.NewPolicy %q", path, plugin, server)
			}
			if path != fixtureChecks && path != fixtureConditions && len(server) == 0 {
				t.Errorf("fixture %s has no fault to agree on", path)
			}
		})
	}
}

// serverFaults returns what a server finds wrong with fd, by the public API
// alone: the rules NewPolicy rejects, the conditions Compile rejects (one
// fault per condition), and the methods Covers reports.
func serverFaults(t *testing.T, fd protoreflect.FileDescriptor) []string {
	t.Helper()
	var faults []string
	faulty := map[string]bool{}
	p, err := scopes.NewPolicy(scopes.FromFiles(fd))
	if err == nil {
		_, cerr := conditions.Compile(p)
		var cce *conditions.CompileError
		if errors.As(cerr, &cce) {
			for _, pr := range cce.Problems {
				faults = append(faults, pr.Method)
			}
		} else if cerr != nil {
			t.Fatalf("Compile(%s) = %v", fd.Path(), cerr)
		}
	}
	var ce *scopes.CompileError
	if errors.As(err, &ce) {
		for _, p := range ce.Problems {
			faults = append(faults, p.Name)
			faulty[strings.SplitN(strings.TrimPrefix(p.Name, "/"), "/", 2)[0]] = true
		}
	} else if err != nil && !errors.Is(err, scopes.ErrEmptyPolicy) {
		t.Fatalf("NewPolicy(%s) = %v", fd.Path(), err)
	}
	// Coverage, service by service: a service with a rejected rule has no
	// policy to ask, and NewPolicy names its fault above.
	for i := range fd.Services().Len() {
		sd := fd.Services().Get(i)
		if faulty[string(sd.FullName())] {
			continue
		}
		var methods []string
		for j := range sd.Methods().Len() {
			methods = append(methods, "/"+string(sd.FullName())+"/"+string(sd.Methods().Get(j).Name()))
		}
		p, err := scopes.NewPolicy(scopes.FromServices(sd))
		var cov *scopes.CoverageError
		switch {
		case errors.Is(err, scopes.ErrEmptyPolicy):
			faults = append(faults, methods...)
		case err != nil:
			t.Fatalf("NewPolicy(%s) = %v", sd.FullName(), err)
		case errors.As(p.Covers(methods...), &cov):
			faults = append(faults, cov.Methods...)
		}
	}
	slices.Sort(faults)
	return faults
}

// TestConditionMessages: the plugin reports each condition that
// conditions.Compile refuses with the text a server prints at start-up
// (after the method's name), placed on the condition's declaration: in the
// method option, or in the service option a method inherits.
func TestConditionMessages(t *testing.T) {
	t.Parallel()
	p, err := scopes.NewPolicy(scopes.FromFiles(oauthgatetestv1.File_oauthgatetest_v1_conditions_invalid_proto))
	if err != nil {
		t.Fatal(err)
	}
	_, err = conditions.Compile(p)
	var ce *conditions.CompileError
	if !errors.As(err, &ce) {
		t.Fatalf("Compile() = %v, want a *CompileError", err)
	}
	// The start-up error: a header, then one line per problem.
	server := strings.Split(err.Error(), "\n\t")[1:]
	_, err = run(request(t, "", fixtureBadConditions), osEnv())
	var le *lintError
	if !errors.As(err, &le) {
		t.Fatalf("run() = %v, want a lint error", err)
	}
	var plugin []string
	for _, d := range le.diags {
		plugin = append(plugin, d.msg)
	}
	slices.Sort(server)
	slices.Sort(plugin)
	if !slices.Equal(plugin, server) {
		t.Errorf("plugin messages:\n%s\nstart-up messages:\n%s", strings.Join(plugin, "\n"), strings.Join(server, "\n"))
	}
	// The service's condition, inherited by NoOwner, is placed on its
	// declaration in the service option; UnknownField's on the second
	// condition of its method option.
	for _, d := range le.diags {
		switch d.name {
		case "/oauthgatetest.v1.BadDefaultService/NoOwner":
			if d.line != 125 || d.col != 5 {
				t.Errorf("NoOwner placed at %d:%d, want the service's condition at 125:5", d.line, d.col)
			}
		case "/oauthgatetest.v1.BadConditionService/UnknownField":
			if d.line != 37 || d.col != 7 {
				t.Errorf("UnknownField placed at %d:%d, want its second condition at 37:7", d.line, d.col)
			}
		}
	}
}

// TestOptionForms checks that the plugin reads options whatever form the
// request's decoder left them in, and refuses a hostile one where
// scopes.NewPolicy does.
func TestOptionForms(t *testing.T) {
	t.Parallel()
	typed := smallRequest("report=r.md", &oauthgatev1.Rule{Scopes: []string{"a"}}, &oauthgatev1.Rule{Public: true})
	b, err := proto.Marshal(typed)
	if err != nil {
		t.Fatal(err)
	}
	// Decoded without oauthgate's extensions: the options are unknown fields.
	blind := new(pluginpb.CodeGeneratorRequest)
	if err := (proto.UnmarshalOptions{Resolver: new(protoregistry.Types)}).Unmarshal(b, blind); err != nil {
		t.Fatal(err)
	}
	if proto.HasExtension(blind.GetProtoFile()[0].GetService()[0].GetMethod()[0].GetOptions(), oauthgatev1.E_Method) {
		t.Fatal("test setup: the options should be unknown fields")
	}
	want := render(generate(typed, osEnv()))
	if got := render(generate(blind, osEnv())); got != want || !strings.Contains(got, "| `/a.S/M1` | client streaming | anyone") {
		t.Errorf("with unknown-field options:\n%s\nwant, as with typed options:\n%s", got, want)
	}

	// Field 6750 as a varint where a message is expected.
	hostile := smallRequest("", &oauthgatev1.Rule{Scopes: []string{"a"}}, nil)
	opts := &descriptorpb.MethodOptions{}
	opts.ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 6750, protowire.VarintType), 1))
	hostile.GetProtoFile()[0].GetService()[0].GetMethod()[1].Options = opts
	const wantErr = "a.proto:5:21: /a.S/M1: invalid rule: oauthgate.v1.method option is not a valid oauthgate.v1.Rule"
	if got := generate(hostile, osEnv()).GetError(); !strings.Contains(got, wantErr) {
		t.Errorf("hostile option: error = %q, want it to contain %q", got, wantErr)
	}
}
