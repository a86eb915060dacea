package docs

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// root is the repository's root, relative to this package.
const root = "../.."

// pending are pages that other changes add; a link to one is not yet an
// error. Remove an entry once its page exists.
var pending []string

// page is one Markdown file of the documentation.
type page struct {
	path string // relative to root, e.g. "docs/rules.md"
	text string
}

// pages returns README.md and every docs/*.md.
func pages(t *testing.T) []page {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	var out []page
	for _, p := range append([]string{filepath.Join(root, "README.md")}, paths...) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page{path: filepath.ToSlash(rel), text: string(b)})
	}
	return out
}

// block is a fenced code block and the HTML comment just before it.
type block struct {
	line   int    // 1-based line of the opening fence
	lang   string // "sh", "go", ...
	marker string // the comment on the line before the fence (blank lines skipped), or ""
	body   string
}

var fence = regexp.MustCompile("^(\\s*)```(\\S*)\\s*$")

// blocks returns the fenced code blocks of text.
func blocks(text string) []block {
	lines := strings.Split(text, "\n")
	var out []block
	for i := 0; i < len(lines); i++ {
		m := fence.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		b := block{line: i + 1, lang: m[2]}
		for j := i - 1; j >= 0; j-- {
			if s := strings.TrimSpace(lines[j]); s != "" {
				if strings.HasPrefix(s, "<!--") {
					b.marker = s
				}
				break
			}
		}
		var body []string
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			body = append(body, strings.TrimPrefix(lines[i], m[1]))
		}
		b.body = strings.Join(body, "\n") + "\n"
		out = append(out, b)
	}
	return out
}

var (
	compiledMarker = regexp.MustCompile(`^<!-- compiled: (\S+) -->$`)
	ciMarker       = regexp.MustCompile(`^<!-- ci: ([a-z0-9-]+) -->$`)
	skipMarker     = regexp.MustCompile(`^<!-- ci: skip \((.+)\) -->$`)
)

// TestCompiledBlocks checks that a block marked <!-- compiled: PATH --> is
// the file PATH exactly, and that every file of the README's newcomer walk
// is shown.
func TestCompiledBlocks(t *testing.T) {
	shown := map[string]bool{}
	for _, p := range pages(t) {
		for _, b := range blocks(p.text) {
			m := compiledMarker.FindStringSubmatch(b.marker)
			if m == nil {
				continue
			}
			shown[m[1]] = true
			file, err := os.ReadFile(filepath.Join(root, m[1]))
			if err != nil {
				t.Errorf("%s:%d: shows %s, which cannot be read: %v", p.path, b.line, m[1], err)
				continue
			}
			if string(file) != b.body {
				t.Errorf("%s:%d: the copy of %s differs from the file; paste the file into the page", p.path, b.line, m[1])
			}
		}
	}
	for _, path := range []string{
		"examples/newcomer/proto/hello/v1/hello.proto",
		"examples/newcomer/buf.yaml",
		"examples/newcomer/buf.gen.yaml",
		"examples/newcomer/main.go",
		"examples/newcomer/main_test.go",
		"examples/quickstart/main.go",
		"examples/quickstart/report_test.go",
	} {
		if !shown[path] {
			t.Errorf("no page shows %s under a <!-- compiled: %[1]s --> marker", path)
		}
	}
}

// TestNewcomerWalkSize keeps the README's promise of a short path: the
// newcomer's service (its .proto, its server with the wiring, and the
// wiring test) is at most 80 lines of code, counted as cloc counts them:
// neither blank lines nor comment lines; and the README says how many.
func TestNewcomerWalkSize(t *testing.T) {
	const limit = 80
	total := 0
	for _, path := range []string{
		"examples/newcomer/proto/hello/v1/hello.proto",
		"examples/newcomer/main.go",
		"examples/newcomer/main_test.go",
	} {
		b, err := os.ReadFile(filepath.Join(root, path))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for line := range strings.Lines(string(b)) {
			switch line = strings.TrimSpace(line); {
			case strings.Contains(line, "/*"):
				t.Errorf("%s has a block comment; this count knows only line comments", path)
			case line != "" && !strings.HasPrefix(line, "//"):
				n++
			}
		}
		t.Logf("%s: %d lines of code", path, n)
		total += n
	}
	if total > limit {
		t.Errorf("the newcomer walk has %d lines of code, more than %d", total, limit)
	}
	if says := fmt.Sprintf("%d lines of Go and proto", total); !strings.Contains(pages(t)[0].text, says) {
		t.Errorf("README.md does not say %q", says)
	}
}

// TestErrorReasons checks that docs/errors.md, which the interceptor's
// and connectgate's documentation point to for the values of their
// Reason constants, names every reason the decision core sets.
func TestErrorReasons(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join(root, "internal", "core", "errors.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(root, "docs", "errors.md"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !strings.HasPrefix(name.Name, "Reason") || !ok || lit.Kind != token.STRING {
					continue
				}
				n++
				if reason := strings.Trim(lit.Value, `"`); !strings.Contains(string(page), "`"+reason+"`") {
					t.Errorf("docs/errors.md does not name %s (core.%s)", reason, name.Name)
				}
			}
		}
	}
	if n < 20 {
		t.Errorf("found %d Reason constants in internal/core/errors.go, want 20 or more: has the file moved?", n)
	}
}

// TestShellBlocksRunInCI checks that every shell block is marked: with a
// name that .ci/run runs, or as skipped with a reason.
func TestShellBlocksRunInCI(t *testing.T) {
	ci, err := os.ReadFile(filepath.Join(root, ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	run := map[string]bool{} // the names .ci/run runs
	for _, m := range regexp.MustCompile(`run_doc_block(?:_bg|_output)? ([a-z0-9-]+)`).FindAllStringSubmatch(string(ci), -1) {
		run[m[1]] = true
	}
	seen := map[string]string{}
	for _, p := range pages(t) {
		for _, b := range blocks(p.text) {
			if !slices.Contains([]string{"sh", "bash", "shell", "console"}, b.lang) {
				continue
			}
			at := fmt.Sprintf("%s:%d", p.path, b.line)
			if b.lang != "sh" {
				t.Errorf("%s: a %q block: write shell blocks as sh, so that CI finds them", at, b.lang)
			}
			if skipMarker.MatchString(b.marker) {
				continue
			}
			m := ciMarker.FindStringSubmatch(b.marker)
			if m == nil {
				t.Errorf("%s: a shell block without <!-- ci: NAME --> or <!-- ci: skip (reason) --> before it", at)
				continue
			}
			if prev, ok := seen[m[1]]; ok {
				t.Errorf("%s: ci name %q is also used at %s", at, m[1], prev)
			}
			seen[m[1]] = at
			if !run[m[1]] {
				t.Errorf("%s: .ci/run does not run the block %q (run_doc_block %[2]s)", at, m[1])
			}
		}
	}
	for name := range run {
		if _, ok := seen[name]; !ok {
			t.Errorf(".ci/run runs the block %q, which no page has", name)
		}
	}
}

var (
	link    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	heading = regexp.MustCompile(`(?m)^#{1,6} (.+)$`)
)

// slug is GitHub's anchor for a heading.
func slug(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	var b strings.Builder
	for _, r := range h {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func anchors(text string) map[string]bool {
	out := map[string]bool{}
	for _, m := range heading.FindAllStringSubmatch(stripCode(text), -1) {
		out[slug(strings.ReplaceAll(m[1], "`", ""))] = true
	}
	return out
}

// stripCode removes fenced blocks, whose lines are not Markdown.
func stripCode(text string) string {
	var out []string
	in := false
	for _, l := range strings.Split(text, "\n") {
		if fence.MatchString(l) {
			in = !in
			continue
		}
		if !in {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestLinks checks that every relative link leads to a file of the
// repository, and every #anchor to a heading of its page.
func TestLinks(t *testing.T) {
	all := pages(t)
	byPath := map[string]page{}
	for _, p := range all {
		byPath[p.path] = p
	}
	for _, p := range all {
		for _, m := range link.FindAllStringSubmatch(stripCode(p.text), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			resolved := p.path
			if file != "" {
				resolved = filepath.ToSlash(filepath.Join(filepath.Dir(p.path), file))
				if slices.Contains(pending, resolved) {
					continue
				}
				if _, err := os.Stat(filepath.Join(root, resolved)); err != nil {
					t.Errorf("%s: link %s: %v", p.path, target, err)
					continue
				}
			}
			if anchor == "" || !strings.HasSuffix(resolved, ".md") {
				continue
			}
			dst, ok := byPath[resolved]
			if !ok {
				b, err := os.ReadFile(filepath.Join(root, resolved))
				if err != nil {
					t.Fatal(err)
				}
				dst = page{path: resolved, text: string(b)}
			}
			if !anchors(dst.text)[anchor] {
				t.Errorf("%s: link %s: %s has no heading #%s", p.path, target, resolved, anchor)
			}
		}
	}
}

// TestREADME checks the README's length and that it links every page.
func TestREADME(t *testing.T) {
	all := pages(t)
	readme := all[0].text
	if n := strings.Count(readme, "\n"); n > 400 {
		t.Errorf("README.md has %d lines, more than 400: move reference material to docs/", n)
	}
	for _, p := range all[1:] {
		if !strings.Contains(readme, "]("+p.path+")") {
			t.Errorf("README.md does not link %s", p.path)
		}
	}
}

// TestPackageDocs checks that the doc of every public package links its
// page of docs/ by its URL on the code host, and that the page exists.
func TestPackageDocs(t *testing.T) {
	const prefix = "https://github.com/oauthgate/oauthgate/blob/main/"
	dirs := publicPackages(t)
	if len(dirs) < 15 {
		t.Fatalf("found %d public packages (%q): the walk is broken", len(dirs), dirs)
	}
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(root, dir, "doc.go"))
		if err != nil {
			t.Errorf("%s: %v", dir, err)
			continue
		}
		m := regexp.MustCompile(regexp.QuoteMeta(prefix) + `(docs/[a-z0-9-]+\.md)`).FindSubmatch(b)
		if m == nil {
			t.Errorf("%s/doc.go does not link its page, %sdocs/….md", dir, prefix)
			continue
		}
		if _, err := os.Stat(filepath.Join(root, string(m[1]))); err != nil {
			t.Errorf("%s/doc.go links %s: %v", dir, m[1], err)
		}
	}
}

// publicPackages returns the directories, relative to root, of every
// package users import or run: each directory with a non-test Go file,
// but for internal/, examples/, bench/ and testdata trees.
func publicPackages(t *testing.T) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "internal", "examples", "bench", "testdata", "node_modules":
				return filepath.SkipDir
			}
			if strings.HasPrefix(d.Name(), ".") && rel != "." {
				return filepath.SkipDir
			}
			return nil
		}
		dir := filepath.ToSlash(filepath.Dir(rel))
		if strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") && dir != "." && !slices.Contains(dirs, dir) {
			dirs = append(dirs, dir)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}
