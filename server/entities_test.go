package server

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ocni/ocni/occi"
)

const (
	infra        = "http://schemas.ogf.org/occi/infrastructure#"
	computeKind  = infra + "compute"
	storageKind  = infra + "storage"
	networkKind  = infra + "network"
	nicKind      = infra + "networkinterface"
	mediumTpl    = "http://schemas.ogf.org/occi/infrastructure/resource_tpl#medium"
	largeTpl     = "http://schemas.ogf.org/occi/infrastructure/resource_tpl#large"
	ipNetwork    = "http://schemas.ogf.org/occi/infrastructure/network#ipnetwork"
	computeStart = "http://schemas.ogf.org/occi/infrastructure/compute/action#start"
)

// jsonBody decodes a JSON answer into a generic map.
func jsonBody(t testing.TB, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("answer is not a JSON object: %v: %s", err, rec.Body)
	}
	return m
}

func attrsOf(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	a, _ := jsonBody(t, rec)["attributes"].(map[string]any)
	return a
}

// must runs a request that must answer status.
func (f *fixture) must(status int, r req) *httptest.ResponseRecorder {
	f.t.Helper()
	rec := f.do(r)
	if rec.Code != status {
		f.t.Fatalf("%s %s: %d, want %d: %s", r.method, r.path, rec.Code, status, rec.Body)
	}
	return rec
}

// seed creates a network, a storage and a compute linked to both.
func (f *fixture) seed() {
	f.t.Helper()
	f.must(201, req{method: "PUT", path: "/network/net1", body: `{"kind":"` + networkKind + `","mixins":["` + ipNetwork + `"],"attributes":{"occi.network.address":"10.1.0.0/24"}}`})
	f.must(201, req{method: "PUT", path: "/storage/disk1", body: `{"kind":"` + storageKind + `","attributes":{"occi.storage.size":20}}`})
	f.must(201, req{method: "POST", path: "/compute/", body: `{"kind":"` + computeKind + `","id":"vm1","title":"first","mixins":["` + mediumTpl + `"],
	  "links":[{"kind":"` + nicKind + `","target":{"location":"/network/net1"},"attributes":{"occi.networkinterface.interface":"eth0"}},
	           {"kind":"` + infra + `storagelink","target":"/storage/disk1","attributes":{"occi.storagelink.deviceid":"vda"}}]}`})
}

func TestEntityLifecycle(t *testing.T) {
	f := newFixture(t)
	f.seed()

	// GET the compute: template defaults, state from the backend, links.
	rec := f.must(200, req{method: "GET", path: "/compute/vm1"})
	vm := jsonBody(t, rec)
	attrs := vm["attributes"].(map[string]any)
	if attrs["occi.compute.cores"] != 2.0 || attrs["occi.compute.memory"] != 2.0 || attrs["occi.compute.state"] != "active" {
		t.Errorf("compute attributes: %v", attrs)
	}
	links := vm["links"].([]any)
	if len(links) != 2 {
		t.Fatalf("links: %v", links)
	}
	nic := links[0].(map[string]any)
	if nic["target"].(map[string]any)["kind"] != networkKind || nic["attributes"].(map[string]any)["occi.networkinterface.mac"] == nil {
		t.Errorf("networkinterface: %v", nic)
	}
	if vm["title"] != "first" || vm["id"] != "vm1" {
		t.Errorf("id/title: %v %v", vm["id"], vm["title"])
	}

	// Actions: by term, with a body, invalid transition, unknown action.
	f.must(200, req{method: "POST", path: "/compute/vm1?action=stop", body: `{"action":"http://schemas.ogf.org/occi/infrastructure/compute/action#stop","attributes":{"method":"graceful"}}`})
	if rec := f.do(req{method: "POST", path: "/compute/vm1?action=suspend"}); rec.Code != 409 {
		t.Errorf("suspend an inactive compute: %d %s", rec.Code, rec.Body)
	}
	if rec := f.must(200, req{method: "POST", path: "/compute/vm1?action=start"}); attrsOf(t, rec)["occi.compute.state"] != "active" {
		t.Errorf("start: %s", rec.Body)
	}
	if rec := f.do(req{method: "POST", path: "/compute/vm1?action=fly"}); rec.Code != 404 {
		t.Errorf("unknown action: %d", rec.Code)
	}
	if rec := f.do(req{method: "POST", path: "/compute/vm1?action=stop", body: `{"action":"http://schemas.ogf.org/occi/infrastructure/compute/action#stop","attributes":{"method":"yank"}}`}); rec.Code != 400 {
		t.Errorf("bad action parameter: %d", rec.Code)
	}
	if rec := f.do(req{method: "POST", path: "/compute/vm1?action=stop", body: `{"action":"` + computeStart + `"}`}); rec.Code != 400 {
		t.Errorf("body and query disagree: %d", rec.Code)
	}

	// Partial update: an attribute; a new template replaces the old and
	// resizes.
	rec = f.must(200, req{method: "POST", path: "/compute/vm1", body: `{"kind":"` + computeKind + `","attributes":{"occi.compute.hostname":"vm1.lab"}}`})
	if attrsOf(t, rec)["occi.compute.hostname"] != "vm1.lab" {
		t.Errorf("update: %s", rec.Body)
	}
	rec = f.must(200, req{method: "POST", path: "/compute/vm1", body: `{"kind":"` + computeKind + `","mixins":["` + largeTpl + `"]}`})
	body := jsonBody(t, rec)
	if m := body["mixins"].([]any); len(m) != 1 || m[0] != largeTpl {
		t.Errorf("template not replaced: %v", m)
	}
	if a := body["attributes"].(map[string]any); a["occi.compute.cores"] != 4.0 || a["occi.compute.hostname"] != "vm1.lab" {
		t.Errorf("after resize: %v", a)
	}

	// Full replace keeps links and immutable attributes.
	rec = f.must(200, req{method: "PUT", path: "/compute/vm1", body: `{"kind":"` + computeKind + `","attributes":{"occi.compute.cores":1,"occi.compute.memory":0.5}}`})
	body = jsonBody(t, rec)
	if body["mixins"] != nil || len(body["links"].([]any)) != 2 || body["attributes"].(map[string]any)["occi.compute.hostname"] != nil {
		t.Errorf("full replace: %s", rec.Body)
	}

	// Delete the compute: its links go with it, the targets stay.
	f.must(204, req{method: "DELETE", path: "/compute/vm1"})
	f.must(404, req{method: "GET", path: "/compute/vm1"})
	if rec := f.must(200, req{method: "GET", path: "/networkinterface/"}); strings.Contains(rec.Body.String(), "vm1") {
		t.Errorf("links survive their source: %s", rec.Body)
	}
	f.must(200, req{method: "GET", path: "/storage/disk1"})
}

func TestEntityErrors(t *testing.T) {
	tests := []struct {
		name   string
		req    req
		status int
		want   string
	}{
		{"unknown kind", req{method: "POST", path: "/compute/", body: `{"kind":"http://e.com/#nope"}`}, 400, "not registered"},
		{"kind of another collection", req{method: "POST", path: "/compute/", body: `{"kind":"` + storageKind + `","attributes":{"occi.storage.size":1}}`}, 400, "lives at /storage/"},
		{"abstract kind", req{method: "PUT", path: "/x/y", body: `{"kind":"http://schemas.ogf.org/occi/core#entity"}`}, 400, "cannot be instantiated"},
		{"unknown attribute", req{method: "POST", path: "/compute/", body: `{"kind":"` + computeKind + `","attributes":{"occi.compute.turbo":true}}`}, 400, "occi.compute.turbo"},
		{"wrong type", req{method: "POST", path: "/compute/", body: `{"kind":"` + computeKind + `","attributes":{"occi.compute.cores":"two"}}`}, 400, "occi.compute.cores"},
		{"pattern", req{method: "POST", path: "/compute/", body: `{"kind":"` + computeKind + `","attributes":{"occi.compute.architecture":"arm"}}`}, 400, "occi.compute.architecture"},
		{"not an integer", req{method: "POST", path: "/compute/", body: `{"kind":"` + computeKind + `","attributes":{"occi.compute.cores":1.5}}`}, 400, "occi.compute.cores"},
		{"required missing", req{method: "POST", path: "/storage/", body: `{"kind":"` + storageKind + `"}`}, 400, "occi.storage.size"},
		{"unknown mixin", req{method: "POST", path: "/compute/", body: `{"kind":"` + computeKind + `","mixins":["http://e.com/#x"]}`}, 400, "not registered"},
		{"mixin not applicable", req{method: "POST", path: "/storage/", body: `{"kind":"` + storageKind + `","mixins":["` + mediumTpl + `"],"attributes":{"occi.storage.size":1}}`}, 403, "does not apply"},
		{"two templates of a family", req{method: "POST", path: "/compute/", body: `{"kind":"` + computeKind + `","mixins":["` + mediumTpl + `","` + largeTpl + `"]}`}, 400, "both"},
		{"bad id", req{method: "POST", path: "/compute/", body: `{"kind":"` + computeKind + `","id":"a/b"}`}, 400, "id"},
		{"id taken", req{method: "POST", path: "/compute/", body: `{"kind":"` + computeKind + `","id":"vm1"}`}, 409, "vm1"},
		{"id taken elsewhere", req{method: "PUT", path: "/lab/vm1", body: `{"kind":"` + computeKind + `"}`}, 409, "vm1"},
		{"dotdot path", req{method: "PUT", path: "/lab/../x", body: `{"kind":"` + computeKind + `"}`}, 400, ".."},
		{"encoded dotdot path", req{method: "PUT", path: "/lab/%2e%2e/x", body: `{"kind":"` + computeKind + `"}`}, 400, ".."},
		{"path in a mixin location", req{method: "PUT", path: "/ipnetwork/n9", body: `{"kind":"` + networkKind + `"}`}, 409, "mixin"},
		{"path in another kind's collection", req{method: "PUT", path: "/storage/c9", body: `{"kind":"` + computeKind + `"}`}, 409, "storage"},
		{"id contradicts path", req{method: "PUT", path: "/lab/c9", body: `{"kind":"` + computeKind + `","id":"c8"}`}, 400, "contradicts"},
		{"immutable attribute", req{method: "POST", path: "/compute/vm1", body: `{"kind":"` + computeKind + `","attributes":{"occi.compute.state":"suspended"}}`}, 403, "immutable"},
		{"kind change", req{method: "POST", path: "/compute/vm1", body: `{"kind":"` + storageKind + `"}`}, 400, "cannot change"},
		{"update nothing there", req{method: "POST", path: "/compute/ghost", body: `{"kind":"` + computeKind + `"}`}, 404, "/compute/ghost"},
		{"delete nothing there", req{method: "DELETE", path: "/compute/ghost"}, 404, "/compute/ghost"},
		{"link without target", req{method: "POST", path: "/networkinterface/", body: `{"kind":"` + nicKind + `","source":"/compute/vm1","attributes":{"occi.networkinterface.interface":"eth1"}}`}, 400, "target"},
		{"link to nothing", req{method: "POST", path: "/networkinterface/", body: `{"kind":"` + nicKind + `","source":"/compute/vm1","target":"/network/ghost","attributes":{"occi.networkinterface.interface":"eth1"}}`}, 400, "/network/ghost"},
		{"link from nothing", req{method: "POST", path: "/networkinterface/", body: `{"kind":"` + nicKind + `","source":"/compute/ghost","target":"/network/net1","attributes":{"occi.networkinterface.interface":"eth1"}}`}, 400, "/compute/ghost"},
		{"link target kind wrong", req{method: "POST", path: "/networkinterface/", body: `{"kind":"` + nicKind + `","source":"/compute/vm1","target":{"location":"/network/net1","kind":"` + storageKind + `"},"attributes":{"occi.networkinterface.interface":"eth1"}}`}, 400, "not a"},
		{"PUT on a kind collection", req{method: "PUT", path: "/compute/", body: `{}`}, 405, "PUT"},
		{"page too large", req{method: "GET", path: "/compute/?number=51"}, 413, "50"},
		{"page not a number", req{method: "GET", path: "/compute/?page=x"}, 400, "page"},
		{"attribute without value", req{method: "GET", path: "/compute/?attribute=occi.compute.cores"}, 400, "value"},
		{"filter on unknown category", req{method: "GET", path: "/compute/?category=http://e.com/%23x"}, 404, "http://e.com/#x"},
		{"associate an unknown entity", req{method: "POST", path: "/ipnetwork/", body: `{"locations":["/network/ghost"]}`}, 404, "/network/ghost"},
		{"associate with a foreign host", req{method: "POST", path: "/ipnetwork/", body: `["http://elsewhere.example/network/net1"]`}, 400, "not on this server"},
		{"associate a mixin that does not apply", req{method: "POST", path: "/ipnetwork/", body: `["/compute/vm1"]`}, 403, "does not apply"},
		{"create without body", req{method: "POST", path: "/compute/"}, 400, "no body"},
		{"empty collection", req{method: "POST", path: "/compute/", body: `{"resources":[]}`}, 400, "no entity"},
		{"action on all, unknown", req{method: "POST", path: "/compute/?action=fly"}, 404, "fly"},
	}
	f := newFixture(t)
	f.seed()
	before := f.must(200, req{method: "GET", path: "/"}).Body.String()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.do(tt.req)
			if rec.Code != tt.status {
				t.Fatalf("%d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if _, msg := problem(t, rec); !strings.Contains(msg, tt.want) {
				t.Errorf("message %q does not mention %q", msg, tt.want)
			}
		})
	}
	if after := f.must(200, req{method: "GET", path: "/"}).Body.String(); after != before {
		t.Errorf("rejected requests changed the entities:\nbefore %s\nafter  %s", before, after)
	}
	// Nothing half-done is left on the VIM either.
	for name, p := range f.providers {
		ids, _ := p.List(t.Context(), f.db.Instance())
		if name == "dummy" && len(ids) != 5 {
			t.Errorf("provider %s holds %d objects, want the 5 seeded: %v", name, len(ids), ids)
		}
	}
}

func TestCollections(t *testing.T) {
	f := newFixture(t)
	f.seed()
	// Several at once.
	rec := f.must(201, req{method: "POST", path: "/compute/", body: `{"resources":[
	  {"kind":"` + computeKind + `","id":"a","attributes":{"occi.compute.cores":1}},
	  {"kind":"` + computeKind + `","id":"b","attributes":{"occi.compute.cores":2}}]}`})
	if locs := jsonBody(t, rec)["locations"].([]any); len(locs) != 2 || !strings.HasSuffix(locs[0].(string), "/compute/a") {
		t.Errorf("multiple create: %s", rec.Body)
	}
	if rec.Header().Get("Location") == "" {
		t.Error("no Location header")
	}
	count := func(path string) int {
		t.Helper()
		rec := f.must(200, req{method: "GET", path: path})
		m := jsonBody(t, rec)
		if r, ok := m["resources"].([]any); ok {
			return len(r)
		}
		if l, ok := m["links"].([]any); ok {
			return len(l)
		}
		if l, ok := m["locations"].([]any); ok {
			return len(l)
		}
		return -1
	}
	for path, want := range map[string]int{
		"/compute/": 3,
		"/compute/?attribute=occi.compute.cores&value=2": 2, // b and vm1 (medium)
		"/compute/?category=" + escape(mediumTpl):        1,
		"/compute/?number=2":                             2,
		"/compute/?page=2&number=2":                      1,
		"/compute/?page=9&number=2":                      0,
		"/networkinterface/":                             1,
		"/ipnetwork/":                                    1,
		"/":                                              7,
	} {
		if got := count(path); got != want {
			t.Errorf("GET %s: %d entities, want %d", path, got, want)
		}
	}
	// pyOCNI's filter body: entities matching a template.
	rec = f.must(200, req{method: "GET", path: "/compute/", body: `{"resources":[{"kind":"` + computeKind + `","attributes":{"occi.compute.cores":1}}]}`})
	if r := jsonBody(t, rec)["resources"].([]any); len(r) != 1 {
		t.Errorf("filter body: %s", rec.Body)
	}
	// An action on every member.
	f.must(200, req{method: "POST", path: "/compute/?action=stop"})
	if got := count("/compute/?attribute=occi.compute.state&value=inactive"); got != 3 {
		t.Errorf("after stop on all: %d inactive", got)
	}
	// Delete all of a kind: the links from the deleted computes go too.
	f.must(200, req{method: "DELETE", path: "/compute/"})
	if count("/compute/") != 0 || count("/networkinterface/") != 0 || count("/storage/") != 1 {
		t.Error("delete all left entities behind")
	}
}

func TestMixinMembership(t *testing.T) {
	f := newFixture(t)
	f.seed()
	f.must(200, req{method: "POST", path: "/-/", body: goldBody})
	f.must(201, req{method: "PUT", path: "/compute/vm2", body: `{"kind":"` + computeKind + `"}`})
	members := func() string {
		t.Helper()
		return f.must(200, req{method: "GET", path: "/tags/gold/"}).Body.String()
	}
	f.must(200, req{method: "POST", path: "/tags/gold/", body: `{"locations":["/compute/vm1","http://example.com/compute/vm2"]}`})
	if m := members(); !strings.Contains(m, `"id":"vm1"`) || !strings.Contains(m, `"id":"vm2"`) {
		t.Errorf("after associate: %s", m)
	}
	if a := attrsOf(t, f.must(200, req{method: "GET", path: "/compute/vm1"})); a["com.example.sla"] != 99.9 {
		t.Errorf("the mixin's default did not apply: %v", a)
	}
	f.must(200, req{method: "PUT", path: "/tags/gold/", body: `["/compute/vm2"]`})
	if m := members(); strings.Contains(m, `"id":"vm1"`) || !strings.Contains(m, `"id":"vm2"`) {
		t.Errorf("after replace: %s", m)
	}
	if a := attrsOf(t, f.must(200, req{method: "GET", path: "/compute/vm1"})); a["com.example.sla"] != nil {
		t.Errorf("the mixin's attribute stayed after dissociation: %v", a)
	}
	f.must(200, req{method: "DELETE", path: "/tags/gold/", body: `{"X-OCCI-Location":["/compute/vm2"]}`})
	if m := members(); strings.Contains(m, "vm2") {
		t.Errorf("after dissociate: %s", m)
	}
	// Removing the mixin from the model drops its associations.
	f.must(200, req{method: "POST", path: "/tags/gold/", body: `["/compute/vm1"]`})
	f.must(200, req{method: "DELETE", path: "/-/?category=" + escape("http://example.com/occi/tags#gold")})
	if body := f.must(200, req{method: "GET", path: "/compute/vm1"}).Body.String(); strings.Contains(body, "gold") {
		t.Errorf("the removed mixin is still associated: %s", body)
	}
}

func TestKindInUseCannotBeRemoved(t *testing.T) {
	f := newFixture(t)
	f.must(200, req{method: "POST", path: "/-/", body: vmBody})
	f.must(201, req{method: "POST", path: "/vm/", body: `{"kind":"http://example.com/occi#vm","attributes":{"com.example.vm.flavour":"tiny"}}`})
	rec := f.do(req{method: "DELETE", path: "/-/?category=" + escape("http://example.com/occi#vm")})
	if rec.Code != 409 {
		t.Fatalf("removing a kind in use: %d %s", rec.Code, rec.Body)
	}
	if _, msg := problem(t, rec); !strings.Contains(msg, "still used by 1 entity (/vm/") {
		t.Errorf("message: %s", msg)
	}
	// A user kind derived from compute is served as a compute.
	if rec := f.must(200, req{method: "GET", path: "/vm/"}); !strings.Contains(rec.Body.String(), `"occi.compute.state":"active"`) {
		t.Errorf("user kind entity: %s", rec.Body)
	}
}

func TestPathManagement(t *testing.T) {
	f := newFixture(t)
	for _, p := range []string{"/lab/team1/vm1", "/lab/team1/vm2", "/lab/team2/vm3"} {
		f.must(201, req{method: "PUT", path: p, body: `{"kind":"` + computeKind + `"}`})
	}
	rec := f.must(200, req{method: "GET", path: "/lab/"})
	if locs := jsonBody(t, rec)["locations"].([]any); len(locs) != 3 {
		t.Errorf("GET /lab/: %s", rec.Body)
	}
	f.must(200, req{method: "DELETE", path: "/lab/team1/"})
	f.must(404, req{method: "GET", path: "/lab/team1/"})
	rec = f.must(200, req{method: "GET", path: "/lab/"})
	if locs := jsonBody(t, rec)["locations"].([]any); len(locs) != 1 {
		t.Errorf("after DELETE /lab/team1/: %s", rec.Body)
	}
	// A custom path under a kind's location is fine when the kind matches.
	f.must(201, req{method: "PUT", path: "/compute/mine", body: `{"kind":"` + computeKind + `"}`})
}

// 200 concurrent creates give 200 distinct entities, all listed and all
// there after a restart.
func TestConcurrentCreates(t *testing.T) {
	f := newFixture(t)
	const n = 200
	var wg sync.WaitGroup
	locs := make([]string, n)
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := f.do(req{method: "POST", path: "/compute/", body: fmt.Sprintf(`{"kind":"%s","title":"vm %d"}`, computeKind, i)})
			if rec.Code != 201 {
				errs <- fmt.Errorf("create %d: %d %s", i, rec.Code, rec.Body)
				return
			}
			locs[i] = rec.Header().Get("Location")
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	distinct := map[string]bool{}
	for _, l := range locs {
		distinct[l] = true
	}
	if len(distinct) != n {
		t.Fatalf("%d distinct locations, want %d", len(distinct), n)
	}
	for _, stage := range []string{"before restart", "after restart"} {
		if got := f.listAll("/compute/"); len(got) != n {
			t.Errorf("%s: %d listed, want %d", stage, len(got), n)
		}
		f.restart()
	}
}

// listAll follows a listing's rel="next" links and returns every id.
func (f *fixture) listAll(path string) []string {
	f.t.Helper()
	var ids []string
	for pages := 0; path != ""; pages++ {
		if pages > 1000 {
			f.t.Fatal("the next links do not end")
		}
		rec := f.must(200, req{method: "GET", path: path})
		for _, r := range jsonBody(f.t, rec)["resources"].([]any) {
			ids = append(ids, r.(map[string]any)["id"].(string))
		}
		path = ""
		if link := rec.Header().Get("Link"); link != "" {
			path = strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`)
		}
	}
	return ids
}

var _ = occi.ComputeKindID

// A listing is paged even when the client asks for everything: a page of
// max_page entities and a Link to the next one, until the last.
func TestListingIsAlwaysPaged(t *testing.T) {
	f := newFixture(t)
	for i := range 120 {
		f.must(201, req{method: "PUT", path: fmt.Sprintf("/compute/c%03d", i), body: `{"kind":"` + computeKind + `"}`})
	}
	rec := f.must(200, req{method: "GET", path: "/compute/"})
	if n := len(jsonBody(t, rec)["resources"].([]any)); n != 50 {
		t.Errorf("first page: %d entities, want max_page 50", n)
	}
	if got := rec.Header().Get("Link"); got != `</compute/?after=%2Fcompute%2Fc049&number=50>; rel="next"` {
		t.Errorf("Link = %q", got)
	}
	ids := f.listAll("/compute/?attribute=occi.compute.state&value=active")
	if len(ids) != 120 || ids[0] != "c000" || ids[119] != "c119" {
		t.Errorf("following the links: %d ids (%v ... )", len(ids), ids[:3])
	}
	// Deep pages without filters are skipped in the store, with filters in
	// the engine: both give the same page.
	plain := f.must(200, req{method: "GET", path: "/compute/?page=3&number=50"}).Body.String()
	filtered := f.must(200, req{method: "GET", path: "/compute/?page=3&number=50&category=" + escape(computeKind)}).Body.String()
	if plain != filtered || !strings.Contains(plain, `"id":"c100"`) || strings.Contains(plain, `"id":"c099"`) {
		t.Errorf("page 3 differs with and without a filter:\n%s\n%s", plain, filtered)
	}
	// A bulk delete deletes max_page entities per request and says to
	// repeat it while more remain.
	var deleted int
	for n := 1; ; n++ {
		rec := f.must(200, req{method: "DELETE", path: "/compute/"})
		deleted += len(jsonBody(t, rec)["locations"].([]any))
		link := rec.Header().Get("Link")
		if link == "" {
			break
		}
		if link != `</compute/>; rel="next"` || n > 3 {
			t.Fatalf("request %d: Link = %q", n, link)
		}
	}
	if ids := f.listAll("/compute/"); len(ids) != 0 || deleted != 120 {
		t.Errorf("%d computes left after repeating DELETE /compute/, %d deleted", len(ids), deleted)
	}
}

func TestCursorPaging(t *testing.T) {
	f := newFixture(t)
	for i := range 7 {
		f.must(201, req{method: "PUT", path: fmt.Sprintf("/compute/c%d", i), body: `{"kind":"` + computeKind + `"}`})
	}
	rec := f.must(200, req{method: "GET", path: "/compute/?after=/compute/c3&number=2"})
	body := rec.Body.String()
	if !strings.Contains(body, `"id":"c4"`) || !strings.Contains(body, `"id":"c5"`) || strings.Contains(body, `"id":"c3"`) {
		t.Errorf("after c3: %s", body)
	}
	if ids := f.listAll("/compute/?number=3"); len(ids) != 7 {
		t.Errorf("walking with cursors: %v", ids)
	}
	f.must(400, req{method: "GET", path: "/compute/?after=c3"})
	f.must(400, req{method: "GET", path: "/compute/?after=/compute/c3&page=2"})
}

// An entity lists the actions its provider implements and its state allows
// (an online storage offers offline, not online); one the model has
// and the provider lacks is a 501, one the model lacks a 404.
func TestOfferedActions(t *testing.T) {
	f := newFixture(t)
	rec := f.must(201, req{method: "PUT", path: "/storage/s1", body: `{"kind":"` + storageKind + `","attributes":{"occi.storage.size":1}}`})
	actions := fmt.Sprint(jsonBody(t, rec)["actions"])
	if !strings.Contains(actions, "#offline") || strings.Contains(actions, "#online") || strings.Contains(actions, "#backup") {
		t.Errorf("storage actions on the dummy: %s", actions)
	}
	if rec := f.do(req{method: "POST", path: "/storage/s1?action=backup", body: `{"action":"http://schemas.ogf.org/occi/infrastructure/storage/action#backup"}`}); rec.Code != 501 {
		t.Errorf("backup on the dummy: %d %s", rec.Code, rec.Body)
	}
	if rec := f.do(req{method: "POST", path: "/storage/s1?action=backup"}); rec.Code != 501 {
		t.Errorf("backup by term on the dummy: %d %s", rec.Code, rec.Body)
	}
	if rec := f.do(req{method: "POST", path: "/storage/s1?action=defrag"}); rec.Code != 404 {
		t.Errorf("an action nobody defines: %d %s", rec.Code, rec.Body)
	}
}
