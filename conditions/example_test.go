package conditions_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/oauthgate/oauthgate/conditions"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

// The owner of a document, or an administrator, may update it: the
// condition is declared in Go here (in a .proto file it is the
// conditions field of the method option), compiled once at start-up, and
// evaluated per call on the verified claims and the request.
func ExampleCompile() {
	const update = "/oauthgatetest.v1.DocumentService/UpdateDocument"
	policy, err := scopes.NewPolicy(scopes.FromServices(), scopes.ForMethod(update,
		scopes.AllOf("docs.write").If("owner", "request.owner == token.sub || 'admin' in token.scopes")))
	if err != nil {
		log.Fatal(err)
	}
	ev, err := conditions.Compile(policy)
	if err != nil {
		log.Fatal(err)
	}
	alice, _ := verify.ParseClaims([]byte(`{"sub":"alice","scope":"docs.write"}`))
	root, _ := verify.ParseClaims([]byte(`{"sub":"root","scope":"docs.write admin"}`))

	m := ev.For(update)
	for _, call := range []struct {
		who    string
		claims *verify.Claims
		owner  string
	}{{"alice", alice, "alice"}, {"alice", alice, "bob"}, {"root", root, "bob"}} {
		err := m.Eval(context.Background(), conditions.Input{
			Claims:  call.claims,
			Request: &testpb.UpdateDocumentRequest{Owner: call.owner},
		})
		var deny *conditions.DenyError
		switch {
		case err == nil:
			fmt.Printf("%s updates %s's document\n", call.who, call.owner)
		case errors.As(err, &deny):
			fmt.Printf("%s may not update %s's document: %s\n", call.who, call.owner, deny.Condition)
		}
	}
	// Output:
	// alice updates alice's document
	// alice may not update bob's document: owner
	// root updates bob's document
}

// A condition that does not type-check against the method's input
// message refuses to start, naming the method, the condition and the
// position in the expression.
func ExampleCompile_error() {
	policy, err := scopes.NewPolicy(scopes.FromServices(), scopes.ForMethod("/oauthgatetest.v1.DocumentService/UpdateDocument",
		scopes.AllOf("docs.write").If("owner", "request.ownr == token.sub")))
	if err != nil {
		log.Fatal(err)
	}
	_, err = conditions.Compile(policy)
	fmt.Println(err)
	// Output:
	// conditions: cannot compile conditions:
	// 	/oauthgatetest.v1.DocumentService/UpdateDocument: invalid condition: condition owner: expression 1:8: undefined field 'ownr'
}
