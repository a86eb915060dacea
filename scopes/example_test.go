package scopes_test

import (
	"fmt"
	"log"

	"github.com/oauthgate/oauthgate/examples/reports/reportsv1"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/scopeset"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Rules come from the (oauthgate.v1.method) and (oauthgate.v1.service)
// options of a .proto file, here the example report service's, plus Go
// declarations for services whose protos you do not own.
func ExampleNewPolicy() {
	policy, err := scopes.NewPolicy(
		scopes.FromFiles(reportsv1.File_examples_reports_v1_reports_proto),
		scopes.ForService(healthpb.Health_ServiceDesc.ServiceName, scopes.Public()),
	)
	if err != nil {
		log.Fatal(err)
	}
	granted, err := scopeset.Parse("write:reports openid")
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range []string{
		"/examples.reports.v1.ReportService/DeleteReport",
		"/examples.reports.v1.ReportService/GetReport",
		"/examples.reports.v1.ReportService/CreateReport",
		"/grpc.health.v1.Health/Check",
		"/examples.reports.v1.ReportService/Undeclared",
	} {
		rule, ok := policy.Rule(m)
		if !ok {
			fmt.Printf("%s: no rule, denied\n", m)
			continue
		}
		fmt.Printf("%s: %s, allowed=%t, ask for %q\n", m, rule, rule.Allows(granted), rule.Closest(granted))
	}
	// Output:
	// /examples.reports.v1.ReportService/DeleteReport: admin AND write:reports ACR urn:example:mfa MAX-AGE 300s, allowed=false, ask for ["admin" "write:reports"]
	// /examples.reports.v1.ReportService/GetReport: (read:reports) OR (admin) IF owner, allowed=false, ask for ["read:reports"]
	// /examples.reports.v1.ReportService/CreateReport: write:reports, allowed=true, ask for ["write:reports"]
	// /grpc.health.v1.Health/Check: public, allowed=true, ask for []
	// /examples.reports.v1.ReportService/Undeclared: no rule, denied
}

// A condition on the request and the token, declared in Go; package
// conditions compiles and evaluates it.
func ExampleRule_If() {
	rule := scopes.AllOf("write:reports").
		If("owner", "request.owner == token.sub || 'admin' in token.scopes")
	fmt.Println(rule.String())
	for _, c := range rule.Conditions() {
		fmt.Printf("%s: %s\n", c.Name, c.Expr)
	}
	// Output:
	// write:reports IF owner
	// owner: request.owner == token.sub || 'admin' in token.scopes
}
