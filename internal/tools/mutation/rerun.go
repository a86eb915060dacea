package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/tools/cover"
)

// gremlinsOutput is the part of gremlins' -o file this command reads.
type gremlinsOutput struct {
	Files []struct {
		Name      string `json:"file_name"` // relative to the path gremlins was given
		Mutations []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
			Line   int    `json:"line"`
			Column int    `json:"column"`
		} `json:"mutations"`
	} `json:"files"`
}

func rerunMain(args []string) error {
	fl := flag.NewFlagSet("rerun", flag.ExitOnError)
	in := fl.String("gremlins", "", "the JSON file gremlins wrote (its -o flag)")
	dir := fl.String("dir", "", "the path gremlins was given, relative to the module root")
	out := fl.String("o", "", "the file to write every mutant and its status to")
	coef := fl.Int("timeout-coefficient", 5, "a mutant's tests time out after this many times the unmutated package's")
	tests := fl.String("tests", "", "comma-separated package directories whose tests judge every mutant (default: the mutated package's own); gremlins must have run with --dry-run")
	_ = fl.Parse(args)
	if *in == "" || *dir == "" || *out == "" || fl.NArg() > 0 {
		usage()
	}
	mutants, err := readGremlins(*in, *dir)
	if err != nil {
		return err
	}
	if *tests != "" {
		dirs := testDirs(strings.Split(*tests, ","))
		for i := range mutants {
			mutants[i].Tests = dirs
		}
	}
	// The file is written after every mutant, so that a run stopped early
	// still has a table of what it ran.
	save := func() error { return writeMutants(*out, mutants) }
	r := &rerunner{coef: time.Duration(*coef), tmp: "", save: save}
	if r.tmp, err = os.MkdirTemp("", "mutation-"); err != nil {
		return err
	}
	defer os.RemoveAll(r.tmp)
	if err := r.run(mutants); err != nil {
		return err
	}
	return save()
}

// writeMutants writes mutants to name as rerun's result file.
func writeMutants(name string, mutants []Mutant) error {
	data, err := json.MarshalIndent(mutants, "", "\t")
	if err != nil {
		return err
	}
	return os.WriteFile(name, append(data, '\n'), 0o644)
}

// oneMain runs the package's tests against one mutant, named as in
// equivalent.txt, and prints its status.
func oneMain(args []string) error {
	if len(args) < 2 {
		usage()
	}
	file, pos, ok := strings.Cut(args[0], ":")
	line, col, ok2 := strings.Cut(pos, ":")
	m := Mutant{File: path.Clean(filepath.ToSlash(file)), Type: args[1]}
	if len(args) > 2 {
		m.Tests = testDirs(args[2:])
	}
	var err1, err2 error
	m.Line, err1 = strconv.Atoi(line)
	m.Column, err2 = strconv.Atoi(col)
	if !ok || !ok2 || err1 != nil || err2 != nil {
		return fmt.Errorf("%s: want file:line:col", args[0])
	}
	abs, err := filepath.Abs(filepath.FromSlash(m.File))
	if err != nil {
		return err
	}
	src, err := os.ReadFile(abs)
	if err != nil {
		return err
	}
	s, err := locate(abs, src, m)
	if err != nil {
		return err
	}
	r := &rerunner{coef: 10}
	if r.tmp, err = os.MkdirTemp("", "mutation-"); err != nil {
		return err
	}
	defer os.RemoveAll(r.tmp)
	status, err := r.runOne(targets(m), job{m: &m, s: s, abs: abs}, 5*time.Minute)
	if err != nil {
		return err
	}
	fmt.Println(status, m.ID())
	return nil
}

// retestMain runs the lived mutants of result files again, after new tests,
// and updates the files: the killed ones stay killed, since tests were only
// added.
func retestMain(args []string) error {
	if len(args) == 0 {
		usage()
	}
	r := &rerunner{coef: 10}
	var err error
	if r.tmp, err = os.MkdirTemp("", "mutation-"); err != nil {
		return err
	}
	defer os.RemoveAll(r.tmp)
	for _, name := range args {
		data, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		var mutants []Mutant
		if err := json.Unmarshal(data, &mutants); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		for i := range mutants {
			m := &mutants[i]
			if m.Status != lived {
				continue
			}
			abs, err := filepath.Abs(filepath.FromSlash(m.File))
			if err != nil {
				return err
			}
			src, err := os.ReadFile(abs)
			if err != nil {
				return err
			}
			s, err := locate(abs, src, *m)
			if err != nil {
				return fmt.Errorf("%w (the source changed since the run: run the package again)", err)
			}
			status, err := r.runOne(targets(*m), job{m: m, s: s, abs: abs}, 5*time.Minute)
			if err != nil {
				return err
			}
			m.Status = status
			fmt.Printf("%12s %s\n", status, m.ID())
		}
		out, err := json.MarshalIndent(mutants, "", "\t")
		if err != nil {
			return err
		}
		if err := os.WriteFile(name, append(out, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// readGremlins reads gremlins' output for dir into mutants named from the
// module root.
func readGremlins(name, dir string) ([]Mutant, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var g gremlinsOutput
	if err := json.Unmarshal(data, &g); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	dir = path.Clean(filepath.ToSlash(dir))
	var mutants []Mutant
	for _, f := range g.Files {
		for _, m := range f.Mutations {
			mutants = append(mutants, Mutant{File: path.Join(dir, filepath.ToSlash(f.Name)),
				Line: m.Line, Column: m.Column, Type: m.Type, Status: m.Status, By: "gremlins"})
		}
	}
	return mutants, nil
}

type rerunner struct {
	coef time.Duration
	tmp  string
	save func() error // if set, called after each mutant is run
}

// A job is a mutant this command runs or checks.
type job struct {
	m     *Mutant
	s     *site
	abs   string // the file's absolute path
	build bool   // only check that it compiles
}

// run settles, in place, the mutants that gremlins could not run or
// counted wrongly.
func (r *rerunner) run(mutants []Mutant) error {
	byPkg := map[string][]job{}
	var pkgs []string
	for i := range mutants {
		m := &mutants[i]
		arith := m.Type == "ARITHMETIC_BASE" || m.Type == "INVERT_NEGATIVES"
		if m.Status != notCovered && m.Status != runnable && (m.Status != killed || !arith) {
			continue
		}
		abs, err := filepath.Abs(filepath.FromSlash(m.File))
		if err != nil {
			return err
		}
		src, err := os.ReadFile(abs)
		if err != nil {
			return err
		}
		s, err := locate(abs, src, *m)
		if err != nil {
			return err
		}
		pkg := path.Dir(m.File)
		if byPkg[pkg] == nil {
			pkgs = append(pkgs, pkg)
		}
		byPkg[pkg] = append(byPkg[pkg], job{m: m, s: s, abs: abs, build: m.Status == killed})
	}
	for _, pkg := range pkgs {
		if err := r.runPackage(pkg, byPkg[pkg]); err != nil {
			return err
		}
	}
	return nil
}

func (r *rerunner) runPackage(pkg string, jobs []job) error {
	target := []string{"./" + pkg}
	if len(jobs[0].m.Tests) > 0 {
		target = targets(*jobs[0].m)
	}
	root := moduleRoot(pkg)
	profile := filepath.Join(r.tmp, "cover.out")
	start := time.Now()
	args := []string{"test", "-count=1", "-coverprofile=" + profile, "-coverpkg=" + inModule(root, pkg)}
	for _, t := range target {
		args = append(args, inModule(root, t))
	}
	if out, err := goCmd(context.Background(), root, args...); err != nil {
		return fmt.Errorf("%s: the unmutated tests fail:\n%s", pkg, out)
	}
	timeout := max(r.coef*time.Since(start), 10*time.Second)
	covered, err := coverage(profile)
	if err != nil {
		return err
	}
	importPath, err := goCmd(context.Background(), root, "list", inModule(root, pkg))
	if err != nil {
		return fmt.Errorf("%s: %s", pkg, importPath)
	}
	importPath = strings.TrimSpace(importPath)
	for _, j := range jobs {
		if j.s.place == inStatement && !j.build {
			p := j.s.fset.Position(j.s.anchor.Pos())
			if !covered(importPath+"/"+path.Base(j.m.File), p.Line, p.Column) {
				j.m.Status, j.m.By = notCovered, "overlay" // no test runs it (gremlins' RUNNABLE included)
				continue
			}
		}
		status, err := r.runOne(target, j, timeout)
		if err != nil {
			return err
		}
		j.m.Status, j.m.By = status, "overlay"
		fmt.Printf("%12s %s at %s:%d:%d\n", status, j.m.Type, j.m.File, j.m.Line, j.m.Column)
		if r.save != nil {
			if err := r.save(); err != nil {
				return err
			}
		}
	}
	return nil
}

// targets returns the packages whose tests judge m, as go command
// arguments: m.Tests, or m's own package.
func targets(m Mutant) []string {
	if len(m.Tests) == 0 {
		return []string{"./" + path.Dir(m.File)}
	}
	t := make([]string, len(m.Tests))
	for i, d := range m.Tests {
		t[i] = "./" + d
	}
	return t
}

// testDirs cleans package directories given on the command line.
func testDirs(dirs []string) []string {
	var out []string
	for _, d := range dirs {
		if d = path.Clean(filepath.ToSlash(strings.TrimSpace(d))); d != "." && d != "" {
			out = append(out, strings.TrimPrefix(d, "./"))
		}
	}
	return out
}

// runOne tests the packages with the mutated file laid over the original.
func (r *rerunner) runOne(target []string, j job, timeout time.Duration) (string, error) {
	src, err := j.s.mutated()
	if err != nil {
		return "", err
	}
	mutated := filepath.Join(r.tmp, filepath.Base(j.abs))
	if err := os.WriteFile(mutated, src, 0o644); err != nil {
		return "", err
	}
	overlay, err := json.Marshal(map[string]map[string]string{"Replace": {j.abs: mutated}})
	if err != nil {
		return "", err
	}
	ovFile := filepath.Join(r.tmp, "overlay.json")
	if err := os.WriteFile(ovFile, overlay, 0o644); err != nil {
		return "", err
	}
	// Only the mutated package need compile: a mutant changes no
	// declaration, and a judge may be a package of test files only, which
	// go build refuses.
	root := moduleRoot(path.Dir(j.m.File))
	if _, err := goCmd(context.Background(), root, "build", "-overlay="+ovFile, inModule(root, path.Dir(j.m.File))); err != nil {
		return notViable, nil
	}
	if j.build {
		return killed, nil
	}
	// go test's own -timeout stops a hung test binary; the context is a
	// backstop for the go command.
	ctx, cancel := context.WithTimeout(context.Background(), 2*timeout+time.Minute)
	defer cancel()
	args := []string{"test", "-count=1", "-failfast", "-overlay=" + ovFile, "-timeout=" + timeout.String()}
	for _, t := range target {
		args = append(args, inModule(root, t))
	}
	out, err := goCmd(ctx, root, args...)
	var exit *exec.ExitError
	switch {
	case err == nil:
		return lived, nil
	case strings.Contains(out, "panic: test timed out"), ctx.Err() != nil:
		return timedOut, nil
	case errors.As(err, &exit):
		return killed, nil
	default:
		return "", err
	}
}

// moduleRoot returns the directory, relative to the repository's root, of
// the module that holds package directory dir: "." for the main module, or
// a nested module's (redisstore), whose packages the go command reaches
// only from its own directory.
func moduleRoot(dir string) string {
	for d := path.Clean(dir); d != "." && d != "/"; d = path.Dir(d) {
		if _, err := os.Stat(filepath.Join(filepath.FromSlash(d), "go.mod")); err == nil {
			return d
		}
	}
	return "."
}

// inModule returns package directory dir, relative to the repository's
// root, as a go command argument run in module root.
func inModule(root, dir string) string {
	dir = strings.TrimPrefix(path.Clean(dir), "./")
	if root == "." {
		return "./" + dir
	}
	if dir == root {
		return "."
	}
	return "./" + strings.TrimPrefix(dir, root+"/")
}

// goCmd runs the go command in directory dir and returns its combined
// output.
func goCmd(ctx context.Context, dir string, args ...string) (string, error) {
	var buf bytes.Buffer
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	return buf.String(), err
}

// coverage reads a profile and reports whether a position is in a block
// that ran.
func coverage(profile string) (func(file string, line, col int) bool, error) {
	profiles, err := cover.ParseProfiles(profile)
	if err != nil {
		return nil, err
	}
	return func(file string, line, col int) bool {
		for _, p := range profiles {
			if p.FileName != file {
				continue
			}
			for _, b := range p.Blocks {
				after := line > b.StartLine || line == b.StartLine && col >= b.StartCol
				before := line < b.EndLine || line == b.EndLine && col < b.EndCol
				if b.Count > 0 && after && before {
					return true
				}
			}
		}
		return false
	}, nil
}
