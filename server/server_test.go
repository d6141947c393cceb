package server

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocni/ocni/backends"
	"github.com/ocni/ocni/backends/dummy"
	"github.com/ocni/ocni/engine"
	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/registry"
	"github.com/ocni/ocni/store"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

type fixture struct {
	t               testing.TB
	opts            fixtureOptions
	srv             *Server
	reg             *registry.Registry
	eng             *engine.Engine
	db              *store.DB
	providers       map[string]backends.Provider
	providerOptions map[string]any
	path            string
	logs            *bytes.Buffer
}

// fixtureOptions vary the fixture: benchmarks ask for larger pages and
// throw the request log away, so that it does not grow with b.N.
type fixtureOptions struct {
	maxPage     int
	discardLogs bool
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	return newFixtureWith(t, fixtureOptions{maxPage: 50})
}

func newFixtureWith(t testing.TB, opts fixtureOptions) *fixture {
	t.Helper()
	f := &fixture{t: t, opts: opts, path: filepath.Join(t.TempDir(), "ocni.db")}
	f.open()
	t.Cleanup(func() { _ = f.db.Close() })
	return f
}

// open (re)opens the data file and builds a server on it, as a restart of
// the process would.
func (f *fixture) open() {
	f.t.Helper()
	db, err := store.Open(f.path)
	if err != nil {
		f.t.Fatal(err)
	}
	f.logs = &bytes.Buffer{}
	var logOut io.Writer = f.logs
	if f.opts.discardLogs {
		logOut = io.Discard
	}
	logger := slog.New(slog.NewJSONHandler(logOut, nil))
	reg, err := registry.New(db, registry.Options{
		Providers: []string{"dummy", "lab"},
		Defaults: map[string]string{
			occi.ComputeKindID: "dummy", occi.StorageKindID: "dummy", occi.NetworkKindID: "dummy",
			occi.NetworkInterfaceID: "dummy", occi.StorageLinkKindID: "dummy",
		},
		Logger: logger,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	if f.providers == nil {
		// The providers are the VIM: they outlive a restart of the server.
		f.providers = map[string]backends.Provider{}
		for _, name := range []string{"dummy", "lab"} {
			p, err := backends.Open(name, dummy.DriverName, f.providerOptions)
			if err != nil {
				f.t.Fatal(err)
			}
			f.providers[name] = p
		}
	}
	f.db, f.reg = db, reg
	f.eng = engine.New(reg, db, engine.Options{Providers: f.providers, MaxPage: f.opts.maxPage, Logger: logger, DefaultProvider: "dummy"})
	f.srv = New(Config{Engine: f.eng, BodyLimit: 64 << 10, Logger: logger})
}

func (f *fixture) restart() {
	f.t.Helper()
	if err := f.db.Close(); err != nil {
		f.t.Fatal(err)
	}
	f.open()
}

type req struct {
	method, path string
	header       map[string]string
	body         string
}

func (f *fixture) do(r req) *httptest.ResponseRecorder {
	f.t.Helper()
	return f.serve(r)
}

// serve runs one request; it is what benchmarks time, so it does no more
// than a client's request needs.
func (f *fixture) serve(r req) *httptest.ResponseRecorder {
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr := httptest.NewRequest(r.method, r.path, body)
	if r.body != "" {
		hr.Header.Set("Content-Type", "application/occi+json")
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, hr)
	return rec
}

// problem decodes an error answer, failing the test when it is not one.
func problem(t testing.TB, rec *httptest.ResponseRecorder) (code, message string) {
	t.Helper()
	var p struct {
		Status    int    `json:"status"`
		Code      string `json:"code"`
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("error body is not JSON: %v: %s", err, rec.Body)
	}
	if p.Status != rec.Code || p.Message == "" || p.RequestID == "" {
		t.Errorf("error body incomplete for status %d: %s", rec.Code, rec.Body)
	}
	return p.Code, p.Message
}

const (
	computeID = "http://schemas.ogf.org/occi/infrastructure#compute"
	goldBody  = `{"mixins":[{"scheme":"http://example.com/occi/tags#","term":"gold","title":"Gold tier",
	  "location":"/tags/gold/","applies":["http://schemas.ogf.org/occi/infrastructure#compute"],
	  "attributes":{"com.example.sla":{"mutable":true,"required":false,"type":"number","default":99.9,"description":"SLA in percent"}}}]}`
	vmBody = `{"kinds":[{"scheme":"http://example.com/occi#","term":"vm","title":"Custom VM",
	  "parent":"http://schemas.ogf.org/occi/infrastructure#compute","location":"/vm/",
	  "attributes":{"com.example.vm.flavour":{"mutable":true,"required":true,"type":"string","pattern":"tiny|huge"}},
	  "actions":["http://example.com/occi/action#reboot"]}],
	  "actions":[{"scheme":"http://example.com/occi/action#","term":"reboot","title":"Reboot",
	  "attributes":{"force":{"mutable":true,"required":false,"type":"boolean","default":false}}}]}`
)

// TestProtocol runs every status the query interface can answer.
func TestProtocol(t *testing.T) {
	tests := []struct {
		name   string
		setup  []req
		req    req
		status int
		code   string // for errors
		want   string // substring of the body
	}{
		{name: "query interface", req: req{method: "GET", path: "/-/"}, status: 200, want: `"term":"compute"`},
		{name: "well-known alias", req: req{method: "GET", path: "/.well-known/org/ogf/occi/-/"}, status: 200, want: `"term":"storagelink"`},
		{name: "HEAD", req: req{method: "HEAD", path: "/-/"}, status: 200},
		{name: "filter by query parameter", req: req{method: "GET", path: "/-/?category=" + escape(computeID)}, status: 200, want: `"kinds":[{"term":"compute"`},
		{name: "filter by unknown category", req: req{method: "GET", path: "/-/?category=" + escape("http://example.com/x#typo")}, status: 404, code: "NotFound", want: "typo"},
		{name: "filter by malformed category", req: req{method: "GET", path: "/-/?category=compute"}, status: 400, code: "InvalidArgument", want: "category[0]"},
		{name: "filter by Category header", req: req{method: "GET", path: "/-/", header: map[string]string{"Category": `compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind", ssh_key; scheme="http://schemas.ogf.org/occi/infrastructure/credentials#"`}},
			status: 200, want: `"mixins":[{"term":"ssh_key"`},
		{name: "Category header without scheme", req: req{method: "GET", path: "/-/", header: map[string]string{"Category": `compute`}}, status: 400, code: "InvalidArgument", want: "no scheme"},
		{name: "filter by JSON body", req: req{method: "GET", path: "/-/", body: `{"actions":[{"scheme":"http://schemas.ogf.org/occi/infrastructure/compute/action#","term":"stop"}]}`},
			status: 200, want: `"kinds":[],"mixins":[],"actions":[{"term":"stop"`},
		{name: "add", req: req{method: "POST", path: "/-/", body: goldBody}, status: 200, want: `"term":"gold"`},
		{name: "add twice", setup: []req{{method: "POST", path: "/-/", body: goldBody}}, req: req{method: "POST", path: "/-/", body: goldBody}, status: 409, code: "AlreadyExists", want: "already registered"},
		{name: "add over a builtin location", req: req{method: "POST", path: "/-/", body: `{"mixins":[{"scheme":"http://e.com/#","term":"x","location":"/compute/"}]}`}, status: 409, code: "AlreadyExists", want: "/compute/"},
		{name: "add at the query interface", req: req{method: "POST", path: "/-/", body: `{"mixins":[{"scheme":"http://e.com/#","term":"x","location":"/-/"}]}`}, status: 409, code: "Conflict", want: "reserves"},
		{name: "add with unknown parent", req: req{method: "POST", path: "/-/", body: `{"kinds":[{"scheme":"http://e.com/#","term":"x","parent":"http://e.com/#y","location":"/x/"}]}`}, status: 400, code: "InvalidArgument", want: "parent"},
		{name: "add with reserved attribute", req: req{method: "POST", path: "/-/", body: `{"mixins":[{"scheme":"http://e.com/#","term":"x","location":"/x/","attributes":{"occi.x":{}}}]}`}, status: 400, code: "InvalidArgument", want: "reserved for OGF"},
		{name: "add under the OGF scheme", req: req{method: "POST", path: "/-/", body: `{"mixins":[{"scheme":"http://schemas.ogf.org/occi/infrastructure#","term":"x","location":"/x/"}]}`}, status: 403, code: "Forbidden", want: "reserved for OGF"},
		{name: "add without body", req: req{method: "POST", path: "/-/"}, status: 400, code: "InvalidArgument", want: "no body"},
		{name: "add nothing", req: req{method: "POST", path: "/-/", body: `{}`}, status: 400, code: "InvalidArgument", want: "names no kind"},
		{name: "replace", setup: []req{{method: "POST", path: "/-/", body: goldBody}},
			req:    req{method: "PUT", path: "/-/", body: strings.Replace(goldBody, "Gold tier", "Gold", 1)},
			status: 200, want: `"title":"Gold"`},
		{name: "replace unknown", req: req{method: "PUT", path: "/-/", body: goldBody}, status: 404, code: "NotFound", want: "no such category"},
		{name: "replace builtin", req: req{method: "PUT", path: "/-/", body: `{"kinds":[{"scheme":"http://schemas.ogf.org/occi/infrastructure#","term":"compute","parent":"http://schemas.ogf.org/occi/core#resource","location":"/compute/"}]}`},
			status: 403, code: "Forbidden", want: "built-ins cannot be replaced"},
		{name: "remove by body", setup: []req{{method: "POST", path: "/-/", body: goldBody}},
			req: req{method: "DELETE", path: "/-/", body: `{"mixins":[{"scheme":"http://example.com/occi/tags#","term":"gold"}]}`}, status: 200, want: `"term":"gold"`},
		{name: "remove by parameter", setup: []req{{method: "POST", path: "/-/", body: goldBody}},
			req: req{method: "DELETE", path: "/-/?category=" + escape("http://example.com/occi/tags#gold")}, status: 200, want: `"term":"gold"`},
		{name: "remove builtin", req: req{method: "DELETE", path: "/-/?category=" + escape(computeID)}, status: 403, code: "Forbidden", want: "OGF built-in"},
		{name: "remove unknown", req: req{method: "DELETE", path: "/-/?category=" + escape("http://e.com/#nope")}, status: 404, code: "NotFound", want: "nope"},
		{name: "remove nothing", req: req{method: "DELETE", path: "/-/"}, status: 400, code: "InvalidArgument", want: "name the categories"},
		{name: "remove an action in use", setup: []req{{method: "POST", path: "/-/", body: vmBody}},
			req: req{method: "DELETE", path: "/-/?category=" + escape("http://example.com/occi/action#reboot")}, status: 409, code: "Conflict", want: "kind http://example.com/occi#vm lists it"},
		{name: "bind, ocni form", req: req{method: "PUT", path: "/-/", body: `{"providers":[{"kind":"` + computeID + `","provider":"lab"}]}`}, status: 200, want: `"x-ocni-provider":"lab"`},
		{name: "bind, pyOCNI form", req: req{method: "PUT", path: "/-/", body: `{"providers":[{"OCCI_ID":"` + computeID + `","Provider":{"local":["lab"],"remote":[]}}]}`}, status: 200, want: `"x-ocni-provider":"lab"`},
		{name: "bind to a remote", req: req{method: "PUT", path: "/-/", body: `{"providers":[{"OCCI_ID":"` + computeID + `","Provider":{"local":[],"remote":["http://peer/"]}}]}`}, status: 400, code: "InvalidArgument", want: "remote providers"},
		{name: "bind to two locals", req: req{method: "PUT", path: "/-/", body: `{"providers":[{"OCCI_ID":"` + computeID + `","Provider":{"local":["lab","dummy"]}}]}`}, status: 400, code: "InvalidArgument", want: "exactly one provider"},
		{name: "bind to an unknown provider", req: req{method: "PUT", path: "/-/", body: `{"providers":[{"kind":"` + computeID + `","provider":"aws"}]}`}, status: 400, code: "InvalidArgument", want: `provider "aws" is not configured`},
		{name: "bind through the kind extension", req: req{method: "POST", path: "/-/", body: `{"kinds":[{"scheme":"http://e.com/#","term":"vm","parent":"` + computeID + `","location":"/vm/","x-ocni-provider":"lab"}]}`}, status: 200, want: `"x-ocni-provider":"lab"`},
		{name: "newer OCCI client", req: req{method: "GET", path: "/-/", header: map[string]string{"User-Agent": "occi-cli/9 OCCI/1.3"}}, status: 501, code: "Unimplemented", want: "OCCI/1.3"},
		{name: "much newer OCCI client", req: req{method: "GET", path: "/-/", header: map[string]string{"User-Agent": "OCCI/2.0"}}, status: 501, code: "Unimplemented"},
		{name: "older OCCI client", req: req{method: "GET", path: "/-/", header: map[string]string{"User-Agent": "rOCCI-cli/4.3.0 OCCI/1.1", "Accept": "application/occi+json"}}, status: 200},
		{name: "unacceptable Accept", req: req{method: "GET", path: "/-/", header: map[string]string{"Accept": "text/html"}}, status: 406, code: "NotAcceptable", want: "application/occi+json"},
		{name: "refused by q=0", req: req{method: "GET", path: "/-/", header: map[string]string{"Accept": "application/occi+json;q=0"}}, status: 406, code: "NotAcceptable"},
		{name: "plain JSON accepted", req: req{method: "GET", path: "/-/", header: map[string]string{"Accept": "application/json"}}, status: 200},
		{name: "wildcards", req: req{method: "GET", path: "/-/", header: map[string]string{"Accept": "text/html;q=0.9, application/*;q=0.5"}}, status: 200},
		{name: "unsupported Content-Type", req: req{method: "POST", path: "/-/", body: goldBody, header: map[string]string{"Content-Type": "text/xml"}}, status: 415, code: "UnsupportedMediaType", want: "text/xml"},
		{name: "unparseable Content-Type", req: req{method: "POST", path: "/-/", body: goldBody, header: map[string]string{"Content-Type": "/;;"}}, status: 415, code: "UnsupportedMediaType"},
		{name: "body over the limit", req: req{method: "POST", path: "/-/", body: `{"mixins":[{"title":"` + strings.Repeat("x", 70<<10) + `"}]}`}, status: 413, code: "TooLarge", want: "65536 bytes"},
		{name: "method not allowed", req: req{method: "PATCH", path: "/-/"}, status: 405, code: "MethodNotAllowed", want: "PATCH"},
		{name: "nothing there", req: req{method: "GET", path: "/nowhere/"}, status: 404, code: "NotFound", want: "/nowhere/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			for _, s := range tt.setup {
				if rec := f.do(s); rec.Code != 200 {
					t.Fatalf("setup %s %s: %d %s", s.method, s.path, rec.Code, rec.Body)
				}
			}
			rec := f.do(tt.req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			if got := rec.Header().Get("Server"); got != "ocni/"+Version+" OCCI/1.2 OCCI-CRTP/1.1" {
				t.Errorf("Server header %q", got)
			}
			if rec.Header().Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id")
			}
			if ct := rec.Header().Get("Content-Type"); tt.req.method != "HEAD" && ct != "application/occi+json" {
				t.Errorf("Content-Type %q", ct)
			}
			if tt.code != "" {
				code, msg := problem(t, rec)
				if code != tt.code || !strings.Contains(msg, tt.want) {
					t.Errorf("error %s %q, want %s containing %q", code, msg, tt.code, tt.want)
				}
			} else if !strings.Contains(rec.Body.String(), tt.want) {
				t.Errorf("body does not contain %q: %s", tt.want, rec.Body)
			}
		})
	}
}

func escape(id string) string { return strings.ReplaceAll(id, "#", "%23") }

// Malformed category bodies: every one is a 400 naming what is wrong and
// where, none is a 5xx, and none changes the registry.
func TestBadCategoryBodies(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"not JSON", `kinds: []`, "not valid JSON"},
		{"truncated", `{"kinds": [`, "not valid JSON"},
		{"array at top", `[{"term": "x"}]`, "object"},
		{"string at top", `"kinds"`, "object"},
		{"unknown top-level member", `{"kinds": [], "categories": []}`, "categories"},
		{"kinds not an array", `{"kinds": {"term": "x"}}`, "/kinds"},
		{"kind without term", `{"kinds": [{"scheme": "http://e.com/#", "parent": "` + occi.ResourceKindID + `", "location": "/x/"}]}`, "term"},
		{"kind without scheme", `{"kinds": [{"term": "x", "parent": "` + occi.ResourceKindID + `", "location": "/x/"}]}`, "scheme"},
		{"term not a string", `{"kinds": [{"term": 7, "scheme": "http://e.com/#"}]}`, "/kinds/0/term"},
		{"misspelt member", `{"kinds": [{"term": "x", "scheme": "http://e.com/#", "atributes": {}}]}`, "atributes"},
		{"OCCI 1.1 related", `{"mixins": [{"term": "x", "scheme": "http://e.com/#", "related": []}]}`, "related"},
		{"attribute type integer", `{"mixins": [{"term": "x", "scheme": "http://e.com/#", "location": "/x/", "attributes": {"com.e.a": {"type": "integer"}}}]}`, "/mixins/0/attributes/com.e.a/type"},
		{"attribute unknown member", `{"mixins": [{"term": "x", "scheme": "http://e.com/#", "location": "/x/", "attributes": {"com.e.a": {"min": 1}}}]}`, "min"},
		{"pyOCNI nested attributes", `{"mixins": [{"term": "x", "scheme": "http://e.com/#", "location": "/x/", "attributes": {"com": {"e": {"type": "string"}}}}]}`, "/mixins/0/attributes/com"},
		{"pattern a number", `{"mixins": [{"term": "x", "scheme": "http://e.com/#", "location": "/x/", "attributes": {"com.e.a": {"pattern": 5}}}]}`, "pattern"},
		{"pattern not a regexp", `{"mixins": [{"term": "x", "scheme": "http://e.com/#", "location": "/x/", "attributes": {"com.e.a": {"pattern": "("}}}]}`, "regular expression"},
		{"default of the wrong type", `{"mixins": [{"term": "x", "scheme": "http://e.com/#", "location": "/x/", "attributes": {"com.e.a": {"type": "number", "default": "many"}}}]}`, "default"},
		{"actions not an array", `{"kinds": [{"term": "x", "scheme": "http://e.com/#", "actions": "start"}]}`, "/kinds/0/actions"},
		{"bad term", `{"mixins": [{"term": "a b", "scheme": "http://e.com/#", "location": "/x/"}]}`, "term"},
		{"scheme without #", `{"mixins": [{"term": "x", "scheme": "http://e.com/", "location": "/x/"}]}`, "'#'"},
		{"relative location", `{"mixins": [{"term": "x", "scheme": "http://e.com/#", "location": "x/"}]}`, "location"},
		{"location with ..", `{"mixins": [{"term": "x", "scheme": "http://e.com/#", "location": "/a/../b/"}]}`, "location"},
		{"mixin without location", `{"mixins": [{"term": "x", "scheme": "http://e.com/#"}]}`, "location"},
		{"providers item without provider", `{"providers": [{"kind": "` + computeID + `"}]}`, "provider"},
		{"providers not an array", `{"providers": {"kind": "` + computeID + `"}}`, "/providers"},
		{"depends not an array", `{"mixins": [{"term": "x", "scheme": "http://e.com/#", "location": "/x/", "depends": "` + occi.OSTplMixinID + `"}]}`, "/mixins/0/depends"},
		{"mixin depending on itself", `{"mixins": [{"term": "x", "scheme": "http://e.com/#", "location": "/x/", "depends": ["http://e.com/#x"]}]}`, "itself"},
		{"invalid UTF-8", "{\"mixins\": [{\"term\": \"x\xff\", \"scheme\": \"http://e.com/#\"}]}", "UTF-8"},
	}
	f := newFixture(t)
	before := f.do(req{method: "GET", path: "/-/"}).Body.String()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.do(req{method: "POST", path: "/-/", body: tt.body})
			if rec.Code != 400 {
				t.Fatalf("status %d, want 400; body %s", rec.Code, rec.Body)
			}
			code, msg := problem(t, rec)
			if code != "InvalidArgument" || !strings.Contains(msg, tt.want) {
				t.Errorf("error %s %q, want InvalidArgument naming %q", code, msg, tt.want)
			}
		})
	}
	if after := f.do(req{method: "GET", path: "/-/"}).Body.String(); after != before {
		t.Error("rejected bodies changed the query interface")
	}
}

// The operator's round trip: a user kind and mixin are shown with exactly
// the definitions sent, survive a restart, and can be removed.
func TestUserCategoriesRoundTrip(t *testing.T) {
	f := newFixture(t)
	for _, body := range []string{goldBody, vmBody} {
		if rec := f.do(req{method: "POST", path: "/-/", body: body}); rec.Code != 200 {
			t.Fatalf("POST: %d %s", rec.Code, rec.Body)
		}
	}
	want := map[string]string{
		"http://example.com/occi/tags#gold":     goldBody,
		"http://example.com/occi#vm":            vmBody,
		"http://example.com/occi/action#reboot": vmBody,
	}
	check := func(stage string) {
		t.Helper()
		rec := f.do(req{method: "GET", path: "/-/"})
		var got map[string][]map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		for id, body := range want {
			var sent map[string][]map[string]any
			_ = json.Unmarshal([]byte(body), &sent)
			sentDef, gotDef := findCategory(sent, id), findCategory(got, id)
			if gotDef == nil {
				t.Fatalf("%s: %s missing from GET /-/", stage, id)
			}
			delete(gotDef, "x-ocni-provider")
			a, _ := json.Marshal(sentDef)
			b, _ := json.Marshal(gotDef)
			if !bytes.Equal(a, b) {
				t.Errorf("%s: %s\n got %s\nsent %s", stage, id, b, a)
			}
		}
	}
	check("after POST")
	f.restart()
	check("after restart")
	rec := f.do(req{method: "DELETE", path: "/-/", body: `{"kinds":[{"scheme":"http://example.com/occi#","term":"vm"}],
	  "mixins":[{"scheme":"http://example.com/occi/tags#","term":"gold"}],
	  "actions":[{"scheme":"http://example.com/occi/action#","term":"reboot"}]}`})
	if rec.Code != 200 {
		t.Fatalf("DELETE: %d %s", rec.Code, rec.Body)
	}
	f.restart()
	if body := f.do(req{method: "GET", path: "/-/"}).Body.String(); strings.Contains(body, "example.com") {
		t.Error("removed categories are back after restart")
	}
}

func findCategory(doc map[string][]map[string]any, id string) map[string]any {
	for _, list := range doc {
		for _, c := range list {
			if c["scheme"].(string)+c["term"].(string) == id {
				return c
			}
		}
	}
	return nil
}

func TestBindingSurvivesRestart(t *testing.T) {
	f := newFixture(t)
	rec := f.do(req{method: "PUT", path: "/-/", body: `{"providers":[{"kind":"` + computeID + `","provider":"lab"}]}`})
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	f.restart()
	body := f.do(req{method: "GET", path: "/-/?category=" + escape(computeID)}).Body.String()
	if !strings.Contains(body, `"x-ocni-provider":"lab"`) {
		t.Errorf("binding lost across restart: %s", body)
	}
}

func TestETag(t *testing.T) {
	f := newFixture(t)
	first := f.do(req{method: "GET", path: "/-/"})
	etag := first.Header().Get("Etag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if rec := f.do(req{method: "GET", path: "/-/", header: map[string]string{"If-None-Match": etag}}); rec.Code != 304 || rec.Body.Len() != 0 {
		t.Errorf("If-None-Match with the current ETag: %d, %d bytes", rec.Code, rec.Body.Len())
	}
	f.do(req{method: "POST", path: "/-/", body: goldBody})
	rec := f.do(req{method: "GET", path: "/-/", header: map[string]string{"If-None-Match": etag}})
	if rec.Code != 200 || rec.Header().Get("Etag") == etag {
		t.Errorf("after a change: %d, ETag %s (was %s)", rec.Code, rec.Header().Get("Etag"), etag)
	}
}

func TestRequestIDAndLogLine(t *testing.T) {
	f := newFixture(t)
	rec := f.do(req{method: "GET", path: "/-/", header: map[string]string{"X-Request-Id": "abc-123"}})
	if got := rec.Header().Get("X-Request-Id"); got != "abc-123" {
		t.Errorf("request id not echoed: %q", got)
	}
	rec = f.do(req{method: "GET", path: "/-/", header: map[string]string{"X-Request-Id": "bad id\x01"}})
	if got := rec.Header().Get("X-Request-Id"); got == "" || strings.ContainsAny(got, " \x01") {
		t.Errorf("unsafe request id kept: %q", got)
	}
	lines := strings.Split(strings.TrimSpace(f.logs.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want one log line per request, got %d: %s", len(lines), f.logs)
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{"msg": "request", "id": "abc-123", "method": "GET", "path": "/-/", "status": float64(200)} {
		if line[k] != v {
			t.Errorf("log %s = %v, want %v", k, line[k], v)
		}
	}
}

func TestPanicBecomes500(t *testing.T) {
	f := newFixture(t)
	f.srv.echo.GET("/boom", f.srv.wrap(func(*request) (*reply, error) { panic("kaboom") }))
	rec := f.do(req{method: "GET", path: "/boom"})
	if rec.Code != 500 {
		t.Fatalf("status %d", rec.Code)
	}
	code, msg := problem(t, rec)
	id := rec.Header().Get("X-Request-Id")
	if code != "Internal" || !strings.Contains(msg, id) || strings.Contains(msg, "kaboom") {
		t.Errorf("500 body %s %q: should name the request id and hide the panic", code, msg)
	}
	if !strings.Contains(f.logs.String(), "kaboom") || !strings.Contains(f.logs.String(), id) {
		t.Error("the panic and its request id are not logged")
	}
	if rec := f.do(req{method: "GET", path: "/-/"}); rec.Code != 200 {
		t.Error("server does not serve after a panic")
	}
}

// The statuses echo itself produces come back to the codes that render
// them again (occi/status_test.go checks the table itself).
func TestStatusTable(t *testing.T) {
	for _, st := range []int{404, 405, 413, 415, 401, 403, 503} {
		if got := statusOf(codeOfStatus(st)); got != st {
			t.Errorf("echo status %d comes back as %d", st, got)
		}
	}
}

func TestGoldenQueryInterface(t *testing.T) {
	f := newFixture(t)
	f.do(req{method: "POST", path: "/-/", body: goldBody})
	f.do(req{method: "POST", path: "/-/", body: vmBody})
	for _, g := range []struct{ file, path string }{
		{"query-interface.json", "/-/"},
		{"query-interface-compute.json", "/-/?category=" + escape(computeID)},
		{"error-not-found.json", "/-/?category=" + escape("http://e.com/#typo")},
	} {
		rec := f.do(req{method: "GET", path: g.path, header: map[string]string{"X-Request-Id": "golden"}})
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, rec.Body.Bytes(), "", "  "); err != nil {
			t.Fatal(err)
		}
		golden(t, g.file, pretty.Bytes())
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n%s", name, got)
	}
}

func BenchmarkQueryInterface(b *testing.B) {
	db, err := store.Open(filepath.Join(b.TempDir(), "ocni.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	reg, err := registry.New(db, registry.Options{Providers: []string{"dummy"}})
	if err != nil {
		b.Fatal(err)
	}
	srv := New(Config{Engine: engine.New(reg, db, engine.Options{}), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	for _, bc := range []struct{ name, path string }{
		{"all", "/-/"},
		{"filtered", "/-/?category=" + escape(computeID)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				srv.ServeHTTP(rec, httptest.NewRequest("GET", bc.path, nil).WithContext(context.Background()))
				if rec.Code != 200 {
					b.Fatal(rec.Code)
				}
			}
		})
	}
}
