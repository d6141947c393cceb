package server

import (
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
