package conditions_test

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/oauthgate/oauthgate/conditions"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/scopes"
)

// TestCompileRefuses compiles the test protos' bad conditions, one kind of
// mistake per method, and checks that each is named with its method, its
// condition and CEL's message at its position in the expression.
// protoc-gen-oauthgate's tests check that the plugin reports the same
// messages.
func TestCompileRefuses(t *testing.T) {
	t.Parallel()
	p, err := scopes.NewPolicy(scopes.FromFiles(testpb.File_oauthgatetest_v1_conditions_invalid_proto))
	if err != nil {
		t.Fatal(err)
	}
	_, err = conditions.Compile(p)
	var ce *conditions.CompileError
	if !errors.As(err, &ce) || !errors.Is(err, conditions.ErrInvalidCondition) {
		t.Fatalf("Compile() = %v, want a *CompileError matching ErrInvalidCondition", err)
	}
	const bad, def = "/oauthgatetest.v1.BadConditionService/", "/oauthgatetest.v1.BadDefaultService/"
	want := map[string]struct{ condition, msg string }{
		bad + "SyntaxError":       {"syntax", "condition syntax: expression 1:17: Syntax error: mismatched input '<EOF>' expecting"},
		bad + "UnknownField":      {"unknown_field", "condition unknown_field: expression 1:8: undefined field 'ownr'"},
		bad + "UnknownTokenField": {"unknown_token_field", "condition unknown_token_field: expression 1:1: undeclared reference to 'token'; the variables are request, token.sub, token.client_id,"},
		bad + "TypeError":         {"type_error", "condition type_error: expression 1:15: found no matching overload for '_==_' applied to '(string, int)'"},
		bad + "NotBool":           {"not_bool", "condition not_bool: the expression is of type string, not bool"},
		bad + "OverBudget":        {"over_budget", "condition over_budget: the estimated cost, up to 1080603, exceeds the budget of 100000"},
		bad + "RegexTooLarge":     {"regex", "condition regex: expression 1:23: regex program size 1004 exceeds limit of 1000"},
		def + "NoOwner":           {"owner", "condition owner: expression 1:8: undefined field 'owner'"},
	}
	var methods []string
	for _, pr := range ce.Problems {
		methods = append(methods, pr.Method)
		w, ok := want[pr.Method]
		if !ok {
			t.Errorf("unexpected problem %s: %v", pr.Method, pr.Err)
			continue
		}
		if pr.Condition != w.condition || !strings.Contains(pr.Err.Error(), w.msg) || !errors.Is(pr.Err, conditions.ErrInvalidCondition) {
			t.Errorf("problem %s = %q: %v, want condition %q with a message containing %q", pr.Method, pr.Condition, pr.Err, w.condition, w.msg)
		}
		if !strings.Contains(err.Error(), pr.Method+": invalid condition: "+w.msg) {
			t.Errorf("Compile() error does not name %s with %q:\n%v", pr.Method, w.msg, err)
		}
	}
	if !slices.IsSorted(methods) || len(methods) != len(want) {
		t.Errorf("problems name %v, want each of the %d methods once, sorted", methods, len(want))
	}
}

// TestCompileExpressions checks what compiles, as the only condition of
// UpdateDocument.
func TestCompileExpressions(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		expr    string
		opts    []conditions.Option
		wantErr string // "" when it compiles
	}{
		"Owner":           {expr: "request.owner == token.sub || 'admin' in token.scopes"},
		"Nested":          {expr: "request.main.owner == token.sub"},
		"EnumLikeString":  {expr: "token.binding in ['mtls', 'dpop']"},
		"OneLoop":         {expr: "request.items.all(i, i.owner == token.sub)"},
		"Macros":          {expr: "request.items.exists_one(i, i.owner == token.sub) || request.items.map(i, i.owner).size() > 0 || request.items.filter(i, i.text == '').size() > 0"},
		"DynClaim":        {expr: "token.claims.admin == true"},
		"DynClaimNotBool": {expr: "token.claims.admin", wantErr: "the expression is of type dyn, not bool"},
		"NoNow":           {expr: "now > token.auth_time", wantErr: "undeclared reference to 'now'"},
		"NoTokenHas":      {expr: "has(token.sub)", wantErr: "undeclared reference to 'token'"},
		"NoToken":         {expr: "token != null", wantErr: "undeclared reference to 'token'"},
		"NoExtension":     {expr: "request.owner.lowerAscii() == token.sub", wantErr: "undeclared reference to 'lowerAscii'"},
		"NoCallCert":      {expr: "call.certificate != null", wantErr: "undeclared reference to 'call.certificate'"},
		"NoOtherMessage":  {expr: "oauthgatetest.v1.Item{owner: 'x'}.owner == token.sub"},
		"ListNotBool":     {expr: "token.scopes", wantErr: "of type list(string), not bool"},
		"TooLong":         {expr: "true" + strings.Repeat(" && true", 600), wantErr: "condition c: expression code point size exceeds limit: size: 4804, limit 4096"}, // CEL has no position for it: none is invented
		"LowBudget":       {expr: "request.items.all(i, i.owner == token.sub)", opts: []conditions.Option{conditions.WithCostLimit(10_000)}, wantErr: "exceeds the budget of 10000"},
		"HighBudget":      {expr: "request.tags.all(a, request.tags.all(b, a == b))", opts: []conditions.Option{conditions.WithCostLimit(2_000_000)}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := compileOne(t, tc.expr, tc.opts...)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Compile(%q) = %v", tc.expr, err)
			case tc.wantErr != "" && (!errors.Is(err, conditions.ErrInvalidCondition) || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Compile(%q) = %v, want ErrInvalidCondition containing %q", tc.expr, err, tc.wantErr)
			}
		})
	}
}

func TestCompileWithoutConditions(t *testing.T) {
	t.Parallel()
	p, err := scopes.NewPolicy(scopes.FromFiles(testpb.File_oauthgatetest_v1_library_proto))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := conditions.Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range p.Methods() {
		if got := ev.For(m); got != nil {
			t.Errorf("For(%s) = %v, want nil", m, got)
		}
	}
	if _, err := conditions.Compile(p, conditions.WithCostLimit(0)); err == nil || !strings.Contains(err.Error(), "WithCostLimit(0)") {
		t.Errorf("Compile(WithCostLimit(0)) = %v, want an error naming it", err)
	}
}

// TestForDoesNotAllocate: looking up a method's conditions costs nothing.
func TestForDoesNotAllocate(t *testing.T) {
	ev, err := conditions.Compile(documentPolicy(t))
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _ = ev.For(updateDocument); _ = ev.For(ping) }); n != 0 {
		t.Errorf("For() allocates %v times", n)
	}
}

// TestCompile_BudgetBoundary: an expression whose estimated cost equals the
// budget compiles, one unit less refuses it. The estimate is read from the
// refusal itself, so the test holds whatever CEL's cost model says.
func TestCompile_BudgetBoundary(t *testing.T) {
	const expr = "request.items.all(i, i.owner == token.sub)"
	_, err := compileOne(t, expr, conditions.WithCostLimit(1))
	m := regexp.MustCompile(`estimated cost, up to (\d+), exceeds`).FindStringSubmatch(fmt.Sprint(err))
	if m == nil {
		t.Fatalf("Compile(budget 1) = %v, want a refusal naming the estimate", err)
	}
	est, err := strconv.ParseUint(m[1], 10, 64)
	if err != nil || est < 2 {
		t.Fatalf("estimate %q: %v", m[1], err)
	}
	if _, err := compileOne(t, expr, conditions.WithCostLimit(est)); err != nil {
		t.Errorf("Compile(budget = the estimate %d) = %v, want it accepted", est, err)
	}
	if _, err := compileOne(t, expr, conditions.WithCostLimit(est-1)); err == nil {
		t.Errorf("Compile(budget = the estimate %d - 1) accepted the expression", est)
	}
}
