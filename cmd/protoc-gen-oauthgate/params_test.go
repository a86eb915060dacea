package main

import (
	"strings"
	"testing"
)

func TestParseParams(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		param   string
		wantErr string // "" for success
	}{
		"Empty":              {param: ""},
		"EmptyItems":         {param: ",report=a/POLICY.md,,"},
		"All":                {param: "report=p.json,format=json,lint=true," + allChecks},
		"ReportOnly":         {param: "lint=false,report=POLICY.md"},
		"Unknown":            {param: "paths=source_relative", wantErr: `unknown parameter "paths"`},
		"Repeated":           {param: "lint=true,lint=false", wantErr: "given twice"},
		"NoValue":            {param: "lint", wantErr: "needs a value"},
		"BadBool":            {param: "lint=yes", wantErr: `lint="yes": want true or false`},
		"BadFormat":          {param: "report=a,format=html", wantErr: "want md or json"},
		"FormatNoReport":     {param: "format=json", wantErr: "without report="},
		"AbsoluteReport":     {param: "report=/etc/passwd", wantErr: "relative path"},
		"EscapingReport":     {param: "report=../POLICY.md", wantErr: "relative path"},
		"UncleanReport":      {param: "report=a//b.md", wantErr: "relative path"},
		"BackslashReport":    {param: `report=a\b.md`, wantErr: "relative path"},
		"BadPattern":         {param: "scope_pattern=[", wantErr: `write a comma as \x2c`},
		"EmptyPattern":       {param: "scope_pattern=", wantErr: "scope_pattern is empty"},
		"EmptyAllowlist":     {param: "scope_allowlist=", wantErr: "scope_allowlist is empty"},
		"ChecksWithoutLint":  {param: "lint=false,no_mixed_services=true", wantErr: "lint=false turns every check off"},
		"CommaInPattern":     {param: `scope_pattern=^[a-z]{1\x2c20}$`},
		"PublicReasonFalse":  {param: "require_public_reason=false"},
		"NoMixedServicesBad": {param: "no_mixed_services=1", wantErr: "want true or false"},
		"CostLimit":          {param: "lint=false,condition_cost_limit=1000000"},
		"CostLimitZero":      {param: "condition_cost_limit=0", wantErr: "want a positive whole number"},
		"CostLimitNegative":  {param: "condition_cost_limit=-1", wantErr: "want a positive whole number"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := parseParams(tc.param)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("parseParams(%q) = %v, want success", tc.param, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("parseParams(%q) = %v, want an error containing %q", tc.param, err, tc.wantErr)
			}
		})
	}
}
