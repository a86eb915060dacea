package verify_test

import (
	"context"
	"errors"
	"maps"
	"testing"

	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

// Tenants, clients and URLs of the provider fixtures, in the shapes each
// provider documents.
const (
	entraTenant      = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	entraOtherTenant = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
	entraAPIClient   = "6e74172b-be56-4843-9ff4-e66a39bb12e3"
	entraWebClient   = "e8a3b2c1-0d4f-4c5e-9a6b-7c8d9e0f1a2b"
	cognitoPool      = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEfGhI"
	cognitoClient    = "1example23456789abcdefghij"
	googleService    = "https://orders-abc123-uc.a.run.app"
	// entraX5T is a SHA-1 thumbprint in base64url, as Entra puts in x5t.
	entraX5T = "nOo3ZDrODXEK1jKWhXslHR_KXEg"
)

// providerRecipes are the recipes of "Tokens from identity providers" in
// docs/verifying.md, field for field: a change to one must change the other.
// Each recipe is one or more JWTConfigs sharing one key set; several go
// through NewIssuers.
var providerRecipes = map[string][]verify.JWTConfig{
	"EntraV2SingleTenant": {{
		Issuer:      "https://login.microsoftonline.com/" + entraTenant + "/v2.0",
		Audiences:   []string{entraAPIClient},
		Types:       []string{"JWT"},
		Authorities: []verify.ClaimPath{{"scp"}, {"roles"}},
	}},
	"EntraMultiTenant": {{
		Issuer:      "https://login.microsoftonline.com/{tenant}/v2.0",
		Tenants:     []string{entraTenant},
		Audiences:   []string{entraAPIClient},
		Types:       []string{"JWT"},
		Authorities: []verify.ClaimPath{{"scp"}, {"roles"}},
	}, {
		Issuer:      "https://sts.windows.net/{tenant}/",
		Tenants:     []string{entraTenant},
		Audiences:   []string{"api://orders"},
		Types:       []string{"JWT"},
		Authorities: []verify.ClaimPath{{"scp"}, {"roles"}},
	}},
	"Auth0": {{
		Issuer:      "https://acme.eu.auth0.com/",
		Audiences:   []string{"https://orders.example.com"},
		Types:       []string{"at+jwt", "JWT"},
		Authorities: []verify.ClaimPath{{"permissions"}},
	}},
	"Keycloak": {{
		Issuer:      "https://sso.example.com/realms/acme",
		Audiences:   []string{"orders-api"},
		Types:       []string{"JWT"},
		Authorities: []verify.ClaimPath{{"resource_access", "orders-api", "roles"}},
	}},
	// Keycloak before keycloak/keycloak#26893: nonce in access tokens.
	"KeycloakNonce": {{
		Issuer:                 "https://sso.example.com/realms/acme",
		Audiences:              []string{"orders-api"},
		Types:                  []string{"JWT"},
		Authorities:            []verify.ClaimPath{{"resource_access", "orders-api", "roles"}},
		InsecureAcceptIDTokens: true,
	}},
	"Okta": {{
		Issuer:    "https://acme.okta.com/oauth2/default",
		Audiences: []string{"api://default"},
		Types:     []string{""},
	}},
	"Cognito": {{
		Issuer:           cognitoPool,
		ClientIDAudience: &verify.ClientIDAudience{ClientIDs: []string{cognitoClient}, TokenUse: "access"},
		Types:            []string{""},
	}},
	"OryHydra": {{
		Issuer:    "https://hydra.example.com/",
		Audiences: []string{"https://orders.example.com"},
		Types:     []string{"JWT"},
	}},
	"Spring": {{
		Issuer:    "https://auth.example.com",
		Audiences: []string{"orders"},
		Types:     []string{"JWT"},
	}},
	"GoogleIDToken": {{
		Issuer:                 "https://accounts.google.com",
		Audiences:              []string{googleService},
		Types:                  []string{"JWT"},
		InsecureAcceptIDTokens: true,
		Authorities:            []verify.ClaimPath{{"email"}},
	}},
}

// newRecipe returns the verifier of a recipe, with keys from iss.
func newRecipe(t *testing.T, iss *oauthtest.Issuer, cfgs []verify.JWTConfig) verify.Verifier {
	t.Helper()
	keys, err := verify.NewStaticKeySet(iss.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	var jwts []*verify.JWT
	for _, cfg := range cfgs {
		j, err := verify.NewJWT(keys, cfg)
		if err != nil {
			t.Fatalf("NewJWT(%s) error = %v", cfg.Issuer, err)
		}
		jwts = append(jwts, j)
	}
	if len(jwts) == 1 {
		return jwts[0]
	}
	is, err := verify.NewIssuers(jwts...)
	if err != nil {
		t.Fatal(err)
	}
	return is
}

// claims returns a token with the claims kv, and without the claims
// named in drop.
func claims(kv map[string]any, drop ...string) []oauthtest.Token {
	c := maps.Clone(kv)
	for _, k := range drop {
		c[k] = nil
	}
	return []oauthtest.Token{{Claims: c}}
}

// Token shapes, from each provider's documentation.
var (
	entraV2Iss = "https://login.microsoftonline.com/" + entraTenant + "/v2.0"
	entraV1Iss = "https://sts.windows.net/" + entraTenant + "/"
	// entraHeader is Entra's header: typ JWT, an x5t next to kid.
	entraHeader = []oauthtest.Token{{Type: "JWT", Header: map[string]any{"x5t": entraX5T}}}
)

func entraV2(extra map[string]any) []oauthtest.Token {
	c := map[string]any{"iss": entraV2Iss, "aud": entraAPIClient, "tid": entraTenant, "ver": "2.0",
		"azp": entraWebClient, "azpacr": "1", "oid": "00000000-0000-0000-0000-000000000001",
		"uti": "AbCdEf", "rh": "0.AAAA"}
	for k, v := range extra {
		c[k] = v
	}
	return append(claims(c, "client_id"), entraHeader...)
}

func entraV1(extra map[string]any) []oauthtest.Token {
	c := map[string]any{"iss": entraV1Iss, "aud": "api://orders", "tid": entraTenant, "ver": "1.0",
		"appid": entraWebClient, "appidacr": "1", "oid": "00000000-0000-0000-0000-000000000002"}
	for k, v := range extra {
		c[k] = v
	}
	return append(claims(c, "client_id"), entraHeader...)
}

// TestProviderRecipes is the recipe table of docs/verifying.md: each recipe accepts
// its provider's genuine token shapes and refuses the neighbouring
// confusions, and the authority set is what proto rules would check.
func TestProviderRecipes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		recipe, name string
		token        []oauthtest.Token
		wantErr      error
		wantClaim    string
		want, deny   string // an authority the set must hold, and one it must not
	}{
		// Entra ID v2: delegated tokens carry scp (a string), app-only
		// (client credentials) tokens only roles.
		{recipe: "EntraV2SingleTenant", name: "Delegated", token: entraV2(map[string]any{"scp": "Orders.Read User.Read", "roles": []string{"Orders.Admin"}}), want: "Orders.Read", deny: "Orders.Admin"},
		{recipe: "EntraV2SingleTenant", name: "AppOnly", token: entraV2(map[string]any{"roles": []string{"Orders.ReadAll"}, "idtyp": "app"}), want: "Orders.ReadAll"},
		{recipe: "EntraV2SingleTenant", name: "RoleWithSpace", token: entraV2(map[string]any{"roles": []string{"Orders.Read Orders.Admin"}}), wantErr: verify.ErrMalformed, wantClaim: "roles"},
		{recipe: "EntraV2SingleTenant", name: "RolesNotList", token: entraV2(map[string]any{"roles": map[string]any{"0": "Orders.ReadAll"}}), wantErr: verify.ErrMalformed, wantClaim: "roles"},
		{recipe: "EntraV2SingleTenant", name: "OtherTenant", token: entraV2(map[string]any{"iss": "https://login.microsoftonline.com/" + entraOtherTenant + "/v2.0", "tid": entraOtherTenant}), wantErr: verify.ErrIssuer, wantClaim: "iss"},
		{recipe: "EntraV2SingleTenant", name: "IDToken", token: entraV2(map[string]any{"aud": entraWebClient, "nonce": "n-0S6_WzA2Mj", "roles": []string{"Orders.ReadAll"}}), wantErr: verify.ErrType, wantClaim: "nonce"},
		{recipe: "EntraV2SingleTenant", name: "IDTokenForAPI", token: entraV2(map[string]any{"aud": entraWebClient}), wantErr: verify.ErrAudience, wantClaim: "aud"},
		// Entra ID multi-tenant, v1 and v2 issuers over one JWKS.
		{recipe: "EntraMultiTenant", name: "V2AppOnly", token: entraV2(map[string]any{"roles": []string{"Orders.ReadAll"}}), want: "Orders.ReadAll"},
		{recipe: "EntraMultiTenant", name: "V1Delegated", token: entraV1(map[string]any{"scp": "Orders.Read"}), want: "Orders.Read"},
		{recipe: "EntraMultiTenant", name: "V1AppOnly", token: entraV1(map[string]any{"roles": []string{"Orders.ReadAll"}}), want: "Orders.ReadAll"},
		{recipe: "EntraMultiTenant", name: "OtherTenant", token: entraV2(map[string]any{"iss": "https://login.microsoftonline.com/" + entraOtherTenant + "/v2.0", "tid": entraOtherTenant, "roles": []string{"Orders.ReadAll"}}), wantErr: verify.ErrIssuer, wantClaim: "iss"},
		{recipe: "EntraMultiTenant", name: "TidOfOtherTenant", token: entraV2(map[string]any{"tid": entraOtherTenant, "roles": []string{"Orders.ReadAll"}}), wantErr: verify.ErrIssuer, wantClaim: "tid"},
		{recipe: "EntraMultiTenant", name: "NoTid", token: append(entraV1(map[string]any{"scp": "Orders.Read"}), oauthtest.Token{Claims: map[string]any{"tid": nil}}), wantErr: verify.ErrMissingClaim, wantClaim: "tid"},
		{recipe: "EntraMultiTenant", name: "V1AudienceOnV2", token: entraV2(map[string]any{"aud": "api://orders"}), wantErr: verify.ErrAudience, wantClaim: "aud"},
		{recipe: "EntraMultiTenant", name: "CommonIssuer", token: entraV2(map[string]any{"iss": "https://login.microsoftonline.com/common/v2.0"}), wantErr: verify.ErrIssuer, wantClaim: "iss"},
		// Auth0 with RBAC: permissions next to scope, aud an array with
		// the userinfo URL.
		{recipe: "Auth0", name: "RBAC", token: append(claims(map[string]any{"iss": "https://acme.eu.auth0.com/", "aud": []string{"https://orders.example.com", "https://acme.eu.auth0.com/userinfo"},
			"azp": "Z8rhBsb3cSRZEgIZmQpr5T1bS9vPGcEh", "scope": "openid profile read:orders", "permissions": []string{"read:orders", "delete:orders"}, "gty": "client-credentials"}, "client_id"), oauthtest.Token{Type: "JWT"}), want: "delete:orders", deny: "openid"},
		{recipe: "Auth0", name: "AtJWTProfile", token: claims(map[string]any{"iss": "https://acme.eu.auth0.com/", "aud": "https://orders.example.com", "permissions": []string{"read:orders"}}), want: "read:orders"},
		{recipe: "Auth0", name: "NoPermissions", token: append(claims(map[string]any{"iss": "https://acme.eu.auth0.com/", "aud": "https://orders.example.com", "scope": "read:orders"}), oauthtest.Token{Type: "JWT"}), deny: "read:orders"},
		{recipe: "Auth0", name: "OtherAPI", token: append(claims(map[string]any{"iss": "https://acme.eu.auth0.com/", "aud": []string{"https://billing.example.com", "https://acme.eu.auth0.com/userinfo"},
			"permissions": []string{"read:orders"}}), oauthtest.Token{Type: "JWT"}), wantErr: verify.ErrAudience, wantClaim: "aud"},
		{recipe: "Auth0", name: "IDToken", token: append(claims(map[string]any{"iss": "https://acme.eu.auth0.com/", "aud": "https://orders.example.com", "nonce": "abc", "permissions": []string{"read:orders"}}), oauthtest.Token{Type: "JWT"}), wantErr: verify.ErrType, wantClaim: "nonce"},
		// Keycloak: client roles under resource_access.<client>.roles.
		{recipe: "Keycloak", name: "ClientRoles", token: append(claims(map[string]any{"iss": "https://sso.example.com/realms/acme", "aud": []string{"orders-api", "account"}, "azp": "orders-web", "typ": "Bearer",
			"realm_access":    map[string]any{"roles": []string{"offline_access", "uma_authorization"}},
			"resource_access": map[string]any{"orders-api": map[string]any{"roles": []string{"orders.read"}}, "account": map[string]any{"roles": []string{"manage-account"}}},
			"scope":           "openid email profile"}, "client_id"), oauthtest.Token{Type: "JWT"}), want: "orders.read", deny: "manage-account"},
		{recipe: "Keycloak", name: "RolesOfOtherClient", token: append(claims(map[string]any{"iss": "https://sso.example.com/realms/acme", "aud": []string{"orders-api", "account"}, "azp": "orders-web",
			"resource_access": map[string]any{"billing-api": map[string]any{"roles": []string{"orders.read"}}}}, "client_id"), oauthtest.Token{Type: "JWT"}), deny: "orders.read"},
		{recipe: "Keycloak", name: "DefaultAudienceAccount", token: append(claims(map[string]any{"iss": "https://sso.example.com/realms/acme", "aud": "account",
			"resource_access": map[string]any{"orders-api": map[string]any{"roles": []string{"orders.read"}}}}, "client_id"), oauthtest.Token{Type: "JWT"}), wantErr: verify.ErrAudience, wantClaim: "aud"},
		{recipe: "Keycloak", name: "RoleStringWithSpace", token: append(claims(map[string]any{"iss": "https://sso.example.com/realms/acme", "aud": "orders-api",
			"resource_access": map[string]any{"orders-api": map[string]any{"roles": "orders.read orders.admin"}}}, "client_id"), oauthtest.Token{Type: "JWT"}), wantErr: verify.ErrMalformed, wantClaim: "resource_access.orders-api.roles"},
		{recipe: "Keycloak", name: "IDToken", token: append(claims(map[string]any{"iss": "https://sso.example.com/realms/acme", "aud": "orders-api", "typ": "ID", "at_hash": "77QmUPtjPfzWtF2AnpK9RQ",
			"resource_access": map[string]any{"orders-api": map[string]any{"roles": []string{"orders.read"}}}}, "client_id"), oauthtest.Token{Type: "JWT"}), wantErr: verify.ErrType, wantClaim: "at_hash"},
		{recipe: "Keycloak", name: "NonceInAccessToken", token: append(claims(map[string]any{"iss": "https://sso.example.com/realms/acme", "aud": "orders-api", "typ": "Bearer", "nonce": "n",
			"resource_access": map[string]any{"orders-api": map[string]any{"roles": []string{"orders.read"}}}}, "client_id"), oauthtest.Token{Type: "JWT"}), wantErr: verify.ErrType, wantClaim: "nonce"},
		{recipe: "KeycloakNonce", name: "NonceInAccessToken", token: append(claims(map[string]any{"iss": "https://sso.example.com/realms/acme", "aud": "orders-api", "typ": "Bearer", "nonce": "n",
			"resource_access": map[string]any{"orders-api": map[string]any{"roles": []string{"orders.read"}}}}, "client_id"), oauthtest.Token{Type: "JWT"}), want: "orders.read"},
		{recipe: "KeycloakNonce", name: "IDToken", token: append(claims(map[string]any{"iss": "https://sso.example.com/realms/acme", "aud": "orders-web", "typ": "ID", "nonce": "n", "at_hash": "x"}, "client_id"), oauthtest.Token{Type: "JWT"}), wantErr: verify.ErrAudience, wantClaim: "aud"},
		// Okta custom authorization server: no typ, scp array, cid.
		{recipe: "Okta", name: "AccessToken", token: append(claims(map[string]any{"iss": "https://acme.okta.com/oauth2/default", "aud": "api://default", "ver": 1,
			"cid": "0oa1b2c3d4e5f6g7h8i9", "uid": "00u1b2c3d4e5f6g7h8i9", "scp": []string{"orders.read", "openid"}}, "client_id"), oauthtest.Token{Header: map[string]any{"typ": nil}}), want: "orders.read"},
		{recipe: "Okta", name: "IDToken", token: append(claims(map[string]any{"iss": "https://acme.okta.com/oauth2/default", "aud": "0oa1b2c3d4e5f6g7h8i9", "nonce": "n", "amr": []string{"pwd"}}, "client_id"), oauthtest.Token{Header: map[string]any{"typ": nil}}), wantErr: verify.ErrType, wantClaim: "nonce"},
		{recipe: "Okta", name: "Typed", token: append(claims(map[string]any{"iss": "https://acme.okta.com/oauth2/default", "aud": "api://default"}), oauthtest.Token{Type: "JWT"}), wantErr: verify.ErrType, wantClaim: "typ"},
		// Amazon Cognito: no aud, client_id and token_use.
		{recipe: "Cognito", name: "AccessToken", token: append(claims(map[string]any{"iss": cognitoPool, "client_id": cognitoClient, "token_use": "access", "scope": "aws.cognito.signin.user.admin orders/read",
			"auth_time": 1700000000, "username": "alice", "cognito:groups": []string{"admins"}, "origin_jti": "x", "event_id": "y", "version": 2}, "aud"), oauthtest.Token{Header: map[string]any{"typ": nil}}), want: "orders/read"},
		{recipe: "Cognito", name: "IDToken", token: append(claims(map[string]any{"iss": cognitoPool, "aud": cognitoClient, "token_use": "id", "cognito:username": "alice", "email": "alice@example.com", "at_hash": "x"}, "client_id"), oauthtest.Token{Header: map[string]any{"typ": nil}}), wantErr: verify.ErrType, wantClaim: "at_hash"},
		{recipe: "Cognito", name: "IDTokenNoHash", token: append(claims(map[string]any{"iss": cognitoPool, "aud": cognitoClient, "token_use": "id", "email": "alice@example.com"}, "client_id"), oauthtest.Token{Header: map[string]any{"typ": nil}}), wantErr: verify.ErrType, wantClaim: "token_use"},
		{recipe: "Cognito", name: "OtherAppClient", token: append(claims(map[string]any{"iss": cognitoPool, "client_id": "2other", "token_use": "access", "scope": "orders/read"}, "aud"), oauthtest.Token{Header: map[string]any{"typ": nil}}), wantErr: verify.ErrAudience, wantClaim: "client_id"},
		{recipe: "Cognito", name: "NoTokenUse", token: append(claims(map[string]any{"iss": cognitoPool, "client_id": cognitoClient}, "aud"), oauthtest.Token{Header: map[string]any{"typ": nil}}), wantErr: verify.ErrMissingClaim, wantClaim: "token_use"},
		{recipe: "Cognito", name: "NoClientID", token: append(claims(map[string]any{"iss": cognitoPool, "token_use": "access"}, "aud", "client_id"), oauthtest.Token{Header: map[string]any{"typ": nil}}), wantErr: verify.ErrMissingClaim, wantClaim: "client_id"},
		// Ory Hydra: typ JWT, scp array.
		{recipe: "OryHydra", name: "AccessToken", token: append(claims(map[string]any{"iss": "https://hydra.example.com/", "aud": []string{"https://orders.example.com"}, "client_id": "orders-cli",
			"ext": map[string]any{}, "nbf": 1700000000, "scp": []string{"orders.read", "offline"}}), oauthtest.Token{Type: "JWT"}), want: "orders.read"},
		{recipe: "OryHydra", name: "IDToken", token: append(claims(map[string]any{"iss": "https://hydra.example.com/", "aud": []string{"orders-cli"}, "at_hash": "x", "sid": "s"}), oauthtest.Token{Type: "JWT"}), wantErr: verify.ErrType, wantClaim: "at_hash"},
		// Spring Authorization Server: scope as a JSON array.
		{recipe: "Spring", name: "AccessToken", token: append(claims(map[string]any{"iss": "https://auth.example.com", "aud": "orders", "nbf": 1700000000, "scope": []string{"orders.read", "orders.write"}}), oauthtest.Token{Type: "JWT"}), want: "orders.write"},
		{recipe: "Spring", name: "ScopeNumber", token: append(claims(map[string]any{"iss": "https://auth.example.com", "aud": "orders", "scope": 7}), oauthtest.Token{Type: "JWT"}), wantErr: verify.ErrMalformed, wantClaim: "scope"},
		// Google-signed ID tokens as service-to-service bearer tokens.
		{recipe: "GoogleIDToken", name: "ServiceAccount", token: append(claims(map[string]any{"iss": "https://accounts.google.com", "aud": googleService, "azp": "111122223333444455556",
			"sub": "111122223333444455556", "email": "deployer@acme-prod.iam.gserviceaccount.com", "email_verified": true}, "client_id", "jti"), oauthtest.Token{Type: "JWT"}), want: "deployer@acme-prod.iam.gserviceaccount.com"},
		{recipe: "GoogleIDToken", name: "OtherService", token: append(claims(map[string]any{"iss": "https://accounts.google.com", "aud": "https://billing-xyz-uc.a.run.app",
			"email": "deployer@acme-prod.iam.gserviceaccount.com"}, "client_id", "jti"), oauthtest.Token{Type: "JWT"}), wantErr: verify.ErrAudience, wantClaim: "aud"},
	}
	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{Algorithm: "RS256"})
	verifiers := map[string]verify.Verifier{}
	for name, cfgs := range providerRecipes {
		verifiers[name] = newRecipe(t, iss, cfgs)
	}
	covered := map[string]bool{}
	for _, tc := range tests {
		covered[tc.recipe] = true
		t.Run(tc.recipe+"/"+tc.name, func(t *testing.T) {
			t.Parallel()
			v := verifiers[tc.recipe]
			if v == nil {
				t.Fatalf("no recipe %q", tc.recipe)
			}
			c, err := v.Verify(context.Background(), iss.Token(t, tc.token...))
			if tc.wantErr != nil {
				te, ok := errors.AsType[*verify.TokenError](err)
				if !errors.Is(err, tc.wantErr) || !ok || te.Claim != tc.wantClaim {
					t.Fatalf("Verify() error = %v, want %v on claim %q", err, tc.wantErr, tc.wantClaim)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify() error = %v", err)
			}
			// What the interceptor does with a proto rule requiring one scope.
			if rule := scopes.AllOf(tc.want); tc.want != "" && !rule.Allows(c.Scopes()) {
				t.Errorf("AllOf(%q).Allows(%v) = false, want true", tc.want, c.Scopes())
			}
			if rule := scopes.AllOf(tc.deny); tc.deny != "" && rule.Allows(c.Scopes()) {
				t.Errorf("AllOf(%q).Allows(%v) = true, want false", tc.deny, c.Scopes())
			}
		})
	}
	for name := range providerRecipes {
		if !covered[name] {
			t.Errorf("recipe %s has no test", name)
		}
	}
}

// TestIDTokensRefusedByDefault: without configuration, an ID token (typ
// JWT) is no access token; Google's issuer needs the explicit opt-in.
func TestIDTokensRefusedByDefault(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	j := newStaticJWT(t, iss)
	tok := iss.Token(t, oauthtest.Token{Type: "JWT", Claims: map[string]any{"nonce": "n"}})
	if _, err := j.Verify(context.Background(), tok); !errors.Is(err, verify.ErrType) {
		t.Errorf("Verify(ID token) error = %v, want ErrType", err)
	}
	keys, err := verify.NewStaticKeySet(iss.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	cfg := providerRecipes["GoogleIDToken"][0]
	cfg.InsecureAcceptIDTokens = false
	if _, err := verify.NewJWT(keys, cfg); err == nil {
		t.Error("NewJWT(Google issuer without InsecureAcceptIDTokens) succeeded")
	}
}

// TestCognitoIDTokensRefused: token_use "id" marks an ID token whatever
// the configuration. With the app client in Audiences instead of
// ClientIDAudience (an easy mistake: Cognito ID tokens carry the client as
// aud), an ID token would otherwise pass and its cognito:groups become
// scopes. Only InsecureAcceptIDTokens accepts it.
func TestCognitoIDTokensRefused(t *testing.T) {
	t.Parallel()
	groups := []verify.ClaimPath{{"cognito:groups"}}
	configs := map[string]verify.JWTConfig{
		"ClientIDAudience": providerRecipes["Cognito"][0],
		"ClientInAudiences": {Issuer: cognitoPool, Audiences: []string{cognitoClient}, Types: []string{""},
			Authorities: groups},
		"ClientInAudiencesAtJWT": {Issuer: cognitoPool, Audiences: []string{cognitoClient}, Authorities: groups},
		"BothAudiences": {Issuer: cognitoPool, Audiences: []string{cognitoClient}, Types: []string{""}, Authorities: groups,
			ClientIDAudience: &verify.ClientIDAudience{ClientIDs: []string{cognitoClient}, TokenUse: "access"}},
		"InsecureAcceptIDTokens": {Issuer: cognitoPool, Audiences: []string{cognitoClient}, Types: []string{""},
			Authorities: groups, InsecureAcceptIDTokens: true},
	}
	// idToken is a Cognito ID token with typ, or none if typ is nil.
	idToken := func(typ any) []oauthtest.Token {
		return append(claims(map[string]any{"iss": cognitoPool, "aud": cognitoClient, "token_use": "id", "cognito:username": "alice",
			"email": "alice@example.com", "cognito:groups": []string{"admins"}, "auth_time": 1700000000}, "client_id", "scope"),
			oauthtest.Token{Header: map[string]any{"typ": typ}})
	}
	tests := []struct {
		config    string
		token     []oauthtest.Token
		wantErr   error
		wantClaim string
	}{
		{config: "ClientIDAudience", token: idToken(nil), wantErr: verify.ErrType, wantClaim: "token_use"},
		{config: "ClientInAudiences", token: idToken(nil), wantErr: verify.ErrType, wantClaim: "token_use"},
		{config: "ClientInAudiencesAtJWT", token: idToken("at+jwt"), wantErr: verify.ErrType, wantClaim: "token_use"},
		{config: "BothAudiences", token: idToken(nil), wantErr: verify.ErrType, wantClaim: "token_use"},
		{config: "InsecureAcceptIDTokens", token: idToken(nil)},
	}
	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{Algorithm: "RS256"})
	for _, tc := range tests {
		t.Run(tc.config, func(t *testing.T) {
			t.Parallel()
			v := newRecipe(t, iss, []verify.JWTConfig{configs[tc.config]})
			c, err := v.Verify(context.Background(), iss.Token(t, tc.token...))
			if tc.wantErr == nil {
				if err != nil || !c.Scopes().Has("admins") {
					t.Fatalf("Verify() error = %v, want the ID token accepted with its groups as scopes", err)
				}
				return
			}
			te, ok := errors.AsType[*verify.TokenError](err)
			if !errors.Is(err, tc.wantErr) || !ok || te.Claim != tc.wantClaim {
				t.Fatalf("Verify() error = %v, want %v on claim %q", err, tc.wantErr, tc.wantClaim)
			}
		})
	}
	keys, err := verify.NewStaticKeySet(iss.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	cfg := providerRecipes["Cognito"][0]
	cfg.ClientIDAudience = &verify.ClientIDAudience{ClientIDs: []string{cognitoClient}, TokenUse: "id"}
	if _, err := verify.NewJWT(keys, cfg); err == nil {
		t.Error("NewJWT(ClientIDAudience.TokenUse \"id\" without InsecureAcceptIDTokens) succeeded")
	}
}
