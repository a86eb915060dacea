package conditions

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

// Size assumptions of the cost estimate: what [Compile] takes as the
// largest string and collection it may meet. Evaluation meets real sizes,
// bounded by the cost limit instead.
const (
	// assumedStringSize is the size, in bytes, assumed for every string
	// and bytes value of the token, the request and the call.
	assumedStringSize = 1024
	// assumedCollectionSize is the number of elements assumed for every
	// list and map of the token, the request and the call.
	assumedCollectionSize = 100
)

// maxExpressionSize bounds an expression, in code points.
const maxExpressionSize = 4096

// maxRegexProgram bounds the compiled size (instructions) of a regular
// expression given to matches, constant or read from the request: RE2
// matches in time linear in the text times the program.
const maxRegexProgram = 1000

// An Evaluator holds the compiled conditions of every method of a policy.
// It is built once by [Compile] and read-only afterwards, so it is safe for
// concurrent use.
type Evaluator struct {
	methods map[string]*Method
}

// Compile compiles every condition of p: it parses each expression,
// type-checks it against the variables of the token and the call and the
// input message of its method (a service's conditions against each of its
// methods' inputs), requires a bool result, and estimates its worst-case
// cost, which must not exceed the budget ([DefaultCostLimit],
// [WithCostLimit]). Every problem is reported at once, in a
// [*CompileError] naming the method and the condition, with CEL's message
// and the position in the expression.
//
// A policy without conditions compiles to an Evaluator whose [Evaluator.For]
// always returns nil.
func Compile(p *scopes.Policy, opts ...Option) (*Evaluator, error) {
	o := options{costLimit: DefaultCostLimit}
	for _, opt := range opts {
		opt.apply(&o)
	}
	if o.costLimit == 0 {
		return nil, errors.New("conditions: WithCostLimit(0) would refuse every condition; give a positive budget")
	}
	ev := &Evaluator{methods: map[string]*Method{}}
	if !p.HasConditions() {
		return ev, nil
	}
	base, err := baseEnv()
	if err != nil {
		return nil, fmt.Errorf("conditions: %w", err)
	}
	c := compiler{base: base, envs: map[protoreflect.FullName]*cel.Env{}, opts: o}
	var problems []Problem
	for _, name := range p.Methods() {
		rule, _ := p.Rule(name)
		if !rule.HasConditions() {
			continue
		}
		md := p.Descriptor(name)
		env, err := c.env(md.Input())
		if err != nil {
			return nil, fmt.Errorf("conditions: %s: %w", name, err)
		}
		m := &Method{name: name, input: md.Input().FullName()}
		for _, cond := range rule.Conditions() {
			compiled, err := c.compile(env, cond)
			if err != nil {
				problems = append(problems, Problem{Method: name, Condition: cond.Name, Err: err})
				continue
			}
			m.conditions = append(m.conditions, compiled)
		}
		ev.methods[name] = m
	}
	if len(problems) > 0 {
		return nil, &CompileError{Problems: problems}
	}
	return ev, nil
}

// For returns the conditions of fullMethod ("/pkg.Service/Method", as in
// grpc.UnaryServerInfo.FullMethod), or nil when its rule has none: a call
// to such a method needs no evaluation at all. For does not allocate.
func (e *Evaluator) For(fullMethod string) *Method {
	if e == nil {
		return nil
	}
	return e.methods[fullMethod]
}

// Evaluates reports whether e holds conditions for fullMethod. With
// [Evaluator.Evaluate] it is how a transport adapter (package interceptor's
// WithConditions) uses an Evaluator without importing this package, so
// that servers without conditions link no CEL.
func (e *Evaluator) Evaluates(fullMethod string) bool { return e.For(fullMethod) != nil }

// Evaluate evaluates the conditions of fullMethod on one call: the
// verified claims, the request message (of the method's input type; on
// client-streaming and bidi RPCs, the message just received) and the
// client's certificate (nil without mutual TLS). It is [Method.Eval] for
// the method, and returns nil for a method without conditions.
func (e *Evaluator) Evaluate(ctx context.Context, fullMethod string, claims *verify.Claims, request proto.Message, cert *x509.Certificate) error {
	return e.For(fullMethod).Eval(ctx, Input{Claims: claims, Request: request, Certificate: cert})
}

// compiler compiles the conditions of one policy.
type compiler struct {
	base *cel.Env
	// envs extends base with the request variable, per input message.
	envs map[protoreflect.FullName]*cel.Env
	opts options
}

// baseEnv declares the variables of the token and the call: qualified
// names, so that an unknown one (token.foo) is a compile error, and the
// evaluation resolves each name only when the expression reads it.
func baseEnv() (*cel.Env, error) {
	envOpts := []cel.EnvOption{
		cel.ParserExpressionSizeLimit(maxExpressionSize),
		cel.RegexProgramSizeLimit(maxRegexProgram),
	}
	for _, v := range variables {
		envOpts = append(envOpts, cel.Variable(v.name, v.typ))
	}
	return cel.NewEnv(envOpts...)
}

// env returns the environment for conditions on requests of type input.
func (c *compiler) env(input protoreflect.MessageDescriptor) (*cel.Env, error) {
	if env, ok := c.envs[input.FullName()]; ok {
		return env, nil
	}
	env, err := c.base.Extend(
		cel.TypeDescs(input.ParentFile()),
		cel.Variable(varRequest, cel.ObjectType(string(input.FullName()))),
	)
	if err != nil {
		return nil, fmt.Errorf("declaring the request type %s: %w", input.FullName(), err)
	}
	c.envs[input.FullName()] = env
	return env, nil
}

// compile compiles one condition in env.
func (c *compiler) compile(env *cel.Env, cond scopes.Condition) (*condition, error) {
	ast, iss := env.Compile(cond.Expr)
	if iss.Err() != nil {
		return nil, invalid(cond.Name, issuesText(iss))
	}
	if !ast.OutputType().IsExactType(types.BoolType) {
		return nil, invalid(cond.Name, "the expression is of type "+cel.FormatCELType(ast.OutputType())+
			", not bool; compare it with a value (== true, != \"\")")
	}
	est, err := env.EstimateCost(ast, estimator{})
	if err != nil {
		return nil, invalid(cond.Name, "cannot estimate the cost: "+err.Error())
	}
	if est.Max > c.opts.costLimit {
		return nil, invalid(cond.Name, fmt.Sprintf("the estimated cost, up to %s, exceeds the budget of %d "+
			"(assuming strings of up to %d bytes and lists and maps of up to %d elements); "+
			"avoid nested loops over request fields, or raise the budget with conditions.WithCostLimit",
			costText(est.Max), c.opts.costLimit, assumedStringSize, assumedCollectionSize))
	}
	popts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}
	if loops(ast) {
		// Only a comprehension (all, exists, exists_one, map, filter)
		// repeats work per element, so that a request larger than the
		// estimate assumed can multiply it. An expression without one runs
		// a fixed number of operations, each linear in what it reads (a
		// regular expression is bounded by maxRegexProgram), and a cost
		// tracker, which charges an operation after it ran, would only
		// double its time.
		popts = append(popts, cel.CostLimit(c.opts.costLimit))
	}
	prg, err := env.Program(ast, popts...)
	if err != nil {
		return nil, invalid(cond.Name, "cannot plan the evaluation: "+err.Error())
	}
	return &condition{name: cond.Name, expr: cond.Expr, program: prg, ast: ast}, nil
}

// loops reports whether the checked expression has a comprehension.
func loops(a *cel.Ast) bool {
	found := false
	celast.PreOrderVisit(a.NativeRep().Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		found = found || e.Kind() == celast.ComprehensionKind
	}))
	return found
}

func invalid(name, msg string) error {
	return fmt.Errorf("%w: condition %s: %s", ErrInvalidCondition, name, msg)
}

// issuesText formats CEL's errors on one line each, as "expression
// LINE:COLUMN: message", joined by "; ".
func issuesText(iss *cel.Issues) string {
	var parts []string
	undeclared := false
	for _, e := range iss.Errors() {
		msg := e.Message
		undeclared = undeclared || strings.Contains(msg, "undeclared reference")
		if loc := e.Location; loc != nil && loc.Line() > 0 {
			msg = "expression " + strconv.Itoa(loc.Line()) + ":" + strconv.Itoa(loc.Column()+1) + ": " + msg
		}
		parts = append(parts, msg)
	}
	if undeclared {
		parts = append(parts, "the variables are request, "+variableNames)
	}
	return strings.Join(parts, "; ")
}

// variableNames lists the variables besides request, for error messages.
var variableNames = func() string {
	names := make([]string, len(variables))
	for i, v := range variables {
		names[i] = v.name
	}
	return strings.Join(names, ", ")
}()

func costText(c uint64) string {
	if c == ^uint64(0) {
		return "unbounded"
	}
	return strconv.FormatUint(c, 10)
}

// estimator gives the cost estimate the documented size assumptions: every
// string, bytes, list and map reachable from a variable.
type estimator struct{}

func (estimator) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	if len(n.Path()) == 0 {
		return nil
	}
	switch n.Type().Kind() {
	case types.StringKind, types.BytesKind, types.DynKind:
		// A dyn value (of token.claims) may be a string or a collection:
		// take the larger assumption.
		sz := cost.RangedSizeEstimate(0, assumedStringSize)
		return &sz
	case types.ListKind, types.MapKind:
		sz := cost.RangedSizeEstimate(0, assumedCollectionSize)
		return &sz
	}
	return nil
}

func (estimator) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}
