package main

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/oauthgate/oauthgate/conditions"
	"github.com/oauthgate/oauthgate/internal/ruleopt"
	oauthgatev1 "github.com/oauthgate/oauthgate/proto/oauthgate/v1"
	"github.com/oauthgate/oauthgate/scopes"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Field numbers of descriptor.proto, for source code info paths.
const (
	fileServiceField    = 6 // FileDescriptorProto.service
	serviceMethodField  = 2 // ServiceDescriptorProto.method
	serviceOptionsField = 3 // ServiceDescriptorProto.options
	methodOptionsField  = 4 // MethodDescriptorProto.options
	ruleConditionsField = 8 // oauthgate.v1.Rule.conditions
)

// A diagnostic is one problem, at the position protoc reports for it.
type diagnostic struct {
	file      string
	line, col int // 1-based, as protoc prints them; 0 when unknown
	// name is the full method name ("/pkg.Service/Method") or full service
	// name at fault: what scopes.NewPolicy names.
	name string
	msg  string
}

// String formats d as protoc formats its own errors: file:line:col: message.
func (d diagnostic) String() string {
	if d.line == 0 {
		return d.file + ": " + d.msg
	}
	return d.file + ":" + strconv.Itoa(d.line) + ":" + strconv.Itoa(d.col) + ": " + d.msg
}

func sortDiagnostics(ds []diagnostic) {
	slices.SortFunc(ds, func(a, b diagnostic) int {
		return cmp.Or(cmp.Compare(a.file, b.file), cmp.Compare(a.line, b.line), cmp.Compare(a.col, b.col), cmp.Compare(a.msg, b.msg))
	})
}

// Where a method's rule comes from.
const (
	fromNone    = "none"
	fromMethod  = "method"
	fromService = "service"
)

// A service is one service of a file to generate, with what was declared
// on it.
type service struct {
	file  protoreflect.FileDescriptor
	desc  protoreflect.ServiceDescriptor
	index int // in the file, for source paths
	// option is the declared (oauthgate.v1.service) rule; nil when none or
	// when it cannot be read.
	option *oauthgatev1.Rule
	// invalid is set when scopes.NewPolicy rejected the service's rule.
	invalid bool
	rpcs    []*rpc
}

// An rpc is one method, with the rule scopes.NewPolicy compiled for it.
type rpc struct {
	svc   *service
	desc  protoreflect.MethodDescriptor
	index int
	name  string // "/pkg.Service/Method"
	// option is the declared (oauthgate.v1.method) rule, or nil.
	option  *oauthgatev1.Rule
	invalid bool
	// rule is the effective rule; nil when the method has none or when the
	// policy could not be compiled.
	rule *scopes.Rule
	from string
}

// An analysis is what the policy of the files to generate says.
type analysis struct {
	files    []protoreflect.FileDescriptor
	services []*service
	// problems are the rules scopes.NewPolicy rejected: they always fail.
	problems []diagnostic
	// uncovered are the RPCs without a rule: lint fails on them.
	uncovered []diagnostic
}

// analyze compiles the policy of files with scopes.NewPolicy and its
// conditions with conditions.Compile, exactly as a server that links them
// would, and places each problem they name. Validation is theirs alone;
// this only asks internal/ruleopt, the reader scopes uses, whether an
// option is declared, to tell where a rule comes from and, when the policy
// fails, which RPCs have none.
func analyze(files []protoreflect.FileDescriptor, condOpts ...conditions.Option) (*analysis, error) {
	reader, err := ruleopt.NewReader()
	if err != nil {
		return nil, err
	}
	a := &analysis{files: files}
	problems := map[string]error{}
	policy, err := scopes.NewPolicy(scopes.FromFiles(files...))
	var ce *scopes.CompileError
	switch {
	case err == nil:
	case errors.As(err, &ce):
		for _, p := range ce.Problems {
			problems[p.Name] = p.Err
		}
	case errors.Is(err, scopes.ErrEmptyPolicy):
		// Not one rule: every RPC is uncovered, reported below.
	default:
		return nil, err
	}
	condProblems, err := compileConditions(files, policy, problems, condOpts)
	if err != nil {
		return nil, err
	}
	for _, fd := range files {
		svcs := fd.Services()
		for si := range svcs.Len() {
			sd := svcs.Get(si)
			s := &service{file: fd, desc: sd, index: si}
			a.services = append(a.services, s)
			s.option, _ = reader.Service(sd, scopes.ErrInvalidRule)
			if perr, ok := problems[string(sd.FullName())]; ok {
				s.invalid = true
				a.problems = append(a.problems, s.at(string(sd.FullName()), true,
					"%s: %s", sd.FullName(), problemText(perr)))
			}
			methods := sd.Methods()
			for mi := range methods.Len() {
				md := methods.Get(mi)
				r := &rpc{svc: s, desc: md, index: mi, name: "/" + string(sd.FullName()) + "/" + string(md.Name()), from: fromNone}
				s.rpcs = append(s.rpcs, r)
				r.option, _ = reader.Method(md, scopes.ErrInvalidRule)
				if perr, ok := problems[r.name]; ok {
					r.invalid = true
					a.problems = append(a.problems, r.at(true, "%s: %s", r.name, problemText(perr)))
					continue
				}
				for _, cp := range condProblems[r.name] {
					r.invalid = true
					a.problems = append(a.problems, r.atCondition(cp.Condition, "%s: %s", r.name, conditionText(cp.Err)))
				}
				if policy != nil {
					if rule, ok := policy.Rule(r.name); ok {
						r.rule = rule
						r.from = fromService
						if r.option != nil {
							r.from = fromMethod
						}
					}
				}
				// Without a policy (some rule is invalid) a method is
				// uncovered when neither it nor its service declares a
				// rule; a method left without one by an invalid service
				// rule is reported with that rule.
				if r.rule == nil && (policy != nil || (r.option == nil && s.option == nil && !s.invalid)) {
					a.uncovered = append(a.uncovered, r.at(false,
						"%s has no rule, so every call to it would be denied: annotate it with (oauthgate.v1.method) "+
							"or give %s a default with (oauthgate.v1.service)", r.name, sd.FullName()))
				}
			}
		}
	}
	return a, nil
}

// problemText is a scopes error without the package prefix, which the
// diagnostic does not need.
func problemText(err error) string { return strings.TrimPrefix(err.Error(), "scopes: ") }

// conditionText is a conditions error without the package prefix: the
// line conditions.CompileError prints after the method's name.
func conditionText(err error) string { return strings.TrimPrefix(err.Error(), "conditions: ") }

// compileConditions compiles the conditions of the policy with
// conditions.Compile and returns its problems by method. When some rules
// are invalid there is no policy (scopesProblems names them); the
// conditions of the services without a problem are compiled then, so that
// one build reports every mistake.
func compileConditions(files []protoreflect.FileDescriptor, policy *scopes.Policy, scopesProblems map[string]error,
	opts []conditions.Option) (map[string][]conditions.Problem, error) {
	if policy == nil && len(scopesProblems) > 0 {
		var good []protoreflect.ServiceDescriptor
		for _, fd := range files {
			for i := range fd.Services().Len() {
				sd := fd.Services().Get(i)
				if !serviceHasProblem(sd, scopesProblems) {
					good = append(good, sd)
				}
			}
		}
		if len(good) > 0 {
			// An error leaves no policy: ErrEmptyPolicy when the good
			// services have no rule at all.
			policy, _ = scopes.NewPolicy(scopes.FromServices(good...))
		}
	}
	if policy == nil {
		return nil, nil
	}
	_, err := conditions.Compile(policy, opts...)
	var ce *conditions.CompileError
	switch {
	case err == nil:
		return nil, nil
	case !errors.As(err, &ce):
		return nil, err
	}
	byMethod := map[string][]conditions.Problem{}
	for _, p := range ce.Problems {
		byMethod[p.Method] = append(byMethod[p.Method], p)
	}
	return byMethod, nil
}

// serviceHasProblem reports whether scopes.NewPolicy named sd or one of its
// methods.
func serviceHasProblem(sd protoreflect.ServiceDescriptor, problems map[string]error) bool {
	if _, ok := problems[string(sd.FullName())]; ok {
		return true
	}
	for i := range sd.Methods().Len() {
		if _, ok := problems["/"+string(sd.FullName())+"/"+string(sd.Methods().Get(i).Name())]; ok {
			return true
		}
	}
	return false
}

// at places a diagnostic on the service's option when option is set and
// the option has a position, otherwise on the service.
func (s *service) at(name string, option bool, format string, args ...any) diagnostic {
	path := protoreflect.SourcePath{fileServiceField, int32(s.index)}
	var opt protoreflect.SourcePath
	if option {
		opt = append(slices.Clone(path), serviceOptionsField, int32(oauthgatev1.E_Service.TypeDescriptor().Number()))
	}
	return place(s.file, name, path, opt, fmt.Sprintf(format, args...))
}

// at places a diagnostic on the method's option when option is set and the
// option has a position, otherwise on the method.
func (r *rpc) at(option bool, format string, args ...any) diagnostic {
	path := protoreflect.SourcePath{fileServiceField, int32(r.svc.index), serviceMethodField, int32(r.index)}
	var opt protoreflect.SourcePath
	if option {
		opt = append(slices.Clone(path), methodOptionsField, int32(oauthgatev1.E_Method.TypeDescriptor().Number()))
	}
	return place(r.svc.file, r.name, path, opt, fmt.Sprintf(format, args...))
}

// atCondition places a diagnostic on the declaration of the rule's
// condition called name: in the method's option when it has one, else in
// its service's, whose rule it inherits; without a position for the
// condition, on that option, else on the method.
func (r *rpc) atCondition(name, format string, args ...any) diagnostic {
	path := protoreflect.SourcePath{fileServiceField, int32(r.svc.index), serviceMethodField, int32(r.index)}
	var opt, cond protoreflect.SourcePath
	switch {
	case r.option != nil:
		opt = append(slices.Clone(path), methodOptionsField, int32(oauthgatev1.E_Method.TypeDescriptor().Number()))
		cond = conditionPath(opt, r.option, name)
	case r.svc.option != nil:
		opt = protoreflect.SourcePath{fileServiceField, int32(r.svc.index), serviceOptionsField, int32(oauthgatev1.E_Service.TypeDescriptor().Number())}
		cond = conditionPath(opt, r.svc.option, name)
	}
	if cond != nil && r.svc.file.SourceLocations().ByPath(cond).Path != nil {
		opt = cond
	}
	return place(r.svc.file, r.name, path, opt, fmt.Sprintf(format, args...))
}

// conditionPath returns the path of the condition called name of rule,
// declared in the option at opt, or nil.
func conditionPath(opt protoreflect.SourcePath, rule *oauthgatev1.Rule, name string) protoreflect.SourcePath {
	i := slices.IndexFunc(rule.GetConditions(), func(c *oauthgatev1.Condition) bool { return c.GetName() == name })
	if i < 0 {
		return nil
	}
	return append(slices.Clone(opt), ruleConditionsField, int32(i))
}

func place(fd protoreflect.FileDescriptor, name string, path, opt protoreflect.SourcePath, msg string) diagnostic {
	d := diagnostic{file: fd.Path(), name: name, msg: msg}
	locs := fd.SourceLocations()
	loc := locs.ByPath(opt)
	if opt == nil || loc.Path == nil {
		loc = locs.ByPath(path)
	}
	if loc.Path != nil {
		// Source code info counts from 0; protoc prints from 1.
		d.line, d.col = loc.StartLine+1, loc.StartColumn+1
	}
	return d
}

// leadingComment returns the comment before d, or "".
func leadingComment(fd protoreflect.FileDescriptor, d protoreflect.Descriptor) string {
	return strings.TrimSpace(fd.SourceLocations().ByDescriptor(d).LeadingComments)
}

// check runs the optional checks the parameters turn on.
func (a *analysis) check(p params, allow map[string]bool) []diagnostic {
	var ds []diagnostic
	checkScopes := func(pb *oauthgatev1.Rule, at func(format string, args ...any) diagnostic) {
		for _, sc := range declaredScopes(pb) {
			if p.scopePattern != nil && !p.scopePattern.MatchString(sc) {
				ds = append(ds, at("scope %q does not match scope_pattern %s", sc, p.scopePattern))
			}
			if allow != nil && !allow[sc] {
				ds = append(ds, at("scope %q is not in the scope allowlist %s", sc, p.scopeAllowlist))
			}
		}
	}
	for _, s := range a.services {
		sname := string(s.desc.FullName())
		if s.option != nil && !s.invalid {
			checkScopes(s.option, func(format string, args ...any) diagnostic {
				return s.at(sname, true, sname+": "+format, args...)
			})
		}
		var public, protected []string
		for _, r := range s.rpcs {
			if r.option != nil && !r.invalid {
				checkScopes(r.option, func(format string, args ...any) diagnostic {
					return r.at(true, r.name+": "+format, args...)
				})
			}
			if r.rule == nil {
				continue
			}
			if r.rule.IsPublic() {
				public = append(public, string(r.desc.Name()))
				if p.requirePublicReason && leadingComment(s.file, r.desc) == "" &&
					(r.from != fromService || leadingComment(s.file, s.desc) == "") {
					ds = append(ds, r.at(false, "%s is public but has no comment saying why; "+
						"write the reason in a comment before the rpc (require_public_reason)", r.name))
				}
			} else {
				protected = append(protected, string(r.desc.Name()))
			}
		}
		if p.noMixedServices && s.option == nil && len(public) > 0 && len(protected) > 0 {
			ds = append(ds, s.at(sname, false, "%s mixes public RPCs (%s) with protected ones (%s) and has no default; "+
				"declare (oauthgate.v1.service) so the service's default is deliberate, or split the service (no_mixed_services)",
				sname, strings.Join(public, ", "), strings.Join(protected, ", ")))
		}
	}
	return ds
}

// declaredScopes returns the distinct scopes a rule names, sorted.
func declaredScopes(pb *oauthgatev1.Rule) []string {
	all := slices.Clone(pb.GetScopes())
	for _, alt := range pb.GetAny() {
		all = append(all, alt.GetScopes()...)
	}
	slices.Sort(all)
	return slices.Compact(all)
}
