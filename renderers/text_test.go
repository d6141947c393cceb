package renderers_test

import (
	"bytes"
	"errors"
	"math"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/renderers"
)

func TestTextMediaTypes(t *testing.T) {
	for c, want := range map[renderers.Codec]string{
		renderers.TextPlain{}: "text/plain", renderers.TextOCCI{}: "text/occi", renderers.URIList{}: "text/uri-list",
	} {
		if got := c.MediaType(); got != want {
			t.Errorf("%T.MediaType() = %q, want %q", c, got, want)
		}
	}
}

// TestTextGolden pins every rendering of every fixture.
func TestTextGolden(t *testing.T) {
	for _, fx := range fixtures() {
		for _, r := range renderings() {
			golden(t, fx.name+"."+r.ext+".golden", render(r.codec, fx.msg))
		}
	}
	// What OCCI 1.1 clients get.
	for _, fx := range fixtures()[2:4] {
		golden(t, fx.name+".occi11.plain.golden", render(renderers.TextPlain{OCCI11: true}, fx.msg))
	}
}

// decodeRendered decodes what a codec encoded, as a server would read it
// from a request: text/occi from the header fields, the others from the
// body.
func decodeRendered(t *testing.T, c renderers.Codec, msg, into any) error {
	t.Helper()
	h := http.Header{}
	var body bytes.Buffer
	if err := c.Encode(h, &body, msg); err != nil {
		t.Fatalf("%T.Encode(%T): %v", c, msg, err)
	}
	return c.Decode(h, body.Bytes(), into)
}

// projectCategories is what the text renderings keep of categories: no
// attribute types, patterns, defaults or descriptions, a mixin's first
// depends and not its applies.
func projectCategories(cs *occi.Categories) occi.Categories {
	attrs := func(as occi.Attributes) occi.Attributes {
		if len(as) == 0 {
			return nil
		}
		out := occi.Attributes{}
		for n, d := range as {
			out[n] = &occi.AttributeDef{Type: occi.TypeString, Mutable: d.Mutable, Required: d.Required}
		}
		return out
	}
	nilIfEmpty := func(s []string) []string {
		if len(s) == 0 {
			return nil
		}
		return s
	}
	var out occi.Categories
	for _, k := range cs.Kinds {
		out.Kinds = append(out.Kinds, &occi.Kind{Category: k.Category, Attributes: attrs(k.Attributes), Actions: nilIfEmpty(k.Actions), Parent: k.Parent, Location: k.Location})
	}
	for _, m := range cs.Mixins {
		var depends []string
		if len(m.Depends) > 0 {
			depends = m.Depends[:1]
		}
		out.Mixins = append(out.Mixins, &occi.Mixin{Category: m.Category, Attributes: attrs(m.Attributes), Actions: nilIfEmpty(m.Actions), Depends: depends, Location: m.Location})
	}
	for _, a := range cs.Actions {
		out.Actions = append(out.Actions, &occi.Action{Category: a.Category, Attributes: attrs(a.Attributes)})
	}
	return out
}

func locationsOf(c *renderers.Collection) renderers.Locations {
	var out renderers.Locations
	for _, r := range c.Resources {
		out = append(out, c.Base+r.Location)
	}
	for _, l := range c.Links {
		out = append(out, c.Base+l.Location)
	}
	return out
}

// TestTextRoundTrip checks decode(encode(x)) == x for every fixture in
// every text rendering that can carry it, up to what the rendering keeps:
// categories lose what projectCategories drops, a collection is its
// locations, and attribute values are typed against the model as the
// server does.
func TestTextRoundTrip(t *testing.T) {
	cats := model()
	codecs := []renderers.Codec{renderers.TextPlain{}, renderers.TextOCCI{}, renderers.URIList{}}
	for _, c := range codecs {
		for _, fx := range fixtures() {
			t.Run(c.MediaType()+"/"+fx.name, func(t *testing.T) {
				var got, want any
				switch x := fx.msg.(type) {
				case *renderers.QueryInterface:
					var req renderers.CategoryRequest
					wantErr(t, decodeRenderedOrSkip(t, c, x, &req))
					got, want = req.Categories, projectCategories(x.Categories)
				case *occi.Resource:
					var coll renderers.Collection
					wantErr(t, decodeRenderedOrSkip(t, c, x, &coll))
					renderers.TypeAttributes(c, &coll, cats)
					got, want = coll, renderers.Collection{Resources: []*occi.Resource{x}}
				case *occi.Link:
					var l occi.Link
					wantErr(t, decodeRenderedOrSkip(t, c, x, &l))
					renderers.TypeAttributes(c, &l, cats)
					// An entity's location travels in its action links
					// only, and a network interface has no action.
					w := *x
					w.Location = ""
					got, want = &l, &w
				case *renderers.Collection:
					var locs renderers.Locations
					wantErr(t, decodeRenderedOrSkip(t, c, x, &locs))
					got, want = locs, locationsOf(x)
				case renderers.Locations:
					var locs renderers.Locations
					wantErr(t, decodeRenderedOrSkip(t, c, x, &locs))
					got, want = locs, x
				case *occi.ActionInvocation:
					var inv occi.ActionInvocation
					wantErr(t, decodeRenderedOrSkip(t, c, x, &inv))
					renderers.TypeAttributes(c, &inv, cats)
					got, want = &inv, x
				default:
					t.Skip("not a request message")
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("decode(encode(x)) != x\n got  %s\n want %s", mustJSON(t, got), mustJSON(t, want))
				}
			})
		}
	}
}

// errSkip stands for "this rendering cannot carry this message".
type errSkip struct{}

func (errSkip) Error() string { return "skip" }

// decodeRenderedOrSkip is decodeRendered, except that text/uri-list skips
// what it cannot render.
func decodeRenderedOrSkip(t *testing.T, c renderers.Codec, msg, into any) error {
	t.Helper()
	if renderers.ListsOnly(c) {
		switch msg.(type) {
		case renderers.Locations, *renderers.Collection:
		default:
			var b bytes.Buffer
			wantCode(t, c.Encode(http.Header{}, &b, msg), occi.InvalidArgument, "text/uri-list renders listings only")
			return errSkip{}
		}
	}
	return decodeRendered(t, c, msg, into)
}

func wantErr(t *testing.T, err error) {
	t.Helper()
	if errors.As(err, new(errSkip)) {
		t.SkipNow()
	}
	wantNoErr(t, err)
}

// OCCI 1.1 clients do not get the kinds of a link's ends; everything else
// comes back.
func TestTextRoundTripOCCI11(t *testing.T) {
	for _, c := range []renderers.Codec{renderers.TextPlain{OCCI11: true}, renderers.TextOCCI{OCCI11: true}} {
		var coll renderers.Collection
		wantNoErr(t, decodeRendered(t, c, computeWeb1(), &coll))
		renderers.TypeAttributes(c, &coll, model())
		want := computeWeb1()
		for _, l := range want.Links {
			// The target's kind is the rel of the Link, which 1.1 has.
			delete(l.Attributes, occi.AttrSourceKind)
			l.Source.Kind = ""
		}
		if got := coll.Resources[0]; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got  %s\nwant %s", c.MediaType(), mustJSON(t, got), mustJSON(t, want))
		}
		var l occi.Link
		wantNoErr(t, decodeRendered(t, c, nicLink(), &l))
		renderers.TypeAttributes(c, &l, model())
		wantLink := nicLink()
		delete(wantLink.Attributes, occi.AttrSourceKind)
		delete(wantLink.Attributes, occi.AttrTargetKind)
		wantLink.Source.Kind, wantLink.Target.Kind, wantLink.Location = "", "", ""
		if !reflect.DeepEqual(&l, wantLink) {
			t.Errorf("%s: got  %s\nwant %s", c.MediaType(), mustJSON(t, &l), mustJSON(t, wantLink))
		}
	}
}

// The query interface of the built-ins renders with every parameter, and
// reads back as what it says.
func TestTextQueryInterface(t *testing.T) {
	out := string(render(renderers.TextPlain{}, &renderers.QueryInterface{Categories: occi.Builtins()}))
	for _, want := range []string{
		`Category: compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"; title="Compute Resource"; rel="http://schemas.ogf.org/occi/core#resource"; location="/compute/"; attributes="occi.compute.architecture occi.compute.cores `,
		`occi.compute.state{immutable} occi.compute.state.message{immutable}"; actions="http://schemas.ogf.org/occi/infrastructure/compute/action#start `,
		`Category: entity; scheme="http://schemas.ogf.org/occi/core#"; class="kind"; title="Entity"; attributes="occi.core.id{immutable} occi.core.title"` + "\n",
		`attributes="occi.core.source{immutable required} occi.core.source.kind{immutable} occi.core.target{immutable required}`,
		`Category: small; scheme="http://schemas.ogf.org/occi/infrastructure/resource_tpl#"; class="mixin"; title="Small instance: 1 core, 1 GiB"; rel="http://schemas.ogf.org/occi/infrastructure#resource_tpl"; location="/templates/resource/small/"; attributes="occi.compute.cores occi.compute.memory"` + "\n",
		`Category: stop; scheme="http://schemas.ogf.org/occi/infrastructure/compute/action#"; class="action"; title="Stop the compute instance"; attributes="method"` + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the query interface lacks %s", want)
		}
	}
	if n := strings.Count(out, "\nCategory: "); n != occi.Builtins().Len() {
		t.Errorf("%d Category lines for %d categories", n, occi.Builtins().Len())
	}
}

// A mixin's rel is its first depends only (GFD.229 §5.7.2); several
// identifiers in a rel, as rOCCI writes them, are all read as depends.
func TestTextMixinRel(t *testing.T) {
	m := goldMixin()
	m.Depends = append(m.Depends, occi.OSTplMixinID)
	out := string(render(renderers.TextPlain{}, &renderers.QueryInterface{Categories: &occi.Categories{Mixins: []*occi.Mixin{m}}}))
	if !strings.Contains(out, `rel="`+occi.ResourceTplScheme+`medium"; location`) {
		t.Errorf("rel is not the first depends alone:\n%s", out)
	}
	var req renderers.CategoryRequest
	wantNoErr(t, renderers.TextPlain{}.Decode(nil, []byte(`Category: x; scheme="http://e.com/#"; class="mixin"; rel="http://e.com/#a http://e.com/#b"; location="/x/"`), &req))
	if got := req.Categories.Mixins[0].Depends; !reflect.DeepEqual(got, []string{"http://e.com/#a", "http://e.com/#b"}) {
		t.Errorf("depends = %q", got)
	}
}

func TestTextOCCIHeaders(t *testing.T) {
	h := http.Header{}
	var body bytes.Buffer
	wantNoErr(t, renderers.TextOCCI{}.Encode(h, &body, computeWeb1()))
	if body.String() != "OK\n" {
		t.Errorf("body %q, want OK", body.String())
	}
	if ct := h.Get("Content-Type"); ct != "text/occi" {
		t.Errorf("Content-Type %q", ct)
	}
	// One field line per item, the name repeated as the spec spells it
	// (not Go's canonical X-Occi-Attribute).
	for name, n := range map[string]int{"Category": 4, "Link": 7, "X-OCCI-Attribute": 13} {
		if vs := h[name]; len(vs) != n {
			t.Errorf("%s: %d header fields, want %d, one per item", name, len(vs), n)
		}
	}
	if got := h["Category"]; !reflect.DeepEqual(got, []string{
		`compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"`,
		`medium; scheme="http://schemas.ogf.org/occi/infrastructure/resource_tpl#"; class="mixin"`,
		`ssh_key; scheme="http://schemas.ogf.org/occi/infrastructure/credentials#"; class="mixin"`,
		`gold; scheme="http://example.com/occi/tags#"; class="mixin"`,
	}) {
		t.Errorf("Category: %q", got)
	}
	if !(renderers.TextOCCI{}).HasContent(h) {
		t.Error("HasContent is false for an entity rendering")
	}
	if (renderers.TextOCCI{}).HasContent(http.Header{"Accept": {"*/*"}, "Category": {"  "}}) {
		t.Error("HasContent is true without content")
	}
	// The body of a request is empty or OK; anything else is a mistake.
	for _, b := range []string{"", "OK", "ok\r\n", "  OK \n"} {
		var inv occi.ActionInvocation
		wantNoErr(t, renderers.TextOCCI{}.Decode(http.Header{"Category": {`stop; scheme="` + occi.ComputeActionScheme + `"; class="action"`}}, []byte(b), &inv))
	}
	var inv occi.ActionInvocation
	err := renderers.TextOCCI{}.Decode(http.Header{}, []byte("Category: stop"), &inv)
	wantCode(t, err, occi.InvalidArgument, "header fields", `"Category: stop"`)
	// The names of header fields are case-insensitive, even when the map
	// was not built by net/http.
	var c renderers.Collection
	wantNoErr(t, renderers.TextOCCI{}.Decode(http.Header{
		"category":         {`compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class=kind`},
		"X-OCCI-ATTRIBUTE": {`occi.compute.cores=2`},
	}, nil, &c))
	if r := c.Resources[0]; r.Kind != occi.ComputeKindID || r.Attributes["occi.compute.cores"] != 2.0 {
		t.Errorf("decoded %s", mustJSON(t, r))
	}
}

func TestURIList(t *testing.T) {
	h := http.Header{}
	var b bytes.Buffer
	wantNoErr(t, renderers.URIList{}.Encode(h, &b, renderers.Locations{"http://h/compute/a", "/compute/b"}))
	if b.String() != "http://h/compute/a\r\n/compute/b\r\n" || h.Get("Content-Type") != "text/uri-list" {
		t.Errorf("encoded %q, %v", b.String(), h)
	}
	for _, v := range []any{computeWeb1(), nicLink(), &renderers.QueryInterface{}, &occi.ActionInvocation{Action: stopID}} {
		h := http.Header{}
		err := renderers.URIList{}.Encode(h, &b, v)
		wantCode(t, err, occi.InvalidArgument, "text/uri-list renders listings only")
		if len(h) != 0 {
			t.Errorf("%T: a refused encoding set header fields %v", v, h)
		}
	}
	// Errors are rendered, as text.
	b.Reset()
	wantNoErr(t, renderers.URIList{}.Encode(h, &b, &renderers.Problem{Code: "InvalidArgument", Message: "bad\nthing"}))
	if b.String() != "InvalidArgument: bad thing\n" || h.Get("Content-Type") != "text/plain" {
		t.Errorf("problem: %q, %v", b.String(), h)
	}
	// Decoding: comments and blank lines are skipped (RFC 2483).
	var locs renderers.Locations
	wantNoErr(t, renderers.URIList{}.Decode(nil, []byte("# uri:/os_tpl/\r\nhttp://h/compute/a\r\n\n  /compute/b  \n"), &locs))
	if !reflect.DeepEqual(locs, renderers.Locations{"http://h/compute/a", "/compute/b"}) {
		t.Errorf("decoded %q", locs)
	}
	wantCode(t, renderers.URIList{}.Decode(nil, []byte("/compute/a\nnot a uri\n"), &locs), occi.InvalidArgument, "line 2", `"not a uri"`)
	wantCode(t, renderers.URIList{}.Decode(nil, []byte("/compute/a"), &renderers.Collection{}), occi.InvalidArgument, "text/uri-list renders listings only")
	wantCode(t, renderers.URIList{}.Decode(nil, []byte("/a\xff"), &locs), occi.InvalidArgument, "UTF-8")
}

func TestTextProblem(t *testing.T) {
	for _, c := range []renderers.Codec{renderers.TextPlain{}, renderers.TextOCCI{}, renderers.URIList{}} {
		h := http.Header{}
		var b bytes.Buffer
		wantNoErr(t, c.Encode(h, &b, &renderers.Problem{Status: 409, Code: "Conflict", Message: "line one\r\nline two", RequestID: "x"}))
		if b.String() != "Conflict: line one line two\n" {
			t.Errorf("%s: %q", c.MediaType(), b.String())
		}
		if h.Get("Content-Type") != "text/plain" || h.Get("Category") != "" {
			t.Errorf("%s: header %v", c.MediaType(), h)
		}
	}
}

func TestTextEncodeErrors(t *testing.T) {
	for _, c := range []renderers.Codec{renderers.TextPlain{}, renderers.TextOCCI{}} {
		var b bytes.Buffer
		wantCode(t, c.Encode(http.Header{}, &b, &renderers.CategoryRefs{}), occi.Internal, "cannot encode")
		wantCode(t, c.Encode(http.Header{}, &b, &renderers.Collection{Resources: []*occi.Resource{{}}}), occi.Internal, "resource 0 has none")
		r := computeDB1()
		r.Attributes["x"] = math.NaN()
		h := http.Header{}
		wantCode(t, c.Encode(h, &b, r), occi.Internal, "attribute x")
		if len(h) != 0 {
			t.Errorf("%s: a failed encoding set header fields %v", c.MediaType(), h)
		}
		wantCode(t, c.Decode(http.Header{}, nil, &renderers.QueryInterface{}), occi.Internal, "cannot decode")
	}
}

// Values the text renderings have no syntax for survive through quoting:
// quotes, backslashes, line breaks and other control characters.
func TestTextQuoting(t *testing.T) {
	for _, s := range []string{``, `plain`, `a "quoted" word`, `back\slash\`, "two\nlines\r\n", "tab\tand\x01\x7f", `C:\new`, "ünï©ødé, ;<>"} {
		r := &occi.Resource{Entity: occi.Entity{Kind: occi.ComputeKindID, Attributes: map[string]any{occi.AttrTitle: s}, Title: s}}
		for _, c := range []renderers.Codec{renderers.TextPlain{}, renderers.TextOCCI{}} {
			var got occi.Resource
			wantNoErr(t, decodeRendered(t, c, r, &got))
			if got.Title != s {
				t.Errorf("%s: %q came back as %q", c.MediaType(), s, got.Title)
			}
		}
	}
}

func TestTypeAttributes(t *testing.T) {
	cats := model()
	c := &renderers.Collection{Resources: []*occi.Resource{{Entity: occi.Entity{
		Kind:   occi.ComputeKindID,
		Mixins: []string{goldMixinID},
		Attributes: map[string]any{
			"occi.compute.cores":    "2",       // quoted number: a number
			"occi.compute.memory":   "lots",    // not a number: left for the engine to refuse
			"occi.compute.hostname": "12",      // a string stays a string
			"com.example.vip":       "true",    // quoted boolean
			"com.example.tags":      `["a"]`,   // JSON array
			"com.example.labels":    `{"a":1}`, // JSON object
			"com.example.sla":       99.0,      // already typed
			"com.unknown":           "3",       // undefined: left alone
		},
	}}}}
	renderers.TypeAttributes(renderers.TextPlain{}, c, cats)
	want := map[string]any{
		"occi.compute.cores": 2.0, "occi.compute.memory": "lots", "occi.compute.hostname": "12", "com.example.vip": true,
		"com.example.tags": []any{"a"}, "com.example.labels": map[string]any{"a": 1.0}, "com.example.sla": 99.0, "com.unknown": "3",
	}
	if got := c.Resources[0].Attributes; !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
	// A partial rendering names no kind: the model's definitions apply.
	partial := &occi.Resource{Entity: occi.Entity{Attributes: map[string]any{"occi.compute.cores": "4", "com.example.vip": "false"}}}
	renderers.TypeAttributes(renderers.TextOCCI{}, partial, cats)
	if partial.Attributes["occi.compute.cores"] != 4.0 || partial.Attributes["com.example.vip"] != false {
		t.Errorf("partial: %v", partial.Attributes)
	}
	// Action parameters are typed by the action.
	inv := &occi.ActionInvocation{Action: "http://example.com/occi/tags/action#promote", Attributes: map[string]any{"level": "3"}}
	renderers.TypeAttributes(renderers.TextPlain{}, inv, cats)
	if inv.Attributes["level"] != 3.0 {
		t.Errorf("invocation: %v", inv.Attributes)
	}
	// The JSON rendering is typed already: nothing changes.
	j := &occi.Resource{Entity: occi.Entity{Kind: occi.ComputeKindID, Attributes: map[string]any{"occi.compute.cores": "2"}}}
	renderers.TypeAttributes(renderers.JSON{}, j, cats)
	if j.Attributes["occi.compute.cores"] != "2" {
		t.Error("TypeAttributes changed a JSON value")
	}
}

func TestParseAttributeHeader(t *testing.T) {
	got, err := renderers.ParseAttributeHeader([]string{`occi.compute.hostname="vm-b", occi.compute.cores=2`, `com.e.on=true`})
	wantNoErr(t, err)
	if want := map[string]any{"occi.compute.hostname": "vm-b", "occi.compute.cores": 2.0, "com.e.on": true}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v", got)
	}
	got, err = renderers.ParseAttributeHeader(nil)
	if err != nil || got != nil {
		t.Errorf("no values: %v, %v", got, err)
	}
	_, err = renderers.ParseAttributeHeader([]string{`occi.compute.hostname=vm-b`})
	wantCode(t, err, occi.InvalidArgument, "X-OCCI-Attribute header", "occi.compute.hostname", `"vm-b"`, "not a quoted string")
}
