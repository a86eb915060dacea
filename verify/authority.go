package verify

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/oauthgate/oauthgate/scopeset"
)

// maxAuthorities bounds JWTConfig.Authorities and
// IntrospectionConfig.Authorities: presence is tracked in a uint64.
const maxAuthorities = 16

// A ClaimPath names a claim by the member names that lead to it from the
// top of the claim set: {"roles"} is the top-level roles claim,
// {"realm_access", "roles"} the roles member of the realm_access object
// (Keycloak), {"resource_access", "orders-api", "roles"} the roles of one
// client. Each element is one member name, matched exactly and
// case-sensitively, so names holding dots need no escaping.
type ClaimPath []string

// String returns the path's names joined by dots, for error messages.
func (p ClaimPath) String() string { return strings.Join(p, ".") }

// authorities is the compiled form of a list of ClaimPaths: which claims
// form the set of [Claims.Scopes], and how.
type authorities struct {
	// top holds the paths that start at a member other than scope and scp,
	// as a tree of member names; scope and scp are read by the registered
	// claim reader and only referred to by scopeAt and scpAt.
	top     []authNode
	names   []string // each path's dotted name, in configured order
	scopeAt int      // index of the path {"scope"}, or -1
	scpAt   int      // index of the path {"scp"}, or -1
	merge   bool     // union of every present claim, not the first
}

// An authNode is a member name on the way to an authority claim: an
// object holding children, or the claim itself (leaf >= 0).
type authNode struct {
	name     string
	children []authNode
	leaf     int
}

// registeredHeads are the member names the claim reader reads itself; an
// authority path may not start with one, except scope and scp. Static data.
var registeredHeads = [...]string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id", "cnf",
	"active", "token_type", "token_use", "tid", "nonce", "at_hash", "c_hash"}

// compileAuthorities checks paths, the Authorities field of the config
// type cfg, and compiles them. nil paths give nil: the default, scope
// before scp.
func compileAuthorities(cfg string, paths []ClaimPath, merge bool) (*authorities, error) {
	field := cfg + ".Authorities"
	if len(paths) == 0 {
		if merge {
			return nil, fmt.Errorf("verify: %s.MergeAuthorities is set but %s is empty; list the claims to merge", cfg, field)
		}
		return nil, nil
	}
	if len(paths) > maxAuthorities {
		return nil, fmt.Errorf("verify: %s lists %d claims; at most %d are supported", field, len(paths), maxAuthorities)
	}
	a := &authorities{scopeAt: -1, scpAt: -1, merge: merge}
	for i, p := range paths {
		if len(p) == 0 || slices.Contains(p, "") {
			return nil, fmt.Errorf("verify: %s[%d] is empty or has an empty member name", field, i)
		}
		switch {
		case len(p) == 1 && p[0] == "scope":
			a.scopeAt = i
		case len(p) == 1 && p[0] == "scp":
			a.scpAt = i
		case p[0] == "scope" || p[0] == "scp":
			return nil, fmt.Errorf("verify: %s[%d] (%s) descends into %s, which is a string or an array, never an object", field, i, p, p[0])
		case slices.Contains(registeredHeads[:], p[0]):
			return nil, fmt.Errorf("verify: %s[%d] (%s) starts at the registered claim %s, which cannot hold authorities", field, i, p, p[0])
		}
		if slices.ContainsFunc(paths[:i], func(q ClaimPath) bool { return slices.Equal(p, q) }) {
			return nil, fmt.Errorf("verify: %s[%d] (%s) is listed twice", field, i, p)
		}
		a.names = append(a.names, p.String())
		if i == a.scopeAt || i == a.scpAt {
			continue
		}
		if err := addPath(&a.top, p, i); err != nil {
			return nil, fmt.Errorf("verify: %s[%d] (%s) %s", field, i, p, err)
		}
	}
	return a, nil
}

// addPath inserts path p, the i-th, into the tree of nodes. Paths are
// few (maxAuthorities), so no level has more than 64 nodes: see seenTop.
func addPath(nodes *[]authNode, p ClaimPath, i int) error {
	for {
		k := slices.IndexFunc(*nodes, func(n authNode) bool { return n.name == p[0] })
		if k < 0 {
			*nodes = append(*nodes, authNode{name: p[0], leaf: -1})
			k = len(*nodes) - 1
		}
		n := &(*nodes)[k]
		if len(p) == 1 {
			if len(n.children) > 0 {
				return errors.New("is a prefix of another listed path")
			}
			n.leaf = i
			return nil
		}
		if n.leaf >= 0 {
			return errors.New("extends another listed path")
		}
		nodes, p = &n.children, p[1:]
	}
}

// An authorityReader holds what the claim reader found for the configured
// authority claims of one claim set.
type authorityReader struct {
	present uint64 // bit i: path i had a non-null value
	sets    [maxAuthorities]scopeset.Set
	seenTop uint64 // bit k: a.top[k] was read: duplicates
}

// authority reads the value of the top-level member named name, or
// returns handled false when no configured path starts there.
func (r *claimReader) authority(a *authorities, name []byte) (handled bool, err error) {
	k := slices.IndexFunc(a.top, func(n authNode) bool { return n.name == string(name) })
	if k < 0 {
		return false, nil
	}
	if r.auth == nil {
		r.auth = &authorityReader{} // read only: Claims keeps none of it
	}
	if r.auth.seenTop&(1<<k) != 0 {
		return true, malformedClaim(r.nodeName(a, &a.top[k])) // RFC 7519 §4: see claim
	}
	r.auth.seenTop |= 1 << k
	return true, r.authorityNode(a, &a.top[k])
}

// authorityNode reads the value for node n: null (absent), the authority
// claim itself when n is a leaf, else an object whose members on a
// configured path are read in turn, each at most once.
func (r *claimReader) authorityNode(a *authorities, n *authNode) error {
	dec := r.dec
	switch kind := dec.PeekKind(); {
	case kind == 'n':
		if _, err := dec.ReadToken(); err != nil {
			return malformedClaim(r.nodeName(a, n))
		}
		return nil
	case n.leaf >= 0:
		set, ok := r.authorityList()
		if !ok {
			return malformedClaim(a.names[n.leaf])
		}
		r.auth.present |= 1 << n.leaf
		r.auth.sets[n.leaf] = set
		return nil
	case kind != '{':
		return malformedClaim(r.nodeName(a, n)) // an object is expected
	}
	if _, err := dec.ReadToken(); err != nil {
		return malformedClaim(r.nodeName(a, n))
	}
	var seen uint64
	for dec.PeekKind() != '}' {
		name, err := r.name()
		if err != nil {
			return malformedClaim(r.nodeName(a, n))
		}
		k := slices.IndexFunc(n.children, func(c authNode) bool { return c.name == string(name) })
		if k < 0 {
			if err := r.skip(); err != nil {
				return malformedClaim(r.nodeName(a, n))
			}
			continue
		}
		if seen&(1<<k) != 0 {
			return malformedClaim(r.nodeName(a, &n.children[k]))
		}
		seen |= 1 << k
		if err := r.authorityNode(a, &n.children[k]); err != nil {
			return err
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return malformedClaim(r.nodeName(a, n))
	}
	return nil
}

// nodeName names n in errors: the first configured path through it.
func (r *claimReader) nodeName(a *authorities, n *authNode) string {
	for n.leaf < 0 && len(n.children) > 0 {
		n = &n.children[0]
	}
	return a.names[n.leaf]
}

// authorityList reads an authority claim other than scope and scp: an
// array of strings, or one string, each a scope token (RFC 6749 §3.3). A
// string is one authority, never split: "a b" is malformed.
func (r *claimReader) authorityList() (scopeset.Set, bool) {
	if r.dec.PeekKind() == '"' {
		v, ok := r.str()
		if !ok {
			return scopeset.Set{}, false
		}
		set, err := scopeset.New(v)
		r.extra += int64(len(v)) + 16
		return set, err == nil
	}
	var list []string
	if !r.strings(&list) {
		return scopeset.Set{}, false
	}
	set, err := scopeset.New(list...)
	r.extra += 16 * int64(len(list)+1)
	return set, err == nil
}

// finishAuthorities sets c's scopes from the configured authority claims:
// the first present in the configured order or, with merge, the union of
// all present. scope was read into c.scopes by the registered claim
// reader, and scp kept raw; every present authority claim must be well
// formed, whether it is used or not.
func (r *claimReader) finishAuthorities(a *authorities, c *Claims) error {
	var sets [maxAuthorities]scopeset.Set
	var present uint64
	if r.auth != nil {
		sets, present = r.auth.sets, r.auth.present
	}
	if a.scopeAt >= 0 && r.has(seenScope) {
		sets[a.scopeAt], present = c.scopes, present|1<<a.scopeAt
	}
	if a.scpAt >= 0 && r.has(seenScp) {
		if !r.scpOK {
			return malformedClaim("scp")
		}
		sets[a.scpAt], present = r.scp, present|1<<a.scpAt
	}
	c.scopes = scopeset.Set{}
	if !a.merge {
		for i := range a.names {
			if present&(1<<i) != 0 {
				c.scopes = sets[i]
				return nil
			}
		}
		return nil
	}
	var all []string
	for i := range a.names {
		if present&(1<<i) != 0 {
			all = append(all, sets[i].Scopes()...)
		}
	}
	if len(all) > 0 {
		c.scopes, _ = scopeset.New(all...) // each was valid already
		r.extra += 16 * int64(len(all))
	}
	return nil
}
