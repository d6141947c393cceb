package renderers_test

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/renderers"
)

// maxFuzzInput is the size guard of the fuzz targets: larger inputs teach
// nothing a smaller one does not, and slow the search down.
const maxFuzzInput = 64 << 10

// fuzzBody returns the body of a golden file (what follows the header).
func fuzzBody(rendered []byte) []byte {
	_, body, _ := bytes.Cut(rendered, []byte("\n\n"))
	return body
}

// fuzzHeaderBlock returns the header fields of a golden file, one per line.
func fuzzHeaderBlock(rendered []byte) string {
	head, _, _ := bytes.Cut(rendered, []byte("\n\n"))
	return string(head)
}

// headerOf builds header fields from "Name: value" lines, as a server
// receives them.
func headerOf(block string) http.Header {
	h := http.Header{}
	for _, line := range strings.Split(block, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
	return h
}

// The messages a request may carry, for the fuzz targets to decode into.
var requestMessages = []func() any{
	func() any { return new(renderers.Collection) },
	func() any { return new(occi.ActionInvocation) },
	func() any { return new(renderers.Locations) },
	func() any { return new(renderers.CategoryRequest) },
	func() any { return new(renderers.CategoryRefs) },
	func() any { return new(occi.Resource) },
	func() any { return new(occi.Link) },
}

// checkTextDecode decodes an input as every request message: an error is
// InvalidArgument, and what decodes encodes back to something that decodes
// to the same (for categories, up to what a Category keeps).
func checkTextDecode(t *testing.T, c renderers.Codec, h http.Header, body []byte) {
	for _, into := range requestMessages {
		v := into()
		err := c.Decode(h, body, v)
		if err != nil {
			if code := occi.CodeOf(err); code != occi.InvalidArgument {
				t.Fatalf("decoding %T: error %q has code %v, want InvalidArgument", v, err, code)
			}
			continue
		}
		var msg any
		switch m := v.(type) {
		case *renderers.Collection:
			switch {
			case len(m.Resources) == 1:
				msg = m.Resources[0]
			case len(m.Links) == 1:
				msg = m.Links[0]
			default:
				continue
			}
		case *occi.ActionInvocation, *occi.Resource, *occi.Link:
			msg = m
		case *renderers.Locations:
			msg = *m
		case *renderers.CategoryRequest:
			checkCategoriesFixpoint(t, c, &m.Categories)
			continue
		default:
			continue
		}
		again := into()
		h2 := http.Header{}
		var b bytes.Buffer
		if err := c.Encode(h2, &b, msg); err != nil {
			t.Fatalf("encoding the decoded %T: %v", msg, err)
		}
		if err := c.Decode(h2, b.Bytes(), again); err != nil {
			t.Fatalf("decoding the encoded %T: %v\n%s\n%v", msg, err, b.String(), h2)
		}
		if !reflect.DeepEqual(v, again) {
			t.Fatalf("decode(encode(x)) != x for %T\n got  %s\n want %s", v, mustJSON(t, again), mustJSON(t, v))
		}
	}
}

// checkCategoriesFixpoint: categories read back as what a Category keeps
// of them, and render the same the second time.
func checkCategoriesFixpoint(t *testing.T, c renderers.Codec, cs *occi.Categories) {
	enc := func(cs *occi.Categories) (http.Header, []byte) {
		h := http.Header{}
		var b bytes.Buffer
		if err := c.Encode(h, &b, &renderers.QueryInterface{Categories: cs}); err != nil {
			t.Fatalf("encoding decoded categories: %v", err)
		}
		return h, b.Bytes()
	}
	h, b := enc(cs)
	var again renderers.CategoryRequest
	if err := c.Decode(h, b, &again); err != nil {
		t.Fatalf("decoding encoded categories: %v\n%s\n%v", err, b, h)
	}
	if want := projectCategories(cs); !reflect.DeepEqual(again.Categories, want) {
		t.Fatalf("categories: got  %s\nwant %s", mustJSON(t, again.Categories), mustJSON(t, want))
	}
	if h2, b2 := enc(&again.Categories); !bytes.Equal(b, b2) || !reflect.DeepEqual(h, h2) {
		t.Fatalf("categories render differently the second time:\n%s%v\n%s%v", b, h, b2, h2)
	}
}

func FuzzDecodeTextPlain(f *testing.F) {
	for _, g := range goldenFiles(f, "plain") {
		f.Add(string(fuzzBody(g)))
	}
	for _, v := range vectors(f) {
		f.Add(string(v))
	}
	for _, tc := range decodeCases {
		if tc.header == nil {
			f.Add(tc.plain)
		}
	}
	f.Fuzz(func(t *testing.T, body string) {
		if len(body) > maxFuzzInput {
			t.Skip()
		}
		checkTextDecode(t, renderers.TextPlain{}, http.Header{}, []byte(body))
	})
}

// FuzzDecodeTextOCCIHeaders takes header fields as "Name: value" lines.
func FuzzDecodeTextOCCIHeaders(f *testing.F) {
	for _, g := range goldenFiles(f, "occi") {
		f.Add(fuzzHeaderBlock(g))
	}
	for _, v := range vectors(f) {
		f.Add(string(v))
	}
	for _, tc := range decodeCases {
		if tc.header != nil {
			var b strings.Builder
			for k, vs := range tc.header {
				for _, v := range vs {
					b.WriteString(k + ": " + v + "\n")
				}
			}
			f.Add(b.String())
		}
	}
	f.Fuzz(func(t *testing.T, block string) {
		if len(block) > maxFuzzInput {
			t.Skip()
		}
		checkTextDecode(t, renderers.TextOCCI{}, headerOf(block), []byte("OK"))
	})
}

func FuzzDecodeJSON(f *testing.F) {
	for _, g := range goldenFiles(f, "json") {
		f.Add(string(fuzzBody(g)))
	}
	paths, _ := filepath.Glob(filepath.Join("..", "schemas", "testdata", "rocci-core", "*.json"))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(string(b))
		}
	}
	f.Add(`{"kinds":[{"term":"vm","scheme":"http://e.com/#","parent":"http://schemas.ogf.org/occi/core#resource","location":"/vm/","x-ocni-provider":"lab"}],"providers":[{"OCCI_ID":"http://e.com/#vm","Provider":{"local":["lab"]}}]}`)
	f.Add(`["/compute/a", "http://h/compute/b"]`)
	f.Add(`{"X-OCCI-Location": ["/compute/a"]}`)
	f.Fuzz(func(t *testing.T, body string) {
		if len(body) > maxFuzzInput {
			t.Skip()
		}
		for _, into := range requestMessages {
			v := into()
			err := renderers.JSON{}.Decode(http.Header{}, []byte(body), v)
			if err != nil {
				// Unimplemented: pyOCNI's remote providers.
				if code := occi.CodeOf(err); code != occi.InvalidArgument && code != occi.Unimplemented {
					t.Fatalf("decoding %T: error %q has code %v", v, err, code)
				}
				continue
			}
			if sourceless(v) {
				// The JSON rendering writes a missing source as
				// {"location":""}, which its schema refuses: a request
				// may leave an inline link's source out, a response
				// never does.
				continue
			}
			var msg any
			switch m := v.(type) {
			case *renderers.Collection, *occi.ActionInvocation, *occi.Resource, *occi.Link:
				msg = m
			case *renderers.Locations:
				msg = *m
			default:
				continue
			}
			// JSON tells an empty list from an absent one where Go
			// does not: compare renderings, not values.
			first := encodeJSON(t, msg)
			again := into()
			if err := (renderers.JSON{}).Decode(http.Header{}, first, again); err != nil {
				t.Fatalf("decoding the encoded %T: %v\n%s", msg, err, first)
			}
			if l, ok := again.(*renderers.Locations); ok {
				again = *l
			}
			if second := encodeJSON(t, again); !bytes.Equal(first, second) {
				t.Fatalf("encode(decode(encode(x))) != encode(x) for %T\n got  %s\n want %s", v, second, first)
			}
		}
	})
}

// sourceless reports whether a decoded message holds a link without a
// source.
func sourceless(v any) bool {
	var links []*occi.Link
	switch m := v.(type) {
	case *renderers.Collection:
		links = m.Links
		for _, r := range m.Resources {
			links = append(links, r.Links...)
		}
	case *occi.Resource:
		links = m.Links
	case *occi.Link:
		links = []*occi.Link{m}
	}
	for _, l := range links {
		if l.Source.Location == "" {
			return true
		}
	}
	return false
}

func encodeJSON(t *testing.T, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := (renderers.JSON{}).Encode(http.Header{}, &b, v); err != nil {
		t.Fatalf("encoding %T: %v", v, err)
	}
	return b.Bytes()
}
