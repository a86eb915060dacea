package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/bojand/ghz/runner"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/verify"
)

// settings are the command line.
type settings struct {
	out          string
	rounds       int
	round        time.Duration
	concurrency  uint
	connections  uint
	rate         uint
	rateFraction float64
	tokens       int
	freshRound   uint
	faultPhase   time.Duration
	faultRate    uint
	skipFaults   bool
}

func main() {
	log.SetFlags(log.Ltime)
	log.SetPrefix("load: ")
	var s settings
	quick := flag.Bool("quick", false, "a short smoke run: 1 round of 500ms, 2s fault phases")
	flag.StringVar(&s.out, "out", "", "also write the Markdown report to this `file`")
	flag.IntVar(&s.rounds, "rounds", 10, "interleaved rounds per configuration and mode")
	flag.DurationVar(&s.round, "round", time.Second, "length of a round")
	flag.UintVar(&s.concurrency, "c", 16, "concurrent callers (fixed-concurrency mode, and ghz workers at a fixed rate)")
	flag.UintVar(&s.connections, "connections", 4, "gRPC connections")
	flag.UintVar(&s.rate, "rate", 0, "offered rate in calls/s for the fixed-rate mode; 0: -rate-fraction of no auth's throughput at fixed concurrency")
	flag.Float64Var(&s.rateFraction, "rate-fraction", 0.2, "offered rate as a fraction of no auth's throughput at fixed concurrency, when -rate is 0")
	flag.IntVar(&s.tokens, "tokens", 1000, "distinct tokens per configuration, Zipf-distributed")
	flag.UintVar(&s.freshRound, "fresh-calls", 400, "calls per round of the fresh-token-per-call configurations")
	flag.DurationVar(&s.faultPhase, "fault-phase", 10*time.Second, "length of each phase of the fault scenarios (the rotation window is one phase)")
	flag.UintVar(&s.faultRate, "fault-rate", 0, "offered rate of the fault scenarios; 0: half the fixed-rate mode's rate")
	flag.BoolVar(&s.skipFaults, "skip-faults", false, "skip the fault scenarios")
	flag.Parse()
	if *quick {
		s.rounds, s.round, s.freshRound, s.faultPhase = 1, 500*time.Millisecond, 300, 2*time.Second
	}
	if s.rounds < 1 || s.round <= 0 || s.concurrency < 1 || s.connections < 1 || s.tokens < 2 || s.tokens > 1<<16 || s.freshRound < 1 {
		log.Fatal("bad flags: need -rounds ≥ 1, -round > 0, -c ≥ 1, -connections ≥ 1, 2 ≤ -tokens ≤ 65536, -fresh-calls ≥ 1")
	}
	var md bytes.Buffer
	w := io.MultiWriter(os.Stdout, &md)
	if err := bench(w, s); err != nil {
		log.Fatal(err)
	}
	if s.out != "" {
		if err := os.WriteFile(s.out, md.Bytes(), 0o644); err != nil {
			log.Fatal(err)
		}
		log.Printf("wrote %s", s.out)
	}
}

// machine describes the machine for the report.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if name, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
				break
			}
		}
	}
	up := "?"
	if b, err := exec.Command("uptime").Output(); err == nil {
		up = strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%d CPUs (GOMAXPROCS %d), %s, %s, %s/%s; `uptime` at start: %s",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), model, runtime.Version(), runtime.GOOS, runtime.GOARCH, up)
}

// A config is one server configuration of the comparison.
type config struct {
	name   string
	srv    *server
	tokens tokenSource
	fresh  bool // a fresh token per call: rounds are counted in calls
}

func bench(w io.Writer, s settings) error {
	start := time.Now()
	fmt.Fprintf(w, "# oauthgate load benchmark (bench/load)\n\n")
	fmt.Fprintf(w, "%s, %s.\n\n", start.UTC().Format(time.RFC3339), machine())
	fmt.Fprintf(w, "Server and load generator (ghz v0.120.0's runner) share this process and the machine's cores; "+
		"every figure below is a ratio within one run or a latency measured under the same conditions. "+
		"Call: unary `GetReport` over 127.0.0.1, %d connections.\n\n", s.connections)

	ps, err := protoset()
	if err != nil {
		return err
	}
	iss, err := oauthtest.Start(oauthtest.IssuerConfig{Algorithm: jose.RS256})
	if err != nil {
		return err
	}
	defer iss.Close()
	var closers []func()
	defer func() {
		for _, c := range closers {
			c()
		}
	}()

	log.Printf("minting tokens")
	zipf := func(alg jose.SignatureAlgorithm, opaque bool, seed uint64) (*zipfTokens, error) {
		toks, err := mint(iss, alg, opaque, s.tokens)
		if err != nil {
			return nil, err
		}
		return newZipfTokens(toks, seed), nil
	}
	freshPool := int(s.freshRound)*s.rounds*2 + 1
	fresh := func(alg jose.SignatureAlgorithm) (*freshTokens, error) {
		toks, err := mint(iss, alg, false, freshPool)
		if err != nil {
			return nil, err
		}
		return &freshTokens{toks: toks}, nil
	}

	none, err := serveNoAuth()
	if err != nil {
		return err
	}
	closers = append(closers, none.stop)
	configs := []*config{{name: "no auth", srv: none}}
	addJWT := func(name string, alg jose.SignatureAlgorithm, cached, freshTok bool, seed uint64) error {
		j, keys, err := newRemoteJWT(iss, verify.RemoteKeySetConfig{}, cached)
		if err != nil {
			return err
		}
		closers = append(closers, func() { _ = keys.Close() })
		if err := waitKeys(keys); err != nil {
			return err
		}
		srv, err := serveReports(j)
		if err != nil {
			return err
		}
		closers = append(closers, srv.stop)
		c := &config{name: name, srv: srv, fresh: freshTok}
		if freshTok {
			c.tokens, err = fresh(alg)
		} else {
			c.tokens, err = zipf(alg, false, seed)
		}
		if err != nil {
			return err
		}
		configs = append(configs, c)
		return nil
	}
	for i, c := range []struct {
		name          string
		alg           jose.SignatureAlgorithm
		cached, fresh bool
	}{
		{"oauthgate cached, RS256", jose.RS256, true, false},
		{"oauthgate cached, ES256", jose.ES256, true, false},
		{"oauthgate uncached, RS256", jose.RS256, false, false},
		{"oauthgate uncached, ES256", jose.ES256, false, false},
	} {
		if err := addJWT(c.name, c.alg, c.cached, c.fresh, uint64(i+1)); err != nil {
			return err
		}
	}
	intro, err := newIntrospection(iss)
	if err != nil {
		return err
	}
	opaqueSrv, err := serveReports(intro)
	if err != nil {
		return err
	}
	closers = append(closers, opaqueSrv.stop)
	opaqueToks, err := zipf(jose.RS256, true, 9)
	if err != nil {
		return err
	}
	configs = append(configs, &config{name: "opaque, cached introspection", srv: opaqueSrv, tokens: opaqueToks})
	if err := addJWT("fresh token per call, RS256 (cache on)", jose.RS256, true, true, 0); err != nil {
		return err
	}
	if err := addJWT("fresh token per call, ES256 (cache on)", jose.ES256, true, true, 0); err != nil {
		return err
	}
	// No auth carries the RS256 tokens (unread), so that it moves the same
	// bytes as the RS256 configurations; ES256 tokens are shorter, opaque
	// ones much shorter.
	configs[0].tokens = configs[1].tokens

	// Warm up: every Zipf token once (fills the verified-token and
	// introspection caches; the cached configurations measure hits), and
	// one round of each configuration to warm connections and the runtime.
	log.Printf("warming up")
	for _, c := range configs {
		if z, ok := c.tokens.(*zipfTokens); ok {
			r, err := job{addr: c.srv.addr, tokens: &freshTokens{toks: z.toks}, concurrency: s.concurrency,
				connections: s.connections, total: uint(len(z.toks))}.run(ps)
			if err != nil {
				return fmt.Errorf("%s: warm-up: %w", c.name, err)
			}
			if len(r.ErrorDist) > 0 {
				return fmt.Errorf("%s: warm-up calls failed: %v", c.name, r.ErrorDist)
			}
		}
	}
	introWarm := iss.Requests(oauthtest.EndpointIntrospection)

	// Fixed concurrency.
	fmt.Fprintf(w, "## Fixed concurrency: %d callers, closed loop\n\n", s.concurrency)
	la := loadavg()
	closed, err := rounds(s, ps, configs, 0)
	if err != nil {
		return err
	}
	table(w, configs, closed, fmt.Sprintf("load average %s → %s", la, loadavg()))
	rate := s.rate
	if rate == 0 {
		rate = uint(s.rateFraction * closed[0].rps())
	}
	rate = max(rate, 100)

	// Fixed offered rate.
	fmt.Fprintf(w, "## Fixed offered rate: %d calls/s, open loop\n\n", rate)
	la = loadavg()
	open, err := rounds(s, ps, configs, rate)
	if err != nil {
		return err
	}
	table(w, configs, open, fmt.Sprintf("load average %s → %s", la, loadavg()))
	fmt.Fprintf(w, "Introspection requests after the warm-up (cache misses of the opaque configuration): %d.\n\n",
		iss.Requests(oauthtest.EndpointIntrospection)-introWarm)

	// The targets are read from paired runs: no auth and one cached
	// configuration loaded at the same time, each by its own ghz run with
	// the same settings, so that both meet the same machine (the shared
	// machine's load moves by more than the 5 % sought from one second to
	// the next, which even interleaved rounds do not cancel out).
	fmt.Fprintf(w, "## Targets, from paired runs\n\n"+
		"Each target pairs no auth with one cached configuration, loaded simultaneously by two ghz runs with the same settings "+
		"(%d rounds of %s); the ratio is the median over rounds. The interleaved tables above are noisier.\n\n", s.rounds, s.round)
	fmt.Fprintf(w, "| target | measured | verdict |\n|---|---|---|\n")
	la = loadavg()
	for i := 1; i <= 2; i++ {
		a, b, err := paired(s, ps, configs[0], configs[i], rate)
		if err != nil {
			return err
		}
		r := b.p99Ratio(a)
		fmt.Fprintf(w, "| %s: p99 ≤ 1.10× no auth's, both at %d calls/s | %.2f× (p99 %s vs %s ms, median of rounds) | %s |\n",
			configs[i].name, rate, r, ms(b.medianP99()), ms(a.medianP99()), passFail(r <= 1.10 && a.failed+b.failed == 0))
	}
	for i := 1; i <= 2; i++ {
		a, b, err := paired(s, ps, configs[0], configs[i], 0)
		if err != nil {
			return err
		}
		r := b.roundRatio(a)
		fmt.Fprintf(w, "| %s: RPS ≥ 0.95× no auth, %d callers each | %.3f× (%.0f vs %.0f calls/s) | %s |\n",
			configs[i].name, s.concurrency, r, b.rps(), a.rps(), passFail(r >= 0.95 && a.failed+b.failed == 0))
	}
	fmt.Fprintf(w, "\nLoad average %s → %s.\n", la, loadavg())
	for _, c := range configs {
		if f, ok := c.tokens.(*freshTokens); ok && f.wraps.Load() > 0 {
			fmt.Fprintf(w, "\nNote: %s reused %d tokens (pool exhausted).\n", c.name, f.wraps.Load())
		}
	}
	fmt.Fprintln(w)

	// The comparison's servers and key sets stop before the fault
	// scenarios, so that these count only their own goroutines.
	for _, c := range closers {
		c()
	}
	closers = nil
	if !s.skipFaults {
		fr := s.faultRate
		if fr == 0 {
			fr = max(rate/2, 100)
		}
		if err := faults(w, s, ps, fr); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "Total time %s; `uptime` at the end: load average %s.\n", time.Since(start).Round(time.Second), loadavg())
	return nil
}

// rounds runs s.rounds interleaved rounds of every configuration (the
// order rotating from round to round) at rate (0: fixed concurrency) and
// returns the stats of each configuration.
func rounds(s settings, ps []byte, configs []*config, rate uint) ([]*stats, error) {
	st := make([]*stats, len(configs))
	for i := range st {
		st[i] = &stats{}
	}
	for r := range s.rounds {
		for k := range configs {
			i := (r + k) % len(configs)
			c := configs[i]
			l := job{addr: c.srv.addr, tokens: c.tokens, concurrency: s.concurrency, connections: s.connections, rate: rate, duration: s.round}
			if c.fresh {
				l.total = s.freshRound
			}
			log.Printf("round %d/%d, rate %d: %s", r+1, s.rounds, rate, c.name)
			rep, err := l.run(ps)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c.name, err)
			}
			st[i].add(rep)
		}
	}
	return st, nil
}

// paired runs s.rounds rounds in which a and b are loaded at the same
// time, each by its own ghz run at rate (0: fixed concurrency), and
// returns their stats.
func paired(s settings, ps []byte, a, b *config, rate uint) (*stats, *stats, error) {
	sa, sb := &stats{}, &stats{}
	for r := range s.rounds {
		log.Printf("paired round %d/%d, rate %d: %s with %s", r+1, s.rounds, rate, a.name, b.name)
		var wg sync.WaitGroup
		var repA, repB *runner.Report
		var errA, errB error
		wg.Go(func() {
			repA, errA = job{addr: a.srv.addr, tokens: a.tokens, concurrency: s.concurrency, connections: s.connections, rate: rate, duration: s.round}.run(ps)
		})
		wg.Go(func() {
			repB, errB = job{addr: b.srv.addr, tokens: b.tokens, concurrency: s.concurrency, connections: s.connections, rate: rate, duration: s.round}.run(ps)
		})
		wg.Wait()
		if err := errors.Join(errA, errB); err != nil {
			return nil, nil, err
		}
		sa.add(repA)
		sb.add(repB)
	}
	return sa, sb, nil
}

// table writes the results of one mode.
func table(w io.Writer, configs []*config, st []*stats, note string) {
	fmt.Fprintf(w, "| configuration | calls | failed | RPS | RPS × no auth (median of rounds) | p50 ms | p90 ms | p99 ms | p99.9 ms | median round's p99 ms | p99 × no auth (median of rounds) |\n")
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	base := st[0]
	for i, c := range configs {
		x := st[i]
		fmt.Fprintf(w, "| %s | %d | %s | %.0f | %.3f | %s | %s | %s | %s | %s | %.2f |\n", c.name, x.calls, x.failures(), x.rps(),
			x.roundRatio(base), ms(x.pct(0.5)), ms(x.pct(0.9)), ms(x.pct(0.99)), ms(x.pct(0.999)), ms(x.medianP99()),
			x.p99Ratio(base))
	}
	fmt.Fprintf(w, "\n%s.\n\n", note)
}
