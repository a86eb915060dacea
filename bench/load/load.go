package main

import (
	"fmt"
	"log"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bojand/ghz/load"
	"github.com/bojand/ghz/runner"
	"google.golang.org/grpc/metadata"
)

// callTimeout bounds every call ghz makes.
const callTimeout = 10 * time.Second

// A job is one ghz run against addr.
type job struct {
	addr        string
	tokens      tokenSource
	concurrency uint
	connections uint
	// rate, if not zero, is the offered rate in calls per second, sent on
	// schedule whatever the answers (ghz async mode: open loop). Zero is a
	// closed loop: each of concurrency workers sends its next call when the
	// last one is answered.
	rate uint
	// total, if not zero, is the number of calls; else the run lasts
	// duration.
	total    uint
	duration time.Duration
}

// run makes the calls and returns ghz's report, with every call's latency
// and status in Details.
func (l job) run(protoset []byte) (*runner.Report, error) {
	opts := []runner.Option{
		runner.WithProtosetBinary(protoset),
		runner.WithDataFromJSON(callData),
		runner.WithInsecure(true),
		runner.WithConcurrency(l.concurrency),
		runner.WithConnections(l.connections),
		runner.WithTimeout(callTimeout),
		runner.WithDialTimeout(5 * time.Second),
		runner.WithWorkerTicker(&workerTicker{c: make(chan load.TickValue), n: l.concurrency}),
		runner.WithDisableTemplateFuncs(true),
		runner.WithDisableTemplateData(true),
		runner.WithMetadataProvider(func(*runner.CallData) (*metadata.MD, error) {
			return outgoing(l.tokens.token()), nil
		}),
	}
	if l.rate > 0 {
		opts = append(opts, runner.WithRPS(l.rate), runner.WithAsync(true))
	}
	if l.total > 0 {
		opts = append(opts, runner.WithTotalRequests(l.total))
	} else {
		// "wait": calls in flight when the time is up finish normally
		// instead of being cancelled and counted as failures.
		opts = append(opts, runner.WithRunDuration(l.duration), runner.WithTotalRequests(math.MaxUint32),
			runner.WithDurationStopAction("wait"))
	}
	return runner.Run(call, l.addr, opts...)
}

// workerTicker starts a constant number of ghz workers, like ghz's
// load.ConstWorkerTicker, without its race: ghz calls Run on a goroutine of
// its own and may call Finish, which closes the channel, before Run has
// sent, and Run then panics (send on closed channel; seen with short runs
// on a loaded machine). Here Finish waits for a Run in progress, and Run
// after Finish sends nothing.
type workerTicker struct {
	c      chan load.TickValue
	n      uint
	mu     sync.Mutex
	closed bool // guarded by mu
}

func (t *workerTicker) Ticker() <-chan load.TickValue { return t.c }

func (t *workerTicker) Run() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.closed {
		// ghz's worker goroutine ranges over the channel until it is
		// closed, so this send completes.
		t.c <- load.TickValue{Delta: int(t.n), Done: true}
	}
}

func (t *workerTicker) Finish() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	close(t.c)
}

// stats accumulates the calls of several runs of one configuration.
type stats struct {
	calls, failed int
	elapsed       time.Duration
	lats          []time.Duration   // of every call, failed ones too
	codes         map[string]int    // status of every failed call
	sample        map[string]string // an error message per status, for the log
	rounds        []float64         // throughput of each run, in calls/s
	p99s          []time.Duration   // p99 of each run
	sorted        bool
}

func (s *stats) add(r *runner.Report) {
	s.elapsed += r.Total
	s.rounds = append(s.rounds, float64(len(r.Details))/r.Total.Seconds())
	one := &stats{}
	for _, d := range r.Details {
		s.addCall(d)
		one.lats = append(one.lats, d.Latency)
	}
	s.p99s = append(s.p99s, one.pct(0.99))
}

func (s *stats) addCall(d runner.ResultDetail) {
	s.calls++
	s.lats = append(s.lats, d.Latency)
	s.sorted = false
	if d.Status == "OK" {
		return
	}
	s.failed++
	if s.codes == nil {
		s.codes, s.sample = map[string]int{}, map[string]string{}
	}
	if s.codes[d.Status]++; s.codes[d.Status] == 1 {
		s.sample[d.Status] = d.Error
		log.Printf("first %s: %s", d.Status, d.Error)
	}
}

// rps is the achieved throughput over every run.
func (s *stats) rps() float64 {
	if s.elapsed <= 0 {
		return 0
	}
	return float64(s.calls) / s.elapsed.Seconds()
}

// roundRatio is the median over rounds of s's throughput divided by
// base's in the same round: each pair ran back to back, so drift of the
// machine's load cancels out better than in the ratio of totals.
func (s *stats) roundRatio(base *stats) float64 {
	var r []float64
	for i := range min(len(s.rounds), len(base.rounds)) {
		r = append(r, s.rounds[i]/base.rounds[i])
	}
	return median(r)
}

// p99Ratio is the median over rounds of s's p99 divided by base's in the
// same round. A stall of the shared machine lands in one round and moves
// the pooled p99 of one configuration; the median of paired ratios
// ignores it.
func (s *stats) p99Ratio(base *stats) float64 {
	var r []float64
	for i := range min(len(s.p99s), len(base.p99s)) {
		r = append(r, s.p99s[i].Seconds()/base.p99s[i].Seconds())
	}
	return median(r)
}

// medianP99 is the median of the rounds' p99s.
func (s *stats) medianP99() time.Duration {
	r := make([]float64, len(s.p99s))
	for i, d := range s.p99s {
		r[i] = float64(d)
	}
	return time.Duration(median(r))
}

func median(r []float64) float64 {
	if len(r) == 0 {
		return 0
	}
	slices.Sort(r)
	if len(r)%2 == 1 {
		return r[len(r)/2]
	}
	return (r[len(r)/2-1] + r[len(r)/2]) / 2
}

// pct returns the p-th quantile (0 < p ≤ 1) of the latencies, nearest-rank.
func (s *stats) pct(p float64) time.Duration {
	if len(s.lats) == 0 {
		return 0
	}
	if !s.sorted {
		slices.Sort(s.lats)
		s.sorted = true
	}
	i := int(math.Ceil(p*float64(len(s.lats)))) - 1
	return s.lats[max(i, 0)]
}

func (s *stats) failures() string {
	if s.failed == 0 {
		return "0"
	}
	var parts []string
	for code, n := range s.codes {
		parts = append(parts, fmt.Sprintf("%d %s", n, code))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// ms formats d in milliseconds with three significant digits.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// loadavg returns /proc/loadavg's first three fields ("" if unreadable).
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// passFail renders a target's verdict.
func passFail(ok bool) string {
	if ok {
		return "**pass**"
	}
	return "**FAIL**"
}
