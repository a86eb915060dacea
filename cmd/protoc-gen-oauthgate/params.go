package main

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// params are the plugin parameters (protoc's --oauthgate_opt, buf's opt).
type params struct {
	report              string // output path, relative to out; "" for none
	format              string // "md" or "json"
	lint                bool
	scopePattern        *regexp.Regexp
	scopeAllowlist      string // path to the allowlist file; "" for none
	requirePublicReason bool
	noMixedServices     bool
	// conditionCostLimit is conditions.WithCostLimit's; 0 for the default.
	conditionCostLimit uint64
}

// knownParams lists every parameter, for the error on an unknown one.
var knownParams = []string{"report", "format", "lint", "scope_pattern", "scope_allowlist", "require_public_reason", "no_mixed_services",
	"condition_cost_limit"}

// parseParams parses "key=value,key=value". Empty items are ignored (buf
// joins an opt list with commas); unknown and repeated keys are errors.
func parseParams(s string) (params, error) {
	p := params{format: "md", lint: true}
	seen := map[string]bool{}
	for item := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(item) == "" {
			continue
		}
		key, value, hasValue := strings.Cut(item, "=")
		if !slices.Contains(knownParams, key) {
			return params{}, fmt.Errorf("unknown parameter %q; the parameters are %s", key, strings.Join(knownParams, ", "))
		}
		if seen[key] {
			return params{}, fmt.Errorf("parameter %s is given twice", key)
		}
		seen[key] = true
		if !hasValue {
			return params{}, fmt.Errorf("parameter %s needs a value, as in %s=VALUE", key, key)
		}
		var err error
		switch key {
		case "report":
			if !validOutputPath(value) {
				return params{}, fmt.Errorf("report=%q: want a relative path inside the output directory, with / separators", value)
			}
			p.report = value
		case "format":
			if value != "md" && value != "json" {
				return params{}, fmt.Errorf("format=%q: want md or json", value)
			}
			p.format = value
		case "lint":
			p.lint, err = parseBool(key, value)
		case "scope_pattern":
			if value == "" {
				return params{}, fmt.Errorf("scope_pattern is empty")
			}
			p.scopePattern, err = regexp.Compile(value)
			if err != nil {
				err = fmt.Errorf("scope_pattern: %v (write a comma as \\x2c: plugin parameters are separated by commas)", err)
			}
		case "scope_allowlist":
			if value == "" {
				return params{}, fmt.Errorf("scope_allowlist is empty")
			}
			p.scopeAllowlist = value
		case "require_public_reason":
			p.requirePublicReason, err = parseBool(key, value)
		case "no_mixed_services":
			p.noMixedServices, err = parseBool(key, value)
		case "condition_cost_limit":
			p.conditionCostLimit, err = strconv.ParseUint(value, 10, 64)
			if err != nil || p.conditionCostLimit == 0 {
				return params{}, fmt.Errorf("condition_cost_limit=%q: want a positive whole number of CEL cost units, the server's conditions.WithCostLimit", value)
			}
		}
		if err != nil {
			return params{}, err
		}
	}
	if seen["format"] && p.report == "" {
		return params{}, fmt.Errorf("format=%s without report=: name the report file", p.format)
	}
	if !p.lint && (p.scopePattern != nil || p.scopeAllowlist != "" || p.requirePublicReason || p.noMixedServices) {
		return params{}, fmt.Errorf("lint=false turns every check off; remove scope_pattern, scope_allowlist, require_public_reason and no_mixed_services, or lint=false")
	}
	return p, nil
}

func parseBool(key, value string) (bool, error) {
	switch value {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("%s=%q: want true or false", key, value)
}

// validOutputPath reports whether p is a clean relative path that stays
// inside the output directory, as CodeGeneratorResponse.File.name must be.
func validOutputPath(p string) bool {
	return p != "" && p != "." && !strings.Contains(p, `\`) && !path.IsAbs(p) &&
		path.Clean(p) == p && p != ".." && !strings.HasPrefix(p, "../")
}
