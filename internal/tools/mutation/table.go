package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

func tableMain(args []string) error {
	fl := flag.NewFlagSet("table", flag.ExitOnError)
	eqFile := fl.String("equivalent", "", "the list of equivalent mutants (file:line:col MUTATOR — reason)")
	_ = fl.Parse(args)
	if fl.NArg() == 0 {
		usage()
	}
	var mutants []Mutant
	for _, name := range fl.Args() {
		data, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		var ms []Mutant
		if err := json.Unmarshal(data, &ms); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		mutants = append(mutants, ms...)
	}
	equivalent := map[string]string{}
	if *eqFile != "" {
		f, err := os.Open(*eqFile)
		if err != nil {
			return err
		}
		defer f.Close()
		if equivalent, err = readEquivalent(f); err != nil {
			return fmt.Errorf("%s: %w", *eqFile, err)
		}
	}
	printTable(os.Stdout, mutants, equivalent)
	return nil
}

// An equivalent.txt line: a mutant's ID, a dash and the reason.
var equivalentLine = regexp.MustCompile(`^(\S+:\d+:\d+ [A-Z_]+)\s+[—-]+\s+(\S.*)$`)

// readEquivalent reads the list of equivalent mutants: lines of
// "file:line:col MUTATOR — reason"; blank lines and lines starting with #
// are skipped.
func readEquivalent(r io.Reader) (map[string]string, error) {
	eq := map[string]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := equivalentLine.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("line %d: want \"file:line:col MUTATOR — reason\"", n)
		}
		if _, dup := eq[m[1]]; dup {
			return nil, fmt.Errorf("line %d: %s is listed twice", n, m[1])
		}
		eq[m[1]] = m[2]
	}
	return eq, sc.Err()
}

type row struct {
	killed, lived, equivalent, notCovered, notViable int
}

// score is killed / (killed + lived - equivalent), in percent.
func (r row) score() string {
	n := r.killed + r.lived - r.equivalent
	if n == 0 {
		return "–"
	}
	return strconv.FormatFloat(100*float64(r.killed)/float64(n), 'f', 1, 64) + " %"
}

func printTable(w io.Writer, mutants []Mutant, equivalent map[string]string) {
	rows := map[string]*row{}
	files := map[string]bool{}
	var pkgs []string
	var livedIDs, killedEq []string
	notRun := 0
	for _, m := range mutants {
		pkg := path.Dir(m.File)
		files[m.File] = true
		r := rows[pkg]
		if r == nil {
			r = &row{}
			rows[pkg] = r
			pkgs = append(pkgs, pkg)
		}
		_, eq := equivalent[m.ID()]
		if len(m.Tests) > 0 && m.By == "gremlins" && !m.final() {
			notRun++ // listed by gremlins --dry-run, not reached yet
			continue
		}
		switch m.Status {
		case killed, timedOut:
			r.killed++
			if eq {
				killedEq = append(killedEq, m.ID())
			}
		case lived:
			r.lived++
			if eq {
				r.equivalent++
			} else {
				livedIDs = append(livedIDs, m.ID())
			}
		case notCovered:
			r.notCovered++
		case notViable:
			r.notViable++
		}
	}
	slices.Sort(pkgs)
	fmt.Fprintln(w, "| package | killed | lived | equivalent | score | not covered | not viable |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|")
	for _, pkg := range pkgs {
		r := rows[pkg]
		fmt.Fprintf(w, "| %s | %d | %d | %d | %s | %d | %d |\n",
			pkg, r.killed, r.lived, r.equivalent, r.score(), r.notCovered, r.notViable)
	}
	if notRun > 0 {
		fmt.Fprintf(w, "\nNot run: %d mutants (a run with -tests was stopped before it ran them); the table counts only the others.\n", notRun)
	}
	if len(livedIDs) > 0 {
		fmt.Fprintf(w, "\nLived, not listed as equivalent (%d):\n\n", len(livedIDs))
		for _, id := range livedIDs {
			fmt.Fprintf(w, "- %s `%s`\n", id, sourceLine(id))
		}
	}
	var stale []string
	for id := range equivalent {
		if files[strings.SplitN(id, ":", 2)[0]] && !slices.Contains(killedEq, id) && !livedIn(mutants, id) {
			stale = append(stale, id)
		}
	}
	slices.Sort(stale)
	if len(killedEq)+len(stale) > 0 {
		fmt.Fprintf(w, "\nListed as equivalent, but killed or not found (update equivalent.txt):\n\n")
		for _, id := range append(killedEq, stale...) {
			fmt.Fprintf(w, "- %s\n", id)
		}
	}
}

func livedIn(mutants []Mutant, id string) bool {
	return slices.ContainsFunc(mutants, func(m Mutant) bool { return m.Status == lived && m.ID() == id })
}

// sourceLine returns the trimmed source line of a mutant ID, or "".
func sourceLine(id string) string {
	parts := strings.SplitN(id, ":", 3)
	n, err := strconv.Atoi(parts[1])
	if err != nil {
		return ""
	}
	data, err := os.ReadFile(parts[0])
	if err != nil {
		return ""
	}
	lines := strings.Split(string(data), "\n")
	if n < 1 || n > len(lines) {
		return ""
	}
	return strings.TrimSpace(lines[n-1])
}
