package renderers_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/renderers"
)

const (
	computeKind  = infra + "compute"
	storageKind  = infra + "storage"
	networkKind  = infra + "network"
	nicKind      = infra + "networkinterface"
	storLinkKind = infra + "storagelink"
	resourceKind = "http://schemas.ogf.org/occi/core#resource"
	exampleAct   = "http://example.com/occi/vm/action#"
)

func TestJSONMediaType(t *testing.T) {
	if got := (renderers.JSON{}).MediaType(); got != "application/occi+json" {
		t.Errorf("MediaType() = %q", got)
	}
}

func TestDecodeCategoryRequest(t *testing.T) {
	tests := []struct {
		name string
		body string
		want renderers.CategoryRequest
	}{
		{
			name: "empty object",
			body: `{}`,
		},
		{
			name: "kinds, mixins and actions",
			body: `{
  "kinds": [{
    "scheme": "http://example.com/occi#", "term": "vm", "title": "Virtual machine",
    "parent": "` + resourceKind + `", "location": "/vm/",
    "actions": ["` + exampleAct + `reboot"],
    "attributes": {"com.example.vm.cores": {"type": "number", "mutable": true, "required": true, "default": 2, "description": "Cores"}}
  }],
  "mixins": [{
    "scheme": "http://example.com/occi#", "term": "gold", "title": "Gold tier", "location": "/gold/",
    "depends": ["http://example.com/occi#tier"], "applies": ["http://example.com/occi#vm"],
    "actions": ["` + exampleAct + `reboot"],
    "attributes": {"com.example.tier.name": {"pattern": "gold|silver"}}
  }],
  "actions": [{
    "scheme": "` + exampleAct + `", "term": "reboot", "title": "Reboot",
    "attributes": {"method": {"pattern": {"enum":["soft","hard"]}, "default": "soft"}}
  }]
}`,
			want: renderers.CategoryRequest{Categories: occi.Categories{
				Kinds: []*occi.Kind{{
					Category: occi.Category{Scheme: example, Term: "vm", Title: "Virtual machine"},
					Attributes: occi.Attributes{"com.example.vm.cores": {
						Type: occi.TypeNumber, Mutable: true, Required: true, Default: 2.0, Description: "Cores",
					}},
					Actions:  []string{exampleAct + "reboot"},
					Parent:   resourceKind,
					Location: "/vm/",
				}},
				Mixins: []*occi.Mixin{{
					Category: occi.Category{Scheme: example, Term: "gold", Title: "Gold tier"},
					Attributes: occi.Attributes{"com.example.tier.name": {
						Type: occi.TypeString, Pattern: json.RawMessage(`"gold|silver"`),
					}},
					Actions:  []string{exampleAct + "reboot"},
					Depends:  []string{example + "tier"},
					Applies:  []string{example + "vm"},
					Location: "/gold/",
				}},
				Actions: []*occi.Action{{
					Category: occi.Category{Scheme: exampleAct, Term: "reboot", Title: "Reboot"},
					Attributes: occi.Attributes{"method": {
						Type: occi.TypeString, Pattern: json.RawMessage(`{"enum":["soft","hard"]}`), Default: "soft",
					}},
				}},
			}},
		},
		{
			name: "provider extension on kinds becomes bindings",
			body: `{"kinds": [
  {"scheme": "http://example.com/occi#", "term": "vm", "parent": "` + resourceKind + `", "location": "/vm/", "x-ocni-provider": "openstack"},
  {"scheme": "http://example.com/occi#", "term": "disk", "parent": "` + resourceKind + `", "location": "/disk/"},
  {"scheme": "http://example.com/occi#", "term": "net", "parent": "` + resourceKind + `", "location": "/net/", "x-ocni-provider": "dummy", "x-vendor-note": {"any": "thing"}}
]}`,
			want: renderers.CategoryRequest{
				Categories: occi.Categories{Kinds: []*occi.Kind{
					{Category: occi.Category{Scheme: example, Term: "vm"}, Parent: resourceKind, Location: "/vm/"},
					{Category: occi.Category{Scheme: example, Term: "disk"}, Parent: resourceKind, Location: "/disk/"},
					{Category: occi.Category{Scheme: example, Term: "net"}, Parent: resourceKind, Location: "/net/"},
				}},
				Bindings: []occi.Binding{
					{Kind: example + "vm", Provider: "openstack"},
					{Kind: example + "net", Provider: "dummy"},
				},
			},
		},
		{
			name: "provider extension on a mixin binds nothing",
			body: `{"mixins": [{"scheme": "http://example.com/occi#", "term": "gold", "location": "/gold/", "x-ocni-provider": "openstack"}]}`,
			want: renderers.CategoryRequest{Categories: occi.Categories{Mixins: []*occi.Mixin{
				{Category: occi.Category{Scheme: example, Term: "gold"}, Location: "/gold/"},
			}}},
		},
		{
			name: "empty provider extension binds nothing",
			body: `{"kinds": [{"scheme": "http://example.com/occi#", "term": "vm", "x-ocni-provider": ""}]}`,
			want: renderers.CategoryRequest{Categories: occi.Categories{Kinds: []*occi.Kind{
				{Category: occi.Category{Scheme: example, Term: "vm"}},
			}}},
		},
		{
			name: "providers in ocni form",
			body: `{"providers": [{"kind": "http://example.com/occi#vm", "provider": "openstack"}, {"kind": "http://example.com/occi#disk", "provider": "dummy"}]}`,
			want: renderers.CategoryRequest{Bindings: []occi.Binding{
				{Kind: example + "vm", Provider: "openstack"},
				{Kind: example + "disk", Provider: "dummy"},
			}},
		},
		{
			name: "providers in pyOCNI form",
			body: `{"providers": [{"OCCI_ID": "http://example.com/occi#vm", "Provider": {"local": ["dummy"], "remote": []}}]}`,
			want: renderers.CategoryRequest{Bindings: []occi.Binding{{Kind: example + "vm", Provider: "dummy"}}},
		},
		{
			name: "providers in pyOCNI form without remote",
			body: `{"providers": [{"OCCI_ID": "http://example.com/occi#vm", "Provider": {"local": ["dummy"]}}]}`,
			want: renderers.CategoryRequest{Bindings: []occi.Binding{{Kind: example + "vm", Provider: "dummy"}}},
		},
		{
			name: "extension first, then providers in order, both forms",
			body: `{
  "kinds": [{"scheme": "http://example.com/occi#", "term": "vm", "x-ocni-provider": "p0"}],
  "providers": [
    {"OCCI_ID": "http://example.com/occi#disk", "Provider": {"local": ["p1"]}},
    {"kind": "http://example.com/occi#net", "provider": "p2"}
  ]
}`,
			want: renderers.CategoryRequest{
				Categories: occi.Categories{Kinds: []*occi.Kind{{Category: occi.Category{Scheme: example, Term: "vm"}}}},
				Bindings: []occi.Binding{
					{Kind: example + "vm", Provider: "p0"},
					{Kind: example + "disk", Provider: "p1"},
					{Kind: example + "net", Provider: "p2"},
				},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got renderers.CategoryRequest
			wantNoErr(t, decode(tc.body, &got))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("decoded\n got  %s\n want %s", mustJSON(t, got), mustJSON(t, tc.want))
			}
		})
	}
}

func TestDecodeCategoryRequestErrors(t *testing.T) {
	const vm = `"http://example.com/occi#vm"`
	tests := []struct {
		name     string
		body     string
		code     occi.Code
		mentions []string
	}{
		{
			name:     "remote pyOCNI provider",
			body:     `{"providers": [{"kind": ` + vm + `, "provider": "p"}, {"OCCI_ID": ` + vm + `, "Provider": {"local": ["p"], "remote": ["http://peer.example.com/"]}}]}`,
			code:     occi.InvalidArgument,
			mentions: []string{"/providers/1", "remote"},
		},
		{
			name:     "remote pyOCNI provider without local",
			body:     `{"providers": [{"OCCI_ID": ` + vm + `, "Provider": {"remote": ["http://peer.example.com/"]}}]}`,
			code:     occi.InvalidArgument,
			mentions: []string{"/providers/0"},
		},
		{
			name:     "no local pyOCNI provider",
			body:     `{"providers": [{"OCCI_ID": ` + vm + `, "Provider": {"local": [], "remote": []}}]}`,
			code:     occi.InvalidArgument,
			mentions: []string{"/providers/0", "exactly one", "got 0"},
		},
		{
			name:     "empty pyOCNI Provider",
			body:     `{"providers": [{"OCCI_ID": ` + vm + `, "Provider": {}}]}`,
			code:     occi.InvalidArgument,
			mentions: []string{"/providers/0", "got 0"},
		},
		{
			name:     "two local pyOCNI providers",
			body:     `{"providers": [{"kind": ` + vm + `, "provider": "p"}, {"kind": ` + vm + `, "provider": "q"}, {"OCCI_ID": ` + vm + `, "Provider": {"local": ["a", "b"]}}]}`,
			code:     occi.InvalidArgument,
			mentions: []string{"/providers/2", "got 2"},
		},
		{
			name:     "pyOCNI form without Provider",
			body:     `{"providers": [{"OCCI_ID": ` + vm + `}]}`,
			code:     occi.InvalidArgument,
			mentions: []string{`/providers/0: missing required member "Provider"`},
		},
		{
			name:     "ocni form without provider",
			body:     `{"providers": [{"kind": ` + vm + `}]}`,
			code:     occi.InvalidArgument,
			mentions: []string{`/providers/0: missing required member "provider"`},
		},
		{
			name:     "kind without scheme",
			body:     `{"kinds": [{"term": "vm"}]}`,
			code:     occi.InvalidArgument,
			mentions: []string{`/kinds/0: missing required member "scheme"`},
		},
		{
			name:     "unknown member of a kind",
			body:     `{"kinds": [{"term": "vm", "scheme": "http://example.com/occi#", "bogus": 1}]}`,
			code:     occi.InvalidArgument,
			mentions: []string{`/kinds/0: unknown member "bogus"`},
		},
		{
			name:     "attribute type",
			body:     `{"mixins": [{"term": "m", "scheme": "http://example.com/occi#", "attributes": {"com.example.size": {"type": "integer"}}}]}`,
			code:     occi.InvalidArgument,
			mentions: []string{"/mixins/0/attributes/com.example.size/type:", `"integer"`},
		},
		{
			name:     "unknown top-level member",
			body:     `{"categories": []}`,
			code:     occi.InvalidArgument,
			mentions: []string{`unknown member "categories"`},
		},
		{
			name:     "not an object",
			body:     `[]`,
			code:     occi.InvalidArgument,
			mentions: []string{"must be an object"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got renderers.CategoryRequest
			wantCode(t, decode(tc.body, &got), tc.code, tc.mentions...)
		})
	}
}

// The provider extension is a string. The schema lets any value through on
// kinds ("^x-" members), so a wrong one is only caught when decoding, and
// the client must still be told where the mistake is in its own terms, not
// in the server's Go types.
func TestDecodeCategoryRequestBadProviderExtension(t *testing.T) {
	body := `{"kinds": [{"scheme": "http://example.com/occi#", "term": "vm", "x-ocni-provider": 5}]}`
	var got renderers.CategoryRequest
	err := decode(body, &got)
	wantCode(t, err, occi.InvalidArgument, "/kinds/0/x-ocni-provider")
	if err != nil && strings.Contains(err.Error(), "kindWire") {
		t.Errorf("error %q names an internal Go type", err)
	}
}

func TestDecodeCategoryRefs(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string
	}{
		{"empty object", `{}`, nil},
		{
			name: "kinds, mixins and actions, in that order",
			body: `{
  "actions": [{"scheme": "` + exampleAct + `", "term": "reboot"}],
  "mixins": [{"scheme": "http://example.com/occi#", "term": "gold", "title": "ignored", "location": "/gold/"}],
  "kinds": [
    {"scheme": "` + infra + `", "term": "compute", "attributes": {"x": {"type": "string"}}},
    {"scheme": "` + infra + `", "term": "storage", "x-ocni-provider": "ignored"}
  ]
}`,
			want: []string{computeKind, storageKind, example + "gold", exampleAct + "reboot"},
		},
		{
			name: "providers are ignored",
			body: `{"mixins": [{"scheme": "http://example.com/occi#", "term": "gold"}], "providers": [{"kind": "http://example.com/occi#vm", "provider": "p"}]}`,
			want: []string{example + "gold"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got renderers.CategoryRefs
			wantNoErr(t, decode(tc.body, &got))
			if !slices.Equal(got.IDs, tc.want) {
				t.Errorf("IDs = %q, want %q", got.IDs, tc.want)
			}
		})
	}
}

// What GET /-/ answers can be sent back to name the same categories.
func TestDecodeCategoryRefsFromQueryInterface(t *testing.T) {
	builtins := occi.Builtins()
	out, _, err := encode(&renderers.QueryInterface{
		Categories: builtins,
		Bindings:   map[string]string{computeKind: "dummy"},
	})
	wantNoErr(t, err)
	var refs renderers.CategoryRefs
	wantNoErr(t, decode(out, &refs))
	if want := builtins.IDs(); !slices.Equal(refs.IDs, want) {
		t.Errorf("IDs = %q\nwant %q", refs.IDs, want)
	}
}

func TestDecodeCategoryRefsErrors(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		mentions []string
	}{
		{"kind without term", `{"kinds": [{"scheme": "http://example.com/occi#"}]}`, []string{`/kinds/0: missing required member "term"`}},
		{"action with empty scheme", `{"actions": [{"scheme": "", "term": "a"}]}`, []string{"/actions/0/scheme: must not be empty"}},
		// rOCCI names mixins by identifier; ocni wants category objects.
		{"rOCCI categories.json", rocciVector(t, "categories.json"), []string{"/mixins/0", "/mixins/3"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got renderers.CategoryRefs
			wantCode(t, decode(tc.body, &got), occi.InvalidArgument, tc.mentions...)
		})
	}
}

func TestDecodeResourceRocciInstance(t *testing.T) {
	var r occi.Resource
	wantNoErr(t, decode(rocciVector(t, "instance.json"), &r))

	if r.Kind != computeKind || r.ID != "89878" || r.Title != "my_compute" ||
		r.Summary != "Instantiated with rOCCI-server on Tue, 18 Apr 2017 16:55:12 +0200." {
		t.Errorf("kind, id, title, summary = %q, %q, %q, %q", r.Kind, r.ID, r.Title, r.Summary)
	}
	wantActions := []string{
		"http://schemas.ogf.org/occi/infrastructure/compute/action#stop",
		"http://schemas.ogf.org/occi/infrastructure/compute/action#restart",
		"http://schemas.ogf.org/occi/infrastructure/compute/action#suspend",
	}
	if !slices.Equal(r.Actions, wantActions) {
		t.Errorf("actions = %q", r.Actions)
	}
	wantAttrs := map[string]any{
		"occi.compute.architecture": "x64",
		"occi.compute.cores":        1.0,
		"occi.compute.memory":       1.0,
		"occi.compute.state":        "active",
		"occi.core.id":              "89878",
		"occi.core.summary":         "Instantiated with rOCCI-server on Tue, 18 Apr 2017 16:55:12 +0200.",
		"occi.core.title":           "my_compute",
	}
	if !reflect.DeepEqual(r.Attributes, wantAttrs) {
		t.Errorf("attributes = %v", r.Attributes)
	}
	if len(r.Links) != 2 {
		t.Fatalf("got %d links, want 2", len(r.Links))
	}
	disk, nic := r.Links[0], r.Links[1]
	if disk.Kind != storLinkKind || disk.ID != "compute_89878_disk_0" {
		t.Errorf("links[0] kind, id = %q, %q", disk.Kind, disk.ID)
	}
	if want := (occi.LinkEnd{Location: "/compute/89878", Kind: computeKind}); disk.Source != want {
		t.Errorf("links[0].source = %+v, want %+v", disk.Source, want)
	}
	if want := (occi.LinkEnd{Location: "/storage/5401", Kind: storageKind}); disk.Target != want {
		t.Errorf("links[0].target = %+v, want %+v", disk.Target, want)
	}
	if got := disk.Attributes["occi.storagelink.deviceid"]; got != "/dev/vda" {
		t.Errorf("links[0] deviceid = %v", got)
	}
	if nic.Kind != nicKind || nic.Title != "public" {
		t.Errorf("links[1] kind, title = %q, %q", nic.Kind, nic.Title)
	}
	if want := []string{"http://schemas.ogf.org/occi/infrastructure/networkinterface#ipnetworkinterface"}; !slices.Equal(nic.Mixins, want) {
		t.Errorf("links[1].mixins = %q", nic.Mixins)
	}
	if want := (occi.LinkEnd{Location: "/network/24", Kind: networkKind}); nic.Target != want {
		t.Errorf("links[1].target = %+v, want %+v", nic.Target, want)
	}
	if got := nic.Attributes["occi.networkinterface.mac"]; got != "02:00:93:e4:f2:a3" {
		t.Errorf("links[1] mac = %v", got)
	}

	// What was read renders back as the same document.
	out, _, err := encode(&r)
	wantNoErr(t, err)
	wantJSON(t, out, rocciVector(t, "instance.json"))
}

func TestDecodeResource(t *testing.T) {
	tests := []struct {
		name string
		body string
		want occi.Resource
	}{
		{
			name: "kind only",
			body: `{"kind": "` + computeKind + `"}`,
			want: occi.Resource{Entity: occi.Entity{Kind: computeKind}},
		},
		{
			name: "mixins, attributes of every type, null",
			body: `{"kind": "` + computeKind + `", "mixins": ["` + example + `gold"], "title": "vm1", "attributes": {
  "occi.compute.cores": 2, "occi.compute.hostname": "vm1", "com.example.flag": true,
  "com.example.list": [1, "a"], "com.example.obj": {"k": "v"}, "com.example.cleared": null}}`,
			want: occi.Resource{Entity: occi.Entity{
				Kind: computeKind, Mixins: []string{example + "gold"}, Title: "vm1",
				Attributes: map[string]any{
					"occi.compute.cores": 2.0, "occi.compute.hostname": "vm1", "com.example.flag": true,
					"com.example.list": []any{1.0, "a"}, "com.example.obj": map[string]any{"k": "v"}, "com.example.cleared": nil,
				},
			}},
		},
		{
			name: "inline link with bare location ends and no source",
			body: `{"kind": "` + computeKind + `", "links": [{"kind": "` + nicKind + `", "target": "/network/n1"}]}`,
			want: occi.Resource{
				Entity: occi.Entity{Kind: computeKind},
				Links:  []*occi.Link{{Entity: occi.Entity{Kind: nicKind}, Target: occi.LinkEnd{Location: "/network/n1"}}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got occi.Resource
			wantNoErr(t, decode(tc.body, &got))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("decoded\n got  %s\n want %s", mustJSON(t, got), mustJSON(t, tc.want))
			}
		})
	}
}

// The schema lets a resource list an existing link by its location among
// inline links. A body the schema accepts must decode: what is left for
// decoding to refuse is only what the schema cannot express.
// A request creates inline links with their resource; a bare location is
// refused with a JSON pointer, not with a Go type error.
func TestDecodeResourceLinkByLocation(t *testing.T) {
	body := `{"kind": "` + computeKind + `", "links": ["/link/l1"]}`
	var got occi.Resource
	err := decode(body, &got)
	if !errors.Is(err, occi.ErrInvalidArgument) || !strings.Contains(err.Error(), "/links/0") || strings.Contains(err.Error(), "Go") {
		t.Fatalf("decode = %v, want InvalidArgument naming /links/0", err)
	}
}

func TestDecodeResourceErrors(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		mentions []string
	}{
		{"no kind", `{"attributes": {}}`, []string{`missing required member "kind"`}},
		{"empty kind", `{"kind": ""}`, []string{"/kind: must not be empty"}},
		{"attributes not an object", `{"kind": "` + computeKind + `", "attributes": []}`, []string{"/attributes"}},
		{"unknown member", `{"kind": "` + computeKind + `", "location": "/compute/1"}`, []string{`unknown member "location"`}},
		{"inline link without target", `{"kind": "` + computeKind + `", "links": [{"kind": "` + nicKind + `"}]}`, []string{"/links/0", `"target"`}},
		{"not JSON", `{"kind": "` + computeKind + `",}`, []string{"not valid JSON", "byte offset"}},
		{"two documents", `{"kind": "a#b"} {"kind": "a#b"}`, []string{"not valid JSON"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got occi.Resource
			wantCode(t, decode(tc.body, &got), occi.InvalidArgument, tc.mentions...)
		})
	}
}

func TestDecodeLink(t *testing.T) {
	src := occi.LinkEnd{Location: "/compute/c1", Kind: computeKind}
	tgt := occi.LinkEnd{Location: "/network/n1", Kind: networkKind}
	attrs := map[string]any{"occi.networkinterface.interface": "eth0"}
	tests := []struct {
		name string
		body string
		want occi.Link
	}{
		{
			name: "ends as objects",
			body: `{"kind": "` + nicKind + `", "id": "l1", "attributes": {"occi.networkinterface.interface": "eth0"},
  "source": {"location": "/compute/c1", "kind": "` + computeKind + `"},
  "target": {"kind": "` + networkKind + `", "location": "/network/n1"}}`,
			want: occi.Link{Entity: occi.Entity{Kind: nicKind, ID: "l1", Attributes: attrs}, Source: src, Target: tgt},
		},
		{
			name: "ends as bare strings",
			body: `{"kind": "` + nicKind + `", "source": "/compute/c1", "target": "/network/n1"}`,
			want: occi.Link{
				Entity: occi.Entity{Kind: nicKind},
				Source: occi.LinkEnd{Location: "/compute/c1"},
				Target: occi.LinkEnd{Location: "/network/n1"},
			},
		},
		{
			name: "one of each",
			body: `{"kind": "` + nicKind + `", "source": "/compute/c1", "target": {"location": "/network/n1", "kind": "` + networkKind + `"}}`,
			want: occi.Link{Entity: occi.Entity{Kind: nicKind}, Source: occi.LinkEnd{Location: "/compute/c1"}, Target: tgt},
		},
		{
			name: "object end without kind, no source",
			body: `{"kind": "` + nicKind + `", "mixins": ["` + example + `m"], "target": {"location": "http://other.example.com/network/n1"}}`,
			want: occi.Link{
				Entity: occi.Entity{Kind: nicKind, Mixins: []string{example + "m"}},
				Target: occi.LinkEnd{Location: "http://other.example.com/network/n1"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got occi.Link
			wantNoErr(t, decode(tc.body, &got))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("decoded\n got  %s\n want %s", mustJSON(t, got), mustJSON(t, tc.want))
			}
		})
	}
}

func TestDecodeLinkErrors(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		mentions []string
	}{
		{"no target", `{"kind": "` + nicKind + `", "source": "/compute/c1"}`, []string{`missing required member "target"`}},
		{"no kind", `{"target": "/network/n1"}`, []string{`missing required member "kind"`}},
		{"empty bare end", `{"kind": "` + nicKind + `", "target": ""}`, []string{"/target: must not be empty"}},
		{"object end without location", `{"kind": "` + nicKind + `", "target": {"kind": "` + networkKind + `"}}`, []string{"/target", `"location"`}},
		{"unknown member of an end", `{"kind": "` + nicKind + `", "target": {"location": "/n/", "href": "/n/"}}`, []string{`/target: unknown member "href"`}},
		{"number end", `{"kind": "` + nicKind + `", "target": 5}`, []string{"/target: must be a string or an object"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got occi.Link
			wantCode(t, decode(tc.body, &got), occi.InvalidArgument, tc.mentions...)
		})
	}
}

func TestDecodeActionInvocation(t *testing.T) {
	tests := []struct {
		name string
		body string
		want occi.ActionInvocation
	}{
		{
			name: "rOCCI action_instance.json",
			body: rocciVector(t, "action_instance.json"),
			want: occi.ActionInvocation{
				Action:     "http://schemas.ogf.org/occi/infrastructure/compute/action#suspend",
				Attributes: map[string]any{"method": "suspend"},
			},
		},
		{
			name: "no attributes",
			body: `{"action": "http://schemas.ogf.org/occi/infrastructure/compute/action#start"}`,
			want: occi.ActionInvocation{Action: "http://schemas.ogf.org/occi/infrastructure/compute/action#start"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got occi.ActionInvocation
			wantNoErr(t, decode(tc.body, &got))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("decoded %+v, want %+v", got, tc.want)
			}
		})
	}

	var inv occi.ActionInvocation
	wantCode(t, decode(`{"attributes": {"method": "hard"}}`, &inv), occi.InvalidArgument, `missing required member "action"`)
	wantCode(t, decode(`{"action": "a#b", "method": "hard"}`, &inv), occi.InvalidArgument, `unknown member "method"`)
}

func TestDecodeCollection(t *testing.T) {
	vm := `{"kind": "` + computeKind + `", "id": "c1"}`
	nic := `{"kind": "` + nicKind + `", "source": "/compute/c1", "target": "/network/n1"}`
	tests := []struct {
		name               string
		body               string
		resources, links   int
		firstRes, firstLnk string // kinds of the first resource and link
	}{
		{"resources", `{"resources": [` + vm + `, ` + vm + `]}`, 2, 0, computeKind, ""},
		{"links", `{"links": [` + nic + `]}`, 0, 1, "", nicKind},
		{"both", `{"links": [` + nic + `], "resources": [` + vm + `]}`, 1, 1, computeKind, nicKind},
		{"empty resources", `{"resources": []}`, 0, 0, "", ""},
		{"rOCCI instance as a member", `{"resources": [` + rocciVector(t, "instance.json") + `]}`, 1, 0, computeKind, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got renderers.Collection
			wantNoErr(t, decode(tc.body, &got))
			if len(got.Resources) != tc.resources || len(got.Links) != tc.links {
				t.Fatalf("got %d resources and %d links, want %d and %d", len(got.Resources), len(got.Links), tc.resources, tc.links)
			}
			if tc.firstRes != "" && got.Resources[0].Kind != tc.firstRes {
				t.Errorf("resources[0].kind = %q", got.Resources[0].Kind)
			}
			if tc.firstLnk != "" && got.Links[0].Kind != tc.firstLnk {
				t.Errorf("links[0].kind = %q", got.Links[0].Kind)
			}
		})
	}

	for _, body := range []string{`{}`, `{"entities": []}`, `{"resources": [{"id": "x"}]}`, `[]`} {
		var got renderers.Collection
		wantCode(t, decode(body, &got), occi.InvalidArgument)
	}
}

func TestDecodeLocations(t *testing.T) {
	tests := []struct {
		name string
		body string
		want renderers.Locations
	}{
		{"ocni and MartServer form", `{"locations": ["/compute/c1", "/compute/c2"]}`, renderers.Locations{"/compute/c1", "/compute/c2"}},
		{"rOCCI and erocci bare array", `["/compute/c1", "/compute/c2"]`, renderers.Locations{"/compute/c1", "/compute/c2"}},
		{"pyOCNI form", `{"X-OCCI-Location": ["http://h:8090/compute/c1"]}`, renderers.Locations{"http://h:8090/compute/c1"}},
		{"bare array after white space", "\n\t [\"/compute/c1\"]\n", renderers.Locations{"/compute/c1"}},
		{"empty bare array", `[]`, renderers.Locations{}},
		{"empty locations member", `{"locations": []}`, renderers.Locations{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got renderers.Locations
			wantNoErr(t, decode(tc.body, &got))
			if !slices.Equal(got, tc.want) {
				t.Errorf("Locations = %q, want %q", got, tc.want)
			}
		})
	}

	bad := []struct{ body, mention string }{
		{`{"locations": ["/a/"], "X-OCCI-Location": ["/b/"]}`, "at most 1 member"},
		{`{}`, "must not be empty"},
		{`[""]`, "/0: must not be empty"},
		{`["/a/", 5]`, "/1"},
		{`"/a/"`, "must be an object or an array"},
		{`{"location": ["/a/"]}`, `unknown member "location"`},
	}
	for _, tc := range bad {
		t.Run("refuses "+tc.body, func(t *testing.T) {
			var got renderers.Locations
			wantCode(t, decode(tc.body, &got), occi.InvalidArgument, tc.mention)
		})
	}
}

// Checks that apply whatever the message type.
func TestDecodeBodyErrors(t *testing.T) {
	targets := []struct {
		name string
		new  func() any
	}{
		{"CategoryRequest", func() any { return new(renderers.CategoryRequest) }},
		{"CategoryRefs", func() any { return new(renderers.CategoryRefs) }},
		{"Resource", func() any { return new(occi.Resource) }},
		{"Link", func() any { return new(occi.Link) }},
		{"ActionInvocation", func() any { return new(occi.ActionInvocation) }},
		{"Collection", func() any { return new(renderers.Collection) }},
		{"Locations", func() any { return new(renderers.Locations) }},
	}
	for _, tgt := range targets {
		for _, body := range []string{"", " \r\n\t "} {
			t.Run(fmt.Sprintf("%s/empty %q", tgt.name, body), func(t *testing.T) {
				wantCode(t, decode(body, tgt.new()), occi.InvalidArgument, "empty", renderers.JSONMediaType)
			})
		}
		t.Run(tgt.name+"/invalid UTF-8", func(t *testing.T) {
			wantCode(t, decode("{\"x\": \"\xff\"}", tgt.new()), occi.InvalidArgument, "UTF-8", "0xff", "offset 7")
		})
		t.Run(tgt.name+"/syntax error", func(t *testing.T) {
			wantCode(t, decode(`{"a": 1,, }`, tgt.new()), occi.InvalidArgument, "not valid JSON", "byte offset 8")
		})
	}
}

func TestDecodeInvalidUTF8Offset(t *testing.T) {
	tests := []struct {
		name    string
		before  string // valid text before the first bad byte
		invalid string // the bad sequence, starting with the reported byte
		after   string
	}{
		{"lone 0xff in a string", `{"kind": "http://x#`, "\xff", `"}`},
		{"after multi-byte characters and a real U+FFFD", `{"kind": "a#b", "title": "é—` + "\uFFFD", "\xc3(", `"}`},
		{"truncated sequence at the end", `{"kind": "a#b", "title": "€`, "\xe2\x82", ``},
		{"overlong encoding", `{"kind": "a#b", "title": "`, "\xc0\xaf", `"}`},
		{"UTF-16 surrogate encoded in UTF-8", `{"kind": "a#b", "title": "x`, "\xed\xa0\x80", `"}`},
		{"UTF-16 body", ``, "\xff\xfe", "{\x00}\x00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r occi.Resource
			err := decode(tc.before+tc.invalid+tc.after, &r)
			wantCode(t, err, occi.InvalidArgument, "not valid UTF-8",
				fmt.Sprintf("0x%02x", tc.invalid[0]), fmt.Sprintf("offset %d", len(tc.before)))
		})
	}
}

func TestDecodeUnsupportedType(t *testing.T) {
	var (
		n    int
		res  occi.Resource
		pres *occi.Resource
		locs renderers.Locations
		cats occi.Categories
		qi   renderers.QueryInterface
		prob renderers.Problem
		kind occi.Kind
	)
	for _, v := range []any{&n, res, &pres, locs, &cats, &qi, &prob, &kind, nil, "body"} {
		name := fmt.Sprintf("%T", v)
		t.Run(name, func(t *testing.T) {
			// The type is checked first: a programming error is reported
			// as such whatever the body.
			for _, body := range []string{`{"kind": "` + computeKind + `"}`, ``, "\xff"} {
				wantCode(t, decode(body, v), occi.Internal, "cannot decode", name)
			}
		})
	}
}

func TestEncodeQueryInterface(t *testing.T) {
	kind := func(term string) *occi.Kind {
		return &occi.Kind{Category: occi.Category{Scheme: example, Term: term}, Parent: resourceKind, Location: "/" + term + "/"}
	}
	tests := []struct {
		name string
		qi   renderers.QueryInterface
		want string
	}{
		{
			name: "empty categories",
			qi:   renderers.QueryInterface{Categories: &occi.Categories{}},
			want: `{"kinds": [], "mixins": [], "actions": []}`,
		},
		{
			name: "empty non-nil lists",
			qi: renderers.QueryInterface{Categories: &occi.Categories{
				Kinds: []*occi.Kind{}, Mixins: []*occi.Mixin{}, Actions: []*occi.Action{},
			}},
			want: `{"kinds": [], "mixins": [], "actions": []}`,
		},
		{
			name: "kinds only",
			qi:   renderers.QueryInterface{Categories: &occi.Categories{Kinds: []*occi.Kind{kind("vm")}}},
			want: `{"kinds": [{"scheme": "` + example + `", "term": "vm", "parent": "` + resourceKind + `", "location": "/vm/"}], "mixins": [], "actions": []}`,
		},
		{
			name: "provider on bound kinds only",
			qi: renderers.QueryInterface{
				Categories: &occi.Categories{
					Kinds:   []*occi.Kind{kind("vm"), kind("disk")},
					Mixins:  []*occi.Mixin{{Category: occi.Category{Scheme: example, Term: "gold"}, Location: "/gold/"}},
					Actions: []*occi.Action{{Category: occi.Category{Scheme: exampleAct, Term: "reboot", Title: "<Reboot> & go"}}},
				},
				Bindings: map[string]string{
					example + "vm":        "openstack",
					example + "gold":      "not-a-kind",
					example + "elsewhere": "unused",
				},
			},
			want: `{
  "kinds": [
    {"scheme": "` + example + `", "term": "vm", "parent": "` + resourceKind + `", "location": "/vm/", "x-ocni-provider": "openstack"},
    {"scheme": "` + example + `", "term": "disk", "parent": "` + resourceKind + `", "location": "/disk/"}
  ],
  "mixins": [{"scheme": "` + example + `", "term": "gold", "location": "/gold/"}],
  "actions": [{"scheme": "` + exampleAct + `", "term": "reboot", "title": "<Reboot> & go"}]
}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, h, err := encode(&tc.qi)
			wantNoErr(t, err)
			wantJSON(t, out, tc.want)
			if got := h.Get("Content-Type"); got != renderers.JSONMediaType {
				t.Errorf("Content-Type = %q", got)
			}
		})
	}
}

func TestEncodeQueryInterfaceBuiltins(t *testing.T) {
	builtins := occi.Builtins()
	out, _, err := encode(&renderers.QueryInterface{
		Categories: builtins,
		Bindings:   map[string]string{computeKind: "openstack"},
	})
	wantNoErr(t, err)
	var doc struct {
		Kinds   []map[string]any `json:"kinds"`
		Mixins  []map[string]any `json:"mixins"`
		Actions []map[string]any `json:"actions"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Kinds) != len(builtins.Kinds) || len(doc.Mixins) != len(builtins.Mixins) || len(doc.Actions) != len(builtins.Actions) {
		t.Fatalf("rendered %d kinds, %d mixins, %d actions; want %d, %d, %d", len(doc.Kinds), len(doc.Mixins), len(doc.Actions),
			len(builtins.Kinds), len(builtins.Mixins), len(builtins.Actions))
	}
	bound := 0
	for _, k := range doc.Kinds {
		p, ok := k[renderers.ProviderExtension]
		if !ok {
			continue
		}
		bound++
		if id := fmt.Sprint(k["scheme"], k["term"]); id != computeKind || p != "openstack" {
			t.Errorf("kind %s rendered with provider %v", id, p)
		}
	}
	if bound != 1 {
		t.Errorf("%d kinds carry a provider, want 1", bound)
	}
	for _, list := range [][]map[string]any{doc.Mixins, doc.Actions} {
		for _, c := range list {
			if _, ok := c[renderers.ProviderExtension]; ok {
				t.Errorf("%v%v carries a provider", c["scheme"], c["term"])
			}
		}
	}
	if strings.Contains(out, `\u003c`) || strings.Contains(out, `\u003e`) || strings.Contains(out, `\u0026`) {
		t.Errorf("the rendering escapes HTML characters")
	}
}

func TestEncodeCollection(t *testing.T) {
	vm := &occi.Resource{Entity: occi.Entity{Kind: computeKind, ID: "c1", Location: "/compute/c1"}}
	nic := &occi.Link{
		Entity: occi.Entity{Kind: nicKind, ID: "l1"},
		Source: occi.LinkEnd{Location: "/compute/c1"},
		Target: occi.LinkEnd{Location: "/network/n1", Kind: networkKind},
	}
	vmJSON := `{"kind": "` + computeKind + `", "id": "c1"}`
	nicJSON := `{"kind": "` + nicKind + `", "id": "l1", "source": {"location": "/compute/c1"}, "target": {"location": "/network/n1", "kind": "` + networkKind + `"}}`
	tests := []struct {
		name string
		c    renderers.Collection
		want string
	}{
		{"only resources", renderers.Collection{Resources: []*occi.Resource{vm, vm}}, `{"resources": [` + vmJSON + `, ` + vmJSON + `]}`},
		{"only links", renderers.Collection{Links: []*occi.Link{nic}}, `{"links": [` + nicJSON + `]}`},
		{"both", renderers.Collection{Resources: []*occi.Resource{vm}, Links: []*occi.Link{nic}}, `{"resources": [` + vmJSON + `], "links": [` + nicJSON + `]}`},
		{"both nil", renderers.Collection{}, `{"resources": []}`},
		{"empty resources", renderers.Collection{Resources: []*occi.Resource{}}, `{"resources": []}`},
		{"empty links", renderers.Collection{Links: []*occi.Link{}}, `{"links": []}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, h, err := encode(&tc.c)
			wantNoErr(t, err)
			wantJSON(t, out, tc.want)
			if got := h.Get("Content-Type"); got != renderers.JSONMediaType {
				t.Errorf("Content-Type = %q", got)
			}
		})
	}
}

func TestEncodeLocations(t *testing.T) {
	tests := []struct {
		name string
		locs renderers.Locations
		want string
	}{
		{"some", renderers.Locations{"/compute/c1", "/compute/c2"}, `{"locations":["/compute/c1","/compute/c2"]}` + "\n"},
		{"nil", nil, `{"locations":[]}` + "\n"},
		{"empty", renderers.Locations{}, `{"locations":[]}` + "\n"},
		{"query strings are not escaped", renderers.Locations{"/compute/c1?action=start&x=<y>"}, `{"locations":["/compute/c1?action=start&x=<y>"]}` + "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := encode(tc.locs)
			wantNoErr(t, err)
			if out != tc.want {
				t.Errorf("got  %q\nwant %q", out, tc.want)
			}
		})
	}
}

func TestEncodeProblem(t *testing.T) {
	tests := []struct {
		name string
		p    renderers.Problem
		want string
	}{
		{
			name: "with request id",
			p:    renderers.Problem{Status: 404, Code: "NotFound", Message: `no kind "a#b" at </x/> & elsewhere`, RequestID: "r-1"},
			want: `{"status":404,"code":"NotFound","message":"no kind \"a#b\" at </x/> & elsewhere","request_id":"r-1"}` + "\n",
		},
		{
			name: "without request id",
			p:    renderers.Problem{Status: 400, Code: "InvalidArgument", Message: "/kinds/0: missing required member \"scheme\""},
			want: `{"status":400,"code":"InvalidArgument","message":"/kinds/0: missing required member \"scheme\""}` + "\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, h, err := encode(&tc.p)
			wantNoErr(t, err)
			if out != tc.want {
				t.Errorf("got  %s\nwant %s", out, tc.want)
			}
			if got := h.Get("Content-Type"); got != renderers.JSONMediaType {
				t.Errorf("Content-Type = %q", got)
			}
		})
	}
}

func TestEncodeEntities(t *testing.T) {
	link := &occi.Link{
		Entity: occi.Entity{Kind: nicKind, Attributes: map[string]any{"occi.networkinterface.interface": "eth0"}},
		Source: occi.LinkEnd{Location: "/compute/c1"},
		Target: occi.LinkEnd{Location: "/network/n1"},
	}
	tests := []struct {
		name string
		v    any
		want string
	}{
		{
			name: "resource",
			v: &occi.Resource{
				Entity: occi.Entity{
					Kind: computeKind, Mixins: []string{example + "gold"}, ID: "c1", Title: "<b>vm</b> & co", Location: "/compute/c1",
					Attributes: map[string]any{"occi.compute.cores": 2, "com.example.note": "a<b>&c"},
				},
				Summary: "s",
				Links:   []*occi.Link{link},
			},
			want: `{"kind": "` + computeKind + `", "mixins": ["` + example + `gold"], "id": "c1", "title": "<b>vm</b> & co", "summary": "s",
  "attributes": {"occi.compute.cores": 2, "com.example.note": "a<b>&c"},
  "links": [{"kind": "` + nicKind + `", "attributes": {"occi.networkinterface.interface": "eth0"},
    "source": {"location": "/compute/c1"}, "target": {"location": "/network/n1"}}]}`,
		},
		{
			name: "link",
			v:    link,
			want: `{"kind": "` + nicKind + `", "attributes": {"occi.networkinterface.interface": "eth0"}, "source": {"location": "/compute/c1"}, "target": {"location": "/network/n1"}}`,
		},
		{
			name: "action invocation",
			v:    &occi.ActionInvocation{Action: exampleAct + "reboot", Attributes: map[string]any{"method": "hard"}},
			want: `{"action": "` + exampleAct + `reboot", "attributes": {"method": "hard"}}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := encode(tc.v)
			wantNoErr(t, err)
			wantJSON(t, out, tc.want)
		})
	}
}

// Every rendering is labelled, replacing whatever Content-Type the header
// had, and none escapes the HTML characters, which are common in locations
// (&) and free text.
func TestEncodeHeaderAndEscaping(t *testing.T) {
	text := "<a> & <b>"
	values := []struct {
		name string
		v    any
	}{
		{"QueryInterface", &renderers.QueryInterface{Categories: &occi.Categories{Mixins: []*occi.Mixin{
			{Category: occi.Category{Scheme: example, Term: "m", Title: text}, Location: "/m/"},
		}}}},
		{"Resource", &occi.Resource{Entity: occi.Entity{Kind: computeKind, Title: text}}},
		{"Link", &occi.Link{Entity: occi.Entity{Kind: nicKind, Title: text}, Target: occi.LinkEnd{Location: "/n/"}}},
		{"ActionInvocation", &occi.ActionInvocation{Action: exampleAct + "a", Attributes: map[string]any{"x": text}}},
		{"Collection", &renderers.Collection{Resources: []*occi.Resource{{Entity: occi.Entity{Kind: computeKind, Title: text}}}}},
		{"Locations", renderers.Locations{"/x/?a=1&b=<2>"}},
		{"Problem", &renderers.Problem{Status: 500, Code: "Internal", Message: text}},
	}
	for _, tc := range values {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			h := http.Header{"Content-Type": {"text/plain", "text/html"}}
			wantNoErr(t, renderers.JSON{}.Encode(h, &b, tc.v))
			if got := h.Values("Content-Type"); !slices.Equal(got, []string{renderers.JSONMediaType}) {
				t.Errorf("Content-Type = %q, want only %s", got, renderers.JSONMediaType)
			}
			out := b.String()
			for _, esc := range []string{`\u003c`, `\u003e`, `\u0026`} {
				if strings.Contains(out, esc) {
					t.Errorf("output has %s: %s", esc, out)
				}
			}
			if !strings.Contains(out, "<") || !strings.Contains(out, "&") {
				t.Errorf("output lost the HTML characters: %s", out)
			}
			if !json.Valid([]byte(out)) || !strings.HasSuffix(out, "\n") {
				t.Errorf("output is not one JSON document and a newline: %q", out)
			}
		})
	}
}

func TestEncodeUnsupportedType(t *testing.T) {
	n := 1
	locs := renderers.Locations{"/a/"}
	for _, v := range []any{
		&n, "text", nil,
		renderers.Collection{}, renderers.QueryInterface{Categories: &occi.Categories{}}, renderers.Problem{},
		occi.Resource{}, &locs, &occi.Categories{}, &occi.Kind{}, &renderers.CategoryRequest{},
	} {
		name := fmt.Sprintf("%T", v)
		t.Run(name, func(t *testing.T) {
			out, h, err := encode(v)
			wantCode(t, err, occi.Internal, "cannot encode", name)
			if out != "" {
				t.Errorf("wrote %q", out)
			}
			if len(h) != 0 {
				t.Errorf("set header %v", h)
			}
		})
	}
}

// A value JSON cannot represent is a server bug: the error is not one a
// client caused, and nothing half-written reaches the client.
func TestEncodeUnrepresentableValue(t *testing.T) {
	for _, v := range []any{math.NaN(), math.Inf(1), make(chan int)} {
		t.Run(fmt.Sprintf("%T", v), func(t *testing.T) {
			r := &occi.Resource{Entity: occi.Entity{Kind: computeKind, Attributes: map[string]any{"x": v}}}
			out, _, err := encode(r)
			if err == nil {
				t.Fatalf("no error; wrote %s", out)
			}
			if code := occi.CodeOf(err); code != occi.Internal {
				t.Errorf("code %v, want Internal", code)
			}
			if out != "" {
				t.Errorf("wrote %q", out)
			}
		})
	}
}

type failingWriter struct{}

var errWrite = errors.New("connection reset")

func (failingWriter) Write([]byte) (int, error) { return 0, errWrite }

func TestEncodeWriteError(t *testing.T) {
	err := renderers.JSON{}.Encode(http.Header{}, failingWriter{}, renderers.Locations{"/a/"})
	if !errors.Is(err, errWrite) {
		t.Errorf("Encode returned %v, want the writer's error", err)
	}
}

// Each built-in category, rendered in the query interface, reads back as a
// category request that registers the same category.
func TestQueryInterfaceRoundTrip(t *testing.T) {
	builtins := occi.Builtins()
	var single []occi.Categories
	for _, k := range builtins.Kinds {
		single = append(single, occi.Categories{Kinds: []*occi.Kind{k}})
	}
	for _, m := range builtins.Mixins {
		single = append(single, occi.Categories{Mixins: []*occi.Mixin{m}})
	}
	for _, a := range builtins.Actions {
		single = append(single, occi.Categories{Actions: []*occi.Action{a}})
	}
	if len(single) != builtins.Len() || len(single) == 0 {
		t.Fatalf("%d categories to check, %d built in", len(single), builtins.Len())
	}
	for _, cats := range single {
		t.Run(cats.IDs()[0], func(t *testing.T) {
			out, _, err := encode(&renderers.QueryInterface{Categories: &cats})
			wantNoErr(t, err)
			var req renderers.CategoryRequest
			wantNoErr(t, decode(out, &req))
			if got, want := mustJSON(t, req.Categories), mustJSON(t, cats); got != want {
				t.Errorf("round trip changed the category\n got  %s\n want %s", got, want)
			}
			if len(req.Bindings) != 0 {
				t.Errorf("bindings %v from an unbound category", req.Bindings)
			}
		})
	}

	t.Run("all, with bindings", func(t *testing.T) {
		bindings := map[string]string{computeKind: "openstack", storageKind: "ceph", resourceKind: "dummy"}
		out, _, err := encode(&renderers.QueryInterface{Categories: builtins, Bindings: bindings})
		wantNoErr(t, err)
		var req renderers.CategoryRequest
		wantNoErr(t, decode(out, &req))
		if got, want := mustJSON(t, req.Categories), mustJSON(t, builtins); got != want {
			t.Errorf("round trip changed the categories\n got  %s\n want %s", got, want)
		}
		got := map[string]string{}
		for _, b := range req.Bindings {
			got[b.Kind] = b.Provider
		}
		if !reflect.DeepEqual(got, bindings) || len(req.Bindings) != len(bindings) {
			keys := make([]string, 0, len(req.Bindings))
			for _, b := range req.Bindings {
				keys = append(keys, b.Kind+"="+b.Provider)
			}
			sort.Strings(keys)
			t.Errorf("bindings = %q, want %v", keys, bindings)
		}
	})
}
