package scopes

import (
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// An Option configures [NewPolicy].
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	files    []protoreflect.FileDescriptor
	services []protoreflect.ServiceDescriptor
	registry *protoregistry.Files // nil until FromRegistry; GlobalFiles then
	explicit bool                 // a From* option was given
	goRules  []goRule
}

type goRule struct {
	name     string // full service name, or full method name "/pkg.S/M"
	isMethod bool
	rule     Rule
}

// FromFiles reads the rules of every service declared in files. Repeated
// calls add files.
func FromFiles(files ...protoreflect.FileDescriptor) Option {
	return optionFunc(func(o *options) {
		o.files = append(o.files, files...)
		o.explicit = true
	})
}

// FromServices reads the rules of the given services. Repeated calls add
// services.
func FromServices(services ...protoreflect.ServiceDescriptor) Option {
	return optionFunc(func(o *options) {
		o.services = append(o.services, services...)
		o.explicit = true
	})
}

// FromRegistry reads the rules of every service in files, and resolves the
// names given to [ForService] and [ForMethod] there. When no From option is
// given, [NewPolicy] reads [protoregistry.GlobalFiles], which holds every
// .proto file linked into the program. A later call replaces an earlier one.
func FromRegistry(files *protoregistry.Files) Option {
	return optionFunc(func(o *options) {
		o.registry = files
		o.explicit = true
	})
}

// ForService declares, in Go, the rule for every method of the named service
// (for example "grpc.health.v1.Health"). Use it for services whose .proto
// files you do not own. The service must be known to the registry (see
// [FromRegistry]) or to a [FromFiles] or [FromServices] option, and must not
// also carry oauthgate annotations; otherwise [NewPolicy] fails. A
// [ForMethod] declaration for one of its methods takes precedence.
func ForService(name string, rule Rule) Option {
	return optionFunc(func(o *options) {
		o.goRules = append(o.goRules, goRule{name: name, rule: rule})
	})
}

// ForMethod declares, in Go, the rule for one method, named as gRPC names it
// ("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"). The same
// conditions as for [ForService] apply.
func ForMethod(fullMethod string, rule Rule) Option {
	return optionFunc(func(o *options) {
		o.goRules = append(o.goRules, goRule{name: fullMethod, isMethod: true, rule: rule})
	})
}
