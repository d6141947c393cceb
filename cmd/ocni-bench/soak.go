package main

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// SoakReport is what a long mixed load did to the server's memory and
// goroutines.
type SoakReport struct {
	Duration       string    `json:"duration"`
	Requests       int64     `json:"requests"`
	Errors         int64     `json:"errors"`
	RSSMiB         []float64 `json:"rss_mib"`
	Goroutines     []int     `json:"goroutines"`
	RSSGrowth      float64   `json:"rss_growth"`
	GoroutineDelta int       `json:"goroutine_delta"`
	Passed         bool      `json:"passed"`
}

// soak runs a mixed load (reads, updates, actions) for d, sampling the
// server's resident memory and goroutines every interval. After a warm-up
// (a quarter of the run, at most a minute), the lowest sample of the last
// third must not exceed the highest of the first third by more than 10%
// (goroutines, counted at their floor: 10% or 3, whichever is more).
func soak(o *options, dir string, d, interval time.Duration) (*SoakReport, error) {
	debug, err := freeAddr()
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	srv, _, err := startCmd(o.ocnid, addr, "-data", filepath.Join(dir, "soak.db"), "-log-level", "warn", "-debug-listen", debug)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	client := newClient(o.clients)
	locs, err := preload(client, srv.addr, o.preload, o.clients)
	if err != nil {
		return nil, err
	}
	read := scenario("get", srv.addr, locs, o.clients)
	update := scenario("update", srv.addr, locs, o.clients)
	act := scenario("action", srv.addr, locs, o.clients)
	rep := &SoakReport{Duration: d.String()}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var requests, errs atomic.Int64
	for w := range o.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			actions := 0 // the action scenario needs its own count to alternate stop and start
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var req *http.Request
				var err error
				switch i % 10 {
				case 7, 8:
					req, err = update(w, i)
				case 9:
					req, err = act(w, actions)
					actions++
				default:
					req, err = read(w, i)
				}
				if err != nil {
					errs.Add(1)
					continue
				}
				res, err := client.Do(req)
				requests.Add(1)
				if err != nil {
					errs.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
				if res.StatusCode >= 400 {
					errs.Add(1)
				}
			}
		}()
	}
	warmup := min(d/4, time.Minute)
	deadline := time.Now().Add(d)
	time.Sleep(warmup)
	for time.Now().Before(deadline) {
		rss := rssMiB(srv.cmd.Process.Pid)
		g, err := goroutineFloor(debug)
		if err != nil {
			close(stop)
			wg.Wait()
			return nil, err
		}
		rep.RSSMiB = append(rep.RSSMiB, rss)
		rep.Goroutines = append(rep.Goroutines, g)
		fmt.Printf("SOAK t=%s rss=%.1fMiB goroutines=%d requests=%d errors=%d\n",
			time.Since(deadline.Add(-d)).Round(time.Second), rss, g, requests.Load(), errs.Load())
		time.Sleep(min(interval, time.Until(deadline)))
	}
	close(stop)
	wg.Wait()
	rep.Requests, rep.Errors = requests.Load(), errs.Load()
	if len(rep.RSSMiB) < 3 {
		return nil, fmt.Errorf("only %d samples: run longer than %s", len(rep.RSSMiB), warmup+3*interval)
	}
	// Growth is what the last third never goes below, over what the first
	// third reached: noise moves both ways, a leak only up.
	third := len(rep.RSSMiB) / 3
	first, last := slices.Max(rep.RSSMiB[:third+1]), slices.Min(rep.RSSMiB[len(rep.RSSMiB)-third-1:])
	rep.RSSGrowth = last/first - 1
	gFirst := slices.Max(rep.Goroutines[:third+1])
	gLast := slices.Min(rep.Goroutines[len(rep.Goroutines)-third-1:])
	rep.GoroutineDelta = gLast - gFirst
	rep.Passed = rep.RSSGrowth <= 0.10 && rep.GoroutineDelta <= max(3, gFirst/10) && rep.Errors == 0
	fmt.Printf("SOAK result duration=%s requests=%d errors=%d rss_growth=%.1f%% goroutine_delta=%d passed=%v\n",
		d, rep.Requests, rep.Errors, 100*rep.RSSGrowth, rep.GoroutineDelta, rep.Passed)
	return rep, nil
}

// goroutineFloor reads the goroutine count a few times and keeps the
// lowest: requests in flight add goroutines for a moment (a connection's
// background read), a leak raises the floor.
func goroutineFloor(debug string) (int, error) {
	floor := -1
	for range 5 {
		n, err := goroutines(debug)
		if err != nil {
			return 0, err
		}
		if floor < 0 || n < floor {
			floor = n
		}
		time.Sleep(50 * time.Millisecond)
	}
	return floor, nil
}

// goroutines reads the goroutine count from the pprof index.
func goroutines(debug string) (int, error) {
	res, err := http.Get("http://" + debug + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return 0, err
	}
	defer func() { _ = res.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(res.Body, 256))
	if err != nil {
		return 0, err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	n, err := strconv.Atoi(strings.TrimPrefix(first, "goroutine profile: total "))
	if err != nil {
		return 0, fmt.Errorf("goroutine count: %q", first)
	}
	return n, nil
}
