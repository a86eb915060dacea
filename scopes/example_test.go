package scopes_test

import (
	"fmt"
	"log"

	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/scopes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Rules come from the (oauthgate.v1.method) and (oauthgate.v1.service)
// options of a .proto file, plus Go declarations for services whose protos
// you do not own.
func ExampleNewPolicy() {
	policy, err := scopes.NewPolicy(
		scopes.FromFiles(testpb.File_oauthgatetest_v1_library_proto),
		scopes.ForService(healthpb.Health_ServiceDesc.ServiceName, scopes.Public()),
	)
	if err != nil {
		log.Fatal(err)
	}
	granted, err := scopes.Parse("library.write openid")
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range []string{
		"/oauthgatetest.v1.LibraryService/AddBooks",
		"/oauthgatetest.v1.LibraryService/Chat",
		"/grpc.health.v1.Health/Check",
		"/oauthgatetest.v1.ShelfService/Move",
	} {
		rule, ok := policy.Rule(m)
		if !ok {
			fmt.Printf("%s: no rule, denied\n", m)
			continue
		}
		fmt.Printf("%s: %s, allowed=%t, ask for %q\n", m, rule, rule.Allows(granted), rule.Closest(granted))
	}
	// Output:
	// /oauthgatetest.v1.LibraryService/AddBooks: library.admin AND library.write, allowed=false, ask for ["library.admin" "library.write"]
	// /oauthgatetest.v1.LibraryService/Chat: (library.read) OR (library.admin), allowed=false, ask for ["library.read"]
	// /grpc.health.v1.Health/Check: public, allowed=true, ask for []
	// /oauthgatetest.v1.ShelfService/Move: no rule, denied
}

// A scope claim is either a space-delimited string or an array of strings;
// anything else is an error, never an empty set.
func ExampleSet_UnmarshalJSON() {
	for _, claim := range []string{`"read:reports admin"`, `["read:reports","admin"]`, `42`, `["read:reports admin"]`} {
		var s scopes.Set
		if err := s.UnmarshalJSON([]byte(claim)); err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(s.Len(), s)
	}
	// Output:
	// 2 admin read:reports
	// 2 admin read:reports
	// scopes: invalid scope: scope claim is neither a string nor an array of strings
	// scopes: invalid scope: scope contains a character outside RFC 6749 scope-token syntax
}
