package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/oauthgate/oauthgate/conditions"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"
)

// maxAllowlist bounds the allowlist file: it is a list of scopes, and a
// parameter naming a device or a huge file must fail, not hang.
const maxAllowlist = 1 << 20

// env is what the plugin takes from its surroundings besides the request.
type env struct {
	// readFile reads the scope allowlist.
	readFile func(name string) ([]byte, error)
}

func osEnv() env {
	return env{readFile: func(name string) ([]byte, error) {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxAllowlist+1))
		if err == nil && len(b) > maxAllowlist {
			err = fmt.Errorf("larger than %d bytes", maxAllowlist)
		}
		return b, err
	}}
}

// handle decodes a serialized CodeGeneratorRequest and answers it. Only
// bytes that are not a request are an error; everything else is answered
// in the response.
func handle(data []byte, e env) (*pluginpb.CodeGeneratorResponse, error) {
	req := new(pluginpb.CodeGeneratorRequest)
	if err := proto.Unmarshal(data, req); err != nil {
		return nil, fmt.Errorf("the input is not a CodeGeneratorRequest (run this plugin through protoc or buf): %v", err)
	}
	return generate(req, e), nil
}

// generate answers req: lint failures and bad parameters in the error
// field, the report (when asked) as the only file.
func generate(req *pluginpb.CodeGeneratorRequest, e env) *pluginpb.CodeGeneratorResponse {
	resp := &pluginpb.CodeGeneratorResponse{
		// The plugin reads descriptors only, so every syntax protodesc
		// understands is fine.
		SupportedFeatures: proto.Uint64(uint64(pluginpb.CodeGeneratorResponse_FEATURE_PROTO3_OPTIONAL |
			pluginpb.CodeGeneratorResponse_FEATURE_SUPPORTS_EDITIONS)),
		MinimumEdition: proto.Int32(int32(descriptorpb.Edition_EDITION_PROTO2)),
		MaximumEdition: proto.Int32(int32(descriptorpb.Edition_EDITION_2024)),
	}
	files, err := run(req, e)
	if err != nil {
		resp.Error = proto.String(err.Error())
		return resp
	}
	resp.File = files
	return resp
}

// A lintError is the list of diagnostics that fails the build.
type lintError struct{ diags []diagnostic }

// Error puts each diagnostic on a line of its own, after a header line, so
// that protoc's and buf's prefix ("--oauthgate_out: ", "Failure: plugin
// ...: ") stays on the header and editors can parse every position.
func (e *lintError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "protoc-gen-oauthgate: %d problem(s) in the oauthgate policy:", len(e.diags))
	for _, d := range e.diags {
		b.WriteString("\n")
		b.WriteString(d.String())
	}
	return b.String()
}

func run(req *pluginpb.CodeGeneratorRequest, e env) ([]*pluginpb.CodeGeneratorResponse_File, error) {
	p, err := parseParams(req.GetParameter())
	if err != nil {
		return nil, fmt.Errorf("protoc-gen-oauthgate: %v", err)
	}
	files, err := filesToGenerate(req)
	if err != nil {
		return nil, fmt.Errorf("protoc-gen-oauthgate: %v", err)
	}
	var allow map[string]bool
	if p.scopeAllowlist != "" {
		b, err := e.readFile(p.scopeAllowlist)
		if err != nil {
			return nil, fmt.Errorf("protoc-gen-oauthgate: scope_allowlist: %v", err)
		}
		allow = parseAllowlist(b)
	}
	var condOpts []conditions.Option
	if p.conditionCostLimit > 0 {
		condOpts = append(condOpts, conditions.WithCostLimit(p.conditionCostLimit))
	}
	a, err := analyze(files, condOpts...)
	if err != nil {
		return nil, fmt.Errorf("protoc-gen-oauthgate: %v", err)
	}
	diags := a.problems
	if p.lint {
		diags = append(diags, a.uncovered...)
		diags = append(diags, a.check(p, allow)...)
	}
	if len(diags) > 0 {
		sortDiagnostics(diags)
		return nil, &lintError{diags: diags}
	}
	if p.report == "" {
		return nil, nil
	}
	var content []byte
	switch p.format {
	case "json":
		content, err = a.reportJSON()
	default:
		content = a.reportMarkdown()
	}
	if err != nil {
		return nil, fmt.Errorf("protoc-gen-oauthgate: %v", err)
	}
	return []*pluginpb.CodeGeneratorResponse_File{{Name: proto.String(p.report), Content: proto.String(string(content))}}, nil
}

// filesToGenerate builds descriptors from the request, the way protoc
// compiled them, and returns the files to generate sorted by path; imports
// (annotations.proto, the well-known types) are resolved, never linted.
func filesToGenerate(req *pluginpb.CodeGeneratorRequest) ([]protoreflect.FileDescriptor, error) {
	reg, err := protodesc.NewFiles(&descriptorpb.FileDescriptorSet{File: req.GetProtoFile()})
	if err != nil {
		return nil, fmt.Errorf("the request's descriptors: %v", err)
	}
	names := slices.Clone(req.GetFileToGenerate())
	slices.Sort(names)
	names = slices.Compact(names)
	files := make([]protoreflect.FileDescriptor, 0, len(names))
	for _, name := range names {
		fd, err := reg.FindFileByPath(name)
		if err != nil {
			return nil, fmt.Errorf("file to generate %q is not among the request's files", name)
		}
		files = append(files, fd)
	}
	return files, nil
}

// parseAllowlist reads one scope a line; blank lines and lines starting
// with # are ignored, surrounding spaces trimmed.
func parseAllowlist(b []byte) map[string]bool {
	allow := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, maxAllowlist+1)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		allow[line] = true
	}
	return allow
}
