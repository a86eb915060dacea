package conditions

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

// FuzzConditions compiles an arbitrary expression as the condition of
// UpdateDocument and evaluates it on an arbitrary request. It must never
// panic; a refused expression is a *CompileError; and Eval allows a call
// only when an independent evaluation of the same expression (CEL's own
// map activation, values read without this package's activation) returns
// true without error: an evaluation error never allows.
func FuzzConditions(f *testing.F) {
	reqs := []*testpb.UpdateDocumentRequest{
		{},
		{Tenant: "acme", Owner: "alice", Tags: []string{"a", "b"}, Labels: map[string]string{"k": "v"}, Size: 3},
		{Owner: "bob", Items: []*testpb.Item{{Owner: "alice"}, {Owner: "bob", Text: "t"}}, Note: proto.String("")},
	}
	exprs := []string{
		"request.owner == token.sub || 'admin' in token.scopes",
		"request.tenant == token.tenant",
		"request.items.all(i, i.owner == token.sub)",
		"request.labels['k'] == 'v'",
		"request.size * 4611686018427387904 > 0",
		"has(token.claims.org) && token.claims.org == request.tenant",
		"token.claims.level > 2",
		"size(token.scopes) > 1 && token.scopes[1] == 'docs.write'",
		"has(request.note) && request.tags.exists(t, t.matches('^[a-z]$'))",
		"token.binding == '' && call.method.endsWith('UpdateDocument')",
		"request.owner.size() / request.size > 0",
		"int(request.tenant) > 0",
		"request.updated > token.auth_time",
		"token.scopes + request.tags == request.tags",
	}
	for _, e := range exprs {
		for _, r := range reqs {
			b, err := proto.Marshal(r)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(e, b)
		}
	}
	sum := sha256.Sum256([]byte("cert"))
	raw := []byte(`{"iss":"https://idp.example/","sub":"alice","aud":"docs","scope":"docs.read docs.write",` +
		`"org":"acme","level":3,"groups":["a","b"],"cnf":{"x5t#S256":"` + base64.RawURLEncoding.EncodeToString(sum[:]) + `"}}`)
	claims, err := verify.ParseClaims(raw)
	if err != nil {
		f.Fatal(err)
	}
	const method = "/oauthgatetest.v1.DocumentService/UpdateDocument"
	f.Fuzz(func(t *testing.T, expr string, reqBytes []byte) {
		req := new(testpb.UpdateDocumentRequest)
		if proto.Unmarshal(reqBytes, req) != nil {
			return
		}
		p, err := scopes.NewPolicy(scopes.FromServices(), scopes.ForMethod(method, scopes.AllOf("docs.write").If("c", expr)))
		if err != nil {
			return // an empty expression: scopes refuses it
		}
		ev, err := Compile(p)
		if err != nil {
			var ce *CompileError
			if !errors.As(err, &ce) || !errors.Is(err, ErrInvalidCondition) {
				t.Fatalf("Compile(%q) = %v, want a *CompileError", expr, err)
			}
			return
		}
		evalErr := ev.For(method).Eval(context.Background(), Input{Claims: claims, Request: req})
		var de *DenyError
		if evalErr != nil && !errors.As(evalErr, &de) {
			t.Fatalf("Eval(%q) = %v, want nil or a *DenyError", expr, evalErr)
		}
		if evalErr != nil && strings.Contains(evalErr.Error(), "acme") {
			t.Fatalf("Eval(%q).Error() = %q quotes a claim", expr, evalErr)
		}

		want, refErr := reference(t, p, method, expr, claims, req)
		switch {
		case evalErr == nil && (refErr != nil || !want):
			t.Fatalf("Eval(%q) allowed; the reference evaluation says %v, %v", expr, want, refErr)
		case errors.Is(evalErr, ErrConditionFalse) && (refErr != nil || want):
			t.Fatalf("Eval(%q) = false; the reference evaluation says %v, %v", expr, want, refErr)
		case errors.Is(evalErr, ErrEvaluation) && refErr == nil && !strings.Contains(de.Cause.Error(), "cost limit"):
			t.Fatalf("Eval(%q) failed with %v; the reference evaluation says %v", expr, de.Cause, want)
		}
	})
}

// reference evaluates expr with CEL's map activation and no cost limit,
// reading the variables without this package's activation.
func reference(t *testing.T, p *scopes.Policy, method, expr string, c *verify.Claims, req proto.Message) (bool, error) {
	t.Helper()
	base, err := baseEnv()
	if err != nil {
		t.Fatal(err)
	}
	env, err := (&compiler{base: base, envs: map[protoreflect.FullName]*cel.Env{}}).env(p.Descriptor(method).Input())
	if err != nil {
		t.Fatal(err)
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		t.Fatalf("the reference cannot compile %q: %v", expr, iss.Err())
	}
	prg, err := env.Program(ast)
	if err != nil {
		t.Fatal(err)
	}
	other := map[string]any{}
	if err := json.Unmarshal(c.Raw(), &other); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"iss", "sub", "aud", "client_id", "scope", "scp", "acr", "amr", "auth_time", "cnf"} {
		delete(other, k)
	}
	out, _, err := prg.Eval(map[string]any{
		"request": req, "token.sub": c.Subject(), "token.client_id": c.ClientID(),
		"token.scopes": c.Scopes().Scopes(), "token.audiences": c.Audience(), "token.issuer": c.Issuer(),
		"token.tenant": c.Tenant(), "token.acr": c.ACR(), "token.amr": []string{}, "token.auth_time": epoch,
		"token.binding": "mtls", "token.claims": other, "call.method": method,
		"call.certificate.subject": "", "call.certificate.dns_names": []string{}, "call.certificate.uris": []string{},
	})
	if err != nil {
		return false, err
	}
	return out == types.True, nil
}
