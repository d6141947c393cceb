package main

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/store"
)

// LargeReport is what a big store costs.
type LargeReport struct {
	Entities     int     `json:"entities"`
	PreloadS     float64 `json:"preload_s"`
	ColdStartS   float64 `json:"cold_start_s"`
	RSSMiB       float64 `json:"rss_mib"`
	PageP50ms    float64 `json:"page_p50_ms"` // cursor pages (?after=), what rel="next" links give
	PageP99ms    float64 `json:"page_p99_ms"`
	OffsetP50ms  float64 `json:"offset_page_p50_ms"` // ?page=N anywhere in the collection: cost grows with N
	OffsetP99ms  float64 `json:"offset_page_p99_ms"`
	FileMiB      float64 `json:"file_mib"`
	PagesFetched int     `json:"pages_fetched"`
}

// measureLarge writes n computes straight into a data file (the server is
// not what is measured here), then starts ocnid on it and measures the cold
// start, the resident memory, and random collection pages.
func measureLarge(o *options, path string) (*LargeReport, error) {
	rep := &LargeReport{Entities: o.large}
	t0 := time.Now()
	db, err := store.Open(path)
	if err != nil {
		return nil, err
	}
	const chunk = 10000
	for start := 0; start < o.large; start += chunk {
		batch := make([]*store.Entity, 0, chunk)
		for i := start; i < min(start+chunk, o.large); i++ {
			id := fmt.Sprintf("big-%08d", i)
			batch = append(batch, &store.Entity{
				Location: "/compute/" + id, ID: id, Kind: occi.ComputeKindID, Provider: "dummy",
				Attributes: map[string]any{occi.AttrID: id, "occi.compute.state": "active", "occi.compute.cores": 2.0, "occi.compute.memory": 4.0},
			})
		}
		if err := db.Write(func(tx *store.Tx) error {
			for _, e := range batch {
				if err := tx.Put(e); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			_ = db.Close()
			return nil, err
		}
	}
	if err := db.Close(); err != nil {
		return nil, err
	}
	rep.PreloadS = time.Since(t0).Seconds()
	if st, err := os.Stat(path); err == nil {
		rep.FileMiB = float64(st.Size()) / (1 << 20)
	}

	srv, took, err := startOcnid(o.ocnid, path)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	rep.ColdStartS = took.Seconds()
	client := newClient(4)
	pages := o.large / 50
	fetch := func(url func(i int) string) ([]time.Duration, error) {
		var lat []time.Duration
		deadline := time.Now().Add(o.duration)
		for i := 0; time.Now().Before(deadline) || i < 100; i++ {
			t := time.Now()
			res, err := client.Get("http://" + srv.addr + url(i))
			if err != nil {
				return nil, err
			}
			_ = res.Body.Close()
			if res.StatusCode != http.StatusOK {
				return nil, fmt.Errorf("%s: status %d", url(i), res.StatusCode)
			}
			lat = append(lat, time.Since(t))
		}
		slices.Sort(lat)
		return lat, nil
	}
	// Spread over the whole collection: a prime stride visits it evenly.
	cursor, err := fetch(func(i int) string {
		return fmt.Sprintf("/compute/?after=/compute/big-%08d&number=50", (i*7919*50)%o.large)
	})
	if err != nil {
		return nil, err
	}
	offset, err := fetch(func(i int) string { return fmt.Sprintf("/compute/?page=%d&number=50", 1+(i*7919)%pages) })
	if err != nil {
		return nil, err
	}
	rep.PagesFetched = len(cursor) + len(offset)
	rep.PageP50ms, rep.PageP99ms = ms(cursor[len(cursor)/2]), ms(cursor[len(cursor)*99/100])
	rep.OffsetP50ms, rep.OffsetP99ms = ms(offset[len(offset)/2]), ms(offset[len(offset)*99/100])
	rep.RSSMiB = rssMiB(srv.cmd.Process.Pid)
	fmt.Printf("LARGE entities=%d preload=%.1fs file=%.0fMiB cold_start=%.3fs rss=%.0fMiB page_p50=%.3fms page_p99=%.3fms offset_page_p50=%.3fms offset_page_p99=%.3fms pages=%d\n",
		rep.Entities, rep.PreloadS, rep.FileMiB, rep.ColdStartS, rep.RSSMiB, rep.PageP50ms, rep.PageP99ms, rep.OffsetP50ms, rep.OffsetP99ms, rep.PagesFetched)
	return rep, nil
}

// rssMiB reads a process's resident set size from /proc.
func rssMiB(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			kb, _ := strconv.Atoi(f[1])
			return float64(kb) / 1024
		}
	}
	return -1
}
