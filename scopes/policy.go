package scopes

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/oauthgate/oauthgate/internal/ruleopt"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// A Policy maps every covered RPC, by full method name
// ("/pkg.Service/Method"), to its [Rule]. It is compiled once by [NewPolicy]
// and read-only afterwards, so it is safe for concurrent use. A method
// without a rule is not covered and must be denied.
type Policy struct {
	rules map[string]*Rule
	// methods holds the descriptor of every covered method, for the
	// compiler of conditions, which checks them against the input type.
	methods map[string]protoreflect.MethodDescriptor
	// conditional reports whether a rule has conditions.
	conditional bool
}

// origin tells where a method's rule was declared; a method rule takes
// precedence over a service rule of the same origin, and proto and Go
// declarations for one method conflict.
type origin uint8

const (
	protoService origin = iota + 1
	protoMethod
	goService
	goMethod
)

func (o origin) fromGo() bool { return o == goService || o == goMethod }

type entry struct {
	rule   Rule
	origin origin
	// source is the service or method name the rule was declared on.
	source string
	// method describes the RPC the entry is for.
	method protoreflect.MethodDescriptor
}

// NewPolicy compiles the rules declared with (oauthgate.v1.method) and
// (oauthgate.v1.service) options, and those declared in Go with [ForService]
// and [ForMethod], into a Policy.
//
// Descriptors come from [FromFiles], [FromServices] and [FromRegistry]; with
// none of them, from [protoregistry.GlobalFiles]. A method option replaces
// its service's option. Methods with neither get no rule: they are denied,
// and [Policy.Covers] names them.
//
// Every problem is reported at once, in a [*CompileError] naming each
// method or service: an invalid rule, an unreadable option, a Go declaration
// for an unknown service or method, or a method declared both in its .proto
// file and in Go. A policy without any rule is an error too
// ([ErrEmptyPolicy]): it would deny every call.
func NewPolicy(opts ...Option) (*Policy, error) {
	var o options
	for _, opt := range opts {
		opt.apply(&o)
	}
	registry := o.registry
	if registry == nil {
		registry = protoregistry.GlobalFiles
	}
	res, err := ruleopt.NewReader()
	if err != nil {
		return nil, err
	}
	b := builder{res: res, entries: map[string]entry{}, seen: map[protoreflect.FullName]bool{}}

	if !o.explicit || o.registry != nil {
		registry.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
			b.addFile(fd)
			return true
		})
	}
	for _, fd := range o.files {
		b.addFile(fd)
	}
	for _, sd := range o.services {
		b.addService(sd)
	}
	for _, g := range o.goRules {
		b.addGo(g, registry)
	}

	if len(b.problems) > 0 {
		slices.SortFunc(b.problems, func(a, b Problem) int { return cmp.Compare(a.Name, b.Name) })
		return nil, &CompileError{Problems: b.problems}
	}
	if len(b.entries) == 0 {
		// A policy without rules denies every call: almost always a missing
		// FromFiles, never what anyone means.
		return nil, fmt.Errorf("%w: found no (oauthgate.v1.method) or (oauthgate.v1.service) option and no ForService or ForMethod "+
			"declaration; pass your annotated files with FromFiles (the generated File_..._proto variable)", ErrEmptyPolicy)
	}
	p := &Policy{rules: make(map[string]*Rule, len(b.entries)), methods: make(map[string]protoreflect.MethodDescriptor, len(b.entries))}
	for name, e := range b.entries {
		p.rules[name] = &e.rule
		p.methods[name] = e.method
		p.conditional = p.conditional || e.rule.HasConditions()
	}
	return p, nil
}

type builder struct {
	res      *ruleopt.Reader
	entries  map[string]entry
	problems []Problem
	// seen records services already read, so that a file given twice, or
	// given and also in the registry, is read once.
	seen map[protoreflect.FullName]bool
	// services indexes every service read, to resolve Go declarations.
	services []protoreflect.ServiceDescriptor
}

func (b *builder) problem(name string, err error) {
	b.problems = append(b.problems, Problem{Name: name, Err: err})
}

func (b *builder) addFile(fd protoreflect.FileDescriptor) {
	svcs := fd.Services()
	for i := range svcs.Len() {
		b.addService(svcs.Get(i))
	}
}

// fullMethod returns the name gRPC uses for md: "/pkg.Service/Method".
func fullMethod(md protoreflect.MethodDescriptor) string {
	return "/" + string(md.Parent().FullName()) + "/" + string(md.Name())
}

func (b *builder) addService(sd protoreflect.ServiceDescriptor) {
	if b.seen[sd.FullName()] {
		return
	}
	b.seen[sd.FullName()] = true
	b.services = append(b.services, sd)

	var svcRule *Rule
	if pb, err := b.res.Service(sd, ErrInvalidRule); err != nil {
		b.problem(string(sd.FullName()), err)
	} else if pb != nil {
		r := compile(pb)
		if err := r.validate(); err != nil {
			b.problem(string(sd.FullName()), err)
		} else {
			svcRule = &r
		}
	}
	methods := sd.Methods()
	for i := range methods.Len() {
		md := methods.Get(i)
		name := fullMethod(md)
		pb, err := b.res.Method(md, ErrInvalidRule)
		switch {
		case err != nil:
			b.problem(name, err)
		case pb != nil:
			r := compile(pb)
			if err := r.validate(); err != nil {
				b.problem(name, err)
				continue
			}
			b.entries[name] = entry{rule: r, origin: protoMethod, source: name, method: md}
		case svcRule != nil:
			b.entries[name] = entry{rule: *svcRule, origin: protoService, source: string(sd.FullName()), method: md}
		}
	}
}

func (b *builder) findService(name string, registry *protoregistry.Files) protoreflect.ServiceDescriptor {
	for _, sd := range b.services {
		if string(sd.FullName()) == name {
			return sd
		}
	}
	if d, err := registry.FindDescriptorByName(protoreflect.FullName(name)); err == nil {
		if sd, ok := d.(protoreflect.ServiceDescriptor); ok {
			return sd
		}
	}
	return nil
}

func (b *builder) addGo(g goRule, registry *protoregistry.Files) {
	if err := g.rule.validate(); err != nil {
		b.problem(g.name, err)
		return
	}
	svcName, method := g.name, ""
	if g.isMethod {
		s, m, ok := splitFullMethod(g.name)
		if !ok {
			b.problem(g.name, fmt.Errorf("%w: method names have the form /pkg.Service/Method", ErrUnknownService))
			return
		}
		svcName, method = s, m
	}
	sd := b.findService(svcName, registry)
	if sd == nil {
		b.problem(g.name, fmt.Errorf("%w: no descriptor for service %s; link its generated package or pass it with FromFiles", ErrUnknownService, svcName))
		return
	}
	var targets []protoreflect.MethodDescriptor
	if method != "" {
		md := sd.Methods().ByName(protoreflect.Name(method))
		if md == nil {
			b.problem(g.name, fmt.Errorf("%w: service %s has no method %s", ErrUnknownService, svcName, method))
			return
		}
		targets = append(targets, md)
	} else {
		for i := range sd.Methods().Len() {
			targets = append(targets, sd.Methods().Get(i))
		}
	}
	o := goService
	if g.isMethod {
		o = goMethod
	}
	for _, md := range targets {
		name := fullMethod(md)
		prev, ok := b.entries[name]
		switch {
		case !ok, prev.origin == goService && o == goMethod:
			b.entries[name] = entry{rule: g.rule, origin: o, source: g.name, method: md}
		case prev.origin == goMethod && o == goService:
			// The method declaration already takes precedence.
		case prev.origin.fromGo():
			b.problem(g.name, fmt.Errorf("%w: %s is already declared in Go by %s", ErrInvalidRule, name, prev.source))
		default:
			b.problem(g.name, fmt.Errorf("%w: %s already has a rule in its .proto file (on %s); declare it in one place", ErrInvalidRule, name, prev.source))
		}
	}
}

// splitFullMethod splits "/pkg.Service/Method".
func splitFullMethod(name string) (service, method string, ok bool) {
	rest, ok := strings.CutPrefix(name, "/")
	if !ok {
		return "", "", false
	}
	service, method, ok = strings.Cut(rest, "/")
	if !ok || service == "" || method == "" || strings.Contains(method, "/") {
		return "", "", false
	}
	return service, method, true
}

// Rule returns the rule for fullMethod ("/pkg.Service/Method", as in
// grpc.UnaryServerInfo.FullMethod). When ok is false the method is not
// covered and the call must be denied. Rule does not allocate.
func (p *Policy) Rule(fullMethod string) (rule *Rule, ok bool) {
	rule, ok = p.rules[fullMethod]
	return rule, ok
}

// Descriptor returns the descriptor of a covered method, by its full name
// ("/pkg.Service/Method"), or nil when the method is not covered: the
// descriptor the rule was read from, or for a rule declared in Go, the one
// found in the registry. Package conditions checks conditions against its
// input type.
func (p *Policy) Descriptor(fullMethod string) protoreflect.MethodDescriptor {
	return p.methods[fullMethod]
}

// HasConditions reports whether any rule of the policy has conditions
// ([Rule.If], the conditions field of the options). A server must then
// evaluate them (package conditions) or refuse to start: ignoring them
// would allow calls the policy denies.
func (p *Policy) HasConditions() bool { return p.conditional }

// Methods returns the full names of the covered methods, sorted.
func (p *Policy) Methods() []string {
	return slices.Sorted(maps.Keys(p.rules))
}

// Scopes returns every scope that a rule of the policy names, sorted and
// without duplicates: the scopes_supported of the protected resource's
// metadata (RFC 9728), which therefore never drifts from the rules.
func (p *Policy) Scopes() []string {
	var all []string
	for _, r := range p.rules {
		for _, alt := range r.alternatives {
			all = append(all, alt...)
		}
	}
	slices.Sort(all)
	return slices.Compact(all)
}

// Covers checks that every one of methods (full method names, as a server
// registers them) has a rule. Otherwise it returns a [*CoverageError]
// listing every uncovered method, so that a server can refuse to start
// rather than deny those calls in production.
func (p *Policy) Covers(methods ...string) error {
	var missing []string
	for _, m := range methods {
		if _, ok := p.rules[m]; !ok {
			missing = append(missing, m)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	return &CoverageError{Methods: slices.Compact(missing)}
}
