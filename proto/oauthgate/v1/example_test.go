package oauthgatev1_test

import (
	"fmt"

	"github.com/oauthgate/oauthgate/examples/reports/reportsv1"
	oauthgatev1 "github.com/oauthgate/oauthgate/proto/oauthgate/v1"
	"google.golang.org/protobuf/proto"
)

// The rule of an RPC is an option of its method descriptor, here of
// DeleteReport in examples/reports/v1/reports.proto. Servers do not read
// it like this: package scopes compiles every rule once, at start-up,
// with the same meaning for every way a descriptor can be built.
func Example_methodRule() {
	svc := reportsv1.File_examples_reports_v1_reports_proto.Services().ByName("ReportService")
	method := svc.Methods().ByName("DeleteReport")
	rule := proto.GetExtension(method.Options(), oauthgatev1.E_Method).(*oauthgatev1.Rule)
	fmt.Println("scopes:", rule.GetScopes())
	fmt.Println("acr_values:", rule.GetAcrValues(), "max_age:", rule.GetMaxAge())
	// Output:
	// scopes: [write:reports admin]
	// acr_values: [urn:example:mfa] max_age: 300
}
