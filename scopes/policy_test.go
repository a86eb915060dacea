package scopes

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	oauthgatev1 "github.com/oauthgate/oauthgate/proto/oauthgate/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

const lib = "/oauthgatetest.v1.LibraryService/"

// wantLibrary is the policy library.proto must compile to, as Rule.String.
var wantLibrary = map[string]string{
	lib + "GetBook":                        "library.read",
	lib + "ListBooks":                      "library.read",
	lib + "AddBooks":                       "library.admin AND library.write",
	lib + "Chat":                           "(library.read) OR (library.admin)",
	lib + "Ping":                           "public",
	lib + "Audit":                          "(library.audit AND library.read) OR (library.admin AND library.audit AND library.write) FOR https://audit.example.com",
	"/oauthgatetest.v1.ShelfService/Count": "shelf.read",
}

func policyStrings(p *Policy) map[string]string {
	got := map[string]string{}
	for _, m := range p.Methods() {
		r, _ := p.Rule(m)
		got[m] = r.String()
	}
	return got
}

func assertPolicy(t *testing.T, p *Policy, want map[string]string) {
	t.Helper()
	got := policyStrings(p)
	for m, w := range want {
		if got[m] != w {
			t.Errorf("Rule(%s) = %q, want %q", m, got[m], w)
		}
	}
	for m := range got {
		if _, ok := want[m]; !ok {
			t.Errorf("unexpected rule for %s: %q", m, got[m])
		}
	}
}

func TestNewPolicyFromFiles(t *testing.T) {
	p, err := NewPolicy(FromFiles(testpb.File_oauthgatetest_v1_library_proto))
	if err != nil {
		t.Fatalf("NewPolicy() error = %v", err)
	}
	assertPolicy(t, p, wantLibrary)
	for _, m := range []string{"/oauthgatetest.v1.ShelfService/Move", "/oauthgatetest.v1.ShelfService/Burn", "/nope.S/M", ""} {
		if r, ok := p.Rule(m); ok || r != nil {
			t.Errorf("Rule(%q) = %v, %v, want nil, false (deny by default)", m, r, ok)
		}
	}
}

func TestNewPolicyFromServices(t *testing.T) {
	sd := testpb.File_oauthgatetest_v1_library_proto.Services().ByName("ShelfService")
	p, err := NewPolicy(FromServices(sd))
	if err != nil {
		t.Fatal(err)
	}
	assertPolicy(t, p, map[string]string{"/oauthgatetest.v1.ShelfService/Count": "shelf.read"})
}

func TestNewPolicyInvalidNamesEveryMethod(t *testing.T) {
	_, err := NewPolicy(FromFiles(testpb.File_oauthgatetest_v1_invalid_proto))
	var ce *CompileError
	if !errors.As(err, &ce) || !errors.Is(err, ErrInvalidRule) {
		t.Fatalf("NewPolicy() error = %v, want *CompileError matching ErrInvalidRule", err)
	}
	var names []string
	for _, p := range ce.Problems {
		names = append(names, p.Name)
	}
	const b = "/oauthgatetest.v1.BrokenService/"
	want := []string{b + "BadConditionName", b + "DuplicateCondition", b + "EmptyAlternative", b + "EmptyCondition", b + "EmptyRule",
		b + "EmptyScope", b + "PublicWithCondition", b + "PublicWithScopes", b + "SpaceInScope"}
	if !slices.Equal(names, want) {
		t.Fatalf("problems = %v, want %v", names, want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error message does not name %s:\n%v", w, err)
		}
	}
	// Each problem says what is wrong with its rule.
	says := map[string]string{
		b + "EmptyAlternative": "an alternative in any lists no scopes",
		b + "EmptyRule":        "rule is neither public nor requires scopes",
		b + "EmptyScope":       "empty scope",
		b + "PublicWithScopes": "public cannot be combined with scopes",
		b + "SpaceInScope":     "outside RFC 6749 scope-token syntax",
	}
	for _, p := range ce.Problems {
		if !errors.Is(p.Err, ErrInvalidRule) || !strings.Contains(p.Err.Error(), says[p.Name]) {
			t.Errorf("problem of %s = %v, want ErrInvalidRule saying %q", p.Name, p.Err, says[p.Name])
		}
	}
}

// The default source is protoregistry.GlobalFiles, which in this test binary
// holds invalid.proto too: NewPolicy must refuse rather than skip it.
func TestNewPolicyDefaultReadsGlobalFiles(t *testing.T) {
	_, err := NewPolicy()
	var ce *CompileError
	if !errors.As(err, &ce) || len(ce.Problems) != 9 {
		t.Fatalf("NewPolicy() error = %v, want the 9 BrokenService problems", err)
	}
}

func TestNewPolicyFromRegistry(t *testing.T) {
	files := new(protoregistry.Files)
	if err := files.RegisterFile(testpb.File_oauthgatetest_v1_library_proto); err != nil {
		t.Fatal(err)
	}
	p, err := NewPolicy(FromRegistry(files))
	if err != nil {
		t.Fatal(err)
	}
	assertPolicy(t, p, wantLibrary)
}

func TestGoRules(t *testing.T) {
	libFile := FromFiles(testpb.File_oauthgatetest_v1_library_proto)
	healthSvc := healthpb.Health_ServiceDesc.ServiceName
	reflSvc := reflectionpb.ServerReflection_ServiceDesc.ServiceName
	tests := map[string]struct {
		opts    []Option
		want    map[string]string // subset that must hold
		wantErr error
		errName string
		errText string // what the problem must say, if anything
	}{
		"HealthAndReflectionPublic": {
			opts: []Option{libFile, ForService(healthSvc, Public()), ForService(reflSvc, Public())},
			want: map[string]string{
				"/grpc.health.v1.Health/Check":                              "public",
				"/grpc.health.v1.Health/Watch":                              "public",
				"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo": "public",
				lib + "GetBook": "library.read",
			},
		},
		"MethodBeatsService": {
			opts: []Option{libFile, ForService(healthSvc, AllOf("ops")), ForMethod("/grpc.health.v1.Health/Check", Public())},
			want: map[string]string{"/grpc.health.v1.Health/Check": "public", "/grpc.health.v1.Health/Watch": "ops"},
		},
		"MethodBeatsServiceAnyOrder": {
			opts: []Option{libFile, ForMethod("/grpc.health.v1.Health/Check", Public()), ForService(healthSvc, AllOf("ops"))},
			want: map[string]string{"/grpc.health.v1.Health/Check": "public", "/grpc.health.v1.Health/Watch": "ops"},
		},
		"UnknownService": {
			opts: []Option{libFile, ForService("nope.v1.Nothing", Public())}, wantErr: ErrUnknownService, errName: "nope.v1.Nothing",
		},
		"UnknownMethod": {
			opts: []Option{ForMethod("/grpc.health.v1.Health/Nope", Public())}, wantErr: ErrUnknownService, errName: "/grpc.health.v1.Health/Nope",
		},
		"MalformedMethodName": {
			opts: []Option{ForMethod("grpc.health.v1.Health.Check", Public())}, wantErr: ErrUnknownService, errName: "grpc.health.v1.Health.Check",
		},
		"InvalidGoRule": {
			opts: []Option{ForService(healthSvc, AllOf())}, wantErr: ErrInvalidRule, errName: healthSvc,
		},
		"ConflictsWithProto": {
			opts: []Option{libFile, ForMethod(lib+"Ping", AllOf("x"))}, wantErr: ErrInvalidRule, errName: lib + "Ping",
			errText: "already has a rule in its .proto file (on " + lib + "Ping)",
		},
		"ServiceTwice": {
			opts: []Option{ForService(healthSvc, Public()), ForService(healthSvc, Public())}, wantErr: ErrInvalidRule, errName: healthSvc,
			errText: "already declared in Go by " + healthSvc,
		},
		"MethodTwice": {
			opts:    []Option{ForMethod("/grpc.health.v1.Health/Check", Public()), ForMethod("/grpc.health.v1.Health/Check", AllOf("ops"))},
			wantErr: ErrInvalidRule, errName: "/grpc.health.v1.Health/Check", errText: "already declared in Go by /grpc.health.v1.Health/Check",
		},
		"ServiceConflictsWithProto": {
			opts:    []Option{libFile, ForService("oauthgatetest.v1.LibraryService", AllOf("x"))},
			wantErr: ErrInvalidRule, errName: "oauthgatetest.v1.LibraryService", errText: "already has a rule in its .proto file",
		},
		// A malformed method name must never fall back to its whole service.
		"EmptyMethodName": {
			opts:    []Option{ForMethod("/grpc.health.v1.Health/", Public())},
			wantErr: ErrUnknownService, errName: "/grpc.health.v1.Health/", errText: "method names have the form",
		},
		"EmptyServiceName": {
			opts:    []Option{ForMethod("//Check", Public())},
			wantErr: ErrUnknownService, errName: "//Check", errText: "method names have the form",
		},
		"SlashInMethodName": {
			opts:    []Option{ForMethod("/grpc.health.v1.Health/Check/x", Public())},
			wantErr: ErrUnknownService, errName: "/grpc.health.v1.Health/Check/x", errText: "method names have the form",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p, err := NewPolicy(tc.opts...)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(fmt.Sprint(err), tc.errName) {
					t.Fatalf("NewPolicy() error = %v, want %v naming %s", err, tc.wantErr, tc.errName)
				}
				if !strings.Contains(fmt.Sprint(err), tc.errText) {
					t.Errorf("NewPolicy() error = %v, want it to say %q", err, tc.errText)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewPolicy() error = %v", err)
			}
			got := policyStrings(p)
			for m, w := range tc.want {
				if got[m] != w {
					t.Errorf("Rule(%s) = %q, want %q", m, got[m], w)
				}
			}
		})
	}
}

type librarySrv struct {
	testpb.UnimplementedLibraryServiceServer
}
type shelfSrv struct {
	testpb.UnimplementedShelfServiceServer
}

func registeredMethods(srv *grpc.Server) []string {
	var out []string
	for svc, info := range srv.GetServiceInfo() {
		for _, m := range info.Methods {
			out = append(out, "/"+svc+"/"+m.Name)
		}
	}
	return out
}

func TestCoversNamesEveryUncoveredMethod(t *testing.T) {
	srv := grpc.NewServer()
	testpb.RegisterLibraryServiceServer(srv, librarySrv{})
	testpb.RegisterShelfServiceServer(srv, shelfSrv{})
	healthpb.RegisterHealthServer(srv, health.NewServer())
	reflection.Register(srv)

	p, err := NewPolicy(FromFiles(testpb.File_oauthgatetest_v1_library_proto))
	if err != nil {
		t.Fatal(err)
	}
	err = p.Covers(registeredMethods(srv)...)
	var ce *CoverageError
	if !errors.As(err, &ce) || !errors.Is(err, ErrUncovered) {
		t.Fatalf("Covers() = %v, want *CoverageError", err)
	}
	want := []string{
		"/grpc.health.v1.Health/Check",
		"/grpc.health.v1.Health/List",
		"/grpc.health.v1.Health/Watch",
		"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
		"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
		"/oauthgatetest.v1.ShelfService/Burn",
		"/oauthgatetest.v1.ShelfService/Move",
	}
	// Health's method set grows across grpc releases; require at least Check and Watch.
	for _, w := range want {
		if w == "/grpc.health.v1.Health/List" && !slices.Contains(ce.Methods, w) {
			continue
		}
		if !slices.Contains(ce.Methods, w) {
			t.Errorf("Covers() does not name %s; got %v", w, ce.Methods)
		}
	}
	for _, m := range ce.Methods {
		if strings.HasPrefix(m, lib) || m == "/oauthgatetest.v1.ShelfService/Count" {
			t.Errorf("Covers() names covered method %s", m)
		}
	}

	p, err = NewPolicy(
		FromFiles(testpb.File_oauthgatetest_v1_library_proto),
		ForService(healthpb.Health_ServiceDesc.ServiceName, Public()),
		ForService("grpc.reflection.v1.ServerReflection", Public()),
		ForService("grpc.reflection.v1alpha.ServerReflection", Public()),
		ForMethod("/oauthgatetest.v1.ShelfService/Move", AllOf("shelf.write")),
		ForMethod("/oauthgatetest.v1.ShelfService/Burn", AllOf("shelf.write", "shelf.admin")),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Covers(registeredMethods(srv)...); err != nil {
		t.Fatalf("Covers() = %v, want nil once every method is declared", err)
	}
}

// descriptorsWithUnknownOptions rebuilds library.proto from its wire form
// without knowing oauthgate's extensions, as a program loading a
// FileDescriptorSet would: the options end up as unknown fields.
func descriptorsWithUnknownOptions(t *testing.T, mutate func(*descriptorpb.FileDescriptorProto)) protoreflect.FileDescriptor {
	t.Helper()
	fdp := protodesc.ToFileDescriptorProto(testpb.File_oauthgatetest_v1_library_proto)
	if mutate != nil {
		mutate(fdp)
	}
	b, err := proto.Marshal(fdp)
	if err != nil {
		t.Fatal(err)
	}
	blind := new(descriptorpb.FileDescriptorProto)
	if err := (proto.UnmarshalOptions{Resolver: new(protoregistry.Types)}).Unmarshal(b, blind); err != nil {
		t.Fatal(err)
	}
	if proto.HasExtension(blind.GetService()[0].GetOptions(), oauthgatev1.E_Service) {
		t.Fatal("test setup: options should hold the extension as unknown fields")
	}
	deps := new(protoregistry.Files)
	for _, fd := range []protoreflect.FileDescriptor{descriptorpb.File_google_protobuf_descriptor_proto, oauthgatev1.File_oauthgate_v1_annotations_proto} {
		if err := deps.RegisterFile(fd); err != nil {
			t.Fatal(err)
		}
	}
	fd, err := protodesc.NewFile(blind, deps)
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

func TestNewPolicyUnknownFieldOptions(t *testing.T) {
	p, err := NewPolicy(FromFiles(descriptorsWithUnknownOptions(t, nil)))
	if err != nil {
		t.Fatal(err)
	}
	assertPolicy(t, p, wantLibrary)
}

func TestNewPolicyHostileOption(t *testing.T) {
	// Field 6750 as a varint where a message is expected.
	fd := descriptorsWithUnknownOptions(t, func(fdp *descriptorpb.FileDescriptorProto) {
		m := fdp.GetService()[0].GetMethod()[0] // GetBook
		opts := &descriptorpb.MethodOptions{}
		opts.ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 6750, protowire.VarintType), 1))
		m.Options = opts
	})
	_, err := NewPolicy(FromFiles(fd))
	if !errors.Is(err, ErrInvalidRule) || !strings.Contains(err.Error(), lib+"GetBook") {
		t.Fatalf("NewPolicy() error = %v, want ErrInvalidRule naming GetBook", err)
	}
}

func TestPolicyConcurrentLookup(t *testing.T) {
	p, err := NewPolicy(FromFiles(testpb.File_oauthgatetest_v1_library_proto))
	if err != nil {
		t.Fatal(err)
	}
	granted := mustSet(t, "library.read")
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			for range 200 {
				r, ok := p.Rule(lib + "GetBook")
				if !ok || !r.Allows(granted) {
					t.Error("concurrent lookup lost the rule")
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestLookupDoesNotAllocate(t *testing.T) {
	p, err := NewPolicy(FromFiles(testpb.File_oauthgatetest_v1_library_proto))
	if err != nil {
		t.Fatal(err)
	}
	granted := mustSet(t, "library.admin library.write")
	allocs := testing.AllocsPerRun(100, func() {
		r, ok := p.Rule(lib + "AddBooks")
		if !ok || !r.Allows(granted) {
			t.Fatal("lookup failed")
		}
	})
	if allocs != 0 {
		t.Fatalf("Rule + Allows allocate %v times per call, want 0", allocs)
	}
}

// TestNewPolicyEmpty checks that a policy without any rule is refused: it
// would deny every call.
func TestNewPolicyEmpty(t *testing.T) {
	empty := new(protoregistry.Files)
	for name, opts := range map[string][]Option{
		"EmptyRegistry": {FromRegistry(empty)},
		"NoFiles":       {FromFiles()},
		"NoServices":    {FromServices()},
	} {
		if _, err := NewPolicy(opts...); !errors.Is(err, ErrEmptyPolicy) || !strings.Contains(err.Error(), "FromFiles") {
			t.Errorf("%s: NewPolicy() error = %v, want ErrEmptyPolicy naming FromFiles", name, err)
		}
	}
}

// TestCompileErrorPrefixOnce checks that a CompileError says "scopes:"
// once, not once per problem.
func TestCompileErrorPrefixOnce(t *testing.T) {
	_, err := NewPolicy(FromFiles(testpb.File_oauthgatetest_v1_invalid_proto))
	if err == nil {
		t.Fatal("NewPolicy(invalid.proto) = nil, want an error")
	}
	if n := strings.Count(err.Error(), "scopes:"); n != 1 {
		t.Errorf("NewPolicy() error says \"scopes:\" %d times, want once:\n%v", n, err)
	}
}
