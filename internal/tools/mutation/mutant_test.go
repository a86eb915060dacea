package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

const src = `package p

const limit = 10 * 60

func f(a, b int) int {
	var local = a + b
	switch {
	case a < b && local > limit:
		return a - b
	}
	switch a {
	case b + 1:
		return 1
	}
	return -a
}

func g(a, b int) bool {
	return a > 0 && b > 0 && a > b
}

func h(f func(func()) error) bool {
	if err := f(func() {
	}); err != nil {
		return false
	}
	return true
}
`

// TestLocate: each mutant is found at gremlins' line and column, mutated as
// gremlins would, and placed where coverage can or cannot see it.
func TestLocate(t *testing.T) {
	tests := map[string]struct {
		m          Mutant
		wantLine   string // the mutated line
		wantPlace  place
		wantAnchor int // line of the anchor statement
		wantErr    string
	}{
		"PackageConst":  {m: Mutant{Line: 3, Column: 18, Type: "ARITHMETIC_BASE"}, wantLine: "const limit = 10 / 60", wantPlace: inPackageDecl},
		"LocalVar":      {m: Mutant{Line: 6, Column: 16, Type: "ARITHMETIC_BASE"}, wantLine: "\tvar local = a - b", wantAnchor: 6},
		"CaseCondition": {m: Mutant{Line: 8, Column: 9, Type: "CONDITIONALS_BOUNDARY"}, wantLine: "\tcase a <= b && local > limit:", wantAnchor: 7},
		"CaseLogical":   {m: Mutant{Line: 8, Column: 13, Type: "INVERT_LOGICAL"}, wantLine: "\tcase a < b || local > limit:", wantAnchor: 7},
		"CaseBody":      {m: Mutant{Line: 9, Column: 12, Type: "ARITHMETIC_BASE"}, wantLine: "\t\treturn a + b", wantAnchor: 9},
		"TaggedCase":    {m: Mutant{Line: 12, Column: 9, Type: "ARITHMETIC_BASE"}, wantLine: "\tcase b - 1:", wantAnchor: 11},
		"Negation":      {m: Mutant{Line: 15, Column: 9, Type: "INVERT_NEGATIVES"}, wantLine: "\treturn +a", wantAnchor: 15},
		// The tree is mutated, not the text: precedence stays.
		"ChainFirst": {m: Mutant{Line: 19, Column: 15, Type: "INVERT_LOGICAL"}, wantLine: "\treturn (a > 0 || b > 0) && a > b", wantAnchor: 19},
		"ChainLast":  {m: Mutant{Line: 19, Column: 24, Type: "INVERT_LOGICAL"}, wantLine: "\treturn a > 0 && b > 0 || a > b", wantAnchor: 19},
		// After a function literal, outside coverage's blocks: the if runs it.
		"AfterClosure":   {m: Mutant{Line: 24, Column: 10, Type: "CONDITIONALS_NEGATION"}, wantLine: "\t}); err == nil {", wantAnchor: 23},
		"NoOperator":     {m: Mutant{Line: 8, Column: 10, Type: "INVERT_LOGICAL"}, wantErr: "no operator there"},
		"OtherOperator":  {m: Mutant{Line: 8, Column: 9, Type: "INVERT_LOGICAL"}, wantErr: "does not mutate <"},
		"UnknownMutator": {m: Mutant{Line: 8, Column: 9, Type: "FLIP"}, wantErr: "unknown mutator"},
		"NoSuchLine":     {m: Mutant{Line: 99, Column: 1, Type: "INVERT_LOGICAL"}, wantErr: "no such line"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tc.m.File = "p.go"
			s, err := locate("p.go", []byte(src), tc.m)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("locate() error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			out, err := s.mutated()
			if err != nil {
				t.Fatal(err)
			}
			lines := bytes.Split(out, []byte("\n"))
			if got := string(lines[tc.m.Line-1]); got != tc.wantLine {
				t.Errorf("mutated line = %q, want %q", got, tc.wantLine)
			}
			if s.place != tc.wantPlace {
				t.Errorf("place = %d, want %d", s.place, tc.wantPlace)
			}
			if tc.wantPlace == inStatement {
				if got := s.fset.Position(s.anchor.Pos()).Line; got != tc.wantAnchor {
					t.Errorf("anchor on line %d, want %d", got, tc.wantAnchor)
				}
			}
		})
	}
}

func TestReadEquivalent(t *testing.T) {
	const list = "# comment\n\n" +
		"a/b.go:1:2 INVERT_LOGICAL — both sides are equal here\n" +
		"a/b.go:3:4 CONDITIONALS_BOUNDARY - an ASCII dash will do\n"
	eq, err := readEquivalent(strings.NewReader(list))
	if err != nil {
		t.Fatal(err)
	}
	if len(eq) != 2 || eq["a/b.go:1:2 INVERT_LOGICAL"] != "both sides are equal here" {
		t.Errorf("readEquivalent() = %q", eq)
	}
	for name, bad := range map[string]string{
		"NoReason":   "a/b.go:1:2 INVERT_LOGICAL\n",
		"NoPosition": "a/b.go INVERT_LOGICAL — reason\n",
		"Twice":      "a/b.go:1:2 INVERT_LOGICAL — x\na/b.go:1:2 INVERT_LOGICAL — y\n",
	} {
		if _, err := readEquivalent(strings.NewReader(bad)); err == nil {
			t.Errorf("%s: readEquivalent() accepted %q", name, bad)
		}
	}
}

// TestPrintTable: timeouts count as killed, equivalent mutants leave the
// score, and the lived rest is listed.
func TestPrintTable(t *testing.T) {
	mutants := []Mutant{
		{File: "p/a.go", Line: 1, Column: 1, Type: "INVERT_LOGICAL", Status: killed},
		{File: "p/a.go", Line: 2, Column: 1, Type: "INVERT_LOGICAL", Status: timedOut},
		{File: "p/a.go", Line: 3, Column: 1, Type: "INVERT_LOGICAL", Status: lived},
		{File: "p/a.go", Line: 4, Column: 1, Type: "INVERT_LOGICAL", Status: lived},
		{File: "p/a.go", Line: 5, Column: 1, Type: "INVERT_LOGICAL", Status: notCovered},
		{File: "p/a.go", Line: 6, Column: 1, Type: "ARITHMETIC_BASE", Status: notViable},
		{File: "q/b.go", Line: 1, Column: 1, Type: "INVERT_LOGICAL", Status: killed},
	}
	eq := map[string]string{"p/a.go:4:1 INVERT_LOGICAL": "why", "p/a.go:9:1 INVERT_LOGICAL": "gone"}
	var out bytes.Buffer
	printTable(&out, mutants, eq)
	for _, want := range []string{
		"| p | 2 | 2 | 1 | 66.7 % | 1 | 1 |",
		"| q | 1 | 0 | 0 | 100.0 % | 0 | 0 |",
		"- p/a.go:3:1 INVERT_LOGICAL",
		"- p/a.go:9:1 INVERT_LOGICAL", // listed, no longer found
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "- p/a.go:4:1") {
		t.Errorf("table lists an equivalent mutant as lived:\n%s", out.String())
	}
}

// TestTargets: a mutant is judged by its own package's tests unless it
// names the packages (a core tested through its adapter), given in any
// spelling of a directory.
func TestTargets(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		m    Mutant
		want []string
	}{
		"Own":   {Mutant{File: "verify/jwt.go"}, []string{"./verify"}},
		"Given": {Mutant{File: "internal/core/core.go", Tests: testDirs([]string{"internal/core", "./interceptor/", " ", "."})}, []string{"./internal/core", "./interceptor"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := targets(tc.m); strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("targets(%v) = %q, want %q", tc.m, got, tc.want)
			}
		})
	}
}

func TestInModule(t *testing.T) {
	for _, tc := range []struct{ root, dir, want string }{
		{".", "verify", "./verify"},
		{".", "./internal/core", "./internal/core"},
		{"redisstore", "redisstore", "."},
		{"redisstore", "./redisstore", "."},
		{"redisstore", "redisstore/internal/redistest", "./internal/redistest"},
	} {
		if got := inModule(tc.root, tc.dir); got != tc.want {
			t.Errorf("inModule(%q, %q) = %q, want %q", tc.root, tc.dir, got, tc.want)
		}
	}
}

func TestModuleRoot(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, d := range []string{"a/b", "nested/c/d"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile("nested/go.mod", []byte("module n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for dir, want := range map[string]string{"a/b": ".", "a": ".", "nested": "nested", "nested/c/d": "nested", "./nested/c": "nested"} {
		if got := moduleRoot(dir); got != want {
			t.Errorf("moduleRoot(%q) = %q, want %q", dir, got, want)
		}
	}
}
