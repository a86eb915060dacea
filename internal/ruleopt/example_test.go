package ruleopt_test

import (
	"errors"
	"fmt"

	"github.com/oauthgate/oauthgate/examples/reports/reportsv1"
	"github.com/oauthgate/oauthgate/internal/ruleopt"
)

// Method reads the rule of an RPC from its descriptor; a method without
// one has a nil rule and no error.
func ExampleReader_Method() {
	r, err := ruleopt.NewReader()
	if err != nil {
		panic(err)
	}
	svc := reportsv1.File_examples_reports_v1_reports_proto.Services().ByName("ReportService")
	rule, err := r.Method(svc.Methods().ByName("GetServerInfo"), errors.New("invalid rule"))
	fmt.Println(rule.GetPublic(), err)
	// Output: true <nil>
}
