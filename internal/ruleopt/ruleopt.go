// Package ruleopt reads the (oauthgate.v1.method) and (oauthgate.v1.service)
// options off descriptors. It is the one reader of those options: package
// scopes compiles what it returns into rules, and protoc-gen-oauthgate asks
// it only whether an option is declared, never to judge one.
//
// Descriptors built at run time (from a FileDescriptorSet, a
// CodeGeneratorRequest, reflection, or against another copy of the
// generated package) may carry the option as a dynamic message or still as
// unknown fields; a [Reader] handles all three forms and never panics on a
// hostile option.
package ruleopt

import (
	"errors"
	"fmt"

	oauthgatev1 "github.com/oauthgate/oauthgate/proto/oauthgate/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// A Reader reads oauthgate.v1 options. It is safe for concurrent use.
type Reader struct {
	// types holds only oauthgate's own extensions, to re-parse unknown
	// fields without consulting any global registry.
	types *protoregistry.Types
}

// NewReader returns a Reader.
func NewReader() (*Reader, error) {
	types := new(protoregistry.Types)
	for _, xt := range []protoreflect.ExtensionType{oauthgatev1.E_Method, oauthgatev1.E_Service} {
		if err := types.RegisterExtension(xt); err != nil {
			return nil, fmt.Errorf("scopes: register %s: %w", xt.TypeDescriptor().FullName(), err)
		}
	}
	return &Reader{types: types}, nil
}

// Method returns the (oauthgate.v1.method) option of md, or nil when md
// declares none. An option that cannot be read is an error wrapping
// invalid, so that callers report it as their own kind of error.
func (r *Reader) Method(md protoreflect.MethodDescriptor, invalid error) (*oauthgatev1.Rule, error) {
	return resolve(r, md.Options(), &descriptorpb.MethodOptions{}, oauthgatev1.E_Method, invalid)
}

// Service returns the (oauthgate.v1.service) option of sd, or nil; see
// [Reader.Method].
func (r *Reader) Service(sd protoreflect.ServiceDescriptor, invalid error) (*oauthgatev1.Rule, error) {
	return resolve(r, sd.Options(), &descriptorpb.ServiceOptions{}, oauthgatev1.E_Service, invalid)
}

// errInvalid stands in for a nil invalid argument.
var errInvalid = errors.New("invalid option")

// resolve extracts xt from opts. fresh is an empty options message of the
// concrete generated type, used when opts is not one already.
func resolve[O proto.Message](r *Reader, opts proto.Message, fresh O, xt protoreflect.ExtensionType, invalid error) (*oauthgatev1.Rule, error) {
	if invalid == nil {
		invalid = errInvalid
	}
	if opts == nil || !opts.ProtoReflect().IsValid() {
		return nil, nil
	}
	// Fast path: the generated options type with a typed extension value.
	if typed, ok := opts.(O); ok && proto.HasExtension(typed, xt) {
		if hasField(typed.ProtoReflect().GetUnknown(), xt.TypeDescriptor().Number()) {
			// Another occurrence of the field did not parse as a Rule
			// (wrong wire type) and was kept as unknown: refuse, as the slow
			// path below does, rather than enforce only the readable one.
			return nil, fmt.Errorf("%w: %s option is not a valid oauthgate.v1.Rule", invalid, xt.TypeDescriptor().FullName())
		}
		if rule, ok := proto.GetExtension(typed, xt).(*oauthgatev1.Rule); ok {
			return rule, nil
		}
	}
	// Options of the generated type hold the option either typed (handled
	// above) or as unknown fields. Options of any other type (dynamicpb, a
	// different copy of descriptor.proto) may hold it in either form.
	sameType := opts.ProtoReflect().Descriptor() == fresh.ProtoReflect().Descriptor()
	if sameType && len(opts.ProtoReflect().GetUnknown()) == 0 {
		return nil, nil
	}
	// Slow path: round-trip through the wire format into the concrete type,
	// resolving only our own extensions. This turns dynamic values and
	// unknown fields alike into a typed *oauthgatev1.Rule.
	b, err := proto.MarshalOptions{AllowPartial: true}.Marshal(opts)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot read options: %v", invalid, err)
	}
	if err := (proto.UnmarshalOptions{Resolver: r.types}).Unmarshal(b, fresh); err != nil {
		return nil, fmt.Errorf("%w: cannot parse %s option: %v", invalid, xt.TypeDescriptor().FullName(), err)
	}
	if hasField(fresh.ProtoReflect().GetUnknown(), xt.TypeDescriptor().Number()) {
		// The field is there but did not parse as a Rule (wrong wire type):
		// refuse rather than fall back to a weaker service rule.
		return nil, fmt.Errorf("%w: %s option is not a valid oauthgate.v1.Rule", invalid, xt.TypeDescriptor().FullName())
	}
	if !proto.HasExtension(fresh, xt) {
		return nil, nil
	}
	rule, ok := proto.GetExtension(fresh, xt).(*oauthgatev1.Rule)
	if !ok {
		return nil, fmt.Errorf("%w: %s option has an unexpected type", invalid, xt.TypeDescriptor().FullName())
	}
	return rule, nil
}

// hasField reports whether the wire-format bytes b hold field num. Malformed
// bytes count as holding it, so that they are refused.
func hasField(b []byte, num protoreflect.FieldNumber) bool {
	for len(b) > 0 {
		n, typ, tagLen := protowire.ConsumeTag(b)
		if tagLen < 0 {
			return true
		}
		if n == num {
			return true
		}
		fieldLen := protowire.ConsumeFieldValue(n, typ, b[tagLen:])
		if fieldLen < 0 {
			return true
		}
		b = b[tagLen+fieldLen:]
	}
	return false
}
