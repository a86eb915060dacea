package scopes

import (
	"errors"
	"slices"
	"strings"
	"testing"

	oauthgatev1 "github.com/oauthgate/oauthgate/proto/oauthgate/v1"
	"github.com/oauthgate/oauthgate/scopeset"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// FuzzNewPolicy builds a service whose method and service options are
// arbitrary bytes, as a hostile or corrupt descriptor set could carry, and
// compiles it. NewPolicy must never panic; a declaration it cannot read
// fails the whole policy rather than vanish or fall back to the service
// rule; and every rule it does compile is either public because the
// options say so explicitly, or denies a token without scopes and allows
// one holding an alternative.
//
// typed chooses how the bytes reach the descriptor: decoded into
// descriptorpb options with the generated extension registered (so the
// rule is a typed value), or kept raw as unknown fields (as from a
// descriptor set read without the extension).
func FuzzNewPolicy(f *testing.F) {
	rule := func(r *oauthgatev1.Rule) []byte {
		b, err := proto.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		return protowire.AppendBytes(protowire.AppendTag(nil, 6750, protowire.BytesType), b)
	}
	seeds := [][]byte{
		nil,
		rule(&oauthgatev1.Rule{Public: true}),
		rule(&oauthgatev1.Rule{Scopes: []string{"a", "b"}}),
		rule(&oauthgatev1.Rule{Any: []*oauthgatev1.Scopes{{Scopes: []string{"a"}}, {Scopes: []string{"b", "c"}}}, Scopes: []string{"x"}}),
		rule(&oauthgatev1.Rule{Public: true, Scopes: []string{"a"}}),
		rule(&oauthgatev1.Rule{Scopes: []string{""}}),
		rule(&oauthgatev1.Rule{Scopes: []string{"read admin"}}),
		rule(&oauthgatev1.Rule{Any: []*oauthgatev1.Scopes{{}}}),
		rule(&oauthgatev1.Rule{Scopes: []string{"a"}, Audiences: []string{" "}}),
		rule(&oauthgatev1.Rule{Public: true, Audiences: []string{"https://x"}}),
		rule(&oauthgatev1.Rule{}),
		append(rule(&oauthgatev1.Rule{Public: true}), rule(&oauthgatev1.Rule{Scopes: []string{"a"}})...), // merged
		protowire.AppendVarint(protowire.AppendTag(nil, 6750, protowire.VarintType), 1),                  // wrong wire type
		{0xf2, 0xa5, 0x03, 0x05, 0x08}, // truncated
		protowire.AppendVarint(protowire.AppendTag(nil, 33, protowire.VarintType), 1), // deprecated: true
		rule(&oauthgatev1.Rule{Scopes: []string{"a"}, Conditions: []*oauthgatev1.Condition{{Name: "owner", Expr: "request.owner == token.sub"}}}),
		rule(&oauthgatev1.Rule{Scopes: []string{"a"}, Conditions: []*oauthgatev1.Condition{{Name: "a", Expr: "true"}, {Name: "a", Expr: "false"}}}),
		rule(&oauthgatev1.Rule{Public: true, Conditions: []*oauthgatev1.Condition{{Name: "owner", Expr: "true"}}}),
	}
	for _, m := range seeds {
		for _, s := range [][]byte{nil, rule(&oauthgatev1.Rule{Scopes: []string{"svc"}}), rule(&oauthgatev1.Rule{Public: true})} {
			f.Add(m, s, false)
			f.Add(m, s, true)
		}
	}
	f.Fuzz(func(t *testing.T, methodOpts, serviceOpts []byte, typed bool) {
		mo, so := &descriptorpb.MethodOptions{}, &descriptorpb.ServiceOptions{}
		if typed {
			if proto.Unmarshal(methodOpts, mo) != nil || proto.Unmarshal(serviceOpts, so) != nil {
				return
			}
		} else {
			mo.ProtoReflect().SetUnknown(methodOpts)
			so.ProtoReflect().SetUnknown(serviceOpts)
		}
		fd := fuzzFile(t, mo, so)

		p, err := NewPolicy(FromFiles(fd))
		method, svc := declared(methodOpts), declared(serviceOpts)
		if errors.Is(err, ErrEmptyPolicy) {
			if method.rule != nil || svc.rule != nil || method.broken || svc.broken {
				t.Fatalf("NewPolicy() = %v, but method %x, service %x declare a rule", err, methodOpts, serviceOpts)
			}
			return
		}
		if err != nil {
			var ce *CompileError
			if !errors.As(err, &ce) || !errors.Is(err, ErrInvalidRule) {
				t.Fatalf("NewPolicy() error = %v, want a *CompileError matching ErrInvalidRule", err)
			}
			return
		}
		if method.broken || svc.broken {
			t.Fatalf("NewPolicy() compiled options it cannot read (method %x, service %x)", methodOpts, serviceOpts)
		}
		for _, m := range []struct {
			name string
			decl *oauthgatev1.Rule // the declaration that applies, nil for none
		}{
			{"/fuzz.v1.S/Declared", cmpOr(method.rule, svc.rule)},
			{"/fuzz.v1.S/Inherits", svc.rule},
		} {
			r, ok := p.Rule(m.name)
			if ok != (m.decl != nil) {
				t.Fatalf("Rule(%s) ok = %t, but its declaration is %v", m.name, ok, m.decl)
			}
			if !ok {
				continue
			}
			checkCompiledRule(t, m.name, r, m.decl)
		}
	})
}

// checkCompiledRule holds r to decl, the declaration it came from.
func checkCompiledRule(t *testing.T, name string, r *Rule, decl *oauthgatev1.Rule) {
	t.Helper()
	var want []Condition
	for _, c := range decl.GetConditions() {
		want = append(want, Condition{Name: c.GetName(), Expr: c.GetExpr()})
	}
	if got := r.Conditions(); !slices.Equal(got, want) {
		t.Fatalf("Rule(%s).Conditions() = %q, but the declaration has %q", name, got, want)
	}
	for _, c := range want {
		if !validConditionName(c.Name) || strings.TrimSpace(c.Expr) == "" {
			t.Fatalf("Rule(%s) has the invalid condition %q", name, c)
		}
	}
	if r.IsPublic() {
		if !decl.GetPublic() || len(decl.GetScopes()) > 0 || len(decl.GetAny()) > 0 || len(want) > 0 {
			t.Fatalf("Rule(%s) is public, but the declaration %v is not purely public", name, decl)
		}
		return
	}
	if decl.GetPublic() {
		t.Fatalf("Rule(%s) = %v, but the declaration %v is public", name, r, decl)
	}
	if r.Allows(scopeset.Set{}) {
		t.Fatalf("Rule(%s) = %v allows a token with no scopes", name, r)
	}
	if len(r.Alternatives()) == 0 {
		t.Fatalf("Rule(%s) = %v has no alternatives", name, r)
	}
	for _, alt := range r.Alternatives() {
		set, err := scopeset.New(alt...)
		if err != nil || len(alt) == 0 {
			t.Fatalf("Rule(%s) has the invalid alternative %q", name, alt)
		}
		if !r.Allows(set) {
			t.Fatalf("Rule(%s) = %v does not allow its own alternative %q", name, r, alt)
		}
		// Every declared common scope is required by every alternative.
		for _, s := range decl.GetScopes() {
			if len(decl.GetAny()) > 0 && !set.Has(s) {
				t.Fatalf("Rule(%s) alternative %q lacks the common scope %q", name, alt, s)
			}
		}
	}
}

func cmpOr(a, b *oauthgatev1.Rule) *oauthgatev1.Rule {
	if a != nil {
		return a
	}
	return b
}

// declaration is an independent reading of field 6750 in options bytes.
type declaration struct {
	rule   *oauthgatev1.Rule // merged occurrences; nil if absent
	broken bool              // bytes or the rule cannot be read
}

func declared(b []byte) declaration {
	var d declaration
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return declaration{broken: true}
		}
		b = b[n:]
		if num == 6750 {
			if typ != protowire.BytesType {
				return declaration{broken: true}
			}
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return declaration{broken: true}
			}
			if d.rule == nil {
				d.rule = &oauthgatev1.Rule{}
			}
			// Occurrences of a message field merge (protobuf encoding spec).
			if err := (proto.UnmarshalOptions{Merge: true}).Unmarshal(v, d.rule); err != nil {
				return declaration{broken: true}
			}
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return declaration{broken: true}
		}
		b = b[n:]
	}
	return d
}

// fuzzFile returns a file with service fuzz.v1.S, whose method Declared
// has options mo, method Inherits has none, and whose service options are so.
func fuzzFile(t *testing.T, mo *descriptorpb.MethodOptions, so *descriptorpb.ServiceOptions) protoreflect.FileDescriptor {
	t.Helper()
	method := func(name string, opts *descriptorpb.MethodOptions) *descriptorpb.MethodDescriptorProto {
		return &descriptorpb.MethodDescriptorProto{
			Name: proto.String(name), InputType: proto.String(".fuzz.v1.M"), OutputType: proto.String(".fuzz.v1.M"), Options: opts,
		}
	}
	fdp := &descriptorpb.FileDescriptorProto{
		Name:        proto.String("fuzz/v1/fuzz.proto"),
		Package:     proto.String("fuzz.v1"),
		Syntax:      proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("M")}},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name:    proto.String("S"),
			Method:  []*descriptorpb.MethodDescriptorProto{method("Declared", mo), method("Inherits", nil)},
			Options: so,
		}},
	}
	fd, err := protodesc.NewFile(fdp, nil)
	if err != nil {
		t.Skipf("protodesc.NewFile: %v", err) // options it refuses never reach NewPolicy
	}
	return fd
}
