package main

import (
	"errors"
	"testing"

	oauthgatev1 "github.com/oauthgate/oauthgate/proto/oauthgate/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"
)

// FuzzPlugin feeds the plugin arbitrary bytes on its standard input. It
// must never panic: bytes that are not a request are refused with an error,
// and every request gets a response that protoc can read, which is either
// an error or files with clean relative names, and the same response each
// time.
func FuzzPlugin(f *testing.F) {
	// Small seeds, which the mutator changes quickly; the fixtures' large
	// requests (descriptor.proto alone is 100 KB) are TestGolden's. The
	// options are bare bytes of field 6750, as in a request whose
	// annotations.proto is not among the files: ruleopt reads them either way.
	for _, param := range []string{"", "report=r.md", "report=r.json,format=json", "lint=false,report=r.md",
		"scope_pattern=^[a-z]+$,require_public_reason=true,no_mixed_services=true", "scope_allowlist=x", "bogus=1"} {
		for _, rules := range [][]*oauthgatev1.Rule{
			{{Scopes: []string{"a"}}, nil},
			{{Public: true}, {Any: []*oauthgatev1.Scopes{{Scopes: []string{"a", "b"}}, {Scopes: []string{"c"}}}, Audiences: []string{"x"}, SenderConstrained: true}},
			{{Public: true, Scopes: []string{"a"}}, {Scopes: []string{""}}},
			{{Scopes: []string{"a"}, Conditions: []*oauthgatev1.Condition{{Name: "c", Expr: "token.sub == 'x'"}}},
				{Scopes: []string{"a"}, Conditions: []*oauthgatev1.Condition{{Name: "d", Expr: "request.x == 1"}}}},
			{nil, nil},
		} {
			b, err := proto.Marshal(smallRequest(param, rules...))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte{})
	f.Add([]byte("\x0a\x07a.proto\x12\x0blint=maybe"))

	// The allowlist is never read while fuzzing: a parameter could name any
	// file.
	noFiles := env{readFile: func(string) ([]byte, error) { return nil, errors.New("no files while fuzzing") }}
	f.Fuzz(func(t *testing.T, data []byte) {
		resp, err := handle(data, noFiles)
		if err != nil {
			if resp != nil {
				t.Fatalf("handle() = %v and a response", err)
			}
			if proto.Unmarshal(data, new(pluginpb.CodeGeneratorRequest)) == nil {
				t.Fatalf("handle() refused a request that parses: %v", err)
			}
			return
		}
		if _, err := proto.Marshal(resp); err != nil {
			t.Fatalf("the response does not encode: %v", err)
		}
		if resp.Error != nil && len(resp.GetFile()) > 0 {
			t.Fatalf("response has an error and %d files", len(resp.GetFile()))
		}
		for _, file := range resp.GetFile() {
			if !validOutputPath(file.GetName()) {
				t.Fatalf("response file name %q escapes the output directory", file.GetName())
			}
		}
		again, _ := handle(data, noFiles)
		if !proto.Equal(resp, again) {
			t.Fatalf("two responses to one request differ:\n%v\n%v", resp, again)
		}
	})
}

// smallRequest is a request for one file, a.proto, with a service S whose
// methods M0, M1... carry rules (nil for none), and source code info for
// the service and its methods.
func smallRequest(param string, rules ...*oauthgatev1.Rule) *pluginpb.CodeGeneratorRequest {
	svc := &descriptorpb.ServiceDescriptorProto{Name: proto.String("S")}
	info := &descriptorpb.SourceCodeInfo{Location: []*descriptorpb.SourceCodeInfo_Location{
		{Path: []int32{6, 0}, Span: []int32{2, 0, 9, 1}, LeadingComments: proto.String(" S serves.\n")},
	}}
	for i, rule := range rules {
		opts := &descriptorpb.MethodOptions{}
		if rule != nil {
			proto.SetExtension(opts, oauthgatev1.E_Method, rule)
		}
		svc.Method = append(svc.Method, &descriptorpb.MethodDescriptorProto{
			Name: proto.String("M" + string(rune('0'+i))), InputType: proto.String(".a.E"), OutputType: proto.String(".a.E"),
			Options: opts, ClientStreaming: proto.Bool(i%2 == 1),
		})
		info.Location = append(info.Location,
			&descriptorpb.SourceCodeInfo_Location{Path: []int32{6, 0, 2, int32(i)}, Span: []int32{int32(3 + i), 2, 40}},
			&descriptorpb.SourceCodeInfo_Location{Path: []int32{6, 0, 2, int32(i), 4, 6750}, Span: []int32{int32(3 + i), 20, 39}})
	}
	return &pluginpb.CodeGeneratorRequest{
		FileToGenerate: []string{"a.proto"},
		Parameter:      proto.String(param),
		ProtoFile: []*descriptorpb.FileDescriptorProto{{
			Name:           proto.String("a.proto"),
			Package:        proto.String("a"),
			Syntax:         proto.String("proto3"),
			MessageType:    []*descriptorpb.DescriptorProto{{Name: proto.String("E")}},
			Service:        []*descriptorpb.ServiceDescriptorProto{svc},
			SourceCodeInfo: info,
		}},
	}
}
