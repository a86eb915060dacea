package scopes

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	oauthgatev1 "github.com/oauthgate/oauthgate/proto/oauthgate/v1"
)

// resolver reads oauthgate.v1 options off descriptors. Descriptors built at
// run time (from a FileDescriptorSet, from reflection, or against another
// copy of the generated package) may carry the option as a dynamic message
// or still as unknown fields; resolver handles all three forms and never
// panics on a hostile option.
type resolver struct {
	// types holds only oauthgate's own extensions, to re-parse unknown
	// fields without consulting any global registry.
	types *protoregistry.Types
}

func newResolver() (*resolver, error) {
	types := new(protoregistry.Types)
	for _, xt := range []protoreflect.ExtensionType{oauthgatev1.E_Method, oauthgatev1.E_Service} {
		if err := types.RegisterExtension(xt); err != nil {
			return nil, fmt.Errorf("scopes: register %s: %w", xt.TypeDescriptor().FullName(), err)
		}
	}
	return &resolver{types: types}, nil
}

// methodRule returns the (oauthgate.v1.method) option of md, or nil.
func (r *resolver) methodRule(md protoreflect.MethodDescriptor) (*oauthgatev1.Rule, error) {
	return resolve(r, md.Options(), &descriptorpb.MethodOptions{}, oauthgatev1.E_Method)
}

// serviceRule returns the (oauthgate.v1.service) option of sd, or nil.
func (r *resolver) serviceRule(sd protoreflect.ServiceDescriptor) (*oauthgatev1.Rule, error) {
	return resolve(r, sd.Options(), &descriptorpb.ServiceOptions{}, oauthgatev1.E_Service)
}

// resolve extracts xt from opts. fresh is an empty options message of the
// concrete generated type, used when opts is not one already.
func resolve[O proto.Message](r *resolver, opts proto.Message, fresh O, xt protoreflect.ExtensionType) (*oauthgatev1.Rule, error) {
	if opts == nil || !opts.ProtoReflect().IsValid() {
		return nil, nil
	}
	// Fast path: the generated options type with a typed extension value.
	if typed, ok := opts.(O); ok && proto.HasExtension(typed, xt) {
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
		return nil, fmt.Errorf("%w: cannot read options: %v", ErrInvalidRule, err)
	}
	if err := (proto.UnmarshalOptions{Resolver: r.types}).Unmarshal(b, fresh); err != nil {
		return nil, fmt.Errorf("%w: cannot parse %s option: %v", ErrInvalidRule, xt.TypeDescriptor().FullName(), err)
	}
	if hasField(fresh.ProtoReflect().GetUnknown(), xt.TypeDescriptor().Number()) {
		// The field is there but did not parse as a Rule (wrong wire type):
		// refuse rather than fall back to a weaker service rule.
		return nil, fmt.Errorf("%w: %s option is not a valid oauthgate.v1.Rule", ErrInvalidRule, xt.TypeDescriptor().FullName())
	}
	if !proto.HasExtension(fresh, xt) {
		return nil, nil
	}
	rule, ok := proto.GetExtension(fresh, xt).(*oauthgatev1.Rule)
	if !ok {
		return nil, fmt.Errorf("%w: %s option has an unexpected type", ErrInvalidRule, xt.TypeDescriptor().FullName())
	}
	return rule, nil
}

// maxMaxAge bounds max_age, in seconds: more would overflow a Duration and
// is no step-up requirement.
const maxMaxAge = 10 * 365 * 24 * 3600

// compile turns a declared rule into a Rule, validating it.
func compile(pb *oauthgatev1.Rule) Rule {
	var r Rule
	switch {
	case pb.GetPublic():
		r.public = true
		if len(pb.GetScopes()) > 0 || len(pb.GetAny()) > 0 {
			r.fail("public cannot be combined with scopes")
		}
	case len(pb.GetAny()) > 0:
		for _, alt := range pb.GetAny() {
			if len(alt.GetScopes()) == 0 {
				r.fail("an alternative in any lists no scopes")
				continue
			}
			r.addAlternative(pb.GetScopes(), alt.GetScopes())
		}
	case len(pb.GetScopes()) > 0:
		r.addAlternative(nil, pb.GetScopes())
	default:
		r.fail("rule is neither public nor requires scopes")
	}
	if len(pb.GetAudiences()) > 0 {
		r = r.WithAudiences(pb.GetAudiences()...)
	}
	if pb.GetSenderConstrained() {
		r = r.SenderConstrained()
	}
	if len(pb.GetAcrValues()) > 0 {
		r = r.WithACR(pb.GetAcrValues()...)
	}
	if pb.MaxAge != nil {
		if s := pb.GetMaxAge(); s < 0 || s > maxMaxAge {
			r.fail("max_age is negative or over 10 years")
		} else {
			r = r.WithMaxAge(time.Duration(s) * time.Second)
		}
	}
	return r
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
