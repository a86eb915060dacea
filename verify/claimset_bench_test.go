package verify

import "testing"

// BenchmarkClaimReader reads one claim set by the default rules and by
// provider authority configurations: the default must not pay for them.
func BenchmarkClaimReader(b *testing.B) {
	payload := []byte(`{"iss":"https://sso.example.com/realms/acme","sub":"alice","aud":["orders-api","account"],` +
		`"exp":1900000000,"iat":1700000000,"jti":"abcdefghijklmnop","azp":"orders-web","typ":"Bearer","scope":"openid email",` +
		`"realm_access":{"roles":["offline_access","uma_authorization"]},` +
		`"resource_access":{"account":{"roles":["manage-account"]},"orders-api":{"roles":["orders.read","orders.write"]}},` +
		`"roles":["Orders.ReadAll"]}`)
	tests := []struct {
		name  string
		paths []ClaimPath
		merge bool
	}{
		{name: "default"},
		{name: "roles", paths: []ClaimPath{{"scp"}, {"roles"}}},
		{name: "keycloak", paths: []ClaimPath{{"resource_access", "orders-api", "roles"}, {"realm_access", "roles"}}, merge: true},
	}
	for _, tc := range tests {
		b.Run(tc.name, func(b *testing.B) {
			a, err := compileAuthorities("JWTConfig", tc.paths, tc.merge)
			if err != nil {
				b.Fatal(err)
			}
			rules := &claimRules{issuer: "https://sso.example.com/realms/acme", audiences: []string{"orders-api"}, auth: a}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := readWith(rules, payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
