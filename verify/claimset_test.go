package verify

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/oauthgate/oauthgate/scopeset"
)

// claimSetSeeds are claim sets for TestParseClaims and FuzzClaimReader.
var claimSetSeeds = []string{
	`{}`, `{}x`, `{}]]]]`, `{} `, ` {"sub":"a"} `, `{"sub":"a"}x`, `[]`, `null`, ``, `{`,
	`{"iss":"https://as.example","sub":"alice","aud":["a","b"],"exp":1900000000,"nbf":1.5,"iat":0,"jti":"j","client_id":"c","scope":"read write"}`,
	`{"sub":"alice","Sub":"admin"}`, `{"sub":"a","sub":"b"}`, `{"\u0073ub":"a","sub":"b"}`, `{"iſs":"x","iss":"y"}`,
	`{"aud":"a"}`, `{"aud":["null",null]}`, `{"aud":[]}`, `{"aud":[1]}`, `{"aud":{"0":"a"}}`, `{"aud":null}`,
	`{"exp":-1}`, `{"nbf":-0}`, `{"exp":1e300}`, `{"exp":"1"}`, `{"exp":1e9}`, `{"exp":253402300800}`, `{"exp":null}`,
	`{"scope":["a","b"]}`, `{"scope":"a\tb"}`, `{"scp":["a"]}`, `{"scp":"a b","scope":"c"}`, `{"scp":[1]}`,
	`{"cnf":{"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}`, `{"cnf":{"x5t#S256":"bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}}`,
	`{"acr":"urn:mfa","amr":["pwd","otp"],"auth_time":1800000000}`, `{"amr":"pwd"}`, `{"amr":[1]}`, `{"amr":[]}`, `{"auth_time":-5}`,
	`{"cnf":{}}`, `{"cnf":{"jwk":{}}}`, `{"cnf":[]}`, `{"cnf":{"jkt":1}}`, `{"cnf":{"jkt":"a","jkt":"b"}}`,
	`{"sub":"\u00e9\ud800"}`, "{\"sub\":\"\xff\"}", `{"custom":{"sub":"nested"},"sub":"top"}`, `{"x":1,"x":2}`,
	// Provider claims: authorities, tid, token_use, ID token markers.
	`{"scp":"a b","roles":["r"],"realm_access":{"roles":["x"]},"resource_access":{"api":{"roles":["y"]},"a.b":{"roles":"z"}}}`,
	`{"roles":["a","a"],"permissions":["p"],"scope":"s","tid":"t","token_use":"access","nonce":null,"at_hash":{"x":[1]}}`,
	`{"realm_access":{"roles":["a"],"roles":["b"]}}`, `{"realm_access":{"roles":null},"realm_access":{}}`,
	`{"resource_access":{"api":{"roles":[1]}}}`, `{"resource_access":{"api":[]}}`, `{"resource_access":{"a.b":{"r\u006fles":["q"]}}}`,
	`{"roles":"a b"}`, `{"roles":[""]}`, `{"email":"sa@p.iam.gserviceaccount.com","permissions":null}`,
	`{"tid":1}`, `{"tid":"a","tid":"b"}`, `{"token_use":["access"]}`, `{"c_hash":"h","c_hash":"h"}`, `{"scope":"a","scp":[1],"roles":[]}`, `{"scope":"a","scp":{"x":1}}`,
	// Text the decoder refuses and encoding/json mends: see strictText.
	`{"sub":"\ud83d\ude00"}`, `{"x":"\udc00"}`, `{"x":"\ud800\u0041"}`, `{"x":"\\ud800"}`, "{\"x\":\"\xed\xa0\x80\"}", `{"scope":"a\u0020b"}`,
}

// fuzzAuthorities are the authority configurations FuzzClaimReader reads
// every input with, besides ParseClaims' default.
var fuzzAuthorities = []struct {
	paths []ClaimPath
	merge bool
}{
	{paths: []ClaimPath{{"scp"}, {"roles"}, {"realm_access", "roles"}, {"resource_access", "api", "roles"}, {"resource_access", "a.b", "roles"}, {"email"}}},
	{paths: []ClaimPath{{"scope"}, {"permissions"}, {"realm_access", "roles"}, {"scp"}}, merge: true},
}

func TestParseClaims(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		in        string
		wantErr   error
		wantClaim string
		check     func(*testing.T, *Claims)
	}{
		// Finding 1: the empty object used to skip the end-of-input check.
		"EmptyObjectTrailing":     {in: `{}x`, wantErr: ErrMalformed},
		"EmptyObjectTrailingList": {in: `{}]]]]`, wantErr: ErrMalformed},
		"Trailing":                {in: `{"sub":"a"}x`, wantErr: ErrMalformed},
		"NotObject":               {in: `[]`, wantErr: ErrMalformed},
		"DuplicateSub":            {in: `{"sub":"a","sub":"b"}`, wantErr: ErrMalformed, wantClaim: "sub"},
		"DuplicateEscapedName":    {in: `{"\u0073ub":"a","sub":"b"}`, wantErr: ErrMalformed, wantClaim: "sub"},
		"ExpWrongType":            {in: `{"exp":"1"}`, wantErr: ErrMalformed, wantClaim: "exp"},
		"ExpNegative":             {in: `{"exp":-1}`, wantErr: ErrMalformed, wantClaim: "exp"},
		"NbfNegativeZero":         {in: `{"nbf":-0}`, wantErr: ErrMalformed, wantClaim: "nbf"},
		"IatNegativeZeroFraction": {in: `{"iat":-0.0}`, wantErr: ErrMalformed, wantClaim: "iat"},
		"ExpPastYear9999":         {in: `{"exp":253402300800}`, wantErr: ErrMalformed, wantClaim: "exp"},
		"AudNumber":               {in: `{"aud":[1]}`, wantErr: ErrMalformed, wantClaim: "aud"},
		"ScopeTab":                {in: `{"scope":"a\tb"}`, wantErr: ErrMalformed, wantClaim: "scope"},
		"InvalidUTF8":             {in: "{\"sub\":\"\xff\"}", wantErr: ErrMalformed, wantClaim: "sub"},
		"InvalidUTF8Skipped":      {in: "{\"x\":[\"\xc3\"]}", wantErr: ErrMalformed},
		"LoneSurrogate":           {in: `{"x":"\ud800"}`, wantErr: ErrMalformed},
		"Empty":                   {in: `{} `},
		"CaseSensitive": {in: `{"sub":"alice","Sub":"admin","ISS":"x"}`, check: func(t *testing.T, c *Claims) {
			if c.Subject() != "alice" || c.Issuer() != "" {
				t.Errorf("Subject, Issuer = %q, %q; want alice, empty", c.Subject(), c.Issuer())
			}
		}},
		"Registered": {in: `{"iss":"i","sub":"s","aud":["a","b"],"exp":1900000000.25,"nbf":1,"iat":0,"jti":"j","client_id":"c","scp":["x"],"scope":"r w"}`,
			check: func(t *testing.T, c *Claims) {
				got := []any{c.Issuer(), c.Subject(), c.ID(), c.ClientID(), c.Scopes().String(), c.HasAudience("b"),
					c.Expiry(), c.NotBefore(), c.IssuedAt()}
				want := []any{"i", "s", "j", "c", "r w", true,
					time.Unix(1900000000, 250_000_000).UTC(), time.Unix(1, 0).UTC(), time.Unix(0, 0).UTC()}
				for i := range got {
					if got[i] != want[i] {
						t.Errorf("claim %d = %v, want %v", i, got[i], want[i])
					}
				}
			}},
		// scp is read only when scope is absent: beside a scope claim, an
		// scp of any JSON type is skipped, as encoding/json's reading does.
		"ScpNumberBesideScope": {in: `{"scope":"r","scp":1}`, check: func(t *testing.T, c *Claims) {
			if got := c.Scopes().String(); got != "r" {
				t.Errorf("Scopes() = %q, want r", got)
			}
		}},
		"ScpNumberAlone": {in: `{"scp":1}`, wantErr: ErrMalformed, wantClaim: "scp"},
		"NullIsAbsent": {in: `{"sub":null,"exp":null,"aud":null}`, check: func(t *testing.T, c *Claims) {
			if _, ok := c.Deadline(); ok || c.Subject() != "" || len(c.Audience()) != 0 {
				t.Errorf("null claims read as present: %q %v", c.Subject(), c.Audience())
			}
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, err := ParseClaims([]byte(tc.in))
			if tc.wantErr != nil {
				var te *TokenError
				if !errors.Is(err, tc.wantErr) || !errors.As(err, &te) || te.Claim != tc.wantClaim {
					t.Fatalf("ParseClaims(%s) error = %v, want %v on claim %q", tc.in, err, tc.wantErr, tc.wantClaim)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseClaims(%s) error = %v", tc.in, err)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

// TestClaims_Immutable is finding 8: claims are shared by every call that
// presents a cached token, so nothing a caller does to what it gets back
// may change them.
func TestClaims_Immutable(t *testing.T) {
	t.Parallel()
	c, err := ParseClaims([]byte(`{"sub":"alice","aud":["a","b"],"scope":"read"}`))
	if err != nil {
		t.Fatal(err)
	}
	aud := c.Audience()
	aud[0] = "attacker"
	_ = append(aud[:1], "evil")
	raw := c.Raw()
	copy(raw, `{"sub":"admin"`)
	list := c.Scopes().Scopes()
	list[0] = "admin"
	if c.HasAudience("attacker") || c.HasAudience("evil") || !c.HasAudience("b") {
		t.Errorf("Audience() = %v after the caller changed its copy", c.Audience())
	}
	if c.Scopes().Has("admin") || !c.Scopes().Has("read") {
		t.Errorf("Scopes() = %v after the caller changed its copy", c.Scopes())
	}
	var v struct {
		Sub string `json:"sub"`
	}
	if err := c.Decode(&v); err != nil || v.Sub != "alice" {
		t.Errorf("Decode() = %q, %v after the caller changed Raw(); want alice", v.Sub, err)
	}
}

// TestClaims_Decode is finding 4: Decode reads names exactly and refuses
// duplicates, so it can never disagree with the typed accessors.
func TestClaims_Decode(t *testing.T) {
	t.Parallel()
	type custom struct {
		Sub    string `json:"sub"`
		Tenant string `json:"tenant"`
	}
	tests := map[string]struct {
		in      string
		want    custom
		wantErr bool
	}{
		"Plain":           {in: `{"sub":"alice","tenant":"acme"}`, want: custom{Sub: "alice", Tenant: "acme"}},
		"OtherCase":       {in: `{"sub":"alice","Sub":"admin"}`, want: custom{Sub: "alice"}},
		"OnlyOtherCase":   {in: `{"Sub":"admin","TENANT":"evil"}`, want: custom{}},
		"FoldedLongS":     {in: `{"ſub":"admin","sub":"alice"}`, want: custom{Sub: "alice"}},
		"DuplicateCustom": {in: `{"sub":"alice","tenant":"a","tenant":"b"}`, wantErr: true},
		"WrongType":       {in: `{"sub":"alice","tenant":7}`, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, err := ParseClaims([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			var got custom
			err = c.Decode(&got)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Decode(%s) error = %v, want error %t", tc.in, err, tc.wantErr)
			}
			if err == nil && (got != tc.want || got.Sub != c.Subject()) {
				t.Errorf("Decode(%s) = %+v, want %+v and sub %q", tc.in, got, tc.want, c.Subject())
			}
			if err != nil && bytes.Contains([]byte(err.Error()), []byte("7")) {
				t.Errorf("Decode() error %q quotes a claim value", err)
			}
		})
	}
}

func TestCheckTimes(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	tests := map[string]struct {
		exp, nbf, iat time.Duration // from now; 0 means absent
		authTime      time.Duration
		leeway        time.Duration
		want          error
	}{
		"Valid":                {exp: time.Hour},
		"NoClaims":             {},
		"ExpInsideLeeway":      {exp: -10 * time.Second, leeway: 30 * time.Second},
		"ExpAtLeeway":          {exp: -30 * time.Second, leeway: 30 * time.Second, want: ErrExpired},
		"ExpAtNowNoLeeway":     {exp: -1, want: ErrExpired},
		"NbfInsideLeeway":      {nbf: 30 * time.Second, leeway: 30 * time.Second},
		"NbfAfterLeeway":       {nbf: 31 * time.Second, leeway: 30 * time.Second, want: ErrNotYetValid},
		"IatInFuture":          {iat: time.Minute, want: ErrIssuedInFuture},
		"IatInFutureInsideLee": {iat: time.Minute, leeway: 2 * time.Minute},
		"AuthTimePast":         {authTime: -time.Hour},
		"AuthTimeInsideLeeway": {authTime: 30 * time.Second, leeway: 30 * time.Second},
		"AuthTimeAfterLeeway":  {authTime: 31 * time.Second, leeway: 30 * time.Second, want: ErrIssuedInFuture},
		"AuthTimeYearAhead":    {exp: time.Hour, authTime: 365 * 24 * time.Hour, want: ErrIssuedInFuture},
	}
	at := func(d time.Duration) time.Time {
		if d == 0 {
			return time.Time{}
		}
		if d == -1 {
			return now
		}
		return now.Add(d)
	}
	for name, tc := range tests {
		c := &Claims{expiry: at(tc.exp), notBefore: at(tc.nbf), issuedAt: at(tc.iat), authTime: at(tc.authTime), leeway: tc.leeway}
		if err := checkTimes(now, c); !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
			t.Errorf("%s: checkTimes() = %v, want %v", name, err, tc.want)
		}
		if d, ok := c.Deadline(); ok != !c.expiry.IsZero() || ok && !d.Equal(c.expiry.Add(tc.leeway)) {
			t.Errorf("%s: Deadline() = %v, %t; want exp plus leeway", name, d, ok)
		}
	}
}

// FuzzClaimReader is the differential fuzz target of the claim reader:
// on whole claim sets it must agree with encoding/json about validity and
// about the value of every registered claim. Where they differ by design
// (exact names, no duplicate registered claims, strict types), the
// reference below encodes the rule with encoding/json's own decoder.
func FuzzClaimReader(f *testing.F) {
	for _, s := range claimSetSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzProviderClaims(t, b)
		c, err := ParseClaims(b)
		want, wantOK := referenceClaims(b)
		if (err == nil) != wantOK {
			t.Fatalf("ParseClaims(%q) error = %v; encoding/json reference accepts: %t", b, err, wantOK)
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseClaims(%q) error = %v, want ErrMalformed", b, err)
			}
			return
		}
		got := map[string]any{
			"iss": c.Issuer(), "sub": c.Subject(), "jti": c.ID(), "client_id": c.ClientID(),
			"aud": c.Audience(), "exp": c.Expiry(), "nbf": c.NotBefore(), "iat": c.IssuedAt(),
			"scope": c.Scopes().String(),
		}
		got["cnf"], _ = c.Confirmation()
		got["acr"], got["amr"], got["auth_time"] = c.ACR(), c.AMR(), c.AuthTime()
		for name, w := range want {
			if g := got[name]; !equalClaim(g, w) {
				t.Fatalf("ParseClaims(%q): %s = %#v, encoding/json reads %#v", b, name, g, w)
			}
		}
	})
}

// fuzzProviderClaims is FuzzClaimReader's second half: b read with each
// of fuzzAuthorities and the optional members (tid, token_use, the ID
// token markers) must agree with referenceProviderClaims.
func fuzzProviderClaims(t *testing.T, b []byte) {
	for i, fa := range fuzzAuthorities {
		a, err := compileAuthorities("JWTConfig", fa.paths, fa.merge)
		if err != nil {
			t.Fatal(err)
		}
		rules := &claimRules{auth: a, optional: seenTid | seenTokenUse | idTokenBits}
		c, r, err := readWith(rules, b)
		want, wantOK := referenceProviderClaims(b, fa.paths, fa.merge)
		if (err == nil) != wantOK {
			t.Fatalf("read(%q) with authorities %d: error = %v; encoding/json reference accepts: %t", b, i, err, wantOK)
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("read(%q) error = %v, want ErrMalformed", b, err)
			}
			continue
		}
		got := map[string]any{"authorities": c.Scopes().String(), "tid": r.tid, "token_use": r.tokenUse}
		for _, m := range []uint32{seenNonce, seenAtHash, seenCHash} {
			got[claimNameOf(m)] = r.has(m)
		}
		for name, w := range want {
			if g := got[name]; g != w {
				t.Fatalf("read(%q) with authorities %d: %s = %#v, encoding/json reads %#v", b, i, name, g, w)
			}
		}
	}
}

// referenceProviderClaims reads b with encoding/json by the rules of the
// configured authority paths and the optional members, or returns false
// where the reader must refuse b.
func referenceProviderClaims(b []byte, paths []ClaimPath, merge bool) (map[string]any, bool) {
	if _, ok := referenceClaims(b); !ok {
		return nil, false
	}
	top, ok := referenceMembers(bytes.TrimSpace(b))
	if !ok {
		return nil, false
	}
	out := map[string]any{"tid": "", "token_use": "", "nonce": false, "at_hash": false, "c_hash": false}
	for _, name := range []string{"tid", "token_use", "nonce", "at_hash", "c_hash"} {
		raw, n := top.get(name)
		switch {
		case n > 1:
			return nil, false
		case raw == nil:
		case name == "tid" || name == "token_use":
			var s string
			if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
				return nil, false
			}
			out[name] = s
		default:
			out[name] = true
		}
	}
	// Every present listed claim must be well formed, used or not.
	var sets []scopeset.Set
	var present []bool
	for _, p := range paths {
		set, found, ok := referenceAuthority(top, p)
		if !ok {
			return nil, false
		}
		sets, present = append(sets, set), append(present, found)
	}
	var all []string
	for i := range paths {
		if present[i] {
			all = append(all, sets[i].Scopes()...)
			if !merge {
				break
			}
		}
	}
	set, _ := scopeset.New(all...)
	out["authorities"] = set.String()
	return out, true
}

// referenceObject is an object's members by name, with how often each name
// occurs.
type referenceObject struct {
	members map[string]json.RawMessage
	count   map[string]int
}

// get returns the value of name, nil for null or absent, and its count.
func (o referenceObject) get(name string) (json.RawMessage, int) {
	raw := o.members[name]
	if string(raw) == "null" {
		raw = nil
	}
	return raw, o.count[name]
}

// referenceMembers reads the object raw with encoding/json.
func referenceMembers(raw []byte) (referenceObject, bool) {
	o := referenceObject{count: map[string]int{}}
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &o.members) != nil {
		return o, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	_, _ = dec.Token()
	for dec.More() {
		tok, _ := dec.Token()
		o.count[tok.(string)]++
		var skip json.RawMessage
		_ = dec.Decode(&skip)
	}
	return o, true
}

// referenceAuthority reads the claim at path p of obj: its set, whether
// it is present, and false where the reader must refuse the claim set.
func referenceAuthority(obj referenceObject, p ClaimPath) (scopeset.Set, bool, bool) {
	for i, name := range p {
		raw, n := obj.get(name)
		switch {
		case n > 1:
			return scopeset.Set{}, false, false
		case raw == nil:
			return scopeset.Set{}, false, true
		case i < len(p)-1:
			var ok bool
			if obj, ok = referenceMembers(raw); !ok {
				return scopeset.Set{}, false, false
			}
			continue
		}
		var set scopeset.Set
		if len(p) == 1 && (name == "scope" || name == "scp") {
			if set.UnmarshalJSON(raw) != nil {
				return scopeset.Set{}, false, false
			}
			return set, true, true
		}
		var one string
		var list []json.RawMessage
		var err error
		switch {
		case raw[0] == '"' && json.Unmarshal(raw, &one) == nil:
			set, err = scopeset.New(one)
		case raw[0] == '[' && json.Unmarshal(raw, &list) == nil:
			var strs []string
			for _, e := range list {
				if e[0] != '"' || json.Unmarshal(e, &one) != nil {
					return scopeset.Set{}, false, false
				}
				strs = append(strs, one)
			}
			set, err = scopeset.New(strs...)
		default:
			return scopeset.Set{}, false, false
		}
		return set, true, err == nil
	}
	return scopeset.Set{}, false, true
}

func equalClaim(got, want any) bool {
	switch w := want.(type) {
	case []string:
		return slices.Equal(got.([]string), w) && (got.([]string) == nil) == (w == nil)
	case time.Time:
		return got.(time.Time).Equal(w)
	}
	return got == want
}

// referenceClaims reads b with encoding/json by the claim reader's rules
// and returns the registered claims it holds, or false where the reader
// must refuse b.
func referenceClaims(b []byte) (map[string]any, bool) {
	if !json.Valid(b) || !strictText(b) {
		return nil, false
	}
	var members map[string]json.RawMessage
	if json.Unmarshal(b, &members) != nil || members == nil {
		return nil, false // not an object
	}
	// Duplicates of a registered name are refused; encoding/json keeps the
	// last, so count names with its tokenizer.
	dec := json.NewDecoder(bytes.NewReader(b))
	_, _ = dec.Token() // {
	seen := map[string]int{}
	for dec.More() {
		tok, _ := dec.Token()
		seen[tok.(string)]++
		var skip json.RawMessage
		_ = dec.Decode(&skip)
	}
	out := map[string]any{"scope": ""}
	for _, name := range []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id", "scope", "scp", "cnf", "acr", "amr", "auth_time"} {
		if seen[name] > 1 {
			return nil, false
		}
		raw, ok := members[name]
		if !ok || string(raw) == "null" {
			continue
		}
		switch name {
		case "iss", "sub", "jti", "client_id", "acr":
			var s string
			if json.Unmarshal(raw, &s) != nil {
				return nil, false
			}
			out[name] = s
		case "aud":
			var one string
			var elems []json.RawMessage
			switch {
			case json.Unmarshal(raw, &one) == nil:
				out[name] = []string{one}
			case json.Unmarshal(raw, &elems) == nil:
				list := []string{}
				for _, e := range elems {
					if e[0] != '"' || json.Unmarshal(e, &one) != nil {
						return nil, false // null or another type
					}
					list = append(list, one)
				}
				out[name] = list
			default:
				return nil, false
			}
		case "amr":
			var elems []json.RawMessage
			if raw[0] != '[' || json.Unmarshal(raw, &elems) != nil {
				return nil, false
			}
			list := []string{}
			for _, e := range elems {
				var one string
				if e[0] != '"' || json.Unmarshal(e, &one) != nil {
					return nil, false
				}
				list = append(list, one)
			}
			out[name] = list
		case "exp", "nbf", "iat", "auth_time":
			var f float64
			if json.Unmarshal(raw, &f) != nil || f < 0 || f > maxNumericDate || raw[0] == '-' {
				return nil, false
			}
			sec := math.Floor(f)
			out[name] = time.Unix(int64(sec), int64(math.Round((f-sec)*1e9))).UTC()
		case "cnf":
			cnf, ok := referenceConfirmation(raw)
			if !ok {
				return nil, false
			}
			out[name] = cnf
		case "scope", "scp":
			if name == "scp" && members["scope"] != nil && string(members["scope"]) != "null" {
				continue // scope wins; scp is only skipped as JSON
			}
			var set scopeset.Set
			if set.UnmarshalJSON(raw) != nil {
				return nil, false
			}
			if name == "scope" || members["scope"] == nil || string(members["scope"]) == "null" {
				out["scope"] = set.String()
			}
		}
	}
	return out, true
}

// strictText reports whether the strings of b, valid JSON, are what the
// claim reader's decoder insists on and encoding/json does not: UTF-8
// (RFC 8259 §8.1), with every escaped UTF-16 surrogate in a pair (§7).
func strictText(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	escaped := func(i int) (rune, bool) { // the \uXXXX at b[i:], if any
		if i+6 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
			return 0, false
		}
		n, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 16)
		return rune(n), err == nil
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		r, ok := escaped(i)
		switch {
		case !ok:
			i++ // a two-byte escape, \\ among them
		case r >= 0xdc00 && r <= 0xdfff:
			return false // a low surrogate first
		case r >= 0xd800 && r < 0xdc00:
			lo, ok := escaped(i + 6)
			if !ok || lo < 0xdc00 || lo > 0xdfff {
				return false
			}
			i += 11
		default:
			i += 5
		}
	}
	return true
}

// referenceConfirmation reads a cnf value with encoding/json.
func referenceConfirmation(raw json.RawMessage) (Confirmation, bool) {
	var members map[string]json.RawMessage
	if raw[0] != '{' || json.Unmarshal(raw, &members) != nil {
		return Confirmation{}, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	_, _ = dec.Token()
	seen := map[string]int{}
	for dec.More() {
		tok, _ := dec.Token()
		seen[tok.(string)]++
		var skip json.RawMessage
		_ = dec.Decode(&skip)
	}
	var cnf Confirmation
	if len(members) == 0 {
		cnf.Unknown = true
	}
	for name, v := range members {
		var dst *string
		switch name {
		case "x5t#S256":
			dst = &cnf.X5TS256
		case "jkt":
			dst = &cnf.JKT
		default:
			cnf.Unknown = true
			continue
		}
		var s string
		if seen[name] > 1 || v[0] != '"' || json.Unmarshal(v, &s) != nil {
			return Confirmation{}, false
		}
		if b, err := base64.RawURLEncoding.Strict().DecodeString(s); err != nil || len(b) != 32 || strings.ContainsAny(s, "\r\n") {
			return Confirmation{}, false
		}
		*dst = s
	}
	return cnf, true
}
