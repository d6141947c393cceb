// Command ocni-bench measures ocnid under load and compares it, in the same
// run, with a baseline: a bare echo server answering a fixed small JSON
// body over the same loopback, with the same clients. Ratios to the
// baseline, not bare rates, are what survive a change of machine.
//
// It starts ocnid (a binary given with -ocnid) on a temporary data file with
// the dummy backend, preloads entities, and drives each scenario with C
// keep-alive clients for a fixed duration, printing one line per scenario:
//
//	BENCH <scenario> c=<C> rps=<n> p50=<ms> p99=<ms> errors=<n> ratio_vs_baseline=<x>
//
// and writing a JSON report. With -large N it also preloads N entities
// straight into a data file and measures cold start, memory and paging on a
// big store.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type options struct {
	ocnid     string
	clients   int
	duration  time.Duration
	warmup    time.Duration
	preload   int
	scenarios []string
	report    string
	large     int
	soak      time.Duration
	sample    time.Duration
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "-serve-baseline" {
		serveBaseline(os.Args[2])
		return
	}
	var o options
	var scenarios string
	flag.StringVar(&o.ocnid, "ocnid", "bin/ocnid", "the ocnid binary to measure")
	flag.IntVar(&o.clients, "c", 32, "concurrent keep-alive clients")
	flag.DurationVar(&o.duration, "d", 3*time.Second, "measured time per scenario")
	flag.DurationVar(&o.warmup, "warmup", 500*time.Millisecond, "unmeasured time before each scenario")
	flag.IntVar(&o.preload, "n", 1000, "computes created before the scenarios")
	flag.StringVar(&scenarios, "scenarios", strings.Join(scenarioNames, ","), "scenarios to run")
	flag.StringVar(&o.report, "report", "bench-report.json", "JSON report file")
	flag.IntVar(&o.large, "large", 0, "also measure a store of this many entities (e.g. 1000000)")
	flag.DurationVar(&o.soak, "soak", 0, "instead of the scenarios, run a mixed load this long and watch memory and goroutines")
	flag.DurationVar(&o.sample, "sample", 10*time.Second, "soak: time between samples")
	flag.Parse()
	o.scenarios = strings.Split(scenarios, ",")
	if err := run(&o); err != nil {
		fmt.Fprintln(os.Stderr, "ocni-bench:", err)
		os.Exit(1)
	}
}

// Result is one scenario's measurement.
type Result struct {
	Scenario string  `json:"scenario"`
	Clients  int     `json:"clients"`
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	RPS      float64 `json:"rps"`
	P50ms    float64 `json:"p50_ms"`
	P99ms    float64 `json:"p99_ms"`
	Ratio    float64 `json:"ratio_vs_baseline"`
}

// Report is the JSON report.
type Report struct {
	When     time.Time      `json:"when"`
	Machine  string         `json:"machine"`
	Baseline Result         `json:"baseline"`
	Results  []Result       `json:"results"`
	Large    *LargeReport   `json:"large,omitempty"`
	Soak     *SoakReport    `json:"soak,omitempty"`
	Settings map[string]any `json:"settings"`
}

func run(o *options) error {
	for _, s := range o.scenarios {
		if !slices.Contains(scenarioNames, s) {
			return fmt.Errorf("unknown scenario %q (known: %s)", s, strings.Join(scenarioNames, ", "))
		}
	}
	if _, err := os.Stat(o.ocnid); err != nil {
		return fmt.Errorf("ocnid binary: %w (build it with make build)", err)
	}
	dir, err := os.MkdirTemp("", "ocni-bench")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	if o.soak > 0 {
		s, err := soak(o, dir, o.soak, o.sample)
		if err != nil {
			return fmt.Errorf("soak: %w", err)
		}
		b, _ := json.MarshalIndent(&Report{When: time.Now().UTC(), Machine: machine(), Soak: s}, "", "  ")
		if err := os.WriteFile(o.report, append(b, '\n'), 0o644); err != nil {
			return err
		}
		if !s.Passed {
			return errors.New("soak failed: memory, goroutines or errors grew (see the SOAK lines)")
		}
		return nil
	}

	baseAddr, stopBase, err := startBaseline()
	if err != nil {
		return err
	}
	defer stopBase()
	srv, _, err := startOcnid(o.ocnid, filepath.Join(dir, "ocni.db"))
	if err != nil {
		return err
	}
	defer srv.stop()

	client := newClient(o.clients)
	ids, err := preload(client, srv.addr, o.preload, o.clients)
	if err != nil {
		return fmt.Errorf("preload: %w", err)
	}
	rep := &Report{When: time.Now().UTC(), Machine: machine(), Settings: map[string]any{
		"clients": o.clients, "duration": o.duration.String(), "preload": o.preload,
	}}
	rep.Baseline = measure(client, "baseline", o, func(int, int) (*http.Request, error) {
		return http.NewRequest(http.MethodGet, "http://"+baseAddr+"/", nil)
	})
	printResult(rep.Baseline)
	for _, name := range o.scenarios {
		r := measure(client, name, o, scenario(name, srv.addr, ids, o.clients))
		r.Ratio = r.RPS / rep.Baseline.RPS
		printResult(r)
		rep.Results = append(rep.Results, r)
	}
	srv.stop()
	if o.large > 0 {
		if rep.Large, err = measureLarge(o, filepath.Join(dir, "large.db")); err != nil {
			return fmt.Errorf("large store: %w", err)
		}
	}
	b, _ := json.MarshalIndent(rep, "", "  ")
	return os.WriteFile(o.report, append(b, '\n'), 0o644)
}

func printResult(r Result) {
	fmt.Printf("BENCH %s c=%d rps=%.0f p50=%.3f p99=%.3f errors=%d ratio_vs_baseline=%.2f\n",
		r.Scenario, r.Clients, r.RPS, r.P50ms, r.P99ms, r.Errors, ratioOrOne(r))
}

func ratioOrOne(r Result) float64 {
	if r.Scenario == "baseline" {
		return 1
	}
	return r.Ratio
}

func newClient(c int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			// One connection per client: a stable number of server goroutines.
			MaxIdleConns: c, MaxIdleConnsPerHost: c, MaxConnsPerHost: c,
			DisableCompression: true, IdleConnTimeout: time.Minute,
		},
	}
}

// measure runs a scenario with o.clients workers: a warm-up, then a
// measured period in which every request's latency is recorded.
func measure(client *http.Client, name string, o *options, next func(worker, i int) (*http.Request, error)) Result {
	var measuring atomic.Bool
	deadline := time.Now().Add(o.warmup + o.duration)
	go func() { time.Sleep(o.warmup); measuring.Store(true) }()
	lat := make([][]time.Duration, o.clients)
	errs := make([]int, o.clients)
	var wg sync.WaitGroup
	var start, end atomic.Int64
	for w := range o.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				req, err := next(w, i)
				if err != nil {
					errs[w]++
					continue
				}
				t0 := time.Now()
				res, err := client.Do(req)
				ok := err == nil && res.StatusCode < 400
				if err == nil {
					_, _ = io.Copy(io.Discard, res.Body)
					_ = res.Body.Close()
				}
				if !measuring.Load() {
					continue
				}
				start.CompareAndSwap(0, t0.UnixNano())
				lat[w] = append(lat[w], time.Since(t0))
				if !ok {
					errs[w]++
				}
				end.Store(time.Now().UnixNano())
			}
		}()
	}
	wg.Wait()
	var all []time.Duration
	r := Result{Scenario: name, Clients: o.clients}
	for w := range lat {
		all = append(all, lat[w]...)
		r.Errors += errs[w]
	}
	slices.Sort(all)
	r.Requests = len(all)
	if len(all) > 0 {
		elapsed := time.Duration(end.Load() - start.Load())
		r.RPS = float64(len(all)) / elapsed.Seconds()
		r.P50ms = ms(all[len(all)/2])
		r.P99ms = ms(all[len(all)*99/100])
	}
	return r
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// serveBaseline answers every request with the same small JSON: what a
// server costs with no work at all.
func serveBaseline(addr string) {
	body := []byte(`{"kind":"http://schemas.ogf.org/occi/infrastructure#compute","id":"baseline"}` + "\n")
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/occi+json")
		_, _ = w.Write(body)
	}))
}

// process is a server started for the run.
type process struct {
	cmd  *exec.Cmd
	addr string
	once sync.Once
}

func (p *process) stop() {
	p.once.Do(func() {
		_ = p.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
		}
	})
}

// freeAddr returns a loopback address with a port nobody listens on.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// start runs a server and waits until it answers GET path.
func start(cmd *exec.Cmd, addr, path string) (*process, time.Duration, error) {
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, 0, err
	}
	p := &process{cmd: cmd, addr: addr}
	for time.Since(t0) < 60*time.Second {
		res, err := http.Get("http://" + addr + path)
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p, time.Since(t0), nil
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.stop()
	return nil, 0, errors.New("the server did not answer within 60 s")
}

func startBaseline() (string, func(), error) {
	self, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return "", nil, err
	}
	p, _, err := start(exec.Command(self, "-serve-baseline", addr), addr, "/")
	if err != nil {
		return "", nil, fmt.Errorf("baseline: %w", err)
	}
	return p.addr, p.stop, nil
}

// startOcnid starts ocnid on a data file with the dummy provider, logging
// warnings only: the request log is not what is measured.
func startOcnid(bin, data string) (*process, time.Duration, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, 0, err
	}
	return startCmd(bin, addr, "-data", data, "-log-level", "warn")
}

// startCmd starts ocnid listening on addr with more arguments.
func startCmd(bin, addr string, args ...string) (*process, time.Duration, error) {
	cmd := exec.Command(bin, append([]string{"-listen", addr}, args...)...)
	p, took, err := start(cmd, addr, "/-/")
	if err != nil {
		return nil, 0, fmt.Errorf("ocnid: %w", err)
	}
	return p, took, nil
}

func machine() string {
	host, _ := os.Hostname()
	cpu := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d CPUs (%s)", host, numCPU(), cpu)
}
