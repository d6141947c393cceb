package renderers_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/renderers"
)

// BenchmarkEncodeQueryInterface renders GET /-/ on a server with only the
// built-in categories, one kind bound to a provider.
func BenchmarkEncodeQueryInterface(b *testing.B) {
	qi := &renderers.QueryInterface{
		Categories: occi.Builtins(),
		Bindings:   map[string]string{computeKind: "openstack"},
	}
	var codec renderers.JSON
	b.ReportAllocs()
	for b.Loop() {
		if err := codec.Encode(http.Header{}, io.Discard, qi); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeCategoryRequest reads a POST /-/ body registering one kind,
// one mixin and one action, schema check included.
func BenchmarkDecodeCategoryRequest(b *testing.B) {
	body := []byte(`{
  "kinds": [{
    "scheme": "http://example.com/occi#", "term": "vm", "title": "Virtual machine",
    "parent": "http://schemas.ogf.org/occi/core#resource", "location": "/vm/",
    "actions": ["http://example.com/occi/vm/action#reboot"],
    "attributes": {"com.example.vm.cores": {"type": "number", "mutable": true, "default": 2}},
    "x-ocni-provider": "openstack"
  }],
  "mixins": [{
    "scheme": "http://example.com/occi#", "term": "gold", "location": "/gold/",
    "applies": ["http://example.com/occi#vm"],
    "attributes": {"com.example.tier.name": {"pattern": {"enum": ["gold", "silver"]}}}
  }],
  "actions": [{
    "scheme": "http://example.com/occi/vm/action#", "term": "reboot",
    "attributes": {"method": {"pattern": {"enum": ["soft", "hard"]}, "default": "soft"}}
  }]
}`)
	var codec renderers.JSON
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var req renderers.CategoryRequest
		if err := codec.Decode(http.Header{}, body, &req); err != nil {
			b.Fatal(err)
		}
		if req.Categories.Len() != 3 || len(req.Bindings) != 1 {
			b.Fatalf("decoded %d categories and %d bindings", req.Categories.Len(), len(req.Bindings))
		}
	}
}
