package server

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ocni/ocni/occi"
)

// The text renderings end to end: requests and answers in text/occi
// header fields, text/plain bodies and text/uri-list listings.

const (
	computeAction = "http://schemas.ogf.org/occi/infrastructure/compute/action#"
	textOCCI      = "text/occi"
	rocciCLI      = "rOCCI-cli/4.3.0 OCCI/1.1"
)

// occiHeaders is a text/occi request's header fields: no body at all.
func occiHeaders(fields map[string]string) map[string]string {
	h := map[string]string{"Content-Type": textOCCI, "Accept": textOCCI}
	for k, v := range fields {
		h[k] = v
	}
	return h
}

// wantHeader fails unless the answer's header field holds every one of subs.
func wantHeader(t *testing.T, rec *httptest.ResponseRecorder, name string, subs ...string) {
	t.Helper()
	// The exact spelling: the header must be written as the spec spells it.
	got := strings.Join(rec.Header()[name], ", ")
	for _, s := range subs {
		if !strings.Contains(got, s) {
			t.Errorf("%s header does not hold %s:\n%s", name, s, got)
		}
	}
}

// wantTextError fails unless the answer is a text error with the status,
// code and message part given.
func wantTextError(t *testing.T, rec *httptest.ResponseRecorder, status int, code string, subs ...string) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d: %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/plain" {
		t.Errorf("error Content-Type %q, want text/plain", ct)
	}
	body := rec.Body.String()
	if !strings.HasPrefix(body, code+": ") || !strings.HasSuffix(body, "\n") || strings.Count(body, "\n") != 1 {
		t.Errorf("error body %q is not one line %q", body, code+": ...")
	}
	for _, s := range subs {
		if !strings.Contains(body, s) {
			t.Errorf("error body %q does not mention %q", body, s)
		}
	}
}

// Create, read, act on and delete a compute with text/occi header fields
// only, as pyssf's and rOCCI's clients do.
func TestTextOCCILifecycle(t *testing.T) {
	f := newFixture(t)
	f.must(201, req{method: "PUT", path: "/network/lan", header: occiHeaders(map[string]string{
		"Category":         `network; scheme="` + infra + `"; class="kind", ipnetwork; scheme="http://schemas.ogf.org/occi/infrastructure/network#"; class="mixin"`,
		"X-OCCI-Attribute": `occi.network.address="10.0.0.0/24"`,
	})})

	// Create: the kind, a template, attributes, an inline link.
	rec := f.must(201, req{method: "POST", path: "/compute/", header: occiHeaders(map[string]string{
		"Category":         `compute; scheme="` + infra + `"; class="kind", medium; scheme="http://schemas.ogf.org/occi/infrastructure/resource_tpl#"; class="mixin"`,
		"X-OCCI-Attribute": `occi.core.id="vm-text", occi.core.title="text, and more", occi.compute.hostname="vm-text"`,
		"Link":             `</network/lan>; rel="` + networkKind + `"; category="` + nicKind + `"; occi.networkinterface.interface="eth0"`,
	})})
	if loc := rec.Header().Get("Location"); loc != "http://example.com/compute/vm-text" {
		t.Errorf("Location %q", loc)
	}
	if ct := rec.Header().Get("Content-Type"); ct != textOCCI || rec.Body.String() != "OK\n" {
		t.Errorf("text/occi answer: Content-Type %q, body %q", ct, rec.Body)
	}
	wantHeader(t, rec, "X-OCCI-Attribute", `occi.core.title="text, and more"`, "occi.compute.cores=2", `occi.compute.state="active"`)

	// Read: kind and mixin, action and inline links, attributes.
	rec = f.must(200, req{method: "GET", path: "/compute/vm-text", header: map[string]string{"Accept": textOCCI}})
	wantHeader(t, rec, "Category", `compute; scheme="`+infra+`"; class="kind"`, `medium; scheme="http://schemas.ogf.org/occi/infrastructure/resource_tpl#"; class="mixin"`)
	wantHeader(t, rec, "Link", `</compute/vm-text?action=stop>; rel="`+computeAction+`stop"`,
		`<http://example.com/network/lan>; rel="`+networkKind+`"; self="/networkinterface/`, `category="`+nicKind+`"`, `occi.networkinterface.interface="eth0"`)
	wantHeader(t, rec, "X-OCCI-Attribute", `occi.core.id="vm-text"`, `occi.compute.memory=2`)

	// Act: stop with a parameter, then start again.
	rec = f.do(req{method: "POST", path: "/compute/vm-text?action=stop", header: occiHeaders(map[string]string{
		"Category":         `stop; scheme="` + computeAction + `"; class="action"`,
		"X-OCCI-Attribute": `method="sideways"`,
	})})
	wantTextError(t, rec, 400, "InvalidArgument", "method", "sideways")
	rec = f.must(200, req{method: "POST", path: "/compute/vm-text?action=stop", header: occiHeaders(map[string]string{
		"Category":         `stop; scheme="` + computeAction + `"; class="action"`,
		"X-OCCI-Attribute": `method="graceful"`,
	})})
	wantHeader(t, rec, "X-OCCI-Attribute", `occi.compute.state="inactive"`)
	wantHeader(t, rec, "Link", `</compute/vm-text?action=start>; rel="`+computeAction+`start"`)
	rec = f.must(200, req{method: "POST", path: "/compute/vm-text?action=start", header: occiHeaders(map[string]string{
		"Category": `start; scheme="` + computeAction + `"; class="action"`,
	})})
	wantHeader(t, rec, "X-OCCI-Attribute", `occi.compute.state="active"`)

	// Update in part: a quoted number is a number for a number attribute.
	rec = f.must(200, req{method: "POST", path: "/compute/vm-text", header: occiHeaders(map[string]string{
		"X-OCCI-Attribute": `occi.compute.cores="4", occi.compute.memory=8.5`,
	})})
	wantHeader(t, rec, "X-OCCI-Attribute", "occi.compute.cores=4", "occi.compute.memory=8.5")

	// Delete.
	f.must(204, req{method: "DELETE", path: "/compute/vm-text", header: map[string]string{"Accept": textOCCI}})
	rec = f.do(req{method: "GET", path: "/compute/vm-text", header: map[string]string{"Accept": textOCCI}})
	wantTextError(t, rec, 404, "NotFound", "/compute/vm-text")
}

// The same story in text/plain bodies.
func TestTextPlainEntities(t *testing.T) {
	f := newFixture(t)
	plain := map[string]string{"Content-Type": "text/plain", "Accept": "text/plain"}
	rec := f.must(201, req{method: "PUT", path: "/compute/vm-plain", header: plain,
		body: "Category: compute; scheme=\"" + infra + "\"; class=\"kind\"\nX-OCCI-Attribute: occi.compute.cores=2\nX-OCCI-Attribute: occi.compute.hostname=\"vm-plain\"\n"})
	body := rec.Body.String()
	for _, want := range []string{
		"Category: compute; scheme=\"" + infra + "\"; class=\"kind\"\n",
		"Link: </compute/vm-plain?action=stop>; rel=\"" + computeAction + "stop\"\n",
		"X-OCCI-Attribute: occi.core.id=\"vm-plain\"\n",
		"X-OCCI-Attribute: occi.compute.cores=2\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("answer lacks %q:\n%s", want, body)
		}
	}
	f.must(200, req{method: "POST", path: "/compute/vm-plain?action=stop", header: plain,
		body: "Category: stop; scheme=\"" + computeAction + "\"; class=\"action\"\nX-OCCI-Attribute: method=\"acpioff\"\n"})
	// Malformed bodies are 400s that name the line and the part.
	for _, tc := range []struct{ body, want string }{
		{"Category: compute\n", `line 1: Category "compute" has no scheme`},
		{"Category: compute; scheme=\"" + infra + "\"; class=\"kind\"\nX-OCCI-Attribute: occi.compute.cores=two\n", `line 2: X-OCCI-Attribute "occi.compute.cores=two"`},
		{"Hello: world\n", `"Hello" is not a field`},
		{"X-OCCI-Attribute: occi.compute.cores=\"many\"\n", `attribute occi.compute.cores: value "many" is a string, want number`},
	} {
		rec := f.do(req{method: "POST", path: "/compute/vm-plain", header: plain, body: tc.body})
		wantTextError(t, rec, 400, "InvalidArgument", tc.want)
	}
}

func TestTextPlainQueryInterface(t *testing.T) {
	f := newFixture(t)
	rec := f.must(200, req{method: "GET", path: "/-/", header: map[string]string{"Accept": "text/plain"}})
	if ct := rec.Header().Get("Content-Type"); ct != "text/plain" {
		t.Errorf("Content-Type %q", ct)
	}
	lines := strings.Split(strings.TrimSuffix(rec.Body.String(), "\n"), "\n")
	if len(lines) != occi.Builtins().Len() {
		t.Errorf("%d lines for %d categories", len(lines), occi.Builtins().Len())
	}
	want := `Category: compute; scheme="` + infra + `"; class="kind"; title="Compute Resource"; rel="http://schemas.ogf.org/occi/core#resource"; location="/compute/"; attributes="`
	if !strings.Contains(rec.Body.String(), want) {
		t.Errorf("no %s in\n%s", want, rec.Body)
	}
	// Filtered by a Category header, the spec's form.
	rec = f.must(200, req{method: "GET", path: "/-/", header: map[string]string{"Accept": "text/plain", "Category": `compute; scheme="` + infra + `"; class="kind"`}})
	if n := strings.Count(rec.Body.String(), "Category: "); n != 1 || !strings.HasPrefix(rec.Body.String(), "Category: compute;") {
		t.Errorf("filtered: %s", rec.Body)
	}
	// Register a user mixin in text/occi, read it back, remove it.
	gold := `gold; scheme="http://example.com/occi/tags#"; class="mixin"; title="Gold"; location="/tags/gold/"; attributes="com.example.sla"`
	rec = f.must(200, req{method: "POST", path: "/-/", header: occiHeaders(map[string]string{"Category": gold})})
	wantHeader(t, rec, "Category", `gold; scheme="http://example.com/occi/tags#"; class="mixin"; title="Gold"; location="/tags/gold/"; attributes="com.example.sla"`)
	f.must(200, req{method: "DELETE", path: "/-/", header: occiHeaders(map[string]string{"Category": `gold; scheme="http://example.com/occi/tags#"`})})
	f.must(404, req{method: "GET", path: "/tags/gold/"})
}

// text/uri-list lists collections and answers anything else with 400,
// before it changes anything.
func TestURIList(t *testing.T) {
	f := newFixture(t)
	f.seed()
	uri := map[string]string{"Accept": "text/uri-list"}
	rec := f.must(200, req{method: "GET", path: "/compute/", header: uri})
	if ct := rec.Header().Get("Content-Type"); ct != "text/uri-list" || rec.Body.String() != "http://example.com/compute/vm1\r\n" {
		t.Errorf("listing: %q, %q", ct, rec.Body)
	}
	f.must(200, req{method: "GET", path: "/", header: uri})
	for _, r := range []req{
		{method: "GET", path: "/compute/vm1", header: uri},
		{method: "GET", path: "/-/", header: uri},
		{method: "POST", path: "/compute/vm1?action=stop", header: uri},
		{method: "DELETE", path: "/compute/vm1", header: uri},
	} {
		wantTextError(t, f.do(r), 400, "InvalidArgument", "text/uri-list renders listings only", "is not a collection")
	}
	if state := attrsOf(t, f.must(200, req{method: "GET", path: "/compute/vm1"}))["occi.compute.state"]; state != "active" {
		t.Errorf("a refused request changed the compute: state %v", state)
	}
	// A create answers the new location, as a listing.
	rec = f.must(201, req{method: "POST", path: "/compute/", header: uri, body: `{"kind":"` + computeKind + `","id":"vm2"}`})
	if rec.Body.String() != "http://example.com/compute/vm2\r\n" {
		t.Errorf("create: %q", rec.Body)
	}
	// Locations in text/uri-list bodies associate mixins.
	rec = f.must(200, req{method: "POST", path: "/os_tpl/", header: map[string]string{"Content-Type": "text/uri-list", "Accept": "text/plain"},
		body: "# two computes\r\nhttp://example.com/compute/vm1\r\n/compute/vm2\r\n"})
	if rec.Body.String() != "X-OCCI-Location: http://example.com/compute/vm1\nX-OCCI-Location: http://example.com/compute/vm2\n" {
		t.Errorf("association: %q", rec.Body)
	}
	rec = f.do(req{method: "POST", path: "/compute/", header: map[string]string{"Content-Type": "text/uri-list"}, body: "/compute/vm3\n"})
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), "text/uri-list renders listings only") {
		t.Errorf("a uri-list body for a create: %d %s", rec.Code, rec.Body)
	}
}

// Mixin membership in text/occi: X-OCCI-Location header fields.
func TestTextOCCIMixinMembership(t *testing.T) {
	f := newFixture(t)
	f.seed()
	f.must(201, req{method: "PUT", path: "/compute/vm2", body: `{"kind":"` + computeKind + `"}`})
	f.must(200, req{method: "POST", path: "/os_tpl/", header: occiHeaders(map[string]string{
		"X-OCCI-Location": "http://example.com/compute/vm1, /compute/vm2",
	})})
	rec := f.must(200, req{method: "GET", path: "/os_tpl/", header: map[string]string{"Accept": textOCCI}})
	wantHeader(t, rec, "X-OCCI-Location", "http://example.com/compute/vm1", "http://example.com/compute/vm2")
	// A DELETE with locations dissociates those only.
	f.must(200, req{method: "DELETE", path: "/os_tpl/", header: occiHeaders(map[string]string{"X-OCCI-Location": "/compute/vm1"})})
	rec = f.must(200, req{method: "GET", path: "/os_tpl/", header: map[string]string{"Accept": "text/plain"}})
	if rec.Body.String() != "X-OCCI-Location: http://example.com/compute/vm2\n" {
		t.Errorf("after dissociating vm1: %q", rec.Body)
	}
}

// Filters in the spec's form: Category and X-OCCI-Attribute request
// header fields on a GET, in every rendering.
func TestTextFilters(t *testing.T) {
	f := newFixture(t)
	for _, id := range []string{"a", "b", "c"} {
		f.must(201, req{method: "PUT", path: "/compute/" + id, body: `{"kind":"` + computeKind + `","attributes":{"occi.compute.hostname":"` + id + `","occi.compute.cores":` + map[string]string{"a": "1", "b": "2", "c": "2"}[id] + `}}`})
	}
	f.must(200, req{method: "POST", path: "/os_tpl/", body: `{"locations":["/compute/c"]}`})
	for _, tc := range []struct {
		name   string
		header map[string]string
		want   string
	}{
		{"attribute, text/plain", map[string]string{"Accept": "text/plain", "X-OCCI-Attribute": `occi.compute.hostname="b"`}, "X-OCCI-Location: http://example.com/compute/b\n"},
		{"number attribute, uri-list", map[string]string{"Accept": "text/uri-list", "X-OCCI-Attribute": `occi.compute.cores=2`}, "http://example.com/compute/b\r\nhttp://example.com/compute/c\r\n"},
		{"two attributes", map[string]string{"Accept": "text/uri-list", "X-OCCI-Attribute": `occi.compute.cores=2, occi.compute.hostname="c"`}, "http://example.com/compute/c\r\n"},
		{"Category", map[string]string{"Accept": "text/uri-list", "Category": `os_tpl; scheme="` + infra + `"; class="mixin"`}, "http://example.com/compute/c\r\n"},
		{"pyssf: text/occi Content-Type on a GET", map[string]string{"Accept": "text/plain", "Content-Type": textOCCI, "X-OCCI-Attribute": `occi.compute.hostname="a"`}, "X-OCCI-Location: http://example.com/compute/a\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := f.must(200, req{method: "GET", path: "/compute/", header: tc.header})
			if rec.Body.String() != tc.want {
				t.Errorf("got %q, want %q", rec.Body, tc.want)
			}
		})
	}
	rec := f.must(200, req{method: "GET", path: "/compute/", header: map[string]string{"X-OCCI-Attribute": `occi.compute.hostname="a"`}})
	if res, _ := jsonBody(t, rec)["resources"].([]any); len(res) != 1 {
		t.Errorf("JSON listing filtered by a header: %s", rec.Body)
	}
	rec = f.do(req{method: "GET", path: "/compute/", header: map[string]string{"Accept": "text/plain", "X-OCCI-Attribute": `occi.compute.hostname=a`}})
	wantTextError(t, rec, 400, "InvalidArgument", "X-OCCI-Attribute header", "occi.compute.hostname")
}

// A client announcing OCCI/1.1 gets text/plain by default, without the 1.2
// attributes of links.
func TestTextOCCI11Client(t *testing.T) {
	f := newFixture(t)
	f.seed()
	rec := f.must(200, req{method: "GET", path: "/-/", header: map[string]string{"User-Agent": rocciCLI}})
	if ct := rec.Header().Get("Content-Type"); ct != "text/plain" || !strings.HasPrefix(rec.Body.String(), "Category: ") {
		t.Errorf("OCCI/1.1 client: %q, %.80q", ct, rec.Body)
	}
	if vary := rec.Header().Get("Vary"); !strings.Contains(vary, "User-Agent") {
		t.Errorf("Vary %q does not name User-Agent", vary)
	}
	rec = f.must(200, req{method: "GET", path: "/compute/vm1", header: map[string]string{"User-Agent": rocciCLI, "Accept": "*/*"}})
	body := rec.Body.String()
	if rec.Header().Get("Content-Type") != "text/plain" || !strings.Contains(body, "occi.core.target=") || strings.Contains(body, "occi.core.target.kind") || strings.Contains(body, "occi.core.source.kind") {
		t.Errorf("OCCI/1.1 rendering of a compute:\n%s", body)
	}
	// An explicit Accept wins; a 1.2 client gets JSON.
	for _, h := range []map[string]string{{"User-Agent": rocciCLI, "Accept": "application/occi+json"}, {"User-Agent": "occi/1.0 OCCI/1.2"}} {
		if ct := f.must(200, req{method: "GET", path: "/-/", header: h}).Header().Get("Content-Type"); ct != "application/occi+json" {
			t.Errorf("%v: Content-Type %q", h, ct)
		}
	}
}

// Should a handler on a collection's path answer something that is not a
// listing, the encoding error is a 400 rendered as text, not a 500.
func TestURIListEncodeError(t *testing.T) {
	f := newFixture(t)
	f.srv.echo.GET("/odd/", f.srv.wrap(func(*request) (*reply, error) {
		return &reply{status: 200, body: &occi.ActionInvocation{Action: computeAction + "stop"}}, nil
	}))
	wantTextError(t, f.do(req{method: "GET", path: "/odd/", header: map[string]string{"Accept": "text/uri-list"}}), 400, "InvalidArgument", "text/uri-list renders listings only")
}
