package server

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ocni/ocni/engine"
	"github.com/ocni/ocni/store"
)

// withEngine rebuilds the fixture's engine and server on the same data
// file with other options.
func (f *fixture) withEngine(opts engine.Options) {
	f.t.Helper()
	opts.Providers = f.providers
	opts.DefaultProvider = "dummy"
	if opts.MaxPage == 0 {
		opts.MaxPage = f.opts.maxPage
	}
	f.eng = engine.New(f.reg, f.db, opts)
	f.srv = New(Config{Engine: f.eng, BodyLimit: 64 << 10})
}

// reads runs a request and returns how many entity records it read.
func (f *fixture) reads(status int, r req) (int, string) {
	f.t.Helper()
	before := f.db.EntitiesRead()
	rec := f.must(status, r)
	return int(f.db.EntitiesRead() - before), rec.Body.String()
}

// On 100,000 entities, an equality filter reads only what it finds when an
// index answers it (occi.core.*, or an attribute the operator lists), and
// no more than the scan budget when none does: the work of one request is
// counted in entity records read, not timed.
func TestFilterCostIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 100,000 entities")
	}
	f := newFixture(t)
	const n = 100_000
	preload(t, f.db, n)
	var someID string
	if err := f.db.View(func(tx *store.Tx) error {
		return tx.Scan(store.ByKind, computeKind, "", n/2, func(e *store.Entity) bool { someID = e.ID; return false })
	}); err != nil {
		t.Fatal(err)
	}

	if got, body := f.reads(200, req{method: "GET", path: "/compute/?attribute=occi.core.title&value=nope"}); got != 0 || !strings.Contains(body, `"resources":[]`) {
		t.Errorf("a title no entity has: %d entities read: %.200s", got, body)
	}
	if got, body := f.reads(200, req{method: "GET", path: "/compute/?attribute=occi.core.id&value=" + someID}); got != 1 || !strings.Contains(body, someID) {
		t.Errorf("one id: %d entities read: %.200s", got, body)
	}
	// No index: the request stops past the budget.
	rec := f.do(req{method: "GET", path: "/compute/?attribute=occi.compute.state&value=nope"})
	if _, msg := problem(t, rec); rec.Code != 413 || !strings.Contains(msg, "scan_budget") {
		t.Errorf("an unindexed filter: %d %s", rec.Code, msg)
	}
	before := f.db.EntitiesRead()
	f.do(req{method: "GET", path: "/compute/?attribute=occi.compute.state&value=nope"})
	if got := f.db.EntitiesRead() - before; got != engine.DefaultScanBudget+1 {
		t.Errorf("an unindexed filter read %d entities, want the budget and one (%d)", got, engine.DefaultScanBudget+1)
	}
	// A filter that matches fills its page within the budget.
	if got, _ := f.reads(200, req{method: "GET", path: "/compute/?attribute=occi.compute.state&value=active&number=20"}); got != 20 {
		t.Errorf("a matching unindexed filter read %d entities for a page of 20", got)
	}

	// The operator indexes occi.compute.state: built at start from the
	// entities there, then answered from the index.
	f.withEngine(engine.Options{IndexedAttributes: []string{"occi.compute.state"}})
	if got, _ := f.reads(200, req{method: "GET", path: "/compute/?attribute=occi.compute.state&value=nope"}); got != 0 {
		t.Errorf("an indexed attribute no entity has: %d entities read", got)
	}
	if got, body := f.reads(200, req{method: "GET", path: "/compute/?attribute=occi.compute.state&value=active&number=20&page=3"}); got != 60 || strings.Count(body, `"kind"`) != 20 {
		t.Errorf("page 3 of an indexed filter: %d entities read", got)
	}
	rep, err := store.Check(f.db, nil)
	if err != nil || !rep.OK() {
		t.Errorf("check after indexing: %v %v", err, rep.Problems)
	}
	if rep.IndexEntries["idx-attr"] != 2*n {
		t.Errorf("idx-attr holds %d entries, want an id and a state per entity", rep.IndexEntries["idx-attr"])
	}
}

// Bulk operations on a collection act on at most max_page entities per
// request; while more remain, the answer's Link rel="next" is the request
// to send next. Answers listing entities list at most max_page.
func TestBulkOperationsAreBounded(t *testing.T) {
	f := newFixtureWith(t, fixtureOptions{maxPage: 3})
	for i := range 7 {
		f.must(201, req{method: "PUT", path: fmt.Sprintf("/compute/c%d", i), body: `{"kind":"` + computeKind + `"}`})
	}
	locations := func(body string) []string {
		var out []string
		for _, l := range strings.Split(body, `"`) {
			if strings.HasPrefix(l, "http://example.com/compute/") {
				out = append(out, strings.TrimPrefix(l, "http://example.com"))
			}
		}
		return out
	}
	// follow repeats a request along its Links and returns every location
	// the answers list and how many requests it took.
	follow := func(method, path, body string) ([]string, int) {
		var all []string
		for n := 1; ; n++ {
			rec := f.must(200, req{method: method, path: path, body: body})
			got := locations(rec.Body.String())
			if len(got) > 3 {
				t.Errorf("%s %s answered %d locations", method, path, len(got))
			}
			all = append(all, got...)
			link := rec.Header().Get("Link")
			if link == "" || n > 10 {
				return all, n
			}
			path = strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`)
		}
	}
	done, n := follow("POST", "/compute/?action=stop", "")
	if len(done) != 7 || n != 3 || done[3] != "/compute/c3" {
		t.Errorf("stop on all: %v in %d requests", done, n)
	}
	if got := f.listAll("/compute/?attribute=occi.compute.state&value=inactive"); len(got) != 7 {
		t.Errorf("stopped: %v", got)
	}

	f.must(200, req{method: "POST", path: "/-/", body: `{"mixins":[{"scheme":"http://example.com/tags#","term":"t","location":"/tags/t/"}]}`})
	rec := f.do(req{method: "POST", path: "/tags/t/", body: `["/compute/c0","/compute/c1","/compute/c2","/compute/c3"]`})
	if _, msg := problem(t, rec); rec.Code != 413 || !strings.Contains(msg, "max_page") {
		t.Errorf("associating four: %d %s", rec.Code, msg)
	}
	f.must(200, req{method: "POST", path: "/tags/t/", body: `["/compute/c0","/compute/c1","/compute/c2"]`})
	if got := locations(f.must(200, req{method: "POST", path: "/tags/t/", body: `["/compute/c3","/compute/c4"]`}).Body.String()); len(got) != 3 {
		t.Errorf("the answer lists %d of 5 members, want max_page", len(got))
	}
	// Removing a mixin dissociates in the same step: with more members
	// than a step takes, it says to dissociate them first.
	rec = f.do(req{method: "DELETE", path: "/-/?category=" + escape("http://example.com/tags#t")})
	if _, msg := problem(t, rec); rec.Code != 409 || !strings.Contains(msg, "DELETE /tags/t/") {
		t.Errorf("removing a mixin of 5 members: %d %s", rec.Code, msg)
	}
	// PUT keeps one, dissociating the others in steps.
	if _, n := follow("PUT", "/tags/t/", `["/compute/c6"]`); n != 2 {
		t.Errorf("PUT took %d requests", n)
	}
	if got := f.listAll("/tags/t/"); len(got) != 1 || got[0] != "c6" {
		t.Errorf("members after PUT: %v", got)
	}
	f.must(200, req{method: "POST", path: "/tags/t/", body: `["/compute/c0","/compute/c1","/compute/c2"]`})
	if _, n := follow("DELETE", "/tags/t/", ""); n != 2 {
		t.Errorf("DELETE of every member took %d requests", n)
	}
	if got := f.listAll("/tags/t/"); len(got) != 0 {
		t.Errorf("members after DELETE: %v", got)
	}
	f.must(200, req{method: "DELETE", path: "/-/?category=" + escape("http://example.com/tags#t")})

	rec = f.do(req{method: "POST", path: "/compute/", body: `{"resources":[{"kind":"` + computeKind + `"},{"kind":"` + computeKind + `"},{"kind":"` + computeKind + `"},{"kind":"` + computeKind + `"}]}`})
	if _, msg := problem(t, rec); rec.Code != 413 || !strings.Contains(msg, "at most 3") {
		t.Errorf("creating four: %d %s", rec.Code, msg)
	}
	if deleted, n := follow("DELETE", "/", ""); len(deleted) != 7 || n != 3 {
		t.Errorf("DELETE /: %v in %d requests", deleted, n)
	}
}
