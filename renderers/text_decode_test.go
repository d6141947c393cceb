package renderers_test

import (
	"bytes"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/renderers"
)

const (
	computeCat = `compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"`
	stopCat    = `stop; scheme="http://schemas.ogf.org/occi/infrastructure/compute/action#"; class="action"`
	niLink     = `</network/lan>; rel="http://schemas.ogf.org/occi/infrastructure#network"; self="/networkinterface/n1"; category="http://schemas.ogf.org/occi/infrastructure#networkinterface"`
)

// decodeCase is a text input and what it decodes into, or the error it
// gets: always InvalidArgument, with a message naming where and what.
type decodeCase struct {
	name   string
	plain  string      // a text/plain body, or
	header http.Header // the header fields of a text/occi request
	body   string      // and its body
	into   func() any
	want   any      // the decoded message, for a valid input
	errs   []string // what the error message must name, for a malformed one
}

func collection() any  { return new(renderers.Collection) }
func invocation() any  { return new(occi.ActionInvocation) }
func locations() any   { return new(renderers.Locations) }
func categoryReq() any { return new(renderers.CategoryRequest) }
func categoryRefs() any {
	return new(renderers.CategoryRefs)
}

func resource(r *occi.Resource) *renderers.Collection {
	return &renderers.Collection{Resources: []*occi.Resource{r}}
}

func compute(attrs map[string]any) *occi.Resource {
	r := &occi.Resource{Entity: occi.Entity{Kind: occi.ComputeKindID, Attributes: attrs}}
	if id, ok := attrs[occi.AttrID].(string); ok {
		r.ID = id
	}
	return r
}

var decodeCases = []decodeCase{
	// Valid: what real clients send.
	{name: "pyssf create, text/plain", plain: "Category: " + computeCat + "\nX-OCCI-Attribute: occi.compute.hostname=\"vm-plain\"\nX-OCCI-Attribute: occi.compute.cores=4\n",
		into: collection, want: resource(compute(map[string]any{"occi.compute.hostname": "vm-plain", "occi.compute.cores": 4.0}))},
	{name: "pyssf create, text/occi", header: http.Header{"Category": {computeCat}, "X-Occi-Attribute": {`occi.compute.hostname="vm-occi", occi.compute.memory=4.0`}},
		into: collection, want: resource(compute(map[string]any{"occi.compute.hostname": "vm-occi", "occi.compute.memory": 4.0}))},
	{name: "rOCCI: ';' without spaces, trailing ';'", plain: "Category: compute;scheme=\"http://schemas.ogf.org/occi/infrastructure#\";class=\"kind\";\nX-OCCI-Attribute: occi.core.id=\"c1\";\n",
		into: collection, want: resource(compute(map[string]any{occi.AttrID: "c1"}))},
	{name: "erocci: class unquoted, lower-case names", plain: "category: compute; scheme=\"http://schemas.ogf.org/occi/infrastructure#\"; class=kind\nx-occi-attribute: occi.compute.memory=8.00000\n",
		into: collection, want: resource(compute(map[string]any{"occi.compute.memory": 8.0}))},
	{name: "parameter names and class in any case, spaces around '='", plain: "Category: compute; SCHEME = \"http://schemas.ogf.org/occi/infrastructure#\" ; Class= \"Kind\"\n",
		into: collection, want: resource(compute(nil))},
	{name: "commas and semicolons inside quoted values", plain: "Category: " + computeCat + "\nX-OCCI-Attribute: occi.core.title=\"a, b; c\", occi.compute.hostname=\"h\"\n",
		into: collection, want: resource(&occi.Resource{Entity: occi.Entity{Kind: occi.ComputeKindID, Title: "a, b; c", Attributes: map[string]any{occi.AttrTitle: "a, b; c", "occi.compute.hostname": "h"}}})},
	{name: "escaped quotes and backslashes", plain: `X-OCCI-Attribute: occi.core.summary="say \"hi\" to C:\\dir"`,
		into: collection, want: resource(&occi.Resource{Summary: `say "hi" to C:\dir`, Entity: occi.Entity{Attributes: map[string]any{occi.AttrSummary: `say "hi" to C:\dir`}}})},
	{name: "CRLF, blank lines and white space", plain: "\r\n  Category: " + computeCat + "  \r\n\r\n\tX-OCCI-Attribute:occi.compute.cores=2\r\n",
		into: collection, want: resource(compute(map[string]any{"occi.compute.cores": 2.0}))},
	{name: "folded line", plain: "Category: compute;\n  scheme=\"http://schemas.ogf.org/occi/infrastructure#\";\n\tclass=\"kind\"\n",
		into: collection, want: resource(compute(nil))},
	{name: "rOCCI: literal \\n between two fields", plain: `Category: compute;scheme="http://schemas.ogf.org/occi/infrastructure#";class="kind"\nCategory: os;scheme="http://e.com/tpl#";class="mixin"`,
		into: collection, want: resource(&occi.Resource{Entity: occi.Entity{Kind: occi.ComputeKindID, Mixins: []string{"http://e.com/tpl#os"}}})},
	{name: "numbers, booleans and JSON in quotes", plain: "X-OCCI-Attribute: a.int=42, a.neg=-3, a.float=0.256, a.exp=1e3, a.dot=.5, a.trail=1., a.t=true, a.f=false, a.arr=\"[1,\\\"x\\\"]\"\n",
		into: collection, want: resource(&occi.Resource{Entity: occi.Entity{Attributes: map[string]any{
			"a.int": 42.0, "a.neg": -3.0, "a.float": 0.256, "a.exp": 1000.0, "a.dot": 0.5, "a.trail": 1.0, "a.t": true, "a.f": false, "a.arr": `[1,"x"]`}}})},
	{name: "action links give the actions and the location", plain: "Category: " + computeCat + "\nLink: </compute/c1?action=stop>; rel=\"" + stopID + "\"\nLink: <http://h:8/compute/c1?action=start>;rel=\"" + occi.ComputeActionScheme + "start\"\n",
		into: collection, want: resource(&occi.Resource{Entity: occi.Entity{Kind: occi.ComputeKindID, Actions: []string{stopID, occi.StartActionID}, Location: "/compute/c1"}})},
	{name: "rOCCI inline link, attributes separated by spaces", plain: "Link: " + niLink + ";occi.core.id=\"n1\" occi.networkinterface.interface=\"eth0\"\n",
		into: collection, want: resource(&occi.Resource{Links: []*occi.Link{{
			Entity: occi.Entity{Kind: occi.NetworkInterfaceID, ID: "n1", Location: "/networkinterface/n1", Attributes: map[string]any{
				occi.AttrID: "n1", "occi.networkinterface.interface": "eth0", occi.AttrTarget: "/network/lan", occi.AttrTargetKind: occi.NetworkKindID}},
			Target: occi.LinkEnd{Location: "/network/lan", Kind: occi.NetworkKindID}}}})},
	{name: "inline link to a remote target, mixins, token values", plain: "Link: <http://peer/network/9>; rel=\"http://schemas.ogf.org/occi/infrastructure#network\"; category=\"" + occi.NetworkInterfaceID + " " + occi.IPNetIfaceMixinID + "\"; occi.networkinterface.interface=eth0; x.n=2\n",
		into: collection, want: resource(&occi.Resource{Links: []*occi.Link{{
			Entity: occi.Entity{Kind: occi.NetworkInterfaceID, Mixins: []string{occi.IPNetIfaceMixinID}, Attributes: map[string]any{
				"occi.networkinterface.interface": "eth0", "x.n": 2.0, occi.AttrTarget: "http://peer/network/9", occi.AttrTargetKind: occi.NetworkKindID}},
			Target: occi.LinkEnd{Location: "http://peer/network/9", Kind: occi.NetworkKindID}}}})},
	{name: "a link entity: source and target attributes", plain: "Category: networkinterface; scheme=\"http://schemas.ogf.org/occi/infrastructure#\"; class=\"kind\"\nX-OCCI-Attribute: occi.core.source=\"/compute/c1\", occi.core.target=\"/network/lan\"\n",
		into: collection, want: &renderers.Collection{Links: []*occi.Link{{
			Entity: occi.Entity{Kind: occi.NetworkInterfaceID, Attributes: map[string]any{occi.AttrSource: "/compute/c1", occi.AttrTarget: "/network/lan"}},
			Source: occi.LinkEnd{Location: "/compute/c1"}, Target: occi.LinkEnd{Location: "/network/lan"}}}}},
	{name: "a partial update: attributes only", header: http.Header{"X-Occi-Attribute": {"occi.compute.memory=8.0"}},
		into: collection, want: resource(&occi.Resource{Entity: occi.Entity{Attributes: map[string]any{"occi.compute.memory": 8.0}}})},
	{name: "repeated and comma-separated header fields", header: http.Header{
		"Category":         {computeCat + `, os; scheme="http://e.com/tpl#"; class="mixin"`, `big; scheme="http://e.com/tpl#"; class=mixin`},
		"X-Occi-Attribute": {`occi.compute.cores=2`, `occi.compute.hostname="a,b"`}},
		into: collection, want: resource(&occi.Resource{Entity: occi.Entity{Kind: occi.ComputeKindID, Mixins: []string{"http://e.com/tpl#os", "http://e.com/tpl#big"},
			Attributes: map[string]any{"occi.compute.cores": 2.0, "occi.compute.hostname": "a,b"}}})},
	{name: "erocci action links, comma-separated absolute URIs", header: http.Header{"Category": {computeCat},
		"Link": {`<http://h/c1?action=stop>; rel="` + stopID + `", <http://h/c1?action=start>; rel="` + occi.ComputeActionScheme + `start"`}},
		into: collection, want: resource(&occi.Resource{Entity: occi.Entity{Kind: occi.ComputeKindID, Actions: []string{stopID, occi.StartActionID}, Location: "/c1"}})},
	{name: "text/occi body OK", header: http.Header{"Category": {stopCat}}, body: "OK\n",
		into: invocation, want: &occi.ActionInvocation{Action: stopID}},
	{name: "action invocation with a parameter", plain: "Category: " + stopCat + "\nX-OCCI-Attribute: method=\"graceful\"\n",
		into: invocation, want: &occi.ActionInvocation{Action: stopID, Attributes: map[string]any{"method": "graceful"}}},
	{name: "action invocation without class", header: http.Header{"Category": {`stop; scheme="` + occi.ComputeActionScheme + `"`}},
		into: invocation, want: &occi.ActionInvocation{Action: stopID}},
	{name: "locations, URLs and absolute paths", plain: "X-OCCI-Location: http://127.0.0.1:8889/compute/a\nX-OCCI-Location: /compute/b, https://[::1]/compute/c\n",
		into: locations, want: &renderers.Locations{"http://127.0.0.1:8889/compute/a", "/compute/b", "https://[::1]/compute/c"}},
	{name: "pyssf mixin association, text/occi", header: http.Header{"X-Occi-Location": {"http://127.0.0.1:8889/compute/e150"}},
		into: locations, want: &renderers.Locations{"http://127.0.0.1:8889/compute/e150"}},
	{name: "no locations", plain: "", into: locations, want: &renderers.Locations{}},
	{name: "an empty body is an empty collection", plain: "\n\n", into: collection, want: &renderers.Collection{}},
	{name: "category request: a kind as pyssf renders it", plain: `Category: vm; scheme="http://e.com/occi#"; class="kind"; title="VM"; rel="http://schemas.ogf.org/occi/infrastructure#compute"; location="http://127.0.0.1:8889/vm/"; attributes="com.e.flavour{required} com.e.id{immutable required} com.e.note"; actions="http://e.com/occi/action#reboot"`,
		into: categoryReq, want: &renderers.CategoryRequest{Categories: occi.Categories{Kinds: []*occi.Kind{{
			Category: occi.Category{Scheme: "http://e.com/occi#", Term: "vm", Title: "VM"}, Parent: occi.ComputeKindID, Location: "/vm/",
			Attributes: occi.Attributes{
				"com.e.flavour": {Type: occi.TypeString, Mutable: true, Required: true},
				"com.e.id":      {Type: occi.TypeString, Required: true},
				"com.e.note":    {Type: occi.TypeString, Mutable: true}},
			Actions: []string{"http://e.com/occi/action#reboot"}}}}}},
	{name: "category request: erocci's user mixin and an action", header: http.Header{"Category": {
		`my_stuff; scheme="http://example.com/occi/my_stuff#"; class="mixin"; location="/mixins/my_stuff/"; title="My stuff"`,
		`reboot; scheme="http://e.com/occi/action#"; class=action; attributes="force"`}},
		into: categoryReq, want: &renderers.CategoryRequest{Categories: occi.Categories{
			Mixins:  []*occi.Mixin{{Category: occi.Category{Scheme: "http://example.com/occi/my_stuff#", Term: "my_stuff", Title: "My stuff"}, Location: "/mixins/my_stuff/"}},
			Actions: []*occi.Action{{Category: occi.Category{Scheme: "http://e.com/occi/action#", Term: "reboot"}, Attributes: occi.Attributes{"force": {Type: occi.TypeString, Mutable: true}}}}}}},
	{name: "category references: class optional", plain: "Category: gold; scheme=\"http://e.com/tags#\", " + computeCat + "\n",
		into: categoryRefs, want: &renderers.CategoryRefs{IDs: []string{"http://e.com/tags#gold", occi.ComputeKindID}}},

	// Malformed: a 400 that says where and what.
	{name: "a line that is not a field", plain: "Category: " + computeCat + "\ncompute\n", into: collection, errs: []string{"line 2", `"compute" is not a "Name: value" field`}},
	{name: "a field that is not OCCI's", plain: "Content-Type: text/plain\n", into: collection, errs: []string{"line 1", `"Content-Type" is not a field of the text rendering`}},
	{name: "Category without scheme", plain: "Category: compute; class=\"kind\"\n", into: collection, errs: []string{"line 1", `Category "compute; class=\"kind\"" has no scheme`}},
	{name: "Category without class", plain: "Category: compute; scheme=\"http://schemas.ogf.org/occi/infrastructure#\"\n", into: collection, errs: []string{"line 1", "has no class"}},
	{name: "two kinds", plain: "Category: " + computeCat + "\nCategory: storage; scheme=\"http://schemas.ogf.org/occi/infrastructure#\"; class=\"kind\"\n", into: collection, errs: []string{"line 2", "a second kind " + occi.StorageKindID}},
	{name: "unknown class", plain: "Category: compute; scheme=\"http://e.com/#\"; class=\"thing\"\n", into: collection, errs: []string{"line 1", `class "thing" is not kind, mixin or action`}},
	{name: "an action among an entity's categories", plain: "Category: " + stopCat + "\n", into: collection, errs: []string{"line 1", "is an action"}},
	{name: "unknown Category parameter", plain: "Category: compute; scheme=\"http://e.com/#\"; class=\"kind\"; colour=\"red\"\n", into: collection, errs: []string{`unknown parameter "colour"`}},
	{name: "duplicate parameter", plain: "Category: compute; scheme=\"http://e.com/#\"; scheme=\"http://f.com/#\"\n", into: categoryRefs, errs: []string{`parameter "scheme" is given twice`}},
	{name: "a '#' inside the scheme", plain: "Category: down;scheme=\"http://schemas.ogf.org/occi/infrastructure/network/action#up\";class=\"action\"\n", into: categoryReq, errs: []string{"line 1", `scheme "http://schemas.ogf.org/occi/infrastructure/network/action#up" has a '#' before its end`}},
	{name: "term with a space", plain: "Category: com pute; scheme=\"http://e.com/#\"; class=\"kind\"\n", into: collection, errs: []string{`term "com pute" is not valid`}},
	{name: "unterminated quoted value", header: http.Header{"X-Occi-Attribute": {`occi.core.title="unfinished`}}, into: collection, errs: []string{"X-OCCI-Attribute header", `parameter "occi.core.title"`, "has no closing quote"}},
	{name: "something after a quoted value", plain: "Category: compute; scheme=\"http://e.com/#\"b; class=\"kind\"\n", into: collection, errs: []string{`parameter "scheme": unexpected "b"`}},
	{name: "attribute without '='", plain: "X-OCCI-Attribute: occi.compute.cores\n", into: collection, errs: []string{"line 1", `parameter "occi.compute.cores" has no value`}},
	{name: "attribute without a name", plain: "X-OCCI-Attribute: =2\n", into: collection, errs: []string{"no name before '='"}},
	{name: "unquoted string value", plain: "X-OCCI-Attribute: occi.compute.hostname=vm1\n", into: collection, errs: []string{"attribute occi.compute.hostname", `"vm1" is not a quoted string, a number, true or false`}},
	{name: "empty unquoted value", plain: "X-OCCI-Attribute: occi.compute.hostname=\n", into: collection, errs: []string{"attribute occi.compute.hostname", "is not a quoted string"}},
	{name: "number out of range", plain: "X-OCCI-Attribute: occi.compute.memory=1e999\n", into: collection, errs: []string{"attribute occi.compute.memory", `the number "1e999" is out of range`}},
	{name: "bad attribute name", plain: "X-OCCI-Attribute: -x=1\n", into: collection, errs: []string{`attribute name "-x" is not valid`}},
	{name: "attribute given twice", header: http.Header{"X-Occi-Attribute": {"a.b=1", "a.b=2"}}, into: collection, errs: []string{"X-OCCI-Attribute header", "attribute a.b is given twice"}},
	{name: "two attributes without a comma", plain: "X-OCCI-Attribute: a.b=1 a.c=2\n", into: collection, errs: []string{"holds 2 attributes; separate them with commas"}},
	{name: "core attribute not a string", plain: "X-OCCI-Attribute: occi.core.id=5\n", into: collection, errs: []string{"attribute occi.core.id must be a quoted string"}},
	{name: "Link without <URI>", plain: "Link: /network/lan; rel=\"" + occi.NetworkKindID + "\"\n", into: collection, errs: []string{"line 1", "must start with <URI>"}},
	{name: "Link with an empty URI", plain: "Link: <>; rel=\"" + occi.NetworkKindID + "\"\n", into: collection, errs: []string{"the URI between '<' and '>' is empty"}},
	{name: "Link without rel", plain: "Link: </network/lan>; category=\"" + occi.NetworkInterfaceID + "\"\n", into: collection, errs: []string{`Link "</network/lan>`, "has no rel"}},
	{name: "Link rel not an identifier", plain: "Link: </network/lan>; rel=\"network\"\n", into: collection, errs: []string{"rel", `"network" has no '#'`}},
	{name: "action link naming another action", plain: "Link: </c1?action=stop>; rel=\"" + occi.ComputeActionScheme + "start\"\n", into: collection, errs: []string{`"?action=stop" does not name the action ` + occi.StartActionID}},
	{name: "inline link with two targets", plain: "Link: " + niLink + "; occi.core.target=\"/network/wan\"\n", into: collection, errs: []string{`occi.core.target "/network/wan" is another target`}},
	{name: "a link entity carrying a link", plain: "X-OCCI-Attribute: occi.core.target=\"/network/lan\"\nLink: " + niLink + "\n", into: collection, errs: []string{"a link cannot carry links"}},
	{name: "locations in an entity rendering", plain: "Category: " + computeCat + "\nX-OCCI-Location: /compute/a\n", into: collection, errs: []string{"line 2", "X-OCCI-Location is not part of an entity rendering"}},
	{name: "categories among locations", header: http.Header{"X-Occi-Location": {"/compute/a"}, "Category": {computeCat}}, into: locations, errs: []string{"Category header", "Category is not part of a list of locations"}},
	{name: "location with a space", plain: "X-OCCI-Location: /compute/a b\n", into: locations, errs: []string{"line 1", `"/compute/a b" holds a space`}},
	{name: "relative location", plain: "X-OCCI-Location: /compute/b, compute/c\n", into: locations, errs: []string{"line 1", `location "compute/c" is relative`}},
	{name: "invalid UTF-8 in the body", plain: "X-OCCI-Attribute: occi.core.title=\"caf\xe9\"\n", into: collection, errs: []string{"not valid UTF-8", "offset 38"}},
	{name: "invalid UTF-8 in a header", header: http.Header{"Category": {"caf\xe9; scheme=\"http://e.com/#\""}}, into: categoryRefs, errs: []string{"Category header", "UTF-8"}},
	{name: "action invocation with two categories", plain: "Category: " + stopCat + "\nCategory: " + stopCat + "\n", into: invocation, errs: []string{"exactly one Category; this one has 2"}},
	{name: "action invocation naming a kind", plain: "Category: " + computeCat + "\n", into: invocation, errs: []string{"line 1", `is a kind; an action invocation names an action`}},
	{name: "action invocation without a category", header: http.Header{"X-Occi-Attribute": {`method="graceful"`}}, into: invocation, errs: []string{"exactly one Category; this one has 0"}},
	{name: "Link in an action invocation", plain: "Category: " + stopCat + "\nLink: </x>; rel=\"" + occi.NetworkKindID + "\"\n", into: invocation, errs: []string{"line 2", "Link is not part of an action invocation"}},
	{name: "category request without class", plain: "Category: x; scheme=\"http://e.com/#\"; location=\"/x/\"\n", into: categoryReq, errs: []string{"line 1", "no class"}},
	{name: "unknown attribute property", plain: "Category: x; scheme=\"http://e.com/#\"; class=\"mixin\"; attributes=\"a.b{secret}\"\n", into: categoryReq, errs: []string{"attributes", `attribute a.b: property "secret" is not immutable or required`}},
	{name: "unclosed attribute properties", plain: "Category: x; scheme=\"http://e.com/#\"; class=\"mixin\"; attributes=\"a.b{required\"\n", into: categoryReq, errs: []string{"attribute a.b: '{' has no closing '}'"}},
	{name: "a kind with two parents", plain: "Category: x; scheme=\"http://e.com/#\"; class=\"kind\"; rel=\"http://e.com/#a http://e.com/#b\"\n", into: categoryReq, errs: []string{"a kind has one parent; rel lists 2"}},
	{name: "an action with a location", plain: "Category: x; scheme=\"http://e.com/#\"; class=\"action\"; location=\"/x/\"\n", into: categoryReq, errs: []string{"an action has no location"}},
	{name: "text/occi with a rendering in the body", header: http.Header{}, body: "Category: " + computeCat, into: collection, errs: []string{"header fields", "its body must be empty or OK"}},
}

func decodeCaseInput(tc decodeCase) (renderers.Codec, http.Header, []byte) {
	if tc.header != nil {
		return renderers.TextOCCI{}, tc.header, []byte(tc.body)
	}
	return renderers.TextPlain{}, http.Header{}, []byte(tc.plain)
}

func TestTextDecode(t *testing.T) {
	var valid, malformed int
	for _, tc := range decodeCases {
		t.Run(tc.name, func(t *testing.T) {
			c, h, body := decodeCaseInput(tc)
			got := tc.into()
			err := c.Decode(h, body, got)
			if tc.errs != nil {
				wantCode(t, err, occi.InvalidArgument, tc.errs...)
				return
			}
			wantNoErr(t, err)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %s\nwant %s", mustJSON(t, got), mustJSON(t, tc.want))
			}
		})
		if tc.errs != nil {
			malformed++
		} else {
			valid++
		}
	}
	if valid+malformed < 40 || valid < 15 || malformed < 15 {
		t.Errorf("%d valid and %d malformed inputs: the table is too small", valid, malformed)
	}
}

// Every input of the table, decoded as every message: no panic, and no
// error but InvalidArgument (a client mistake, never a server fault).
func TestTextDecodeAnyMessage(t *testing.T) {
	for _, tc := range decodeCases {
		c, h, body := decodeCaseInput(tc)
		for _, into := range []func() any{collection, invocation, locations, categoryReq, categoryRefs, func() any { return new(occi.Resource) }, func() any { return new(occi.Link) }} {
			v := into()
			if err := c.Decode(h, body, v); err != nil && occi.CodeOf(err) != occi.InvalidArgument {
				t.Errorf("%s into %T: %v (%v)", tc.name, v, err, occi.CodeOf(err))
			}
		}
	}
}

// The rOCCI-core renderings decode; the one broken sample is refused,
// naming what is broken.
func TestTextRocciVectors(t *testing.T) {
	for name, body := range vectors(t) {
		t.Run(name, func(t *testing.T) {
			var into any
			switch name {
			case "occi_categories.text", "model.txt":
				into = new(renderers.CategoryRequest)
			case "categories.txt":
				into = new(renderers.CategoryRefs)
			case "action_instance.txt":
				into = new(occi.ActionInvocation)
			case "occi_model_rocci_server.text":
				var req renderers.CategoryRequest
				wantCode(t, renderers.TextPlain{}.Decode(nil, body, &req), occi.InvalidArgument, "line 46", "network/action#up", "has a '#' before its end")
				return
			default:
				into = new(renderers.Collection)
			}
			wantNoErr(t, renderers.TextPlain{}.Decode(nil, body, into))
			// The same fields as text/occi header fields decode the same.
			h := http.Header{}
			for _, line := range strings.Split(strings.ReplaceAll(string(body), `"kind"\nCategory`, "\"kind\"\nCategory"), "\n") {
				if k, v, ok := strings.Cut(line, ":"); ok {
					h.Add(k, v)
				}
			}
			again := reflect.New(reflect.TypeOf(into).Elem()).Interface()
			wantNoErr(t, renderers.TextOCCI{}.Decode(h, nil, again))
			if !reflect.DeepEqual(into, again) {
				t.Errorf("text/plain and text/occi disagree:\n%s\n%s", mustJSON(t, into), mustJSON(t, again))
			}
		})
	}
	// A closer look at two of them.
	var c renderers.Collection
	wantNoErr(t, renderers.TextPlain{}.Decode(nil, vectors(t)["instance.txt"], &c))
	r := c.Resources[0]
	if r.Location != "/compute/89878" || len(r.Actions) != 3 || len(r.Links) != 2 || r.Links[1].Kind != occi.NetworkInterfaceID ||
		r.Links[1].Mixins[0] != occi.IPNetIfaceMixinID || r.Links[0].Source.Location != "/compute/89878" || r.Attributes["occi.compute.memory"] != 1.0 {
		t.Errorf("instance.txt: %s", mustJSON(t, r))
	}
	wantNoErr(t, renderers.TextPlain{}.Decode(nil, vectors(t)["occi_resource_w_attributes.text"], &c))
	if r := c.Resources[0]; r.Kind != occi.ComputeKindID || len(r.Mixins) != 3 || r.Mixins[0] != "http://opennebula.org/occi/infrastructure#compute" {
		t.Errorf("occi_resource_w_attributes.text: %s", mustJSON(t, r))
	}
}

// Each Category of the query interface can be sent back as a category
// request: what GET /-/ answers in text is what POST /-/ reads.
func TestTextQueryInterfaceReadsBack(t *testing.T) {
	var b bytes.Buffer
	wantNoErr(t, renderers.TextPlain{}.Encode(http.Header{}, &b, &renderers.QueryInterface{Categories: model()}))
	var req renderers.CategoryRequest
	wantNoErr(t, renderers.TextPlain{}.Decode(nil, b.Bytes(), &req))
	if req.Categories.Len() != model().Len() {
		t.Errorf("%d categories read back of %d", req.Categories.Len(), model().Len())
	}
	var refs renderers.CategoryRefs
	wantNoErr(t, renderers.TextPlain{}.Decode(nil, b.Bytes(), &refs))
	if len(refs.IDs) != model().Len() {
		t.Errorf("%d references read back of %d", len(refs.IDs), model().Len())
	}
}
