package scopeset

import (
	"encoding/json"
	"slices"
	"strings"
)

// A Set is the set of scopes an access token grants. The zero value is the
// empty set. A Set is immutable and safe for concurrent use.
type Set struct {
	// list is sorted and holds no duplicates. Tokens carry few scopes, so a
	// sorted slice beats a map on both lookup cost and allocations.
	list []string
}

// Parse parses the space-delimited scope string of RFC 6749 §3.3, as carried
// by the scope claim of RFC 9068 and the scope member of RFC 7662. Runs of
// spaces and leading or trailing spaces are tolerated; any other whitespace
// or control character, a double quote or a backslash is an error
// wrapping [ErrInvalid].
func Parse(s string) (Set, error) {
	if s == "" {
		return Set{}, nil
	}
	n := strings.Count(s, " ") + 1
	list := make([]string, 0, n)
	for tok := range strings.SplitSeq(s, " ") {
		if tok == "" {
			continue
		}
		if err := validToken(tok); err != nil {
			return Set{}, err
		}
		list = append(list, tok)
	}
	return newSet(list), nil
}

// New returns the Set of the given scopes, as listed one per element by an
// scp claim. Each scope must be a valid RFC 6749 §3.3 scope token: an empty
// element, or one with a space (for instance "read admin", which would smuggle
// a second scope in), is an error wrapping [ErrInvalid].
func New(scopes ...string) (Set, error) {
	list := make([]string, 0, len(scopes))
	for _, tok := range scopes {
		if err := validToken(tok); err != nil {
			return Set{}, err
		}
		list = append(list, tok)
	}
	return newSet(list), nil
}

func newSet(list []string) Set {
	slices.Sort(list)
	return Set{list: slices.Compact(list)}
}

// validToken reports whether tok is a scope-token of RFC 6749 §3.3:
// 1*( %x21 / %x23-5B / %x5D-7E ).
func validToken(tok string) error {
	if tok == "" {
		return &Error{Problem: "empty scope"}
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return &Error{Problem: "scope contains a character outside RFC 6749 scope-token syntax"}
		}
	}
	return nil
}

// Has reports whether the set contains scope.
func (s Set) Has(scope string) bool {
	// Linear for the common handful of scopes: cheaper than binary search
	// and never allocates.
	if len(s.list) <= 8 {
		return slices.Contains(s.list, scope)
	}
	_, ok := slices.BinarySearch(s.list, scope)
	return ok
}

// Len returns the number of distinct scopes in the set.
func (s Set) Len() int { return len(s.list) }

// Scopes returns the scopes in lexical order. The caller may modify the
// returned slice.
func (s Set) Scopes() []string { return slices.Clone(s.list) }

// String returns the scopes space-delimited in lexical order, the form of the
// RFC 9068 scope claim.
func (s Set) String() string { return strings.Join(s.list, " ") }

// UnmarshalJSON decodes a scope claim: either a space-delimited string
// (the scope claim of RFC 9068 and RFC 7662) or an array of strings (the scp
// claim issued by ory Hydra, Azure AD and Okta). JSON null is the empty set.
// Any other JSON type, or an invalid scope, is an error wrapping
// [ErrInvalid]; it is never read as the empty set.
func (s *Set) UnmarshalJSON(data []byte) error {
	switch {
	case string(data) == "null":
		*s = Set{}
		return nil
	case len(data) > 0 && data[0] == '"':
		var str string
		if err := json.Unmarshal(data, &str); err != nil {
			return &Error{Problem: "scope claim is not a valid JSON string"}
		}
		set, err := Parse(str)
		if err != nil {
			return err
		}
		*s = set
		return nil
	case len(data) > 0 && data[0] == '[':
		var list []string
		if err := json.Unmarshal(data, &list); err != nil {
			return &Error{Problem: "scope claim array holds a value that is not a string"}
		}
		set, err := New(list...)
		if err != nil {
			return err
		}
		*s = set
		return nil
	default:
		return &Error{Problem: "scope claim is neither a string nor an array of strings"}
	}
}

// MarshalJSON encodes the set as the space-delimited string of RFC 9068.
func (s Set) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }
