package conditions_test

import (
	"context"
	"testing"

	"github.com/oauthgate/oauthgate/conditions"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

// Full method names of the test service (internal/testproto's
// conditions.proto).
const (
	docs           = "/oauthgatetest.v1.DocumentService/"
	getDocument    = docs + "GetDocument"
	updateDocument = docs + "UpdateDocument"
	uploadDocs     = docs + "UploadDocuments"
	ping           = docs + "PingDocuments"
)

// tenantIssuer is the issuer template of the test tokens: a multi-tenant
// issuer, so that token.tenant is set.
const tenantIssuer = "https://idp.example/{tenant}/"

// tokens mints tokens with oauthtest and verifies them as a server does,
// so that conditions see the Claims a server's verifier returns.
type tokens struct {
	iss *oauthtest.Issuer
	jwt *verify.JWT
}

func newTokens(tb testing.TB) *tokens {
	tb.Helper()
	iss := oauthtest.NewIssuer(tb, oauthtest.IssuerConfig{InMemory: true})
	keys, err := verify.NewStaticKeySet(iss.JWKS().Keys...)
	if err != nil {
		tb.Fatal(err)
	}
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{
		Issuer:    tenantIssuer,
		Tenants:   []string{"acme", "globex"},
		Audiences: []string{"docs"},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return &tokens{iss: iss, jwt: jwt}
}

// claims returns the verified claims of a token of tenant for sub, with
// opts on top.
func (k *tokens) claims(tb testing.TB, tenant, sub string, opts ...oauthtest.Token) *verify.Claims {
	tb.Helper()
	opts = append([]oauthtest.Token{
		{
			Issuer:   "https://idp.example/" + tenant + "/",
			Claims:   map[string]any{"tid": tenant},
			Audience: []string{"docs"},
			Subject:  sub,
		},
	}, opts...)
	c, err := k.jwt.Verify(context.Background(), k.iss.Token(tb, opts...))
	if err != nil {
		tb.Fatalf("Verify() = %v", err)
	}
	return c
}

// documentPolicy is the policy of the test service's .proto file.
func documentPolicy(tb testing.TB, opts ...scopes.Option) *scopes.Policy {
	tb.Helper()
	p, err := scopes.NewPolicy(append([]scopes.Option{scopes.FromFiles(testpb.File_oauthgatetest_v1_conditions_proto)}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// compileOne compiles a policy whose only condition, on UpdateDocument, is
// expr.
func compileOne(tb testing.TB, expr string, opts ...conditions.Option) (*conditions.Method, error) {
	tb.Helper()
	files := scopes.FromServices() // no file: only the Go declaration below
	p, err := scopes.NewPolicy(files, scopes.ForMethod(updateDocument, scopes.AllOf("docs.write").If("c", expr)))
	if err != nil {
		tb.Fatal(err)
	}
	ev, err := conditions.Compile(p, opts...)
	if err != nil {
		return nil, err
	}
	return ev.For(updateDocument), nil
}
