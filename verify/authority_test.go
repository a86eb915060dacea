package verify

import (
	"errors"
	"strings"
	"testing"
)

// readWith reads the claim set b by rules, as a verifier would.
func readWith(rules *claimRules, b []byte) (*Claims, *claimReader, error) {
	blk := &claimsBlock{}
	r := &claimReader{aud: &blk.aud}
	err := r.read(rules, b, &blk.c)
	return &blk.c, r, err
}

func mustAuthorities(t testing.TB, merge bool, paths ...ClaimPath) *authorities {
	t.Helper()
	a, err := compileAuthorities("JWTConfig", paths, merge)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAuthorities_Read(t *testing.T) {
	t.Parallel()
	keycloak := []ClaimPath{{"resource_access", "orders.api", "roles"}, {"realm_access", "roles"}}
	tests := map[string]struct {
		paths     []ClaimPath
		merge     bool
		in        string
		want      string // Scopes().String()
		wantClaim string // for ErrMalformed
	}{
		"DefaultsNotListed":   {paths: []ClaimPath{{"roles"}}, in: `{"scope":"a","roles":["r"]}`, want: "r"},
		"FirstPresentWins":    {paths: []ClaimPath{{"scp"}, {"roles"}}, in: `{"roles":["r"],"scp":"a b"}`, want: "a b"},
		"FallsBack":           {paths: []ClaimPath{{"scp"}, {"roles"}}, in: `{"roles":["r"]}`, want: "r"},
		"NullIsAbsent":        {paths: []ClaimPath{{"scp"}, {"roles"}}, in: `{"scp":null,"roles":["r"]}`, want: "r"},
		"EmptyArrayIsPresent": {paths: []ClaimPath{{"scp"}, {"roles"}}, in: `{"scp":[],"roles":["r"]}`, want: ""},
		"NoneIsEmpty":         {paths: []ClaimPath{{"roles"}}, in: `{"scope":"a"}`, want: ""},
		"Merge":               {paths: []ClaimPath{{"scope"}, {"permissions"}}, merge: true, in: `{"scope":"a b","permissions":["b","c"]}`, want: "a b c"},
		"MergeScp":            {paths: []ClaimPath{{"scp"}, {"roles"}}, merge: true, in: `{"scp":["a"],"roles":["r"]}`, want: "a r"},
		"OneString":           {paths: []ClaimPath{{"email"}}, in: `{"email":"sa@p.iam.gserviceaccount.com"}`, want: "sa@p.iam.gserviceaccount.com"},
		"Nested":              {paths: keycloak, in: `{"realm_access":{"roles":["x"]},"resource_access":{"other":{"roles":["y"]},"orders.api":{"roles":["z"],"x":1}}}`, want: "z"},
		"NestedFallsBack":     {paths: keycloak, in: `{"realm_access":{"roles":["x"]},"resource_access":{"other":{"roles":["y"]}}}`, want: "x"},
		"NestedMerge":         {paths: keycloak, merge: true, in: `{"realm_access":{"roles":["x"]},"resource_access":{"orders.api":{"roles":["z"]}}}`, want: "x z"},
		"NestedNull":          {paths: keycloak, in: `{"realm_access":null,"resource_access":{"orders.api":null}}`, want: ""},
		"NestedEmpty":         {paths: keycloak, in: `{"realm_access":{},"resource_access":{"orders.api":{}}}`, want: ""},
		"EscapedName":         {paths: []ClaimPath{{"roles"}}, in: `{"r\u006fles":["a"]}`, want: "a"},
		"OtherCase":           {paths: []ClaimPath{{"roles"}}, in: `{"Roles":["a"]}`, want: ""},
		"DottedNameIsNotPath": {paths: keycloak, in: `{"realm_access.roles":["a"]}`, want: ""},
		"EscapedRole":         {paths: []ClaimPath{{"roles"}}, in: `{"roles":["\u0061dmin"]}`, want: "admin"},

		"Duplicate":           {paths: []ClaimPath{{"roles"}}, in: `{"roles":["a"],"roles":["b"]}`, wantClaim: "roles"},
		"DuplicateAfterNull":  {paths: []ClaimPath{{"roles"}}, in: `{"roles":null,"roles":["b"]}`, wantClaim: "roles"},
		"DuplicateEscaped":    {paths: []ClaimPath{{"roles"}}, in: `{"roles":["a"],"\u0072oles":["b"]}`, wantClaim: "roles"},
		"DuplicateNested":     {paths: keycloak, in: `{"realm_access":{"roles":["a"],"roles":["b"]}}`, wantClaim: "realm_access.roles"},
		"DuplicateParent":     {paths: keycloak, in: `{"realm_access":{"roles":["a"]},"realm_access":{}}`, wantClaim: "realm_access.roles"},
		"DuplicateClient":     {paths: keycloak, in: `{"resource_access":{"orders.api":{"roles":["a"]},"orders.api":{}}}`, wantClaim: "resource_access.orders.api.roles"},
		"Number":              {paths: []ClaimPath{{"roles"}}, in: `{"roles":1}`, wantClaim: "roles"},
		"Object":              {paths: []ClaimPath{{"roles"}}, in: `{"roles":{"a":true}}`, wantClaim: "roles"},
		"NumberInList":        {paths: []ClaimPath{{"roles"}}, in: `{"roles":["a",1]}`, wantClaim: "roles"},
		"NullInList":          {paths: []ClaimPath{{"roles"}}, in: `{"roles":["a",null]}`, wantClaim: "roles"},
		"SpaceInRole":         {paths: []ClaimPath{{"roles"}}, in: `{"roles":["a b"]}`, wantClaim: "roles"},
		"SpaceInString":       {paths: []ClaimPath{{"roles"}}, in: `{"roles":"a b"}`, wantClaim: "roles"},
		"EmptyRole":           {paths: []ClaimPath{{"roles"}}, in: `{"roles":[""]}`, wantClaim: "roles"},
		"ParentNotObject":     {paths: keycloak, in: `{"realm_access":["roles"]}`, wantClaim: "realm_access.roles"},
		"UnusedButMalformed":  {paths: []ClaimPath{{"scp"}, {"roles"}}, in: `{"scp":"a","roles":[1]}`, wantClaim: "roles"},
		"ListedScpMalformed":  {paths: []ClaimPath{{"scope"}, {"scp"}}, in: `{"scope":"a","scp":[1]}`, wantClaim: "scp"},
		"UnterminatedNested":  {paths: keycloak, in: `{"realm_access":{"roles":["a"]`, wantClaim: "realm_access.roles"},
		"TrailingCommaNested": {paths: keycloak, in: `{"realm_access":{"roles":["a"],}}`, wantClaim: "realm_access.roles"},
		"TrailingCommaList":   {paths: []ClaimPath{{"roles"}}, in: `{"roles":["a",]}`, wantClaim: "roles"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rules := &claimRules{auth: mustAuthorities(t, tc.merge, tc.paths...)}
			c, _, err := readWith(rules, []byte(tc.in))
			if tc.wantClaim != "" {
				te, ok := errors.AsType[*TokenError](err)
				if !errors.Is(err, ErrMalformed) || !ok || te.Claim != tc.wantClaim {
					t.Fatalf("read(%s) error = %v, want ErrMalformed on claim %q", tc.in, err, tc.wantClaim)
				}
				return
			}
			if err != nil {
				t.Fatalf("read(%s) error = %v", tc.in, err)
			}
			if got := c.Scopes().String(); got != tc.want {
				t.Errorf("read(%s).Scopes() = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestCompileAuthorities(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		paths   []ClaimPath
		merge   bool
		wantErr string // a part of the error; "" for success
	}{
		"None":             {},
		"Defaults":         {paths: []ClaimPath{{"scope"}, {"scp"}}},
		"SharedPrefix":     {paths: []ClaimPath{{"resource_access", "a", "roles"}, {"resource_access", "b", "roles"}}},
		"MergeWithoutList": {merge: true, wantErr: "JWTConfig.MergeAuthorities is set but JWTConfig.Authorities is empty"},
		"EmptyPath":        {paths: []ClaimPath{{}}, wantErr: "JWTConfig.Authorities[0] is empty"},
		"EmptyName":        {paths: []ClaimPath{{"realm_access", ""}}, wantErr: "JWTConfig.Authorities[0] is empty"},
		"Twice":            {paths: []ClaimPath{{"roles"}, {"roles"}}, wantErr: "JWTConfig.Authorities[1] (roles) is listed twice"},
		"ScopeTwice":       {paths: []ClaimPath{{"scope"}, {"scope"}}, wantErr: "JWTConfig.Authorities[1] (scope) is listed twice"},
		"Prefix":           {paths: []ClaimPath{{"realm_access", "roles"}, {"realm_access"}}, wantErr: "JWTConfig.Authorities[1] (realm_access)"},
		"Extends":          {paths: []ClaimPath{{"realm_access"}, {"realm_access", "roles"}}, wantErr: "JWTConfig.Authorities[1] (realm_access.roles) extends"},
		"IntoScope":        {paths: []ClaimPath{{"scope", "x"}}, wantErr: "descends into scope"},
		"Registered":       {paths: []ClaimPath{{"sub"}}, wantErr: "registered claim sub"},
		"RegisteredTid":    {paths: []ClaimPath{{"tid", "x"}}, wantErr: "registered claim tid"},
		"TooMany":          {paths: make([]ClaimPath, 17), wantErr: "at most 16"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := compileAuthorities("JWTConfig", tc.paths, tc.merge)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("compileAuthorities(%v) error = %v", tc.paths, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("compileAuthorities(%v) error = %v, want one with %q", tc.paths, err, tc.wantErr)
			}
		})
	}
}

func TestTenantIssuer_Match(t *testing.T) {
	t.Parallel()
	list, err := newTenantIssuer(&JWTConfig{Issuer: "https://login.example.com/{tenant}/v2.0", Tenants: []string{"t1", "t2", "t1"}})
	if err != nil {
		t.Fatal(err)
	}
	anyTenant, err := newTenantIssuer(&JWTConfig{Issuer: "https://sts.example.net/{tenant}/", AnyTenant: true})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		t      *tenantIssuer
		iss    string
		tenant string
		ok     bool
	}{
		{list, "https://login.example.com/t1/v2.0", "t1", true},
		{list, "https://login.example.com/t2/v2.0", "t2", true},
		{list, "https://login.example.com/t3/v2.0", "", false},
		{list, "https://login.example.com/T1/v2.0", "", false},
		{list, "https://login.example.com/t1/v2.0/", "", false},
		{list, "https://login.example.com//v2.0", "", false},
		{list, "https://login.example.com/t1/x/v2.0", "", false},
		{list, "https://login.example.com/{tenant}/v2.0", "", false},
		{anyTenant, "https://sts.example.net/anything-at-all/", "anything-at-all", true},
		{anyTenant, "https://sts.example.net/a/b/", "", false},
		{anyTenant, "https://sts.example.net//", "", false},
		{anyTenant, "https://sts.example.net/a?b/", "", false},
		{anyTenant, "https://sts.example.net/a b/", "", false},
		{anyTenant, "https://sts.example.net.evil/a/", "", false},
	}
	for _, tc := range tests {
		if tn, ok := tc.t.match(tc.iss); tn != tc.tenant || ok != tc.ok {
			t.Errorf("match(%q) = %q, %t; want %q, %t", tc.iss, tn, ok, tc.tenant, tc.ok)
		}
	}
}
