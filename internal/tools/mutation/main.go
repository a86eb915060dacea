// Command mutation completes a gremlins run for .ci/mutation and prints its
// score.
//
// Gremlins mutates only what Go's coverage profile puts in an executed
// block. Some code is executed yet in no block: the expressions of a
// switch's case clauses (the profile's blocks end at the switch's "{" and
// start again after each clause's ":"), what follows a function literal
// in a statement ("if err := f(func() {...}); err != nil"), and
// package-level const and var declarations. Gremlins reports their mutants
// NOT COVERED. Gremlins also counts a mutant that does not compile as
// KILLED (go test exits 1 on a build failure, not 2), which happens when
// "+" joins strings.
//
// Usage:
//
//	mutation rerun -gremlins FILE.json -dir DIR [-tests DIR,...] -o FILE
//	mutation table [-equivalent FILE] RESULT...
//	mutation one FILE:LINE:COL MUTATOR [TESTDIR...]
//	mutation retest RESULT...
//
// rerun reads the JSON gremlins wrote for DIR (the path it was given,
// relative to the module root, which must be the working directory), runs
// itself the NOT COVERED mutants whose statement starts in an executed
// block (for a case expression, its switch's) and those of package-level
// declarations, each with the mutated file laid over the tree with go test
// -overlay, checks that each arithmetic mutant gremlins killed compiles,
// and writes every mutant with its final status to FILE. With -tests,
// gremlins ran with --dry-run and rerun runs every mutant itself, judged by
// the tests of the packages listed (a decision core tested through its
// adapter), with the coverage those tests give the mutated package.
//
// table reads such files and prints, per package, the mutants killed
// (timeouts included), lived and listed as equivalent, and the score
// killed / (killed + lived - equivalent); then the lived mutants that are
// not listed as equivalent, and the listed ones that did not live.
//
// one runs the tests of a file's package (or of the TESTDIRs) against one
// mutant, named as in equivalent.txt, and prints KILLED, LIVED, TIMED OUT
// or NOT VIABLE: the quick check that a new test kills what it was written
// for.
//
// retest runs the lived mutants of rerun's files again and updates them:
// after tests were added (and no other source changed), the mutants killed
// before stay killed, so only the lived ones need another run.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "rerun":
		err = rerunMain(os.Args[2:])
	case "table":
		err = tableMain(os.Args[2:])
	case "one":
		err = oneMain(os.Args[2:])
	case "retest":
		err = retestMain(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutation:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: mutation rerun -gremlins FILE.json -dir DIR [-tests DIR,...] -o FILE\n       mutation table [-equivalent FILE] RESULT...\n       mutation one FILE:LINE:COL MUTATOR [TESTDIR...]\n       mutation retest RESULT...")
	os.Exit(2)
}
