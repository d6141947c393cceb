package server

import (
	"strings"
	"testing"
)

func (f *fixture) dump() string {
	f.t.Helper()
	var b strings.Builder
	if err := f.db.Dump(&b); err != nil {
		f.t.Fatal(err)
	}
	return b.String()
}

// The ETag of the query interface is the persisted model revision: it does
// not start again at "1" after a restart, so a client's cached model is
// never confirmed when it is stale.
func TestETagSurvivesRestart(t *testing.T) {
	f := newFixture(t)
	first := f.must(200, req{method: "GET", path: "/-/"}).Header().Get("ETag")
	f.must(200, req{method: "POST", path: "/-/", body: `{"mixins":[{"scheme":"http://example.com/occi#","term":"m","location":"/m/"}]}`})
	second := f.must(200, req{method: "GET", path: "/-/"}).Header().Get("ETag")
	if second == first {
		t.Fatalf("the ETag did not change with the model: %s", second)
	}
	f.restart()
	if got := f.must(200, req{method: "GET", path: "/-/"}).Header().Get("ETag"); got != second {
		t.Errorf("ETag after a restart = %s, want %s", got, second)
	}
	if rec := f.do(req{method: "GET", path: "/-/", header: map[string]string{"If-None-Match": first}}); rec.Code != 200 {
		t.Errorf("If-None-Match with the stale ETag %s after a restart: %d, want 200", first, rec.Code)
	}
	if rec := f.do(req{method: "GET", path: "/-/", header: map[string]string{"If-None-Match": second}}); rec.Code != 304 {
		t.Errorf("If-None-Match with the current ETag: %d, want 304", rec.Code)
	}
}

// The reproducers of rejected requests that used to change state: each is
// refused with a 4xx, and the data file is byte for byte the same after.
func TestRejectedRequestsLeaveTheStoreUnchanged(t *testing.T) {
	const reqMixin = `{"mixins":[{"scheme":"http://example.com/occi#","term":"req","location":"/req/",
		"attributes":{"com.example.needed":{"type":"string","required":true,"mutable":true}}}]}`
	const vmKind = `{"kinds":[{"scheme":"http://example.com/occi#","term":"vm","parent":"http://schemas.ogf.org/occi/infrastructure#compute","location":"/vm/"}]}`
	compute := func(id string) req {
		return req{method: "PUT", path: "/compute/" + id, body: `{"kind":"http://schemas.ogf.org/occi/infrastructure#compute"}`}
	}
	tests := []struct {
		name   string
		setup  []req
		do     req
		status int
		want   string
	}{
		{
			name: "PUT a mixin collection naming an entity without the required attribute",
			setup: []req{{method: "POST", path: "/-/", body: reqMixin}, compute("mA"), compute("mB"),
				{method: "POST", path: "/compute/mA", body: `{"kind":"http://schemas.ogf.org/occi/infrastructure#compute","mixins":["http://example.com/occi#req"],"attributes":{"com.example.needed":"x"}}`}},
			do:     req{method: "PUT", path: "/req/", body: `["/compute/mB"]`},
			status: 400, want: `/compute/mB: attribute "com.example.needed" is required`,
		},
		{
			name: "batch create whose second entity is invalid",
			do: req{method: "POST", path: "/compute/", body: `{"resources":[
				{"kind":"http://schemas.ogf.org/occi/infrastructure#compute","id":"good"},
				{"kind":"http://schemas.ogf.org/occi/infrastructure#compute","id":"bad","attributes":{"occi.compute.cores":"many"}}]}`},
			status: 400, want: "entity 1",
		},
		{
			name:   "delete a storage a link points to",
			setup:  []req{compute("vm1"), {method: "PUT", path: "/storage/disk", body: `{"kind":"http://schemas.ogf.org/occi/infrastructure#storage","attributes":{"occi.storage.size":1}}`}, {method: "PUT", path: "/storagelink/sl", body: `{"kind":"http://schemas.ogf.org/occi/infrastructure#storagelink","source":{"location":"/compute/vm1"},"target":{"location":"/storage/disk"},"attributes":{"occi.storagelink.deviceid":"vdb"}}`}},
			do:     req{method: "DELETE", path: "/storage/disk"},
			status: 409, want: "/storagelink/sl",
		},
		{
			name:   "remove a kind in use",
			setup:  []req{{method: "POST", path: "/-/", body: vmKind}, {method: "PUT", path: "/vm/v1", body: `{"kind":"http://example.com/occi#vm"}`}},
			do:     req{method: "DELETE", path: "/-/?category=" + escape("http://example.com/occi#vm")},
			status: 409, want: "still used by 1 entity (/vm/v1)",
		},
		{
			name:   "give an in-use kind another parent",
			setup:  []req{{method: "POST", path: "/-/", body: vmKind}, {method: "PUT", path: "/vm/v1", body: `{"kind":"http://example.com/occi#vm"}`}},
			do:     req{method: "PUT", path: "/-/", body: strings.Replace(vmKind, "infrastructure#compute", "infrastructure#storage", 1)},
			status: 409, want: "its parent cannot change",
		},
		{
			name:   "register a category where entities live",
			setup:  []req{{method: "PUT", path: "/lab2/e", body: `{"kind":"http://schemas.ogf.org/occi/infrastructure#compute"}`}},
			do:     req{method: "POST", path: "/-/", body: `{"mixins":[{"scheme":"http://example.com/occi#","term":"lab","location":"/lab2/"}]}`},
			status: 409, want: "live there",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			for _, r := range tt.setup {
				if rec := f.do(r); rec.Code >= 300 {
					t.Fatalf("setup %s %s: %d %s", r.method, r.path, rec.Code, rec.Body)
				}
			}
			before := f.dump()
			rec := f.do(tt.do)
			if rec.Code != tt.status {
				t.Fatalf("%s %s: %d %s, want %d", tt.do.method, tt.do.path, rec.Code, rec.Body, tt.status)
			}
			if _, msg := problem(t, rec); !strings.Contains(msg, tt.want) {
				t.Errorf("message %q does not say %q", msg, tt.want)
			}
			if after := f.dump(); after != before {
				t.Errorf("the rejected request changed the data file")
			}
		})
	}
}
