package renderers_test

import (
	"bytes"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/renderers"
)

// The review's injection, on the way in: a link target, a self, a link
// end and a location are parsed (occi.CheckURI), in every rendering, and
// the reproducer is a 400 wherever a location is read.
func TestLocationsAreParsed(t *testing.T) {
	const nic = occi.NetworkInterfaceID
	quoted := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(reviewInjection)
	for _, tc := range []struct {
		name   string
		c      renderers.Codec
		header http.Header
		body   string
		into   func() any
		errs   []string
	}{
		{"text/occi Link target with a quote", renderers.TextOCCI{}, http.Header{"Link": {`<http://x/a"b>; rel="` + occi.NetworkKindID + `"`}},
			"", collection, []string{"Link header", `holds '"' at byte 10`}},
		{"empty host", renderers.TextPlain{}, nil,
			"Link: <http://>; rel=\"" + occi.NetworkKindID + "\"\n", collection, []string{`location "http://" has no host`}},
		{"relative target", renderers.TextPlain{}, nil,
			"Link: <network/lan>; rel=\"" + occi.NetworkKindID + "\"\n", collection, []string{`"network/lan" is relative`}},
		{"self", renderers.TextPlain{}, nil,
			"Link: </network/lan>; rel=\"" + occi.NetworkKindID + "\"; self=\"" + quoted + "\"\n", collection, []string{"self", `holds '>' at byte 9`}},
		{"a query on an inline link's target", renderers.TextPlain{}, nil,
			"Link: </network/lan?x=1>; rel=\"" + occi.NetworkKindID + "\"\n", collection, []string{`the query "?x=1" is not ?action=TERM`}},
		{"an action link with a self", renderers.TextPlain{}, nil,
			"Link: </compute/a?action=stop>; rel=\"" + stopID + "\"; self=\"/x/y\"\n", collection, []string{`an action link ("?action=stop") has no self`}},
		{"action links naming two entities", renderers.TextPlain{}, nil,
			"Link: </compute/a?action=stop>; rel=\"" + stopID + "\"\nLink: </compute/b?action=start>; rel=\"" + occi.StartActionID + "\"\n", collection,
			[]string{"line 2", `names "/compute/b"; an earlier one names "/compute/a"`}},
		{"an action link without a path", renderers.TextPlain{}, nil,
			"Link: <http://h?action=stop>; rel=\"" + stopID + "\"\n", collection, []string{"names no entity path"}},
		{"link entity target attribute", renderers.TextPlain{}, nil,
			"Category: networkinterface; scheme=\"" + occi.InfraScheme + "\"; class=\"kind\"\nX-OCCI-Attribute: occi.core.source=\"/compute/a\", occi.core.target=\"" + quoted + "\"\n",
			collection, []string{"attribute occi.core.target", `holds '>' at byte 9`}},
		{"link entity source attribute, text/occi", renderers.TextOCCI{}, http.Header{"X-Occi-Attribute": {`occi.core.source="http://u:p@h/compute/a"`}},
			"", func() any { return new(renderers.Entity) }, []string{"attribute occi.core.source", "user information"}},
		{"inline link source attribute", renderers.TextPlain{}, nil,
			"Link: </network/lan>; rel=\"" + occi.NetworkKindID + "\"; occi.core.source=\"file:///etc/hostname\"\n", collection, []string{"occi.core.source", `the scheme "file"`}},
		{"X-OCCI-Location", renderers.TextOCCI{}, http.Header{"X-Occi-Location": {"/compute/a, //evil/compute/b"}},
			"", locations, []string{"X-OCCI-Location header", `"//evil/compute/b" starts with "//"`}},
		{"uri-list line", renderers.URIList{}, nil,
			"/compute/a\r\nhttp://h/compute/b\"\r\n", locations, []string{"line 2", `holds '"'`}},
		{"JSON link target", renderers.JSON{}, nil,
			`{"kind":"` + nic + `","source":"/compute/a","target":"` + quoted + `"}`, func() any { return new(occi.Link) }, []string{"/target:", `holds '>' at byte 9`}},
		{"JSON link source, object form", renderers.JSON{}, nil,
			`{"kind":"` + nic + `","source":{"location":"http://"},"target":"/network/lan"}`, func() any { return new(occi.Link) }, []string{"/source:", "has no host"}},
		{"JSON link target attribute", renderers.JSON{}, nil,
			`{"kind":"` + nic + `","source":"/compute/a","target":"/network/lan","attributes":{"occi.core.target":"/network/x y"}}`, func() any { return new(renderers.Entity) }, []string{"/attributes/occi.core.target:", "a space"}},
		{"JSON inline link", renderers.JSON{}, nil,
			`{"kind":"` + occi.ComputeKindID + `","links":[{"kind":"` + nic + `","target":"network/lan"}]}`, func() any { return new(occi.Resource) }, []string{"/links/0/target:", "is relative"}},
		{"JSON collection", renderers.JSON{}, nil,
			`{"resources":[{"kind":"` + occi.ComputeKindID + `"},{"kind":"` + occi.ComputeKindID + `","links":[{"kind":"` + nic + `","source":"/compute/a?x","target":"/network/lan"}]}]}`,
			collection, []string{"/resources/1/links/0/source:", "a query"}},
		{"JSON collection of links", renderers.JSON{}, nil,
			`{"links":[{"kind":"` + nic + `","source":"/compute/a","target":"/network/../lan"}]}`, collection, []string{"/links/0/target:", `the segment ".."`}},
		{"JSON locations", renderers.JSON{}, nil, `{"locations":["/compute/a","/compute/b\r\n"]}`, locations, []string{"/locations/1:", `control character '\r'`}},
		{"JSON locations, pyOCNI's form", renderers.JSON{}, nil, `{"X-OCCI-Location":["http:///compute/a"]}`, locations, []string{"/X-OCCI-Location/0:", "has no host"}},
		{"JSON locations, a bare array", renderers.JSON{}, nil, `["/compute/a","compute/b"]`, locations, []string{"/1:", "is relative"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.header
			if h == nil {
				h = http.Header{}
			}
			wantCode(t, tc.c.Decode(h, []byte(tc.body), tc.into()), occi.InvalidArgument, tc.errs...)
		})
	}
	// What passes: absolute paths and http(s) URLs, action links.
	var got renderers.Locations
	wantNoErr(t, decode(`{"locations":["/compute/a","https://peer:8443/compute/b"]}`, &got))
	if !reflect.DeepEqual(got, renderers.Locations{"/compute/a", "https://peer:8443/compute/b"}) {
		t.Errorf("locations %q", got)
	}
	var r occi.Resource
	wantNoErr(t, renderers.TextPlain{}.Decode(nil, []byte("Link: <http://h/compute/a?action=stop>; rel=\""+stopID+"\"\n"), &r))
	if r.Location != "/compute/a" || !reflect.DeepEqual(r.Actions, []string{stopID}) {
		t.Errorf("action link: %s", mustJSON(t, &r))
	}
}

// The review's injection, on the way out: a location stored before it was
// checked, or a term or name that would break the grammar, is refused with
// NotAcceptable (JSON carries it) and nothing is written; a text rendering
// never carries an injected line.
func TestTextRefusesWhatBreaksIt(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  func() any
		errs []string
	}{
		{"the reproducer as a link target", func() any {
			r := computeWeb1()
			r.Links[0].Target.Location = reviewInjection
			return r
		}, []string{"link 0", "the target", `holds '>'`}},
		{"an empty host", func() any {
			r := computeWeb1()
			r.Links[1].Target.Location = "http://"
			return r
		}, []string{"link 1", "has no host"}},
		{"a self with a line break", func() any {
			r := computeWeb1()
			r.Links[0].Location = "/networkinterface/a\r\nX-Evil: 1"
			return r
		}, []string{"self", "control character"}},
		{"a link end in a link's attributes", func() any {
			l := nicLink()
			l.Attributes[occi.AttrSource] = `/compute/a"`
			return l
		}, []string{"attribute occi.core.source", `holds '"'`}},
		{"an entity location with '>'", func() any {
			r := computeWeb1()
			r.Location = "/compute/a>"
			return r
		}, []string{"action links", `holds '>'`}},
		{"an attribute name with a quote", func() any {
			r := computeDB1()
			r.Attributes[`a"b`] = "x"
			return r
		}, []string{"attribute name", `"a\"b" is not valid`}},
		{"an attribute name with a line break, in a category", func() any {
			m := goldMixin()
			m.Attributes["a\nb"] = &occi.AttributeDef{Type: occi.TypeString}
			return &renderers.QueryInterface{Categories: &occi.Categories{Mixins: []*occi.Mixin{m}}}
		}, []string{"category", "attribute name", `"a\nb"`}},
		{"a term with a semicolon", func() any {
			m := goldMixin()
			m.Term = "gold; class=\"kind\""
			return &renderers.QueryInterface{Categories: &occi.Categories{Mixins: []*occi.Mixin{m}}}
		}, []string{"category", "is not valid"}},
		{"a term with a '#'", func() any {
			m := goldMixin()
			m.Term = "a#b"
			return &renderers.QueryInterface{Categories: &occi.Categories{Mixins: []*occi.Mixin{m}}}
		}, []string{"category", "more than one '#'"}},
		{"a '#' that is not the scheme's end", func() any {
			m := goldMixin()
			m.Scheme, m.Term = "http://example.com/tags/", "x#gold"
			return &renderers.QueryInterface{Categories: &occi.Categories{Mixins: []*occi.Mixin{m}}}
		}, []string{"category", "its scheme does not end with its only '#'"}},
		{"a category location that is a URL", func() any {
			m := goldMixin()
			m.Location = "http://h/tags/"
			return &renderers.QueryInterface{Categories: &occi.Categories{Mixins: []*occi.Mixin{m}}}
		}, []string{"location", "not an absolute path"}},
		{"a mixin with a space", func() any {
			r := computeDB1()
			r.Mixins = []string{"http://e.com/x#a b"}
			return r
		}, []string{"a mixin", "is not valid"}},
		{"a listed location with a line break", func() any {
			return renderers.Locations{"/compute/a", "/compute/b\nX-OCCI-Location: /compute/c"}
		}, []string{"location 1", "control character"}},
		{"a collection on a hostile base", func() any {
			return &renderers.Collection{Resources: []*occi.Resource{computeDB1()}, Base: "http://h>"}
		}, []string{"location 0", `holds '>'`}},
		{"an action with a space", func() any {
			return &occi.ActionInvocation{Action: "http://e.com/a#st op"}
		}, []string{"the action", "is not valid"}},
	} {
		for _, c := range []renderers.Codec{renderers.TextPlain{}, renderers.TextOCCI{}, renderers.URIList{}} {
			msg := tc.msg()
			if renderers.ListsOnly(c) {
				switch msg.(type) {
				case renderers.Locations, *renderers.Collection:
				default:
					continue
				}
			}
			h := http.Header{}
			var b bytes.Buffer
			err := c.Encode(h, &b, msg)
			wantCode(t, err, occi.NotAcceptable, append([]string{renderers.JSONMediaType}, tc.errs...)...)
			if len(h) != 0 || b.Len() != 0 {
				t.Errorf("%s, %s: a refused rendering wrote %q and %v", tc.name, c.MediaType(), b.String(), h)
			}
			// JSON carries it.
			if _, _, err := encode(msg); err != nil {
				t.Errorf("%s: JSON: %v", tc.name, err)
			}
		}
	}
	// A location with a comma is a valid URI, but the X-OCCI-Location
	// field would read two: text/uri-list and JSON carry it.
	locs := renderers.Locations{"/compute/a,b"}
	for _, c := range []renderers.Codec{renderers.TextPlain{}, renderers.TextOCCI{}} {
		wantCode(t, c.Encode(http.Header{}, &bytes.Buffer{}, locs), occi.NotAcceptable, `"/compute/a,b" holds a comma`, renderers.URIListMediaType)
	}
	var got renderers.Locations
	wantNoErr(t, decodeRendered(t, renderers.URIList{}, locs, &got))
	if !reflect.DeepEqual(got, locs) {
		t.Errorf("uri-list: %q", got)
	}
}

// An escape in a quoted string is one of \" \\ \n \r \t \uXXXX; any other,
// or an incomplete one, is a 400 naming the attribute and the escape,
// where "\u00" used to be stored as "u00".
func TestTextEscapes(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`a\"b`, `a"b`}, {`a\\b`, `a\b`}, {`a\nb`, "a\nb"}, {`a\rb`, "a\rb"}, {`a\tb`, "a\tb"},
		{`\u0041\u00e9\u20AC`, "Aé€"}, {`\u0000`, "\x00"}, {`\\u00`, `\u00`}, {`\\\"`, `\"`},
	} {
		for _, c := range []renderers.Codec{renderers.TextPlain{}, renderers.TextOCCI{}} {
			var r occi.Resource
			h, body := http.Header{"X-Occi-Attribute": {`occi.core.title="` + tc.in + `"`}}, []byte("OK")
			if _, plain := c.(renderers.TextPlain); plain {
				h, body = http.Header{}, []byte(`X-OCCI-Attribute: occi.core.title="`+tc.in+`"`)
			}
			wantNoErr(t, c.Decode(h, body, &r))
			if r.Title != tc.want {
				t.Errorf("%s: %s read as %q, want %q", c.MediaType(), tc.in, r.Title, tc.want)
			}
		}
	}
	for _, tc := range []struct{ in, escape string }{
		{`a\u00`, `'\u00'`},
		{`\u12`, `'\u12'`},
		{`\u12G4`, `'\u12G4'`},
		{`\uD800`, `'\uD800'`},
		{`\x41`, `'\x'`},
		{`C:\dir`, `'\d'`},
		{`\'`, `"\\'"`},
		{`\é`, `'\é'`},
		{"\\\x01", `"\\\x01"`},
		{`\/`, `'\/'`},
	} {
		for _, c := range []renderers.Codec{renderers.TextPlain{}, renderers.TextOCCI{}} {
			h, body := http.Header{"X-Occi-Attribute": {`com.example.note="` + tc.in + `"`}}, []byte("OK")
			if _, plain := c.(renderers.TextPlain); plain {
				h, body = http.Header{}, []byte(`X-OCCI-Attribute: com.example.note="`+tc.in+`"`)
			}
			wantCode(t, c.Decode(h, body, &renderers.Collection{}), occi.InvalidArgument, "attribute com.example.note", "the escape "+tc.escape)
		}
	}
	// In a Category's parameters, in a Link's attributes, in a filter.
	var req renderers.CategoryRequest
	wantCode(t, renderers.TextPlain{}.Decode(nil, []byte(`Category: x; scheme="http://e.com/#"; class="mixin"; title="a\u00"`), &req),
		occi.InvalidArgument, `parameter "title"`, `the escape '\u00' is incomplete`)
	wantCode(t, renderers.TextPlain{}.Decode(nil, []byte(`Link: </network/lan>; rel="`+occi.NetworkKindID+`"; x.y="\q"`), &renderers.Collection{}),
		occi.InvalidArgument, "attribute x.y", `the escape '\q' is not one of`)
	_, err := renderers.ParseAttributeHeader([]string{`occi.compute.hostname="\u00zz"`})
	wantCode(t, err, occi.InvalidArgument, "attribute occi.compute.hostname", `'\u00zz'`)
}

// text/occi writes one header field line per item, none over
// MaxHeaderLine; what cannot fit is a 406 naming text/plain, and
// text/plain renders it.
func TestTextOCCILineCap(t *testing.T) {
	// Every item of every fixture is a field line of its own.
	for _, fx := range fixtures() {
		h := http.Header{}
		if err := (renderers.TextOCCI{}).Encode(h, &bytes.Buffer{}, fx.msg); err != nil {
			continue
		}
		var plain bytes.Buffer
		if _, isProblem := fx.msg.(*renderers.Problem); isProblem {
			continue
		}
		wantNoErr(t, renderers.TextPlain{}.Encode(http.Header{}, &plain, fx.msg))
		var lines int
		for name, vs := range h {
			if name == "Content-Type" {
				continue
			}
			for _, v := range vs {
				lines++
				if !strings.Contains(plain.String(), name+": "+v+"\n") {
					t.Errorf("%s: the %s field %q is not one text/plain line", fx.name, name, v)
				}
			}
		}
		if want := strings.Count(plain.String(), "\n"); lines != want {
			t.Errorf("%s: %d header field lines, %d text/plain lines", fx.name, lines, want)
		}
	}

	// A 200 KB title: one X-OCCI-Attribute line too long.
	r := computeDB1()
	r.Title = strings.Repeat("t", 200<<10)
	h := http.Header{}
	var b bytes.Buffer
	err := renderers.TextOCCI{}.Encode(h, &b, r)
	wantCode(t, err, occi.NotAcceptable, "X-OCCI-Attribute", "occi.core.title", "8192", renderers.TextPlainMediaType)
	if len(h) != 0 || b.Len() != 0 {
		t.Errorf("a refused rendering wrote %d bytes and %d fields", b.Len(), len(h))
	}
	if len(err.Error()) > 500 {
		t.Errorf("the message quotes too much: %d bytes", len(err.Error()))
	}
	wantNoErr(t, renderers.TextPlain{}.Encode(http.Header{}, &b, r))

	// The limit itself fits.
	line := func(title string) int {
		return len("X-OCCI-Attribute: occi.core.title=") + len(title) + 2
	}
	r.Title = strings.Repeat("t", renderers.MaxHeaderLine-line(""))
	if line(r.Title) != renderers.MaxHeaderLine {
		t.Fatal("miscounted")
	}
	wantNoErr(t, renderers.TextOCCI{}.Encode(http.Header{}, &bytes.Buffer{}, r))
	r.Title += "t"
	wantCode(t, renderers.TextOCCI{}.Encode(http.Header{}, &bytes.Buffer{}, r), occi.NotAcceptable, "8193 bytes")

	// The query interface with a mixin of 15,000 attributes: its Category
	// line alone is over the limit.
	m := goldMixin()
	for i := range 15000 {
		m.Attributes["com.example.a"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+strconv.Itoa(i)] = &occi.AttributeDef{Type: occi.TypeString, Mutable: true}
	}
	qi := &renderers.QueryInterface{Categories: &occi.Categories{Kinds: occi.Builtins().Kinds, Mixins: []*occi.Mixin{m}}}
	h = http.Header{}
	wantCode(t, renderers.TextOCCI{}.Encode(h, &bytes.Buffer{}, qi), occi.NotAcceptable, "the Category header field", `"gold; scheme=`, renderers.TextPlainMediaType)
	if len(h) != 0 {
		t.Errorf("a refused query interface set %d header fields", len(h))
	}
	b.Reset()
	wantNoErr(t, renderers.TextPlain{}.Encode(http.Header{}, &b, qi))
	var req renderers.CategoryRequest
	wantNoErr(t, renderers.TextPlain{}.Decode(nil, b.Bytes(), &req))
	if n := len(req.Categories.Mixins[0].Attributes); n != 15004 {
		t.Errorf("text/plain carried %d attributes", n)
	}
	// Without it, the built-ins fit, one Category line each.
	qi.Categories.Mixins = nil
	h = http.Header{}
	wantNoErr(t, renderers.TextOCCI{}.Encode(h, &bytes.Buffer{}, qi))
	if n := len(h["Category"]); n != len(qi.Categories.Kinds) {
		t.Errorf("%d Category lines for %d kinds", n, len(qi.Categories.Kinds))
	}
}

// A body of one entity decoded as a collection: the pointer is into that
// body, not into the collection it becomes.
func TestJSONSingleEntityPointer(t *testing.T) {
	for body, pointer := range map[string]string{
		`{"kind":"` + occi.NetworkInterfaceID + `","source":"/compute/a","target":"http://"}`:                          "/target: ",
		`{"kind":"` + occi.ComputeKindID + `","links":[{"kind":"` + occi.NetworkInterfaceID + `","target":"/n/a b"}]}`: "/links/0/target: ",
	} {
		var c renderers.Collection
		err := decode(body, &c)
		wantCode(t, err, occi.InvalidArgument, "location")
		if err != nil && !strings.HasPrefix(err.Error(), pointer) {
			t.Errorf("%q does not start with the pointer %q", err, pointer)
		}
	}
}
