package scopes

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oauthgate/oauthgate/scopeset"
)

// A Rule says what an access token must carry to call an RPC: nothing (a
// public RPC) or scopes, as one or more alternatives, each a set of scopes
// that are all required.
//
// Rules come from (oauthgate.v1.method) and (oauthgate.v1.service) options or
// from [Public], [AllOf] and [AnyOf]. A rule may also carry [Condition]s on
// the token and the request ([Rule.If]), which package conditions compiles
// and evaluates. The zero Rule is invalid: [NewPolicy] rejects it. A Rule is
// immutable and safe for concurrent use.
type Rule struct {
	public bool
	// alternatives are sorted, duplicate-free scope lists; the rule is met
	// when one of them is contained in the token's scopes.
	alternatives [][]string
	// audiences, when not empty, narrows the audiences accepted for the RPC.
	audiences []string
	// senderConstrained refuses bearer tokens.
	senderConstrained bool
	// acrValues, when not empty, are the acr values accepted (RFC 9470).
	acrValues []string
	// maxAge is the longest time since auth_time accepted, when hasMaxAge.
	maxAge    time.Duration
	hasMaxAge bool
	// conditions must all hold; package conditions evaluates them.
	conditions []Condition
	// err records a problem found while the rule was built, reported by
	// NewPolicy together with the method it applies to.
	err error
}

// Public returns the rule of an RPC that needs no access token, such as a
// health check.
func Public() Rule { return Rule{public: true} }

// AllOf returns a rule that requires every one of scopes (AND).
func AllOf(scopes ...string) Rule {
	r := Rule{}
	r.addAlternative(nil, scopes)
	return r
}

// AnyOf returns a rule met when any one of the alternatives is (OR). Each
// alternative must be an [AllOf] rule; AnyOf(AllOf("read"), AllOf("admin"))
// accepts either scope.
func AnyOf(alternatives ...Rule) Rule {
	r := Rule{}
	if len(alternatives) == 0 {
		r.fail("AnyOf has no alternatives")
	}
	for _, a := range alternatives {
		switch {
		case a.err != nil:
			r.err = a.err
		case a.public:
			r.fail("public cannot be an alternative")
		case len(a.audiences) > 0:
			r.fail("an alternative cannot set audiences")
		case a.senderConstrained:
			r.fail("an alternative cannot be sender-constrained; set it on the whole rule")
		case len(a.acrValues) > 0 || a.hasMaxAge:
			r.fail("an alternative cannot set acr_values or max_age; set them on the whole rule")
		case len(a.conditions) > 0:
			r.fail("an alternative cannot have conditions; set them on the whole rule")
		}
		r.alternatives = append(r.alternatives, a.alternatives...)
	}
	return r
}

// WithAudiences returns a copy of r that also requires the token's aud claim
// to contain one of audiences, on top of the verifier's own audience check.
func (r Rule) WithAudiences(audiences ...string) Rule {
	if r.public {
		r.fail("public cannot be combined with audiences")
	}
	if len(audiences) == 0 {
		r.fail("WithAudiences needs at least one audience")
	}
	for _, a := range audiences {
		if strings.TrimSpace(a) == "" {
			r.fail("empty audience")
		}
	}
	r.audiences = slices.Concat(r.audiences, audiences)
	return r
}

// SenderConstrained returns a copy of r that accepts only sender-constrained
// tokens: bound to a client certificate (RFC 8705) or a DPoP key (RFC 9449),
// never plain bearer tokens. A public rule cannot be sender-constrained.
func (r Rule) SenderConstrained() Rule {
	if r.public {
		r.fail("public cannot be combined with sender_constrained")
	}
	r.senderConstrained = true
	return r
}

// RequiresSenderConstraint reports whether bearer tokens are refused.
func (r *Rule) RequiresSenderConstraint() bool { return r.senderConstrained }

// WithACR returns a copy of r that also requires the token's acr claim to
// be one of values (step-up authentication, RFC 9470). Values must be
// printable ASCII without spaces, quotes or backslashes, since they travel
// in the acr_values parameter of a challenge. Repeated calls add values.
func (r Rule) WithACR(values ...string) Rule {
	if r.public {
		r.fail("public cannot be combined with acr_values")
	}
	if len(values) == 0 {
		r.fail("WithACR needs at least one acr value")
	}
	for _, v := range values {
		if _, err := scopeset.New(v); err != nil {
			r.fail("acr value is empty or has a character outside printable ASCII without space, quote and backslash")
		}
	}
	r.acrValues = slices.Concat(r.acrValues, values)
	return r
}

// WithMaxAge returns a copy of r that also requires the user to have
// authenticated at most d ago, by the token's auth_time claim (step-up
// authentication, RFC 9470); a token without auth_time fails. d is
// rounded down to whole seconds, as max_age is; it must not be negative.
// Later calls replace earlier ones.
func (r Rule) WithMaxAge(d time.Duration) Rule {
	if r.public {
		r.fail("public cannot be combined with max_age")
	}
	if d < 0 {
		r.fail("max_age is negative")
	}
	r.maxAge, r.hasMaxAge = d.Truncate(time.Second), true
	return r
}

// A Condition is a named CEL expression over the token and the request
// that must hold, besides the scopes, for a call to go ahead. Package
// conditions compiles and evaluates it; package scopes only checks its
// name and keeps it with the rule.
type Condition struct {
	// Name identifies the condition in denials and logs: a lower-case
	// letter followed by lower-case letters, digits and underscores, at
	// most 64 characters, unique within its rule.
	Name string
	// Expr is the CEL expression, such as
	// "request.owner == token.sub || 'admin' in token.scopes".
	Expr string
}

// maxConditionName bounds a condition's name, which travels in denials.
const maxConditionName = 64

// validConditionName reports whether name matches [a-z][a-z0-9_]* and is at
// most maxConditionName bytes long.
func validConditionName(name string) bool {
	if name == "" || len(name) > maxConditionName || name[0] < 'a' || name[0] > 'z' {
		return false
	}
	for i := range len(name) {
		if c := name[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// If returns a copy of r that also requires the CEL expression expr to
// hold, under the name given: scopes.AllOf("write:reports").If("owner",
// "request.owner == token.sub"). Conditions add up (AND), in the order
// given. The name must be a lower-case letter followed by lower-case
// letters, digits and underscores, at most 64 characters, and unique
// within the rule; expr must not be empty; a public rule cannot have
// conditions. [NewPolicy] reports any of these as [ErrInvalidRule]; the
// expression itself is checked by package conditions.
func (r Rule) If(name, expr string) Rule {
	switch {
	case r.public:
		r.fail("public cannot be combined with conditions")
	case !validConditionName(name):
		r.fail("condition name " + strconv.Quote(name) + " is not a lower-case letter followed by up to 63 lower-case letters, digits and underscores")
	case slices.ContainsFunc(r.conditions, func(c Condition) bool { return c.Name == name }):
		r.fail("condition name " + strconv.Quote(name) + " is used twice")
	case strings.TrimSpace(expr) == "":
		r.fail("condition " + name + " has an empty expression")
	}
	r.conditions = slices.Concat(r.conditions, []Condition{{Name: name, Expr: expr}})
	return r
}

// Conditions returns a copy of the rule's conditions, in declaration
// order, or nil when it has none. They must all hold.
func (r *Rule) Conditions() []Condition { return slices.Clone(r.conditions) }

// HasConditions reports whether the rule has conditions. It does not
// allocate.
func (r *Rule) HasConditions() bool { return len(r.conditions) > 0 }

// ACRValues returns the acr values the rule accepts, or nil when it
// requires none. The caller must not modify the result.
func (r *Rule) ACRValues() []string { return r.acrValues }

// MaxAge returns the longest time since the user's authentication the rule
// accepts; ok is false when it sets none.
func (r *Rule) MaxAge() (d time.Duration, ok bool) { return r.maxAge, r.hasMaxAge }

// Authenticated reports whether a token with the acr and auth_time claims
// given (empty and zero when absent) meets the rule's step-up requirements
// at now. The age of the authentication counts whole seconds, as max_age
// and auth_time do: now and authTime are both rounded down to the second,
// so max_age 0 accepts an authentication within the same second. An
// authTime up to 5 minutes (the largest leeway package verify allows)
// after now counts as an authentication now, so that a client of an
// authorization server whose clock runs ahead is not sent to authenticate
// again and again; one further in the future never meets a max_age, since
// it would meet every max_age for as long as the token lived (verifiers of
// package verify refuse one beyond their leeway as an invalid token). It
// does not allocate.
// maxAuthTimeSkew is how far in the future an auth_time may lie and still
// count as an authentication now: the largest leeway of package verify.
const maxAuthTimeSkew = 5 * time.Minute

func (r *Rule) Authenticated(acr string, authTime, now time.Time) bool {
	if len(r.acrValues) > 0 && !slices.Contains(r.acrValues, acr) {
		return false
	}
	if r.hasMaxAge {
		if authTime.IsZero() {
			return false
		}
		// OpenID Connect Core §2, §3.1.2.1: auth_time and max_age are
		// seconds; a sub-second now must not make max_age 0 unreachable.
		// A future auth_time counted as age 0 would meet every max_age for
		// as long as the token lived.
		if age := now.Truncate(time.Second).Sub(authTime.Truncate(time.Second)); age < -maxAuthTimeSkew || age > r.maxAge {
			return false
		}
	}
	return true
}

// addAlternative appends the alternative common ∪ alt, validating both.
func (r *Rule) addAlternative(common, alt []string) {
	all := slices.Concat(common, alt)
	if len(all) == 0 {
		r.fail("an alternative lists no scopes")
		return
	}
	if _, err := scopeset.New(all...); err != nil {
		var se *scopeset.Error
		if errors.As(err, &se) {
			r.fail(se.Problem)
		} else {
			r.fail(err.Error())
		}
		return
	}
	slices.Sort(all)
	r.alternatives = append(r.alternatives, slices.Compact(all))
}

func (r *Rule) fail(problem string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrInvalidRule, problem)
	}
}

// validate reports the first problem with r.
func (r *Rule) validate() error {
	switch {
	case r.err != nil:
		return r.err
	case r.public && len(r.alternatives) > 0:
		return fmt.Errorf("%w: public cannot be combined with scopes", ErrInvalidRule)
	case !r.public && len(r.alternatives) == 0:
		return fmt.Errorf("%w: rule is neither public nor requires scopes", ErrInvalidRule)
	}
	return nil
}

// IsPublic reports whether the RPC needs no access token.
func (r *Rule) IsPublic() bool { return r.public }

// Allows reports whether a token holding granted meets the rule. A public
// rule allows everything. Allows does not allocate.
func (r *Rule) Allows(granted scopeset.Set) bool {
	if r.public {
		return true
	}
	for _, alt := range r.alternatives {
		if hasAll(granted, alt) {
			return true
		}
	}
	return false
}

func hasAll(granted scopeset.Set, want []string) bool {
	for _, s := range want {
		if !granted.Has(s) {
			return false
		}
	}
	return true
}

// Alternatives returns the rule's alternatives: a token meets the rule when
// it holds every scope of at least one of them. Each alternative is sorted.
// The result is nil for a public rule; the caller must not modify it.
func (r *Rule) Alternatives() [][]string { return r.alternatives }

// Closest returns the alternative that granted comes nearest to: the one
// missing the fewest scopes, the first declared on a tie. It is what an
// insufficient_scope challenge puts in its scope parameter (RFC 6750 §3),
// telling the client which scopes to request. The caller must not modify
// the result; it is nil for a public rule.
func (r *Rule) Closest(granted scopeset.Set) []string {
	var best []string
	bestMissing := -1
	for _, alt := range r.alternatives {
		missing := 0
		for _, s := range alt {
			if !granted.Has(s) {
				missing++
			}
		}
		if bestMissing < 0 || missing < bestMissing {
			best, bestMissing = alt, missing
		}
	}
	return best
}

// Audiences returns the audiences the rule narrows the RPC to, or nil. The
// caller must not modify the result.
func (r *Rule) Audiences() []string { return r.audiences }

// String describes the rule: "public", "a AND b", "(a) OR (b AND c)",
// followed by the names of its conditions ("a IF owner AND tenant").
func (r *Rule) String() string {
	if r.public {
		return "public"
	}
	parts := make([]string, len(r.alternatives))
	for i, alt := range r.alternatives {
		parts[i] = strings.Join(alt, " AND ")
		if len(r.alternatives) > 1 {
			parts[i] = "(" + parts[i] + ")"
		}
	}
	s := strings.Join(parts, " OR ")
	if len(r.audiences) > 0 {
		s += " FOR " + strings.Join(r.audiences, ", ")
	}
	if r.senderConstrained {
		s += " SENDER-CONSTRAINED"
	}
	if len(r.acrValues) > 0 {
		s += " ACR " + strings.Join(r.acrValues, "|")
	}
	if r.hasMaxAge {
		s += " MAX-AGE " + strconv.FormatInt(int64(r.maxAge/time.Second), 10) + "s"
	}
	for i, c := range r.conditions {
		if i == 0 {
			s += " IF "
		} else {
			s += " AND "
		}
		s += c.Name
	}
	return s
}
