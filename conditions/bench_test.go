package conditions_test

import (
	"context"
	"testing"

	"github.com/oauthgate/oauthgate/conditions"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/verify"
)

// BenchmarkEval measures what a condition adds to an authorized call, on
// a verified token's claims: the typical owner condition with its admin
// override (owner: the first branch holds; admin: the second; denied:
// neither), tenant isolation, a pass over a repeated field (cost-tracked),
// and a read of token.claims (which decodes the claim set).
func BenchmarkEval(b *testing.B) {
	k := newTokens(b)
	alice := k.claims(b, "acme", "alice", oauthtest.Token{Scopes: []string{"docs.write", "docs.read"}, Claims: map[string]any{"org": "research"}})
	root := k.claims(b, "acme", "root", oauthtest.Token{Scopes: []string{"docs.write", "docs.read", "admin"}})
	const owner = "request.owner == token.sub || 'admin' in token.scopes"
	items := make([]*testpb.Item, 10)
	for i := range items {
		items[i] = &testpb.Item{Owner: "alice"}
	}
	for _, bc := range []struct {
		name, expr string
		claims     *verify.Claims
		req        *testpb.UpdateDocumentRequest
	}{
		{"owner", owner, alice, &testpb.UpdateDocumentRequest{Owner: "alice"}},
		{"owner/admin", owner, root, &testpb.UpdateDocumentRequest{Owner: "bob"}},
		{"owner/denied", owner, alice, &testpb.UpdateDocumentRequest{Owner: "bob"}},
		{"tenant", "request.tenant == token.tenant", alice, &testpb.UpdateDocumentRequest{Tenant: "acme"}},
		{"items10", "request.items.all(i, i.owner == token.sub)", alice, &testpb.UpdateDocumentRequest{Items: items}},
		{"claims", "token.claims.org == 'research'", alice, &testpb.UpdateDocumentRequest{}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m, err := compileOne(b, bc.expr)
			if err != nil {
				b.Fatal(err)
			}
			in := conditions.Input{Claims: bc.claims, Request: bc.req}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				_ = m.Eval(ctx, in)
			}
		})
	}
}
