package scopes

import (
	"errors"
	"slices"
	"strings"
	"testing"

	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func TestRuleIf(t *testing.T) {
	t.Parallel()
	r := AllOf("docs.write").If("tenant", "request.tenant == token.tenant").If("owner", "request.owner == token.sub")
	if err := r.validate(); err != nil {
		t.Fatalf("validate() = %v", err)
	}
	want := []Condition{{"tenant", "request.tenant == token.tenant"}, {"owner", "request.owner == token.sub"}}
	got := r.Conditions()
	if !slices.Equal(got, want) || !r.HasConditions() {
		t.Fatalf("Conditions() = %v, HasConditions() = %t; want %v, true", got, r.HasConditions(), want)
	}
	got[0].Expr = "true"
	if r.Conditions()[0].Expr == "true" {
		t.Error("Conditions() returned the rule's own slice: a caller changed the rule")
	}
	if got, want := r.String(), "docs.write IF tenant AND owner"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	// If returns a copy: the rule it started from is unchanged, even when
	// two conditions are added to it one after the other.
	base := AllOf("a").If("one", "true")
	x, y := base.If("two", "true"), base.If("three", "true")
	if len(base.Conditions()) != 1 || x.Conditions()[1].Name != "two" || y.Conditions()[1].Name != "three" {
		t.Errorf("If shares state between copies: base %v, x %v, y %v", base.Conditions(), x.Conditions(), y.Conditions())
	}
	if plain := AllOf("a"); plain.HasConditions() || plain.Conditions() != nil {
		t.Errorf("AllOf() has conditions %v", plain.Conditions())
	}
}

func TestRuleIfInvalid(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 65)
	tests := map[string]struct {
		rule    Rule
		wantMsg string
	}{
		"Public":        {Public().If("owner", "true"), "public cannot be combined with conditions"},
		"UpperCase":     {AllOf("a").If("Owner", "true"), `"Owner" is not`},
		"LeadingDigit":  {AllOf("a").If("1owner", "true"), `"1owner" is not`},
		"LeadingUnder":  {AllOf("a").If("_owner", "true"), `"_owner" is not`},
		"Dash":          {AllOf("a").If("is-owner", "true"), `"is-owner" is not`},
		"Empty":         {AllOf("a").If("", "true"), `"" is not`},
		"TooLong":       {AllOf("a").If(long, "true"), "is not"},
		"Duplicate":     {AllOf("a").If("owner", "true").If("owner", "false"), `"owner" is used twice`},
		"EmptyExpr":     {AllOf("a").If("owner", " \n"), "condition owner has an empty expression"},
		"OnAlternative": {AnyOf(AllOf("a").If("owner", "true"), AllOf("b")), "an alternative cannot have conditions"},
		"NoScopes":      {Rule{}.If("owner", "true"), "neither public nor requires scopes"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := tc.rule.validate()
			if !errors.Is(err, ErrInvalidRule) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("validate() = %v, want ErrInvalidRule containing %q", err, tc.wantMsg)
			}
		})
	}
	for _, ok := range []string{"a", "owner", "tenant_2", "a0_b1", "tier9", strings.Repeat("z", 64)} {
		if r := AllOf("a").If(ok, "true"); r.validate() != nil {
			t.Errorf("If(%q) = %v, want a valid rule", ok, r.validate())
		}
	}
}

const docs = "/oauthgatetest.v1.DocumentService/"

// TestPolicyConditions: conditions travel with their rule, a method rule
// replaces the service's conditions as it replaces its scopes, and the
// policy keeps each method's descriptor for the compiler of conditions.
func TestPolicyConditions(t *testing.T) {
	t.Parallel()
	p, err := NewPolicy(FromFiles(testpb.File_oauthgatetest_v1_conditions_proto))
	if err != nil {
		t.Fatal(err)
	}
	if !p.HasConditions() {
		t.Error("HasConditions() = false for a policy with conditions")
	}
	tenant := Condition{"tenant", "request.tenant == token.tenant"}
	tests := map[string]struct {
		want  []Condition
		input string
	}{
		"GetDocument":     {want: []Condition{tenant}, input: "oauthgatetest.v1.GetDocumentRequest"},
		"UpdateDocument":  {want: []Condition{tenant, {"owner", "request.owner == token.sub || 'admin' in token.scopes"}}, input: "oauthgatetest.v1.UpdateDocumentRequest"},
		"UploadDocuments": {want: []Condition{{"owner", "request.owner == token.sub"}}, input: "oauthgatetest.v1.UploadDocumentsRequest"},
		"PingDocuments":   {want: nil, input: "oauthgatetest.v1.PingDocumentsRequest"},
	}
	for name, tc := range tests {
		r, ok := p.Rule(docs + name)
		if !ok {
			t.Fatalf("Rule(%s) not found", name)
		}
		if got := r.Conditions(); !slices.Equal(got, tc.want) {
			t.Errorf("Rule(%s).Conditions() = %v, want %v", name, got, tc.want)
		}
		md := p.Descriptor(docs + name)
		if md == nil || string(md.Input().FullName()) != tc.input {
			t.Errorf("Descriptor(%s) = %v, want the method with input %s", name, md, tc.input)
		}
	}
	if md := p.Descriptor(docs + "Nope"); md != nil {
		t.Errorf("Descriptor(unknown method) = %v, want nil", md)
	}

	plain, err := NewPolicy(FromFiles(testpb.File_oauthgatetest_v1_library_proto))
	if err != nil {
		t.Fatal(err)
	}
	if plain.HasConditions() {
		t.Error("HasConditions() = true for a policy without conditions")
	}
}

// TestPolicyConditionsFromGo: a Go declaration's method is found in the
// registry, so its conditions can be checked against its input type.
func TestPolicyConditionsFromGo(t *testing.T) {
	t.Parallel()
	check := "/grpc.health.v1.Health/Check"
	p, err := NewPolicy(
		FromFiles(testpb.File_oauthgatetest_v1_library_proto),
		ForService(healthpb.Health_ServiceDesc.ServiceName, AllOf("ops").If("svc", "request.service != ''")),
		ForMethod("/grpc.health.v1.Health/Watch", AllOf("ops")),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !p.HasConditions() {
		t.Error("HasConditions() = false")
	}
	r, _ := p.Rule(check)
	if got := r.Conditions(); len(got) != 1 || got[0].Name != "svc" {
		t.Errorf("Rule(Check).Conditions() = %v, want the service's condition", got)
	}
	if r, _ := p.Rule("/grpc.health.v1.Health/Watch"); r.HasConditions() {
		t.Errorf("Rule(Watch) = %v: the method declaration should replace the service's conditions", r)
	}
	if md := p.Descriptor(check); md == nil || md.Input().FullName() != "grpc.health.v1.HealthCheckRequest" {
		t.Errorf("Descriptor(%s) = %v, want the registry's Check method", check, md)
	}
}
