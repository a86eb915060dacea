package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bojand/ghz/runner"
	"github.com/go-jose/go-jose/v4"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/oauthgate/oauthgate/examples/reports"
	"github.com/oauthgate/oauthgate/examples/reports/reportsv1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/verify"
)

// Settings of the fault scenarios.
const (
	// faultConcurrency is the number of ghz workers of the fault
	// scenarios: more than the comparison's, so that many calls meet the
	// unknown kid at once.
	faultConcurrency = 64
	// probes is the number of callers sending tokens with an unknown kid
	// while the JWKS endpoint is down or slow.
	probes = 8
	// coldBound is the key set's Timeout in the cold-start scenario: how
	// long the first calls may wait for the first JWKS.
	coldBound = time.Second
	// verifySlack is the number of goroutines in verify allowed beyond the
	// baseline and the probes: the fetch in flight, and a cached call
	// caught mid-verification by the sampler.
	verifySlack = 2
	// slack absorbs scheduling delays on a loaded machine in the
	// cold-start latency check.
	slack = 500 * time.Millisecond
)

func faults(w io.Writer, s settings, ps []byte, rate uint) error {
	fmt.Fprintf(w, "## Fault scenarios\n\n%d ghz workers at %d calls/s (open loop), phases of %s; "+
		"each scenario has its own authorization server (oauthtest) and report server.\n\n", faultConcurrency, rate, s.faultPhase)
	fmt.Fprintf(w, "| scenario | target | measured | verdict |\n|---|---|---|---|\n")
	for _, f := range []func(io.Writer, settings, []byte, uint) error{rotation, jwksOutage, coldStart} {
		if err := f(w, s, ps, rate); err != nil {
			return err
		}
	}
	fmt.Fprintln(w)
	return nil
}

// rotatingTokens is a Zipf token mix whose clients switch to tokens
// signed with the new key as those are minted.
type rotatingTokens struct {
	*zipfTokens
	fresh []atomic.Pointer[string]
}

func (r *rotatingTokens) token() string {
	i := r.next.Add(1)
	k := r.seq[i%uint64(len(r.seq))]
	if t := r.fresh[k].Load(); t != nil {
		return *t
	}
	return r.toks[k]
}

// window splits calls by when they ended: before from, in [from, to), after.
func window(details []runner.ResultDetail, from, to time.Time) (in, out *stats) {
	in, out = &stats{}, &stats{}
	for _, d := range details {
		st := out
		if !d.Timestamp.Before(from) && d.Timestamp.Before(to) {
			st = in
		}
		st.addCall(d)
	}
	return in, out
}

// goroutines samples, every 100ms until stop, the goroutines of the
// process and those with a frame in oauthgate's verify package (calls
// waiting for keys, the key set's own goroutines), keeping the maximum of
// each per phase (the phase index is read from phase). The load generator
// runs in this process, so the total moves with the calls in flight; the
// verify count is the library's own pile-up, if any.
func goroutines(phase *atomic.Int32, total, inVerify []int, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	var buf bytes.Buffer
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			p := phase.Load()
			total[p] = max(total[p], runtime.NumGoroutine())
			buf.Reset()
			if err := pprof.Lookup("goroutine").WriteTo(&buf, 1); err == nil {
				inVerify[p] = max(inVerify[p], verifyGoroutines(buf.String()))
			}
		}
	}
}

// verifyGoroutines counts, in a goroutine profile with debug=1 (records of
// "N @ pc…" then one "#" line per frame), the goroutines with a frame in
// oauthgate's verify package.
func verifyGoroutines(profile string) int {
	n := 0
	for rec := range strings.SplitSeq(profile, "\n\n") {
		count, rest, ok := strings.Cut(rec, " @ ")
		if !ok || !strings.Contains(rest, "github.com/oauthgate/oauthgate/verify.") {
			continue
		}
		// The first record follows the "goroutine profile: total N" line.
		if i := strings.LastIndexByte(count, '\n'); i >= 0 {
			count = count[i+1:]
		}
		if c, err := strconv.Atoi(strings.TrimSpace(count)); err == nil {
			n += c
		}
	}
	return n
}

// rotation: the authorization server publishes a new key and signs with it
// while traffic flows; clients switch to new tokens as they get them.
func rotation(w io.Writer, s settings, ps []byte, rate uint) error {
	log.Printf("fault scenario: key rotation")
	iss, err := oauthtest.Start(oauthtest.IssuerConfig{Algorithm: jose.ES256})
	if err != nil {
		return err
	}
	defer iss.Close()
	// The default cooldown (30s) is longer than the rotation window, so
	// at most one fetch may be caused by unknown kids in it.
	cfg := verify.RemoteKeySetConfig{}
	j, keys, err := newRemoteJWT(iss, cfg, true)
	if err != nil {
		return err
	}
	defer func() { _ = keys.Close() }()
	if err := waitKeys(keys); err != nil {
		return err
	}
	srv, err := serveReports(j)
	if err != nil {
		return err
	}
	defer srv.stop()
	old, err := mint(iss, jose.ES256, false, s.tokens)
	if err != nil {
		return err
	}
	toks := &rotatingTokens{zipfTokens: newZipfTokens(old, 42), fresh: make([]atomic.Pointer[string], len(old))}
	if _, err := (job{addr: srv.addr, tokens: &freshTokens{toks: old}, concurrency: s.concurrency, connections: s.connections, total: uint(len(old))}).run(ps); err != nil {
		return err
	}

	var from, to time.Time
	var fetches int
	var mintErr error
	rotated := make(chan struct{})
	go func() {
		defer close(rotated)
		time.Sleep(s.faultPhase)
		before := iss.Requests(oauthtest.EndpointJWKS)
		from = time.Now()
		iss.RolloverKeys()
		// Clients get their new tokens one after another, all within the
		// first half of the window.
		step := s.faultPhase / 2 / time.Duration(len(toks.fresh))
		for k := range toks.fresh {
			t, err := iss.MintToken(loadToken(jose.ES256))
			if err != nil {
				mintErr = err
				return
			}
			toks.fresh[k].Store(&t)
			time.Sleep(time.Until(from.Add(time.Duration(k+1) * step)))
		}
		time.Sleep(time.Until(from.Add(s.faultPhase)))
		to = time.Now()
		fetches = iss.Requests(oauthtest.EndpointJWKS) - before
	}()
	rep, err := (job{addr: srv.addr, tokens: toks, concurrency: faultConcurrency, connections: s.connections, rate: rate, duration: 3 * s.faultPhase}).run(ps)
	<-rotated
	if err != nil {
		return err
	}
	if mintErr != nil {
		return mintErr
	}
	in, _ := window(rep.Details, from, to)
	_, pre := window(rep.Details, from, time.Now().Add(time.Hour)) // calls before the window
	_, post := window(rep.Details, time.Time{}, to)                // calls after it
	// The reference is the quieter of the windows before and after, so
	// that a stall of the shared machine outside the rotation cannot make
	// the rotation look good.
	ref := min(pre.pct(0.99), post.pct(0.99))
	ratio := in.pct(0.99).Seconds() / ref.Seconds()
	failed := in.failed + pre.failed + post.failed
	fmt.Fprintf(w, "| key rotation (RolloverKeys, ES256; %d clients switch to new tokens in the window's first half) | no call fails | %d of %d calls failed (%s) | %s |\n",
		len(old), failed, in.calls+pre.calls+post.calls, joinCodes(in, pre, post), passFail(failed == 0))
	// When the two windows outside the rotation differ by more than the
	// margin sought, the machine's noise is larger than the effect: a ratio
	// over the bound then proves nothing either way.
	verdict := passFail(ratio <= 1.5)
	if noise := max(pre.pct(0.99), post.pct(0.99)).Seconds() / ref.Seconds(); ratio > 1.5 && noise > 1.5 {
		verdict = fmt.Sprintf("inconclusive: p99 before and after differ by %.1f× (machine noise); rerun on a quieter machine", noise)
	}
	fmt.Fprintf(w, "| | p99 in the rotation window ≤ 1.5× p99 outside it (the lower of before and after) | %s ms vs %s ms before, %s ms after = %.2f× (p99.9 %s, %s, %s ms) | %s |\n",
		ms(in.pct(0.99)), ms(pre.pct(0.99)), ms(post.pct(0.99)), ratio, ms(in.pct(0.999)), ms(pre.pct(0.999)), ms(post.pct(0.999)), verdict)
	fmt.Fprintf(w, "| | unknown-kid refetch at most once per cooldown (30s) at %d workers | %d JWKS fetches in the %s window | %s |\n",
		faultConcurrency, fetches, s.faultPhase, passFail(fetches <= 1))
	return nil
}

func joinCodes(sts ...*stats) string {
	all := &stats{codes: map[string]int{}}
	for _, st := range sts {
		for c, n := range st.codes {
			all.codes[c] += n
			all.failed += n
		}
	}
	if all.failed == 0 {
		return "none"
	}
	return all.failures()
}

// jwksOutage: the JWKS endpoint goes down, then answers after 5s, while
// cached tokens flow and probes send tokens with an unknown kid (each of
// which needs the endpoint).
func jwksOutage(w io.Writer, s settings, ps []byte, rate uint) error {
	log.Printf("fault scenario: JWKS endpoint down and slow")
	iss, err := oauthtest.Start(oauthtest.IssuerConfig{Algorithm: jose.ES256})
	if err != nil {
		return err
	}
	defer iss.Close()
	// Refresh every second and allow unknown-kid fetches every second, so
	// that both kinds of fetch meet the faults many times per phase.
	cfg := verify.RemoteKeySetConfig{MinRefresh: time.Second, MaxRefresh: time.Second, UnknownKeyCooldown: time.Second, MaxStale: time.Hour}
	j, keys, err := newRemoteJWT(iss, cfg, true)
	if err != nil {
		return err
	}
	defer func() { _ = keys.Close() }()
	if err := waitKeys(keys); err != nil {
		return err
	}
	srv, err := serveReports(j)
	if err != nil {
		return err
	}
	defer srv.stop()
	toks, err := mint(iss, jose.ES256, false, s.tokens)
	if err != nil {
		return err
	}
	if _, err := (job{addr: srv.addr, tokens: &freshTokens{toks: toks}, concurrency: s.concurrency, connections: s.connections, total: uint(len(toks))}).run(ps); err != nil {
		return err
	}
	unknown, err := iss.MintToken(loadToken(jose.ES256), oauthtest.Token{KeyID: "not-published"})
	if err != nil {
		return err
	}

	phases := []struct {
		name  string
		fault oauthtest.Fault
	}{{"normal", oauthtest.Fault{}}, {"JWKS down", oauthtest.Fault{Down: true}}, {"JWKS slow (5s)", oauthtest.Fault{Delay: 5 * time.Second}}}
	var phase atomic.Int32
	maxima, inVerify := make([]int, len(phases)), make([]int, len(phases))
	bounds := make([]time.Time, len(phases)+1)
	stop, sampled := make(chan struct{}), make(chan struct{})
	go goroutines(&phase, maxima, inVerify, stop, sampled)
	probeCodes := make([]map[codes.Code]int, len(phases))
	for i := range probeCodes {
		probeCodes[i] = map[codes.Code]int{}
	}
	var probeMu sync.Mutex
	conn, err := grpc.NewClient(srv.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	client := reportsv1.NewReportServiceClient(conn)
	var probing sync.WaitGroup
	probeStop := make(chan struct{})
	for range probes {
		probing.Go(func() {
			for {
				select {
				case <-probeStop:
					return
				case <-time.After(10 * time.Millisecond):
				}
				p := phase.Load()
				code, _ := callOnce(client, unknown)
				probeMu.Lock()
				probeCodes[p][code]++
				probeMu.Unlock()
			}
		})
	}
	switched := make(chan struct{})
	go func() {
		defer close(switched)
		for i, p := range phases {
			iss.SetFault(oauthtest.EndpointJWKS, p.fault)
			bounds[i] = time.Now()
			phase.Store(int32(i))
			time.Sleep(s.faultPhase)
		}
		bounds[len(phases)] = time.Now()
	}()
	rep, err := (job{addr: srv.addr, tokens: newZipfTokens(toks, 7), concurrency: faultConcurrency, connections: s.connections, rate: rate, duration: time.Duration(len(phases)) * s.faultPhase}).run(ps)
	<-switched
	iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{})
	close(probeStop)
	probing.Wait()
	close(stop)
	<-sampled
	if err != nil {
		return err
	}
	var base *stats
	for i, p := range phases {
		in, _ := window(rep.Details, bounds[i], bounds[i+1])
		rps := float64(in.calls) / bounds[i+1].Sub(bounds[i]).Seconds()
		if i == 0 {
			base = in
			fmt.Fprintf(w, "| JWKS %s, baseline | — | %.0f calls/s, p99 %s ms, %d failed; at most %d goroutines in the process, %d in verify; probes: %s | — |\n",
				p.name, rps, ms(in.pct(0.99)), in.failed, maxima[i], inVerify[i], codeCounts(probeCodes[i]))
			continue
		}
		baseRPS := float64(base.calls) / bounds[1].Sub(bounds[0]).Seconds()
		ok := in.failed == 0 && rps >= 0.95*baseRPS
		fmt.Fprintf(w, "| %s under load | cached tokens flow at full rate, none fails | %.0f calls/s (%.2f× baseline), p99 %s ms, %s failed | %s |\n",
			p.name, rps, rps/baseRPS, ms(in.pct(0.99)), in.failures(), passFail(ok))
		// In verify at most: the baseline's (the key set's refresh loop),
		// each probe's call waiting for the fetch, and the fetch itself.
		bound := inVerify[0] + probes + verifySlack
		fmt.Fprintf(w, "| | no goroutine pile-up: goroutines in verify ≤ baseline %d + %d probes + %d | at most %d in verify (%d in the whole process, baseline %d); probes: %s | %s |\n",
			inVerify[0], probes, verifySlack, inVerify[i], maxima[i], maxima[0], codeCounts(probeCodes[i]), passFail(inVerify[i] <= bound))
	}
	return nil
}

func codeCounts(m map[codes.Code]int) string {
	if len(m) == 0 {
		return "none"
	}
	out := ""
	for _, c := range []codes.Code{codes.OK, codes.Unauthenticated, codes.Unavailable, codes.DeadlineExceeded, codes.PermissionDenied, codes.Internal, codes.Unknown} {
		if m[c] > 0 {
			if out != "" {
				out += ", "
			}
			out += fmt.Sprintf("%d %s", m[c], c)
		}
	}
	return out
}

// callOnce makes one GetReport call with tok and returns its code and
// latency.
func callOnce(client reportsv1.ReportServiceClient, tok string) (codes.Code, time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
	start := time.Now()
	_, err := client.GetReport(ctx, &reportsv1.GetReportRequest{Owner: reports.SubjectAlice, Id: "r-1"})
	return status.Code(err), time.Since(start)
}

// coldStart: calls arrive while the key set loads its first JWKS. With the
// endpoint slower than the bound they must fail with Unavailable within
// the bound, never with invalid_token (Unauthenticated); once the endpoint
// answers they succeed; with the endpoint faster than the bound they wait
// and succeed.
func coldStart(w io.Writer, s settings, _ []byte, _ uint) error {
	log.Printf("fault scenario: cold start")
	for _, c := range []struct {
		name  string
		delay time.Duration
	}{{"JWKS slower than the bound", 3 * time.Second}, {"JWKS faster than the bound", 300 * time.Millisecond}} {
		iss, err := oauthtest.Start(oauthtest.IssuerConfig{Algorithm: jose.ES256})
		if err != nil {
			return err
		}
		toks, err := mint(iss, jose.ES256, false, 64)
		if err != nil {
			iss.Close()
			return err
		}
		iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{Delay: c.delay})
		j, keys, err := newRemoteJWT(iss, verify.RemoteKeySetConfig{Timeout: coldBound, UnknownKeyCooldown: time.Second}, true)
		if err != nil {
			iss.Close()
			return err
		}
		srv, err := serveReports(j) // no WaitReady: calls race the first fetch
		if err != nil {
			_ = keys.Close()
			iss.Close()
			return err
		}
		conn, err := grpc.NewClient(srv.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return err
		}
		client := reportsv1.NewReportServiceClient(conn)
		var mu sync.Mutex
		got := map[codes.Code]int{}
		var slowest time.Duration
		var firstOK time.Time
		var healed time.Time
		var wg sync.WaitGroup
		start := time.Now()
		deadline := start.Add(max(2*c.delay, 2*time.Second))
		for i := range len(toks) {
			wg.Go(func() {
				for n := 0; n < 1000 && time.Now().Before(deadline); n++ {
					code, lat := callOnce(client, toks[i])
					mu.Lock()
					got[code]++
					if code != codes.OK {
						slowest = max(slowest, lat)
					} else if firstOK.IsZero() {
						firstOK = time.Now()
					}
					mu.Unlock()
					time.Sleep(20 * time.Millisecond)
				}
			})
		}
		if c.delay > coldBound {
			// Let the endpoint heal halfway: calls must then succeed.
			time.Sleep(time.Until(start.Add(c.delay)))
			iss.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{})
			healed = time.Now()
		}
		wg.Wait()
		_ = conn.Close()
		srv.stop()
		_ = keys.Close()
		iss.Close()
		onlyRetryable := got[codes.Unauthenticated] == 0 && got[codes.OK]+got[codes.Unavailable] == sumCodes(got)
		if c.delay > coldBound {
			recovery := "never"
			if !firstOK.IsZero() {
				recovery = firstOK.Sub(healed).Round(time.Millisecond).String()
			}
			fmt.Fprintf(w, "| cold start, %s (%s, bound %s) | beyond the bound: Unavailable within the bound, never invalid_token | %s; slowest failed call %s | %s |\n",
				c.name, c.delay, coldBound, codeCounts(got), slowest.Round(time.Millisecond), passFail(onlyRetryable && slowest <= coldBound+slack))
			fmt.Fprintf(w, "| | calls succeed once the endpoint answers | first OK %s after the endpoint healed (cooldown 1s) | %s |\n",
				recovery, passFail(!firstOK.IsZero() && firstOK.Sub(healed) <= 2*time.Second+slack))
		} else {
			fmt.Fprintf(w, "| cold start, %s (%s, bound %s) | calls wait for the keys and succeed | %s; first OK after %s | %s |\n",
				c.name, c.delay, coldBound, codeCounts(got), firstOK.Sub(start).Round(time.Millisecond), passFail(got[codes.OK] == sumCodes(got)))
		}
	}
	return nil
}

func sumCodes(m map[codes.Code]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
