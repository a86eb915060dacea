package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// A plot is one SVG file and how to draw it from the repository's files.
type plot struct {
	file string // under docs/img
	draw func(read func(path string) (string, error)) ([]byte, error)
}

// plots are the plots of the documentation.
var plots = []plot{
	{"fleet-load.svg", fleetLoad},
	{"fleet-opaque.svg", fleetOpaque},
	{"load-throughput.svg", loadThroughput},
	{"load-latency.svg", loadLatency},
}

const (
	fleetResults = "bench/fleetsim/RESULTS.md"
	loadResults  = "docs/performance.md"
)

func main() {
	root := flag.String("root", ".", "the repository's root")
	flag.Parse()
	read := func(path string) (string, error) {
		b, err := os.ReadFile(filepath.Join(*root, path))
		return string(b), err
	}
	for _, p := range plots {
		svg, err := p.draw(read)
		if err != nil {
			fmt.Fprintf(os.Stderr, "plot: %s: %v\n", p.file, err)
			os.Exit(1)
		}
		out := filepath.Join(*root, "docs", "img", p.file)
		if err := os.WriteFile(out, svg, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("wrote", out)
	}
}

// fleetLoad plots the JWKS requests of the largest simulated fleet in each
// scenario: the mean and the busiest second of each window.
func fleetLoad(read func(string) (string, error)) ([]byte, error) {
	page, err := read(fleetResults)
	if err != nil {
		return nil, err
	}
	t, err := findTable(page, "## Load on the authorization server", "scenario", "N", "window", "endpoint", "mean /s", "peak /s")
	if err != nil {
		return nil, err
	}
	largest := 0
	for _, r := range t.rows {
		n, err := strconv.Atoi(t.get(r, "N"))
		if err != nil {
			return nil, fmt.Errorf("plot: N %q is not a number", t.get(r, "N"))
		}
		largest = max(largest, n)
	}
	bc := barChart{
		title:  fmt.Sprintf("JWKS requests per second, %s replicas (fleet simulation)", num(float64(largest))),
		xlabel: "requests per second (log scale)",
		series: []series{{name: "mean"}, {name: "busiest second"}},
		log:    true,
	}
	for _, r := range t.rows {
		if t.get(r, "N") != strconv.Itoa(largest) || t.get(r, "endpoint") != "JWKS" {
			continue
		}
		mean, err := t.number(r, "mean /s")
		if err != nil {
			return nil, err
		}
		peak, err := t.number(r, "peak /s")
		if err != nil {
			return nil, err
		}
		bc.categories = append(bc.categories, t.get(r, "scenario")+", "+t.get(r, "window"))
		bc.series[0].values = append(bc.series[0].values, mean)
		bc.series[1].values = append(bc.series[1].values, peak)
	}
	if len(bc.categories) == 0 {
		return nil, fmt.Errorf("%w: no JWKS row at N=%d", errNoTable, largest)
	}
	return bc.render(), nil
}

// fleetOpaque plots the introspection requests of fleets of each size,
// with and without the shared cache, for the fewest and the most distinct
// tokens.
func fleetOpaque(read func(string) (string, error)) ([]byte, error) {
	page, err := read(fleetResults)
	if err != nil {
		return nil, err
	}
	t, err := findTable(page, "## Opaque tokens", "N", "shared cache", "distinct tokens", "introspection mean /s")
	if err != nil {
		return nil, err
	}
	type key struct{ shared, tokens string }
	byKey := map[key]map[float64]float64{}
	var xs []float64
	for _, r := range t.rows {
		n, err := t.number(r, "N")
		if err != nil {
			return nil, err
		}
		v, err := t.number(r, "introspection mean /s")
		if err != nil {
			return nil, err
		}
		k := key{t.get(r, "shared cache"), t.get(r, "distinct tokens")}
		if byKey[k] == nil {
			byKey[k] = map[float64]float64{}
		}
		byKey[k][n] = v
		if !containsFloat(xs, n) {
			xs = append(xs, n)
		}
	}
	lc := lineChart{
		title:  "Introspection requests per second, one call per replica per second",
		xlabel: "replicas (log scale)",
		ylabel: "introspection requests per second (log)",
		xs:     xs,
	}
	for _, shared := range []string{"no", "yes"} {
		for _, tok := range []string{"10", "1000"} {
			vals := byKey[key{shared, tok}]
			s := series{name: fmt.Sprintf("%s tokens, %s", tok, map[string]string{"no": "own caches", "yes": "shared cache"}[shared])}
			for _, x := range xs {
				v, ok := vals[x]
				if !ok {
					return nil, fmt.Errorf("%w: no row for N=%s, shared cache %s, %s tokens", errNoTable, num(x), shared, tok)
				}
				s.values = append(s.values, v)
			}
			lc.series = append(lc.series, s)
		}
	}
	return lc.render(), nil
}

func containsFloat(xs []float64, v float64) bool {
	for _, x := range xs {
		if x == v {
			return true
		}
	}
	return false
}

// loadThroughput plots the closed-loop throughput of each configuration of
// the load run as a ratio to the server without authentication.
func loadThroughput(read func(string) (string, error)) ([]byte, error) {
	page, err := read(loadResults)
	if err != nil {
		return nil, err
	}
	t, err := findTable(page, "Fixed concurrency", "configuration", "RPS", "× no auth")
	if err != nil {
		return nil, err
	}
	bc := barChart{
		title:  "Load run: throughput at 16 callers, relative to no auth (ghz)",
		xlabel: "calls per second ÷ no auth's, median of rounds",
		series: []series{{name: "× no auth"}},
		lo:     0,
	}
	for _, r := range t.rows {
		v, err := t.number(r, "× no auth")
		if err != nil {
			return nil, err
		}
		bc.categories = append(bc.categories, t.get(r, "configuration"))
		bc.series[0].values = append(bc.series[0].values, v)
	}
	return bc.render(), nil
}

// loadLatency plots the latency percentiles of each configuration of the
// load run at a fixed offered rate.
func loadLatency(read func(string) (string, error)) ([]byte, error) {
	page, err := read(loadResults)
	if err != nil {
		return nil, err
	}
	t, err := findTable(page, "Fixed offered rate", "configuration", "p50", "p99", "p99.9")
	if err != nil {
		return nil, err
	}
	bc := barChart{
		title:  "Load run: latency at a fixed offered rate (ghz, open loop)",
		xlabel: "milliseconds (log scale)",
		series: []series{{name: "p50"}, {name: "p99"}, {name: "p99.9"}},
		log:    true,
	}
	for _, r := range t.rows {
		bc.categories = append(bc.categories, t.get(r, "configuration"))
		for i, col := range []string{"p50", "p99", "p99.9"} {
			v, err := t.number(r, col)
			if err != nil {
				return nil, err
			}
			bc.series[i].values = append(bc.series[i].values, v)
		}
	}
	return bc.render(), nil
}
