package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// refused runs a request that must be refused with status and a message
// saying each of subs, and must change nothing.
func (f *fixture) refused(status int, r req, subs ...string) {
	f.t.Helper()
	before := f.dump()
	rec := f.do(r)
	if rec.Code != status {
		f.t.Errorf("%s %.80s: %d, want %d: %s", r.method, r.path, rec.Code, status, rec.Body)
		return
	}
	_, msg := problem(f.t, rec)
	for _, s := range subs {
		if !strings.Contains(msg, s) {
			f.t.Errorf("%s %.80s: %q does not say %q", r.method, r.path, msg, s)
		}
	}
	if after := f.dump(); after != before {
		f.t.Errorf("%s %.80s changed the store", r.method, r.path)
	}
}

// A pattern may refer only within itself: registering one that names a URL
// or a file is a 400 naming the attribute and the reference, and the server
// fetches nothing (the listener sees no request).
func TestPatternsFetchNothing(t *testing.T) {
	var hits atomic.Int32
	listener := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(`{"type":"string"}`))
	}))
	defer listener.Close()
	f := newFixture(t)
	mixin := func(pattern string) string {
		return `{"mixins":[{"scheme":"http://example.com/p#","term":"p","location":"/p/","applies":["` + computeKind + `"],
		  "attributes":{"com.example.p":{"type":"string","pattern":` + pattern + `}}}]}`
	}
	for _, ref := range []string{listener.URL + "/x", "file:///etc/hostname"} {
		f.refused(400, req{method: "POST", path: "/-/", body: mixin(`{"$ref":"` + ref + `"}`)}, "com.example.p", ref)
	}
	f.refused(400, req{method: "POST", path: "/-/", body: mixin(`{"id":"` + listener.URL + `/","$ref":"x"}`)}, "com.example.p", listener.URL)
	if n := hits.Load(); n != 0 {
		t.Errorf("the listener saw %d requests", n)
	}
	// A reference within the pattern works.
	f.must(200, req{method: "POST", path: "/-/", body: mixin(`{"$ref":"#/definitions/x","definitions":{"x":{"type":"string","maxLength":3}}}`)})
	f.must(201, req{method: "PUT", path: "/compute/ok", body: `{"kind":"` + computeKind + `","mixins":["http://example.com/p#p"],"attributes":{"com.example.p":"abc"}}`})
	f.refused(400, req{method: "PUT", path: "/compute/long", body: `{"kind":"` + computeKind + `","mixins":["http://example.com/p#p"],"attributes":{"com.example.p":"abcd"}}`}, "com.example.p")
	// It compiles again at restart, offline.
	f.restart()
	f.refused(400, req{method: "PUT", path: "/compute/long", body: `{"kind":"` + computeKind + `","mixins":["http://example.com/p#p"],"attributes":{"com.example.p":"abcd"}}`}, "com.example.p")
}

// The OGF's scheme space is reserved in every spelling, and so are "occi."
// attribute names in any case.
func TestModelReservations(t *testing.T) {
	f := newFixture(t)
	for _, scheme := range []string{"HTTP://SCHEMAS.OGF.ORG/occi/infrastructure#", "https://schemas.ogf.org/occi/infrastructure#", "http://schemas.ogf.org/OCCI/infrastructure#"} {
		f.refused(403, req{method: "POST", path: "/-/", body: `{"mixins":[{"scheme":"` + scheme + `","term":"m","location":"/m/"}]}`}, "reserved for OGF")
		f.refused(403, req{method: "POST", path: "/-/", body: `{"kinds":[{"scheme":"` + scheme + `","term":"compute","parent":"` + computeKind + `","location":"/c2/"}]}`}, "reserved for OGF")
	}
	f.refused(400, req{method: "POST", path: "/-/", body: `{"kinds":[{"scheme":"http://example.com/k#","term":"k","parent":"` + computeKind + `","location":"/k/",
	  "attributes":{"OCCI.compute.cores":{"type":"number"}}}]}`}, `"OCCI.compute.cores"`, "reserved")
	// A kind deeper than an entity can be served is refused when
	// registered, not when instantiated.
	var kinds []string
	parent := "http://schemas.ogf.org/occi/core#resource"
	for i := range 64 {
		kinds = append(kinds, `{"scheme":"http://example.com/deep#","term":"d`+strconv.Itoa(i)+`","parent":"`+parent+`","location":"/d`+strconv.Itoa(i)+`/"}`)
		parent = "http://example.com/deep#d" + strconv.Itoa(i)
	}
	f.refused(400, req{method: "POST", path: "/-/", body: `{"kinds":[` + strings.Join(kinds, ",") + `]}`}, "more than 64 ancestors")
	f.must(200, req{method: "POST", path: "/-/", body: `{"kinds":[` + strings.Join(kinds[:63], ",") + `]}`})
	f.must(201, req{method: "POST", path: "/d62/", body: `{"kind":"http://example.com/deep#d62"}`})
}

// Link ends: GFD.224's kinds, no self-loop, and URIs that are URIs.
func TestLinkEndValidation(t *testing.T) {
	f := newFixture(t)
	f.seed()
	link := func(source, target string) req {
		return req{method: "POST", path: "/networkinterface/", body: `{"kind":"` + nicKind + `","source":"` + source + `","target":` + strconv.Quote(target) + `,"attributes":{"occi.networkinterface.interface":"eth9"}}`}
	}
	f.refused(400, link("/compute/vm1", "/storage/disk1"), "its target /storage/disk1 is a "+storageKind)
	f.refused(400, link("/network/net1", "/storage/disk1"), "its source /network/net1 is a "+networkKind)
	f.refused(400, link("/compute/vm1", "/compute/vm1"), "both /compute/vm1")
	f.refused(400, req{method: "PUT", path: "/storagelink/sl9", body: `{"kind":"` + infra + `storagelink","source":"/compute/vm1","target":"/network/net1","attributes":{"occi.storagelink.deviceid":"vdz"}}`},
		"joins a "+computeKind+" to a "+storageKind)
	// The review's injection, and an http URL with no host.
	f.refused(400, link("/compute/vm1", "http://x/>; rel=\"r\"\nX-OCCI-Attribute: occi.compute.state=\"error\"\nLink: <http://y"), "which a URI cannot hold")
	f.refused(400, link("/compute/vm1", "http://"), "no host")
	rec := f.must(200, req{method: "GET", path: "/compute/vm1", header: map[string]string{"Accept": "text/plain"}})
	if strings.Contains(rec.Body.String(), `state="error"`) {
		t.Errorf("an injected attribute shows:\n%s", rec.Body)
	}
}

// PUT follows POST's id rule.
func TestPutFollowsTheIDRule(t *testing.T) {
	f := newFixture(t)
	body := `{"kind":"` + computeKind + `"}`
	for _, id := range []string{strings.Repeat("a", 129), "-x", ".x", "~x"} {
		f.refused(400, req{method: "PUT", path: "/lab/" + id, body: body}, "1 to 128")
		f.refused(400, req{method: "POST", path: "/compute/", body: `{"kind":"` + computeKind + `","id":"` + id + `"}`}, "1 to 128")
	}
	f.must(201, req{method: "PUT", path: "/lab/" + strings.Repeat("a", 128), body: body})
}

// Query parameters read once are given once; a page past any sane offset
// is a 400, not page 1.
func TestQueryParameters(t *testing.T) {
	f := newFixture(t)
	f.seed()
	f.refused(400, req{method: "GET", path: "/compute/?page=9223372036854775807&number=50"}, "?after=")
	f.refused(400, req{method: "GET", path: "/compute/?page=99999999999999999999&number=50"}, "page")
	f.refused(400, req{method: "POST", path: "/compute/?action=stop&action=start"}, "action is given 2 times")
	f.refused(400, req{method: "POST", path: "/compute/vm1?action=stop&action=start"}, "action is given 2 times")
	f.refused(400, req{method: "GET", path: "/compute/?page=1&page=2"}, "page is given 2 times")
	f.refused(400, req{method: "GET", path: "/compute/?after=/compute/a&after=/compute/b"}, "after is given 2 times")
	f.refused(400, req{method: "POST", path: "/compute/?action=stop&page=2"}, "not ?page=")
	if state := attrsOf(t, f.must(200, req{method: "GET", path: "/compute/vm1"}))["occi.compute.state"]; state != "active" {
		t.Errorf("a refused action changed the compute: %v", state)
	}
}

// The review's reproducers for template squatting, on the HTTP interface:
// with the dummy's templates registered, a client can neither take a
// template's location nor delete a template.
func TestTemplateSquatting(t *testing.T) {
	f := newFixture(t)
	f.providerOptions = map[string]any{"os_templates": []any{"ubuntu24"}}
	f.providers = nil
	f.restart()
	if _, err := f.eng.RegisterTemplates(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.refused(403, req{method: "POST", path: "/-/", body: `{"mixins":[{"scheme":"http://evil.example.org/t#","term":"ubuntu24","location":"/templates/dummy/os/ubuntu24/"}]}`},
		"reserved for the providers' templates")
	f.refused(403, req{method: "POST", path: "/-/", body: `{"mixins":[{"scheme":"http://evil.example.org/t#","term":"next","location":"/templates/dummy/os/next/"}]}`},
		"reserved for the providers' templates")
	f.refused(403, req{method: "DELETE", path: "/-/?category=" + escape("http://schemas.ocni.org/dummy/dummy/os_tpl#ubuntu24")}, "template of provider dummy")
	f.refused(403, req{method: "PUT", path: "/templates/x/vm", body: `{"kind":"` + computeKind + `"}`}, "reserved")
	f.must(201, req{method: "PUT", path: "/compute/vm", body: `{"kind":"` + computeKind + `","mixins":["http://schemas.ocni.org/dummy/dummy/os_tpl#ubuntu24"]}`})
}
