package server

import (
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/ocni/ocni/backends/dummy"
	"github.com/ocni/ocni/occi"
)

// What real OCCI clients and operators run into: each test below failed
// before its fix.

// An empty server lists nothing with a 200; other empty paths are 404.
func TestEmptyRootIsAListing(t *testing.T) {
	f := newFixture(t)
	rec := f.must(200, req{method: "GET", path: "/"})
	if body := rec.Body.String(); !strings.Contains(body, `"locations":[]`) {
		t.Errorf("empty listing: %s", body)
	}
	f.must(200, req{method: "GET", path: "/", header: map[string]string{"Accept": "text/uri-list"}})
	f.must(404, req{method: "GET", path: "/nothing/"})
}

// A kind registered at runtime without a binding is served by the default
// provider; POST on the location of a kind that was removed is a 404.
func TestUnboundKindUsesTheDefaultProvider(t *testing.T) {
	f := newFixture(t)
	f.must(200, req{method: "POST", path: "/-/", body: `{"kinds":[{"scheme":"http://example.com/occi#","term":"box","parent":"http://schemas.ogf.org/occi/core#resource","location":"/box/"}]}`})
	f.must(201, req{method: "POST", path: "/box/", body: `{"kind":"http://example.com/occi#box","id":"b1"}`})
	f.must(200, req{method: "GET", path: "/box/b1"})
	f.must(204, req{method: "DELETE", path: "/box/b1"})
	f.must(200, req{method: "DELETE", path: "/-/?category=" + escape("http://example.com/occi#box")})
	rec := f.do(req{method: "POST", path: "/box/", body: `{"kind":"http://example.com/occi#box"}`})
	if rec.Code != 404 {
		t.Errorf("POST on a removed kind's location: %d %s", rec.Code, rec.Body)
	}
}

// Category management answers with the codes clients test for.
func TestCategoryManagementStatuses(t *testing.T) {
	tests := []struct {
		name   string
		r      req
		status int
		want   string
	}{
		{"define in the OGF infrastructure scheme", req{method: "POST", path: "/-/", body: `{"mixins":[{"scheme":"http://schemas.ogf.org/occi/infrastructure#","term":"mine","location":"/mine/"}]}`}, 403, "reserved for OGF"},
		{"define in the OGF core scheme", req{method: "POST", path: "/-/", body: `{"kinds":[{"scheme":"http://schemas.ogf.org/occi/core#","term":"mine","parent":"http://schemas.ogf.org/occi/core#resource","location":"/mine/"}]}`}, 403, "reserved for OGF"},
		{"mixin at a kind's location", req{method: "POST", path: "/-/", body: `{"mixins":[{"scheme":"http://example.com/occi#","term":"m","location":"/compute/"}]}`}, 409, "already bound"},
		{"mixin inside a kind's location", req{method: "POST", path: "/-/", body: `{"mixins":[{"scheme":"http://example.com/occi#","term":"m","location":"/network/m/"}]}`}, 409, "inside"},
		{"remove an unknown category", req{method: "DELETE", path: "/-/?category=" + escape("http://example.com/occi#nope")}, 404, "nope"},
		{"remove a built-in", req{method: "DELETE", path: "/-/?category=" + escape("http://schemas.ogf.org/occi/infrastructure#compute")}, 403, "built-in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			rec := f.do(tt.r)
			if rec.Code != tt.status {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, tt.status)
			}
			if _, msg := problem(t, rec); !strings.Contains(msg, tt.want) {
				t.Errorf("message %q does not say %q", msg, tt.want)
			}
		})
	}
}

// A 5xx from a VIM carries the VIM's message, without its secrets.
func TestVIMErrorsShowTheirMessage(t *testing.T) {
	f := newFixture(t)
	vim := f.providers["dummy"].(*dummy.Provider)
	cause := occi.Errorf(occi.Internal, "internal error: cannot reach qemu+ssh://admin:hunter2@host/system (password=hunter2)")
	if err := vim.FailNthWith("create", 1, cause); err != nil {
		t.Fatal(err)
	}
	rec := f.do(req{method: "PUT", path: "/compute/vm1", body: `{"kind":"http://schemas.ogf.org/occi/infrastructure#compute"}`})
	if rec.Code != 500 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	_, msg := problem(t, rec)
	for _, want := range []string{"provider dummy: create /compute/vm1", "cannot reach qemu+ssh://***@host/system", "password=***", "request id"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "hunter2") {
		t.Errorf("the message leaks a secret: %q", msg)
	}
}

// text/occi header fields go on the wire as the spec spells them; Go's
// client would canonicalise them, so the answer is read from the socket.
func TestTextOCCIHeaderSpellingOnTheWire(t *testing.T) {
	f := newFixture(t)
	f.must(201, req{method: "PUT", path: "/network/lan", body: `{"kind":"http://schemas.ogf.org/occi/infrastructure#network"}`})
	f.must(201, req{method: "PUT", path: "/compute/vm1", body: `{"kind":"http://schemas.ogf.org/occi/infrastructure#compute","links":[{"kind":"http://schemas.ogf.org/occi/infrastructure#networkinterface","target":{"location":"/network/lan"},"attributes":{"occi.networkinterface.interface":"eth0"}}]}`})
	srv := httptest.NewServer(f.srv)
	defer srv.Close()
	for _, path := range []string{"/compute/vm1", "/compute/"} {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/occi\r\nConnection: close\r\n\r\n", path, srv.Listener.Addr())
		raw, err := io.ReadAll(conn)
		_ = conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		head, _, _ := strings.Cut(string(raw), "\r\n\r\n")
		want := map[string][]string{
			"/compute/vm1": {"\r\nCategory: ", "\r\nLink: ", "\r\nX-OCCI-Attribute: "},
			"/compute/":    {"\r\nX-OCCI-Location: "},
		}[path]
		for _, w := range want {
			if !strings.Contains(head, w) {
				t.Errorf("GET %s: the header has no %q:\n%s", path, strings.TrimSpace(w), head)
			}
		}
		if strings.Contains(head, "X-Occi-") {
			t.Errorf("GET %s: a header is in Go's canonical spelling:\n%s", path, head)
		}
	}
}

// What older clients send: a comma-joined Content-Type (rOCCI), and
// X-OCCI-Link for Link; any other X-OCCI-… header is refused, naming it.
func TestOlderClientsRequests(t *testing.T) {
	f := newFixture(t)
	f.must(201, req{method: "PUT", path: "/storage/disk", body: `{"kind":"http://schemas.ogf.org/occi/infrastructure#storage","attributes":{"occi.storage.size":1}}`})
	compute := `compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"`
	rec := f.do(req{method: "POST", path: "/compute/", header: map[string]string{
		"Content-Type":     "text/occi,text/plain",
		"Category":         compute,
		"X-OCCI-Attribute": `occi.core.id="vm1"`,
		"X-OCCI-Link":      `</storage/disk>; rel="http://schemas.ogf.org/occi/infrastructure#storage"; category="http://schemas.ogf.org/occi/infrastructure#storagelink"; occi.storagelink.deviceid="vdb"`,
	}})
	if rec.Code != 201 {
		t.Fatalf("create with a comma-joined Content-Type and X-OCCI-Link: %d %s", rec.Code, rec.Body)
	}
	if body := f.must(200, req{method: "GET", path: "/compute/vm1"}).Body.String(); !strings.Contains(body, "/storage/disk") {
		t.Errorf("the X-OCCI-Link was not made: %s", body)
	}
	rec = f.do(req{method: "POST", path: "/compute/", header: map[string]string{
		"Content-Type": "text/occi", "Category": compute, "X-OCCI-Atribute": `occi.core.title="typo"`, //nolint:misspell // a deliberate typo
	}})
	if rec.Code != 400 {
		t.Fatalf("an unknown X-OCCI header: %d %s", rec.Code, rec.Body)
	}
	if _, msg := problem(t, rec); !strings.Contains(msg, "X-Occi-Atribute") { //nolint:misspell // a deliberate typo
		t.Errorf("the message does not name the header: %s", msg)
	}
}

// A partial update without a kind updates the entity in its own kind; a
// different kind is a 400 that says so; a create still needs its kind.
func TestKindlessPartialUpdate(t *testing.T) {
	f := newFixture(t)
	f.must(201, req{method: "PUT", path: "/compute/vm1", body: `{"kind":"http://schemas.ogf.org/occi/infrastructure#compute"}`})
	rec := f.must(200, req{method: "POST", path: "/compute/vm1", body: `{"attributes":{"occi.compute.hostname":"renamed","occi.core.title":"kind-less"}}`})
	if body := rec.Body.String(); !strings.Contains(body, `"renamed"`) || !strings.Contains(body, `"kind":"http://schemas.ogf.org/occi/infrastructure#compute"`) {
		t.Errorf("kind-less update: %s", body)
	}
	f.must(200, req{method: "POST", path: "/compute/vm1", body: `{"mixins":["http://schemas.ogf.org/occi/infrastructure/resource_tpl#large"]}`})
	f.must(200, req{method: "POST", path: "/compute/vm1", header: map[string]string{"Content-Type": "text/plain"}, body: "X-OCCI-Attribute: occi.compute.cores=8\n"})
	if body := f.must(200, req{method: "GET", path: "/compute/vm1"}).Body.String(); !strings.Contains(body, `"occi.compute.cores":8`) {
		t.Errorf("kind-less text update: %s", body)
	}
	rec = f.do(req{method: "POST", path: "/compute/vm1", body: `{"kind":"http://schemas.ogf.org/occi/infrastructure#storage","attributes":{}}`})
	if _, msg := problem(t, rec); rec.Code != 400 || !strings.Contains(msg, "its kind cannot change") {
		t.Errorf("update with another kind: %d %s", rec.Code, msg)
	}
	rec = f.do(req{method: "PUT", path: "/compute/vm2", body: `{"attributes":{}}`})
	if _, msg := problem(t, rec); rec.Code != 400 || !strings.Contains(msg, "the entity has no kind") {
		t.Errorf("kind-less create: %d %s", rec.Code, msg)
	}
}

// Link ends given as absolute URLs of this server are local, in every
// rendering; link ends are rendered as absolute URLs everywhere.
func TestAbsoluteLinkEnds(t *testing.T) {
	const storagelink = `"kind":"http://schemas.ogf.org/occi/infrastructure#storagelink","attributes":{"occi.storagelink.deviceid":"vdb"}`
	tests := []struct {
		name string
		r    func(id string) req
	}{
		{"json", func(id string) req {
			return req{method: "PUT", path: "/storagelink/" + id, body: `{` + storagelink + `,"source":{"location":"http://example.com/compute/vm1"},"target":"http://example.com/storage/disk"}`}
		}},
		{"text/plain", func(id string) req {
			return req{method: "PUT", path: "/storagelink/" + id, header: map[string]string{"Content-Type": "text/plain"}, body: "Category: storagelink; scheme=\"http://schemas.ogf.org/occi/infrastructure#\"; class=\"kind\"\n" +
				"X-OCCI-Attribute: occi.core.source=\"http://example.com/compute/vm1\", occi.core.target=\"http://example.com/storage/disk\", occi.storagelink.deviceid=\"vdb\"\n"}
		}},
		{"text/occi", func(id string) req {
			return req{method: "PUT", path: "/storagelink/" + id, header: map[string]string{
				"Content-Type":     "text/occi",
				"Category":         `storagelink; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"`,
				"X-OCCI-Attribute": `occi.core.source="http://example.com/compute/vm1", occi.core.target="http://example.com/storage/disk", occi.storagelink.deviceid="vdb"`,
			}}
		}},
		{"inline, json", func(string) req {
			return req{method: "PUT", path: "/compute/vm2", body: `{"kind":"http://schemas.ogf.org/occi/infrastructure#compute","links":[{` + storagelink + `,"target":{"location":"http://example.com/storage/disk"}}]}`}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.must(201, req{method: "PUT", path: "/compute/vm1", body: `{"kind":"http://schemas.ogf.org/occi/infrastructure#compute"}`})
			f.must(201, req{method: "PUT", path: "/storage/disk", body: `{"kind":"http://schemas.ogf.org/occi/infrastructure#storage","attributes":{"occi.storage.size":1}}`})
			f.must(201, tt.r("sl1"))
			// Stored as local paths: the storage is linked to, so it cannot go.
			if rec := f.do(req{method: "DELETE", path: "/storage/disk"}); rec.Code != 409 {
				t.Errorf("the link's target is not the local storage: delete answered %d", rec.Code)
			}
		})
	}
	f := newFixture(t)
	f.must(201, req{method: "PUT", path: "/compute/vm1", body: `{"kind":"http://schemas.ogf.org/occi/infrastructure#compute"}`})
	f.must(201, req{method: "PUT", path: "/storage/disk", body: `{"kind":"http://schemas.ogf.org/occi/infrastructure#storage","attributes":{"occi.storage.size":1}}`})
	f.must(201, tests[0].r("sl1"))
	for _, accept := range []string{"application/occi+json", "text/plain", "text/occi"} {
		rec := f.must(200, req{method: "GET", path: "/compute/vm1", header: map[string]string{"Accept": accept}})
		all := rec.Body.String() + fmt.Sprint(rec.Header())
		if !strings.Contains(all, "http://example.com/storage/disk") || !strings.Contains(all, "http://example.com/compute/vm1") {
			t.Errorf("%s: link ends are not absolute URLs:\n%s", accept, all)
		}
		if strings.Contains(all, `"/storage/disk"`) || strings.Contains(all, "</storage/disk>") {
			t.Errorf("%s: a link end is a bare path:\n%s", accept, all)
		}
	}
	// Another server's URL is a remote end, not a local one.
	rec := f.do(req{method: "PUT", path: "/storagelink/sl2", body: `{` + storagelink + `,"source":"http://elsewhere.example.org/compute/vm1","target":"/storage/disk"}`})
	if _, msg := problem(t, rec); rec.Code != 400 || !strings.Contains(msg, "link source http://elsewhere.example.org/compute/vm1 does not exist") {
		t.Errorf("a source on another server: %d %s", rec.Code, msg)
	}
}

// Behind a proxy, public_url is the server's address: rendered URLs use it
// and link ends under it are local.
func TestPublicURL(t *testing.T) {
	f := newFixture(t)
	public, _ := url.Parse("https://occi.example.net")
	f.srv = New(Config{Engine: f.eng, PublicURL: public})
	f.must(201, req{method: "PUT", path: "/storage/disk", body: `{"kind":"http://schemas.ogf.org/occi/infrastructure#storage","attributes":{"occi.storage.size":1}}`})
	rec := f.must(201, req{method: "PUT", path: "/compute/vm1", body: `{"kind":"http://schemas.ogf.org/occi/infrastructure#compute","links":[{"kind":"http://schemas.ogf.org/occi/infrastructure#storagelink","target":"https://occi.example.net/storage/disk","attributes":{"occi.storagelink.deviceid":"vdb"}}]}`})
	if loc := rec.Header().Get("Location"); loc != "https://occi.example.net/compute/vm1" {
		t.Errorf("Location %q", loc)
	}
	if body := rec.Body.String(); !strings.Contains(body, `"location":"https://occi.example.net/storage/disk"`) {
		t.Errorf("link end: %s", body)
	}
}

// A storage link without occi.storagelink.deviceid, inline or standalone,
// gets the next free device from the provider, and shows it.
func TestStorageLinkWithoutDeviceID(t *testing.T) {
	f := newFixture(t)
	f.must(201, req{method: "PUT", path: "/storage/d1", body: `{"kind":"http://schemas.ogf.org/occi/infrastructure#storage","attributes":{"occi.storage.size":1}}`})
	f.must(201, req{method: "PUT", path: "/storage/d2", body: `{"kind":"http://schemas.ogf.org/occi/infrastructure#storage","attributes":{"occi.storage.size":1}}`})
	rec := f.must(201, req{method: "PUT", path: "/compute/vm1", body: `{"kind":"http://schemas.ogf.org/occi/infrastructure#compute","links":[{"kind":"http://schemas.ogf.org/occi/infrastructure#storagelink","target":"/storage/d1"}]}`})
	if body := rec.Body.String(); !strings.Contains(body, `"occi.storagelink.deviceid":"vdb"`) {
		t.Errorf("inline link without a deviceid: %s", body)
	}
	rec = f.must(201, req{method: "PUT", path: "/storagelink/sl2", body: `{"kind":"http://schemas.ogf.org/occi/infrastructure#storagelink","source":"/compute/vm1","target":"/storage/d2"}`})
	if body := rec.Body.String(); !strings.Contains(body, `"occi.storagelink.deviceid":"vdc"`) {
		t.Errorf("standalone link without a deviceid: %s", body)
	}
}

// An entity offers only the actions its state allows, in every rendering:
// an active compute does not offer start, an inactive one does.
func TestActionsFollowTheState(t *testing.T) {
	f := newFixture(t)
	f.must(201, req{method: "PUT", path: "/compute/vm1", body: `{"kind":"http://schemas.ogf.org/occi/infrastructure#compute"}`})
	check := func(state string, offered, not []string) {
		t.Helper()
		for _, accept := range []string{"application/occi+json", "text/plain", "text/occi"} {
			rec := f.must(200, req{method: "GET", path: "/compute/vm1", header: map[string]string{"Accept": accept}})
			all := rec.Body.String() + fmt.Sprint(rec.Header())
			for _, a := range offered {
				if !strings.Contains(all, "action#"+a) {
					t.Errorf("%s, %s: %s is not offered:\n%s", state, accept, a, all)
				}
			}
			for _, a := range not {
				if strings.Contains(all, "action#"+a+`"`) || strings.Contains(all, "?action="+a+">") {
					t.Errorf("%s, %s: %s is offered:\n%s", state, accept, a, all)
				}
			}
		}
	}
	check("active", []string{"stop", "restart", "suspend"}, []string{"start"})
	f.must(200, req{method: "POST", path: "/compute/vm1?action=stop"})
	check("inactive", []string{"start"}, []string{"stop", "restart", "suspend"})
	f.must(200, req{method: "POST", path: "/compute/vm1?action=start"})
	f.must(200, req{method: "POST", path: "/compute/vm1?action=suspend"})
	check("suspended", []string{"start", "stop"}, []string{"restart", "suspend"})
}

// Every 405 says, in Allow, what the target takes.
func TestAllowOnEntityPaths(t *testing.T) {
	f := newFixture(t)
	f.must(201, req{method: "PUT", path: "/compute/x", body: `{"kind":"http://schemas.ogf.org/occi/infrastructure#compute"}`})
	f.must(201, req{method: "PUT", path: "/lab/y", body: `{"kind":"http://schemas.ogf.org/occi/infrastructure#compute"}`})
	for path, want := range map[string]string{
		"/compute/":                  "GET, HEAD, POST, DELETE",
		"/compute/x":                 "GET, HEAD, PUT, POST, DELETE",
		"/templates/resource/small/": "GET, HEAD, POST, PUT, DELETE",
		"/lab/":                      "GET, HEAD, DELETE",
	} {
		rec := f.do(req{method: "PATCH", path: path})
		if rec.Code != 405 || rec.Header().Get("Allow") != want {
			t.Errorf("PATCH %s: %d, Allow %q; want 405 with %q", path, rec.Code, rec.Header().Get("Allow"), want)
		}
	}
}

// A pattern whose references never end is refused when registered: the
// first value checked would otherwise exhaust the stack and kill the
// process.
func TestRecursivePatternRefused(t *testing.T) {
	f := newFixture(t)
	rec := f.do(req{method: "POST", path: "/-/", body: `{"mixins":[{"scheme":"http://example.com/occi/tags#","term":"rec","location":"/tags/rec/",
		"applies":["http://schemas.ogf.org/occi/infrastructure#compute"],
		"attributes":{"com.example.code":{"mutable":true,"type":"string","default":"ok","pattern":{"anyOf":[{"pattern":"^ok$"},{"$ref":"#"}]}}}}]}`})
	if _, msg := problem(t, rec); rec.Code != 400 || !strings.Contains(msg, "lead back to themselves") {
		t.Errorf("a recursive pattern: %d %s", rec.Code, msg)
	}
}

// The Link to the rest of a bulk operation carries the request's query
// encoded again, never as the client wrote it.
func TestRepeatLinkIsEncoded(t *testing.T) {
	f := newFixtureWith(t, fixtureOptions{maxPage: 2})
	for i := range 5 {
		f.must(201, req{method: "PUT", path: fmt.Sprintf("/compute/vm%d", i), body: `{"kind":"http://schemas.ogf.org/occi/infrastructure#compute"}`})
	}
	srv := httptest.NewServer(f.srv)
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = fmt.Fprintf(conn, "DELETE /compute/?x=>;rel=\"evil\";title=\"a\"> HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", srv.Listener.Addr())
	raw, _ := io.ReadAll(conn)
	head, _, _ := strings.Cut(string(raw), "\r\n\r\n")
	for _, line := range strings.Split(head, "\r\n") {
		if strings.HasPrefix(line, "Link:") && (strings.Count(line, "<") != 1 || strings.Count(line, ">") != 1 || strings.Contains(line, `rel="evil"`)) {
			t.Errorf("the Link header carries the client's raw query: %s", line)
		}
	}
}
