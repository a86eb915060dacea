package fleetsim

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/oauthgate/oauthgate/oauthtest"
)

// A Report is what the scenarios measured and the targets they checked.
type Report struct {
	N        int // the largest fleet simulated
	Load     []LoadRow
	Outcomes []OutcomeRow
	Opaque   []OpaqueRow
	Checks   []Check
}

// A LoadRow is the load on one endpoint in one window of a scenario.
type LoadRow struct {
	Scenario string
	N        int
	Window   string
	Endpoint oauthtest.Endpoint
	Stats    Stats
}

// An OutcomeRow is what a scenario's replicas answered.
type OutcomeRow struct {
	Scenario string
	N        int
	Outcome  Outcome
}

// An OpaqueRow is the introspection load of N replicas whose clients use
// Tokens distinct opaque tokens.
type OpaqueRow struct {
	N, Tokens int
	Calls     float64 // calls per second, all replicas
	Shared    bool    // the replicas share a second-level cache
	Stats     Stats
}

// A Check is one target of a scenario, and whether it was met.
type Check struct {
	Scenario string
	N        int
	Target   string
	Got      string
	OK       bool
}

func (rep *Report) load(scenario string, n int, e oauthtest.Endpoint, from, to time.Duration, s *Sim) Stats {
	st := s.Stats(e, from, to)
	rep.Load = append(rep.Load, LoadRow{Scenario: scenario, N: n, Window: window(from, to), Endpoint: e, Stats: st})
	return st
}

func (rep *Report) check(scenario string, n int, ok bool, target, got string, args ...any) {
	rep.Checks = append(rep.Checks, Check{Scenario: scenario, N: n, Target: target, Got: fmt.Sprintf(got, args...), OK: ok})
}

// outcome records the outcome of s and checks the targets every scenario
// shares: no false rejection and, unless allowed, no Unavailable answer.
func (rep *Report) outcome(scenario string, n int, s *Sim, unavailableOK bool) {
	o := s.Outcome()
	rep.Outcomes = append(rep.Outcomes, OutcomeRow{Scenario: scenario, N: n, Outcome: o})
	rep.check(scenario, n, o.FalseRejections == 0, "no false rejection (token signed by a published key, or active)",
		"%d of %d calls", o.FalseRejections, o.Answered+o.Unavailable+o.FalseRejections)
	if !unavailableOK {
		rep.check(scenario, n, o.Unavailable == 0, "no Unavailable answer", "%d", o.Unavailable)
	}
}

// Failed returns the checks that were not met.
func (rep *Report) Failed() []Check {
	var out []Check
	for _, c := range rep.Checks {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}

func window(from, to time.Duration) string { return short(from) + "–" + short(to) }

// short prints d as 1m10s, 5m, 2h10m.
func short(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func endpointName(e oauthtest.Endpoint) string {
	switch e {
	case oauthtest.EndpointJWKS:
		return "JWKS"
	case oauthtest.EndpointOAuthMetadata, oauthtest.EndpointOpenIDConfiguration:
		return "metadata"
	case oauthtest.EndpointIntrospection:
		return "introspection"
	}
	return string(e)
}

// Markdown writes the report as Markdown tables.
func (rep *Report) Markdown(w io.Writer, header string) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("%s\n\n", header)
	p("## Load on the authorization server\n\n")
	p("| scenario | N | window | endpoint | requests | mean /s | peak /s | peak ÷ mean | mean /min | peak /min |\n")
	p("|---|---:|---|---|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rep.Load {
		ratio := "—"
		if r.Stats.MeanPerSec > 0 {
			ratio = fmt.Sprintf("%.1f", float64(r.Stats.PeakPerSec)/r.Stats.MeanPerSec)
		}
		p("| %s | %d | %s | %s | %d | %s | %d | %s | %s | %d |\n", r.Scenario, r.N, r.Window, endpointName(r.Endpoint),
			r.Stats.Requests, num(r.Stats.MeanPerSec), r.Stats.PeakPerSec, ratio, num(r.Stats.MeanPerMin()), r.Stats.PeakPerMin)
	}
	p("\n## What the replicas answered\n\n")
	p("| scenario | N | calls answered | Unavailable | false rejections | made-up kids (rejected) |\n")
	p("|---|---:|---:|---:|---:|---:|\n")
	for _, r := range rep.Outcomes {
		o := r.Outcome
		p("| %s | %d | %d | %d | %d | %d (%d) |\n", r.Scenario, r.N, o.Answered, o.Unavailable, o.FalseRejections, o.Flood, o.FloodRejected)
	}
	if len(rep.Opaque) > 0 {
		p("\n## Opaque tokens: introspection requests\n\n")
		p("Each replica handles one call per second with a token drawn at random from the distinct tokens in use; ")
		p("`IntrospectionConfig.CacheTTL` is the default 5s. Measured over the 30s after the 10s deploy. ")
		p("With a shared cache, the replicas' `IntrospectionConfig.SharedCache` is one `oauthtest.SharedStore`, ")
		p("the in-memory model of what `redisstore` keeps in Redis (the same atomic operations and expiry).\n\n")
		p("| N | shared cache | distinct tokens | calls /s | introspection mean /s | peak /s | per replica /min |\n")
		p("|---:|---|---:|---:|---:|---:|---:|\n")
		for _, r := range rep.Opaque {
			shared := "no"
			if r.Shared {
				shared = "yes"
			}
			p("| %d | %s | %d | %s | %s | %d | %s |\n", r.N, shared, r.Tokens, num(r.Calls), num(r.Stats.MeanPerSec), r.Stats.PeakPerSec,
				num(r.Stats.MeanPerMin()/float64(r.N)))
		}
	}
	p("\n## Targets\n\n")
	p("| scenario | N | target | measured | met |\n|---|---:|---|---|---|\n")
	for _, c := range rep.Checks {
		met := "yes"
		if !c.OK {
			met = "**NO**"
		}
		p("| %s | %d | %s | %s | %s |\n", c.Scenario, c.N, c.Target, c.Got, met)
	}
}

// num prints a rate with three significant digits at most.
func num(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3f", v)
}
