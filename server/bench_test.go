package server

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ocni/ocni/engine"
	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/store"
)

// Benchmarks of the entity paths, in process through Server.ServeHTTP:
//
//	go test -run '^$' -bench . -benchmem ./server/
//
// Every write is committed, fsync'd, to a bbolt file in b.TempDir(), so the
// create and action numbers depend on the disk as much as on the code.

// newBench is the test fixture for benchmarks: pages up to the default
// limit (the listing benchmarks ask for more than the tests' 50), and the
// request log thrown away.
func newBench(b *testing.B) *fixture {
	return newFixtureWith(b, fixtureOptions{maxPage: engine.DefaultMaxPage, discardLogs: true})
}

// preloadChunk is how many entities one preload transaction writes.
const preloadChunk = 5000

// preload writes n computes straight to the store, preloadChunk to a
// transaction, as a server that has run for a while holds them. It goes
// around HTTP, the engine and the VIM: the dummy provider does not know
// these computes, so they serve for listing (which reads only the store)
// but not for anything that asks the provider about them. Ids are
// random-looking UUIDs, as the engine makes, from a fixed seed.
func preload(tb testing.TB, db *store.DB, n int) time.Duration {
	tb.Helper()
	start := time.Now()
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	chunk := make([]*store.Entity, 0, preloadChunk)
	for i := range n {
		hi, lo := rng.Uint64(), rng.Uint64()
		id := fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x",
			hi>>32, hi>>16&0xffff, hi&0xfff, lo>>48&0x3fff|0x8000, lo&0xffffffffffff)
		chunk = append(chunk, &store.Entity{
			Location: "/compute/" + id,
			ID:       id,
			Kind:     occi.ComputeKindID,
			Provider: "dummy",
			Attributes: map[string]any{
				occi.AttrID:          id,
				"occi.compute.state": "active",
				"occi.compute.cores": 2.0,
			},
		})
		if len(chunk) == preloadChunk || i == n-1 {
			if err := db.Write(func(tx *store.Tx) error {
				for _, e := range chunk {
					if err := tx.Put(e); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				tb.Fatal(err)
			}
			chunk = chunk[:0]
		}
	}
	return time.Since(start)
}

// countResources decodes a collection and returns how many resources it
// holds.
func countResources(tb testing.TB, rec *httptest.ResponseRecorder) int {
	tb.Helper()
	var c struct {
		Resources []json.RawMessage `json:"resources"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &c); err != nil {
		tb.Fatalf("not a collection: %v", err)
	}
	return len(c.Resources)
}

// BenchmarkGetEntity reads one compute with a network interface and a
// storage link, among 1,000 computes. The other 999 are preloaded in the
// store; vm1 and its links are created through HTTP.
func BenchmarkGetEntity(b *testing.B) {
	s := newBench(b)
	preload(b, s.db, 999)
	s.seed()
	r := req{method: "GET", path: "/compute/vm1"}
	var vm struct {
		Links []json.RawMessage `json:"links"`
	}
	if err := json.Unmarshal(s.must(200, r).Body.Bytes(), &vm); err != nil || len(vm.Links) != 2 {
		b.Fatalf("vm1 has %d links (%v), want 2", len(vm.Links), err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if rec := s.serve(r); rec.Code != 200 {
			b.Fatalf("GET %s: %d %s", r.path, rec.Code, rec.Body)
		}
	}
}

// createBody is a compute with the medium template; the server picks its
// id, so the same body creates a new compute every time.
const createBody = `{"kind":"` + computeKind + `","title":"bench","mixins":["` + mediumTpl + `"]}`

// BenchmarkCreate creates computes one after another. Each create writes
// an intent and then commits the entity, both fsync'd.
func BenchmarkCreate(b *testing.B) {
	s := newBench(b)
	r := req{method: "POST", path: "/compute/", body: createBody}
	b.ReportAllocs()
	for b.Loop() {
		if rec := s.serve(r); rec.Code != 201 {
			b.Fatalf("POST: %d %s", rec.Code, rec.Body)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
}

// BenchmarkCreateParallel creates computes from several goroutines at
// once: bbolt gathers concurrent commits into one transaction and one
// fsync. A create spends most of its time waiting for the disk, not on a
// CPU, so it runs 4 goroutines per GOMAXPROCS.
func BenchmarkCreateParallel(b *testing.B) {
	s := newBench(b)
	r := req{method: "POST", path: "/compute/", body: createBody}
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if rec := s.serve(r); rec.Code != 201 {
				b.Errorf("POST: %d %s", rec.Code, rec.Body)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
}

// BenchmarkListCollection lists /compute/ over a store of N computes:
// "page" is the first page of 100, "lastpage" the last one (the listing
// skips the pages before it), "all" the whole collection unpaged. "all" is
// run for 1k only: unpaged, 100k computes make a 57 MB body, about 0.5 GB
// allocated and 2 s per request, which measures the JSON codecs and the
// garbage collector rather than the listing.
func BenchmarkListCollection(b *testing.B) {
	const pageSize = 100
	for _, size := range []struct {
		name string
		n    int
		all  bool
	}{
		{"1k", 1_000, true},
		{"100k", 100_000, false},
	} {
		b.Run(size.name, func(b *testing.B) {
			s := newBench(b)
			took := preload(b, s.db, size.n)
			b.Logf("preloaded %d computes in %s", size.n, took.Round(time.Millisecond))
			type listCase struct {
				name, path string
				want       int // resources in the answer
			}
			cases := []listCase{
				{"page", fmt.Sprintf("/compute/?page=1&number=%d", pageSize), pageSize},
				{"lastpage", fmt.Sprintf("/compute/?page=%d&number=%d", size.n/pageSize, pageSize), pageSize},
			}
			if size.all {
				cases = append(cases, listCase{"all", "/compute/", size.n})
			}
			for _, c := range cases {
				b.Run(c.name, func(b *testing.B) {
					r := req{method: "GET", path: c.path}
					// Not s.must: s belongs to the parent benchmark, whose
					// Fatal cannot be called from here.
					if rec := s.serve(r); rec.Code != 200 {
						b.Fatalf("GET %s: %d %s", c.path, rec.Code, rec.Body)
					} else if got := countResources(b, rec); got != c.want {
						b.Fatalf("GET %s: %d resources, want %d", c.path, got, c.want)
					}
					b.ReportAllocs()
					for b.Loop() {
						if rec := s.serve(r); rec.Code != 200 {
							b.Fatalf("GET %s: %d %s", c.path, rec.Code, rec.Body)
						}
					}
				})
			}
		})
	}
}

// BenchmarkActionStopStart stops and starts one compute: two actions, each
// an intent, a provider call and a commit.
func BenchmarkActionStopStart(b *testing.B) {
	s := newBench(b)
	s.seed()
	stop := req{method: "POST", path: "/compute/vm1?action=stop"}
	start := req{method: "POST", path: "/compute/vm1?action=start"}
	b.ReportAllocs()
	for b.Loop() {
		if rec := s.serve(stop); rec.Code != 200 {
			b.Fatalf("stop: %d %s", rec.Code, rec.Body)
		}
		if rec := s.serve(start); rec.Code != 200 {
			b.Fatalf("start: %d %s", rec.Code, rec.Body)
		}
	}
}
