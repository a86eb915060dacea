package scopes

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	oauthgatev1 "github.com/oauthgate/oauthgate/proto/oauthgate/v1"
	"github.com/oauthgate/oauthgate/scopeset"
)

func mustSet(t testing.TB, s string) scopeset.Set {
	t.Helper()
	set, err := scopeset.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestRuleAllows(t *testing.T) {
	tests := map[string]struct {
		rule        Rule
		granted     string
		want        bool
		wantClosest []string
	}{
		"AllOfMet":          {rule: AllOf("write", "admin"), granted: "admin write other", want: true, wantClosest: []string{"admin", "write"}},
		"AllOfPartial":      {rule: AllOf("write", "admin"), granted: "write", want: false, wantClosest: []string{"admin", "write"}},
		"AnyOfFirst":        {rule: AnyOf(AllOf("read"), AllOf("admin")), granted: "read", want: true, wantClosest: []string{"read"}},
		"AnyOfSecond":       {rule: AnyOf(AllOf("read"), AllOf("admin")), granted: "admin", want: true, wantClosest: []string{"admin"}},
		"AnyOfNone":         {rule: AnyOf(AllOf("read"), AllOf("admin")), granted: "write", want: false, wantClosest: []string{"read"}},
		"ClosestFewestMiss": {rule: AnyOf(AllOf("a", "b", "c"), AllOf("x", "y")), granted: "a b", want: false, wantClosest: []string{"a", "b", "c"}},
		"ClosestTieFirst":   {rule: AnyOf(AllOf("x", "y"), AllOf("a", "b")), granted: "", want: false, wantClosest: []string{"x", "y"}},
		"Public":            {rule: Public(), granted: "", want: true},
		"EmptyGranted":      {rule: AllOf("read"), granted: "", want: false, wantClosest: []string{"read"}},
		"CaseSensitive":     {rule: AllOf("Read"), granted: "read", want: false, wantClosest: []string{"Read"}},
		"PrefixIsNotScope":  {rule: AllOf("read:reports"), granted: "read", want: false, wantClosest: []string{"read:reports"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if err := tc.rule.validate(); err != nil {
				t.Fatalf("validate() = %v", err)
			}
			granted := mustSet(t, tc.granted)
			if got := tc.rule.Allows(granted); got != tc.want {
				t.Errorf("Allows(%q) = %v, want %v", tc.granted, got, tc.want)
			}
			if got := tc.rule.Closest(granted); !slices.Equal(got, tc.wantClosest) {
				t.Errorf("Closest(%q) = %v, want %v", tc.granted, got, tc.wantClosest)
			}
		})
	}
}

func TestRuleInvalid(t *testing.T) {
	tests := map[string]Rule{
		"Zero":                {},
		"AllOfNothing":        AllOf(),
		"AllOfEmptyString":    AllOf("read", ""),
		"AllOfSpace":          AllOf("read admin"),
		"AnyOfNothing":        AnyOf(),
		"AnyOfPublic":         AnyOf(Public(), AllOf("a")),
		"AnyOfInvalid":        AnyOf(AllOf("a"), AllOf()),
		"PublicWithAudiences": Public().WithAudiences("x"),
		"EmptyAudience":       AllOf("a").WithAudiences(""),
		"NoAudience":          AllOf("a").WithAudiences(),
	}
	for name, r := range tests {
		t.Run(name, func(t *testing.T) {
			if err := r.validate(); !errors.Is(err, ErrInvalidRule) {
				t.Fatalf("validate() = %v, want ErrInvalidRule", err)
			}
		})
	}
}

func TestRuleString(t *testing.T) {
	tests := map[string]struct {
		rule Rule
		want string
	}{
		"Public":    {Public(), "public"},
		"AllOf":     {AllOf("write", "admin"), "admin AND write"},
		"AnyOf":     {AnyOf(AllOf("read"), AllOf("admin", "x")), "(read) OR (admin AND x)"},
		"Audiences": {AllOf("a").WithAudiences("https://x"), "a FOR https://x"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.rule.String(); got != tc.want {
				t.Fatalf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRuleSenderConstrained(t *testing.T) {
	r := AnyOf(AllOf("read"), AllOf("admin")).SenderConstrained()
	if err := r.validate(); err != nil || !r.RequiresSenderConstraint() {
		t.Fatalf("SenderConstrained() = %v, %t; want a valid sender-constrained rule", err, r.RequiresSenderConstraint())
	}
	if r.String() != "(read) OR (admin) SENDER-CONSTRAINED" {
		t.Errorf("String() = %q", r.String())
	}
	if plain := AllOf("read"); plain.RequiresSenderConstraint() {
		t.Error("AllOf() requires a sender constraint")
	}
	for name, bad := range map[string]Rule{
		"Public":      Public().SenderConstrained(),
		"Alternative": AnyOf(AllOf("read").SenderConstrained()),
	} {
		if err := bad.validate(); !errors.Is(err, ErrInvalidRule) {
			t.Errorf("%s: validate() = %v, want ErrInvalidRule", name, err)
		}
	}
	pb := compile(&oauthgatev1.Rule{Scopes: []string{"read"}, SenderConstrained: true})
	if err := pb.validate(); err != nil || !pb.RequiresSenderConstraint() {
		t.Errorf("compile(sender_constrained) = %v, %t", err, pb.RequiresSenderConstraint())
	}
	if err := compile(&oauthgatev1.Rule{Public: true, SenderConstrained: true}); !errors.Is(err.validate(), ErrInvalidRule) {
		t.Errorf("compile(public, sender_constrained) valid, want ErrInvalidRule")
	}
}

func TestRuleStepUp(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	r := AllOf("write").WithACR("urn:example:mfa", "urn:example:hw").WithMaxAge(300 * time.Second)
	if err := r.validate(); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		acr      string
		authTime time.Time
		want     bool
	}{
		"Fresh":          {acr: "urn:example:mfa", authTime: now.Add(-time.Minute), want: true},
		"SecondACR":      {acr: "urn:example:hw", authTime: now.Add(-300 * time.Second), want: true},
		"WrongACR":       {acr: "urn:example:pwd", authTime: now},
		"NoACR":          {authTime: now},
		"Stale":          {acr: "urn:example:mfa", authTime: now.Add(-301 * time.Second)},
		"NoAuthTime":     {acr: "urn:example:mfa"},
		"ACROtherCase":   {acr: "URN:example:mfa", authTime: now},
		"FutureAuthTime": {acr: "urn:example:mfa", authTime: now.Add(time.Hour)},
	}
	for name, tc := range tests {
		if got := r.Authenticated(tc.acr, tc.authTime, now); got != tc.want {
			t.Errorf("%s: Authenticated() = %t, want %t", name, got, tc.want)
		}
	}
	if plain := AllOf("x"); !plain.Authenticated("", time.Time{}, now) {
		t.Error("a rule without step-up requirements refused a token")
	}
	r90 := AllOf("x").WithMaxAge(90500 * time.Millisecond)
	if d, ok := r90.MaxAge(); !ok || d != 90*time.Second {
		t.Errorf("MaxAge() = %v, %t; want 90s", d, ok)
	}
	for name, bad := range map[string]Rule{
		"PublicACR":      Public().WithACR("x"),
		"PublicMaxAge":   Public().WithMaxAge(time.Minute),
		"EmptyACR":       AllOf("x").WithACR(""),
		"SpaceACR":       AllOf("x").WithACR("a b"),
		"NoACR":          AllOf("x").WithACR(),
		"NegativeMaxAge": AllOf("x").WithMaxAge(-time.Second),
		"InAlternative":  AnyOf(AllOf("x").WithACR("a")),
		"ProtoNegative":  compile(&oauthgatev1.Rule{Scopes: []string{"x"}, MaxAge: proto.Int64(-1)}),
		"ProtoPublic":    compile(&oauthgatev1.Rule{Public: true, AcrValues: []string{"a"}}),
	} {
		if err := bad.validate(); !errors.Is(err, ErrInvalidRule) {
			t.Errorf("%s: validate() = %v, want ErrInvalidRule", name, err)
		}
	}
	ok := compile(&oauthgatev1.Rule{Scopes: []string{"x"}, AcrValues: []string{"a"}, MaxAge: proto.Int64(0)})
	if d, has := ok.MaxAge(); ok.validate() != nil || !has || d != 0 || len(ok.ACRValues()) != 1 {
		t.Errorf("compile(acr_values, max_age 0) = %v", ok.String())
	}
}

// TestRuleMaxAgeWholeSeconds: max_age counts whole seconds, as auth_time
// does (annotations.proto): the age is now's second minus auth_time's
// second, so max_age 0 accepts an authentication within the same second
// whatever the fraction of now.
func TestRuleMaxAgeWholeSeconds(t *testing.T) {
	t.Parallel()
	sec := time.Unix(1_800_000_000, 0)
	tests := map[string]struct {
		maxAge        time.Duration
		authTime, now time.Time
		want          bool
	}{
		"Zero/SameInstant":        {authTime: sec, now: sec, want: true},
		"Zero/SubSecondNow":       {authTime: sec, now: sec.Add(999 * time.Millisecond), want: true},
		"Zero/FractionalAuthTime": {authTime: sec.Add(700 * time.Millisecond), now: sec.Add(200 * time.Millisecond), want: true},
		"Zero/NextSecond":         {authTime: sec.Add(999 * time.Millisecond), now: sec.Add(time.Second)},
		"Five/FiveAndAFraction":   {maxAge: 5 * time.Second, authTime: sec, now: sec.Add(5*time.Second + 900*time.Millisecond), want: true},
		"Five/Six":                {maxAge: 5 * time.Second, authTime: sec.Add(900 * time.Millisecond), now: sec.Add(6 * time.Second)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := AllOf("x").WithMaxAge(tc.maxAge)
			if got := r.Authenticated("", tc.authTime, tc.now); got != tc.want {
				t.Errorf("WithMaxAge(%v).Authenticated(auth_time %v, now %v) = %t, want %t", tc.maxAge, tc.authTime, tc.now, got, tc.want)
			}
		})
	}
}

// TestRuleFutureAuthTime: an auth_time a little after now (clock skew, up
// to the largest leeway) is an authentication now; one further ahead is
// not fresh. Taken as fresh, a token claiming a far-future auth_time would
// meet every max_age for as long as it lived.
func TestRuleFutureAuthTime(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0).Add(400 * time.Millisecond)
	tests := map[string]struct {
		authTime time.Time
		want     bool
	}{
		"SameSecondLater": {authTime: now.Add(500 * time.Millisecond), want: true},
		"NextSecond":      {authTime: now.Add(600 * time.Millisecond), want: true}, // clock skew
		"FiveMinutes":     {authTime: now.Add(5*time.Minute + 599*time.Millisecond), want: true},
		"OverFiveMinutes": {authTime: now.Add(5*time.Minute + 600*time.Millisecond)},
		"Hour":            {authTime: now.Add(time.Hour)},
		"Year":            {authTime: now.AddDate(1, 0, 0)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, maxAge := range []time.Duration{0, time.Hour} {
				r := AllOf("x").WithMaxAge(maxAge)
				if got := r.Authenticated("", tc.authTime, now); got != tc.want {
					t.Errorf("WithMaxAge(%v).Authenticated(auth_time %v, now %v) = %t, want %t", maxAge, tc.authTime, now, got, tc.want)
				}
			}
		})
	}
}

func TestPolicyScopes(t *testing.T) {
	p, err := NewPolicy(FromFiles(testpb.File_oauthgatetest_v1_library_proto))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"library.admin", "library.audit", "library.read", "library.write", "shelf.read"}
	if got := p.Scopes(); !slices.Equal(got, want) {
		t.Errorf("Scopes() = %v, want %v", got, want)
	}
}

// TestRuleMaxAgeFromProto: max_age in a .proto file is seconds, from 0 to
// 10 years (315 360 000 s, the most a step-up requirement can mean); a
// value outside makes the rule invalid instead of overflowing a Duration.
func TestRuleMaxAgeFromProto(t *testing.T) {
	const tenYears = 10 * 365 * 24 * 3600
	tests := map[string]struct {
		seconds int64
		want    time.Duration
		wantErr bool
	}{
		"Zero":          {seconds: 0, want: 0},
		"FiveMinutes":   {seconds: 300, want: 5 * time.Minute},
		"AMonth":        {seconds: 30 * 24 * 3600, want: 30 * 24 * time.Hour},
		"TenYears":      {seconds: tenYears, want: 87600 * time.Hour},
		"OverTenYears":  {seconds: tenYears + 1, wantErr: true},
		"Negative":      {seconds: -1, wantErr: true},
		"WouldOverflow": {seconds: math.MaxInt64, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := compile(&oauthgatev1.Rule{Scopes: []string{"x"}, MaxAge: proto.Int64(tc.seconds)})
			err := r.validate()
			if tc.wantErr {
				if !errors.Is(err, ErrInvalidRule) {
					t.Fatalf("compile(max_age %d).validate() = %v, want ErrInvalidRule", tc.seconds, err)
				}
				return
			}
			if d, ok := r.MaxAge(); err != nil || !ok || d != tc.want {
				t.Fatalf("compile(max_age %d) = MaxAge %v, %t, error %v; want %v", tc.seconds, d, ok, err, tc.want)
			}
		})
	}
}
