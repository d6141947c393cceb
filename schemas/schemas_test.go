package schemas

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ocni/ocni/occi"
)

// A kind, a mixin and an action as the spec's appendix shows them, with its
// JSON errors fixed, plus an ocni extension member and both pattern forms.
const goodCategories = `{
  "kinds": [{
    "term": "compute",
    "scheme": "http://example.com/occi/infrastructure#",
    "title": "Compute Resource",
    "parent": "http://schemas.ogf.org/occi/core#resource",
    "attributes": {
      "occi.compute.hostname": {"mutable": true, "required": false, "type": "string", "description": "Hostname"},
      "occi.compute.state": {"mutable": false, "type": "string", "default": "inactive", "pattern": "active|inactive"},
      "com.example.size": {"type": "number", "pattern": {"type": "number", "minimum": 1}, "default": 2},
      "com.example.tags": {"type": "array", "default": null}
    },
    "actions": ["http://example.com/occi/infrastructure/compute/action#start"],
    "location": "/compute/",
    "x-ocni-provider": "dummy"
  }],
  "mixins": [{
    "term": "medium",
    "scheme": "http://example.com/template/resource#",
    "depends": ["http://schemas.ogf.org/occi/infrastructure#resource_tpl"],
    "applies": ["http://schemas.ogf.org/occi/infrastructure#compute"],
    "attributes": {"occi.compute.speed": {"type": "number", "default": 2.8}},
    "title": "Medium VM",
    "location": "/template/resource/medium/"
  }],
  "actions": [{
    "term": "stop",
    "scheme": "http://example.com/occi/infrastructure/compute/action#",
    "title": "Stop",
    "attributes": {"method": {"mutable": true, "required": false, "type": "string", "default": "poweroff"}}
  }],
  "providers": [
    {"kind": "http://example.com/occi/infrastructure#compute", "provider": "dummy"},
    {"OCCI_ID": "http://example.com/occi/infrastructure#compute", "Provider": {"local": ["dummy"], "remote": []}}
  ]
}`

func TestValidDocuments(t *testing.T) {
	tests := []struct {
		name Name
		desc string
		body string
	}{
		{Categories, "kind, mixin, action and bindings", goodCategories},
		{Categories, "empty set", `{}`},
		{Categories, "empty lists", `{"kinds": [], "mixins": [], "actions": [], "providers": []}`},
		{Categories, "attribute definition with every member defaulted", `{"mixins": [{"term": "t", "scheme": "http://e.com/x#", "attributes": {"com.example.a": {}}}]}`},
		{CategoryRefs, "scheme and term only", `{"mixins": [{"scheme": "http://e.com/tpl#", "term": "small"}]}`},
		{CategoryRefs, "full renderings, other members ignored", goodCategories},
		{CategoryRefs, "members of any shape besides scheme and term", `{"kinds": [{"scheme": "s#", "term": "t", "atributes": 1, "related": null}]}`}, //nolint:misspell // a deliberate typo
		{Resource, "kind only", `{"kind": "http://schemas.ogf.org/occi/infrastructure#compute"}`},
		{Resource, "spec appendix example", `{
			"kind": "http://schemas.ogf.org/occi/infrastructure#compute",
			"mixins": ["http://example.com/occi/templates#myosmixin"],
			"attributes": {
				"occi.compute.speed": 2, "occi.compute.memory": 4, "occi.compute.cores": 2,
				"com.example.occi.templates.myosmixin": {"myattribute": "myvalue"}
			},
			"actions": ["http://schemas.ogf.org/occi/infrastructure/compute/action#start"],
			"id": "urn:uuid:996ad860-2a9a-504f-8861-aeafd0b2ae29"
		}`},
		{Resource, "attribute values of every JSON type, null clears", `{"kind": "k#k", "attributes": {"a": null, "b": [1, "x"], "c": {"d": true}, "e": 1e400}}`},
		{Resource, "inline link without source", `{"kind": "k#k", "title": "t", "summary": "s", "links": [{"kind": "l#l", "target": "/network/1"}]}`},
		{Link, "ends as locations", `{"kind": "http://schemas.ogf.org/occi/infrastructure#networkinterface", "source": "/compute/1", "target": "/network/1"}`},
		{Link, "ends as objects with kinds", `{"kind": "l#l", "mixins": [], "actions": [], "attributes": {"occi.networkinterface.interface": "eth0"}, "id": "x", "title": "t",
			"source": {"location": "/compute/1", "kind": "http://schemas.ogf.org/occi/infrastructure#compute"}, "target": {"location": "/network/1"}}`},
		{Link, "no source", `{"kind": "l#l", "target": {"location": "http://other.example.com/network/1"}}`},
		{EntityUpdate, "attributes only, no kind", `{"attributes": {"occi.compute.cores": 4}}`},
		{EntityUpdate, "mixins and title", `{"mixins": ["http://example.com/occi#gold"], "title": "t"}`},
		{EntityUpdate, "a link's members, with its kind", `{"kind": "l#l", "source": "/compute/1", "target": {"location": "/network/1"}, "attributes": {}}`},
		{Collection, "resources", `{"resources": [{"kind": "k#k"}, {"kind": "k#k", "id": "2"}]}`},
		{Collection, "links", `{"links": [{"kind": "l#l", "source": "/a/1", "target": "/b/1"}]}`},
		{Collection, "both, empty", `{"resources": [], "links": []}`},
		{ActionInvocation, "spec appendix example", `{"action": "http://schemas.ogf.org/occi/infrastructure/compute/action#stop", "attributes": {"method": "graceful"}}`},
		{ActionInvocation, "no attributes", `{"action": "http://schemas.ogf.org/occi/infrastructure/compute/action#start"}`},
		{Locations, "locations member", `{"locations": ["/compute/1", "http://h:8090/compute/2"]}`},
		{Locations, "bare array", `["/compute/1"]`},
		{Locations, "pyOCNI header name", `{"X-OCCI-Location": ["/compute/1"]}`},
		{Locations, "empty list dissociates everything", `{"locations": []}`},
		{Locations, "surrounding whitespace", " \n[]\r\n "},
	}
	covered := map[Name]bool{}
	for _, tt := range tests {
		covered[tt.name] = true
		t.Run(string(tt.name)+"/"+tt.desc, func(t *testing.T) {
			if err := Validate(tt.name, []byte(tt.body)); err != nil {
				t.Fatalf("Validate(%s) = %v, want nil", tt.name, err)
			}
		})
	}
	for name := range documents {
		if !covered[name] {
			t.Errorf("no valid document tested for %s", name)
		}
	}
}

func readVector(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "rocci-core", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The documents rOCCI-core, the EGI reference implementation, renders.
func TestRocciVectors(t *testing.T) {
	for _, tt := range []struct {
		file string
		name Name
	}{
		// pattern is a Ruby regular expression string there: accepted, the
		// model understands that form. Nothing else in it is unknown to us.
		{"model.json", Categories},
		{"model.alt.json", Categories},
		// A client may send back the model it read to name categories.
		{"model.json", CategoryRefs},
		{"instance.json", Resource},
		{"action_instance.json", ActionInvocation},
	} {
		t.Run(tt.file+"/"+string(tt.name), func(t *testing.T) {
			if err := Validate(tt.name, readVector(t, tt.file)); err != nil {
				t.Fatalf("Validate(%s, %s) = %v, want nil", tt.name, tt.file, err)
			}
		})
	}

	t.Run("instance.json in a collection", func(t *testing.T) {
		body := `{"resources": [` + string(readVector(t, "instance.json")) + `]}`
		if err := Validate(Collection, []byte(body)); err != nil {
			t.Fatalf("Validate(collection) = %v, want nil", err)
		}
	})

	// categories.json lists mixins by identifier, as strings. Decided: it is
	// rejected, as Categories and as CategoryRefs alike; both bodies carry
	// category objects, and a DELETE on /-/ names a mixin by scheme and
	// term as GFD.223 shows. The message says what to send instead.
	t.Run("categories.json is rejected", func(t *testing.T) {
		for _, name := range []Name{Categories, CategoryRefs} {
			err := Validate(name, readVector(t, "categories.json"))
			if !errors.Is(err, occi.ErrInvalidArgument) {
				t.Fatalf("Validate(%s) = %v, want InvalidArgument", name, err)
			}
			if want := "/mixins/0: must be an object, not a string"; !strings.Contains(err.Error(), want) {
				t.Errorf("Validate(%s) = %q, want it to contain %q", name, err, want)
			}
		}
	})
}

func TestInvalidDocuments(t *testing.T) {
	const (
		kind   = `"term": "compute", "scheme": "http://example.com/occi#"`
		typeIs = `must be one of "string", "number", "boolean", "array", "object"`
	)
	tests := []struct {
		name Name
		desc string
		body string
		want []string // substrings of the message
	}{
		{EntityUpdate, "empty", `{}`, []string{"body: must not be empty"}},
		{EntityUpdate, "misspelt member", `{"atributes": {}}`, []string{`unknown member "atributes" (did you mean "attributes"?)`}}, //nolint:misspell // a deliberate typo
		// Not JSON at all.
		{Resource, "not JSON", `kind: compute`,
			[]string{"body is not valid JSON: invalid character 'k'", "at byte offset 0 (line 1, column 1)"}},
		{Resource, "truncated", `{"kind": "k"`,
			[]string{"unexpected end of JSON input at byte offset 12 (line 1, column 13)"}},
		{Categories, "two documents", `{} {}`,
			[]string{"after top-level value at byte offset 3 (line 1, column 4)"}},
		{Link, "error on a later line, columns in characters", "{\n  \"kind\": \"é\", \"title\": 'l'\n}",
			[]string{"invalid character '\\''", "at byte offset 27 (line 2, column 25)"}},
		{Link, "empty body", "  \n", []string{"body is empty (expected {"}},

		// Wrong top-level type.
		{Categories, "array instead of object", `[]`,
			[]string{`body: must be an object, not an array (expected {"kinds": [...]`}},
		{ActionInvocation, "string instead of object", `"start"`,
			[]string{"body: must be an object, not a string"}},
		{Resource, "null", `null`, []string{"body: must be an object, not null"}},

		// Categories.
		{Categories, "missing term", `{"kinds": [{"scheme": "http://example.com/occi#"}]}`,
			[]string{`/kinds/0: missing required member "term"`}},
		{Categories, "missing scheme", `{"mixins": [{"term": "small"}]}`,
			[]string{`/mixins/0: missing required member "scheme"`}},
		{Categories, "term not a string", `{"kinds": [{"term": 7, "scheme": "s#"}]}`,
			[]string{"/kinds/0/term: must be a string, not a number"}},
		{Categories, "empty term", `{"actions": [{"term": "", "scheme": "s#"}]}`,
			[]string{"/actions/0/term: must not be empty"}},
		{Categories, "misspelled member on a kind", `{"kinds": [{` + kind + `, "atributes": {}}]}`, //nolint:misspell // a deliberate typo
			[]string{`/kinds/0: unknown member "atributes" (did you mean "attributes"?)`}}, //nolint:misspell // a deliberate typo
		{Categories, "OCCI 1.1 related on a kind", `{"kinds": [{` + kind + `, "related": ["http://schemas.ogf.org/occi/core#resource"]}]}`,
			[]string{`/kinds/0: unknown member "related" (OCCI 1.1`, `"parent"`}},
		{Categories, "attribute type integer", `{"kinds": [{` + kind + `, "attributes": {"com.example.size": {"type": "integer"}}}]}`,
			[]string{`/kinds/0/attributes/com.example.size/type: ` + typeIs + ` (got "integer")`}},
		{Categories, "unknown member in an attribute definition", `{"mixins": [{` + kind + `, "attributes": {"com.example.size": {"type": "number", "units": "GiB"}}}]}`,
			[]string{`/mixins/0/attributes/com.example.size: unknown member "units"`}},
		{Categories, "pattern as a number", `{"kinds": [{` + kind + `, "attributes": {"occi.compute.cores": {"pattern": 4}}}]}`,
			[]string{"/kinds/0/attributes/occi.compute.cores/pattern: must be a string or an object, not a number"}},
		{Categories, "attribute values where definitions belong", `{"kinds": [{` + kind + `, "attributes": {"occi.compute.cores": 2}}]}`,
			[]string{"/kinds/0/attributes/occi.compute.cores: must be an object, not a number"}},
		{Categories, "actions not an array", `{"kinds": [{` + kind + `, "actions": "http://example.com/occi/action#start"}]}`,
			[]string{"/kinds/0/actions: must be an array, not a string"}},
		{Categories, "action listed twice", `{"mixins": [{` + kind + `, "actions": ["a#b", "a#b"]}]}`,
			[]string{"/mixins/0/actions: items 0 and 1 are equal"}},
		{Categories, "extension member on an action", `{"actions": [{` + kind + `, "x-ocni-provider": "dummy"}]}`,
			[]string{`/actions/0: unknown member "x-ocni-provider"`}},
		{Categories, "providers item missing provider", `{"providers": [{"kind": "http://example.com/occi#compute"}]}`,
			[]string{`/providers/0: missing required member "provider"`}},
		{Categories, "pyOCNI binding with a bad Provider", `{"providers": [{"OCCI_ID": "k#k", "Provider": {"local": "dummy"}}]}`,
			[]string{"/providers/0/Provider/local: must be an array, not a string"}},
		{Categories, "unknown top-level member", `{"kind": [{` + kind + `}]}`,
			[]string{`body: unknown member "kind" (did you mean "kinds"?)`}},

		// CategoryRefs.
		{CategoryRefs, "reference without scheme", `{"mixins": [{"term": "small", "location": "/small/"}]}`,
			[]string{`/mixins/0: missing required member "scheme"`}},
		{CategoryRefs, "reference as an identifier string", `{"kinds": ["http://example.com/occi#compute"]}`,
			[]string{"/kinds/0: must be an object, not a string"}},

		// Resource.
		{Resource, "no kind", `{"attributes": {"occi.compute.cores": 2}}`,
			[]string{`body: missing required member "kind"`}},
		{Resource, "attributes as an array", `{"kind": "k#k", "attributes": [{"occi.compute.cores": 2}]}`,
			[]string{"/attributes: must be an object, not an array"}},
		{Resource, "mixins as a string", `{"kind": "k#k", "mixins": "m#m"}`,
			[]string{"/mixins: must be an array, not a string"}},
		{Resource, "inline link of the wrong type", `{"kind": "k#k", "links": [42]}`,
			[]string{"/links/0: must be an object, not a number"}},
		// The spec's appendix lists links by location; in a request a link
		// is created with its resource or at its own location, so a bare
		// location is refused with a path rather than ignored.
		{Resource, "link given by location", `{"kind": "k#k", "links": ["/storage/22fe83ae"]}`,
			[]string{"/links/0: must be an object, not a string"}},
		{Resource, "inline link without target", `{"kind": "k#k", "links": ["/l/1", {"kind": "l#l", "source": "/compute/1"}]}`,
			[]string{`/links/1: missing required member "target"`}},
		{Resource, "OCCI 1.1 location member", `{"kind": "k#k", "location": "/compute/1"}`,
			[]string{`body: unknown member "location"`}},

		// Link.
		{Link, "target missing", `{"kind": "l#l", "source": "/compute/1"}`,
			[]string{`body: missing required member "target"`}},
		{Link, "source object without location", `{"kind": "l#l", "source": {"kind": "k#k"}, "target": "/network/1"}`,
			[]string{`/source: missing required member "location"`}},
		{Link, "empty target", `{"kind": "l#l", "target": ""}`,
			[]string{"/target: must not be empty"}},
		{Link, "unknown member in a link end", `{"kind": "l#l", "target": {"href": "/network/1"}}`,
			[]string{`/target: missing required member "location"`, `/target: unknown member "href"`}},
		{Link, "the 1.2 draft's source.type", `{"kind": "l#l", "source": "/c/1", "source.type": "k#k", "target": "/n/1"}`,
			[]string{`body: unknown member "source.type" (write "source": {"location": ..., "kind": ...})`}},
		{Link, "a link is not a location", `"/network/1"`,
			[]string{"body: must be an object, not a string"}},

		// Collection.
		{Collection, "neither resources nor links", `{}`,
			[]string{`body: must not be empty (expected {"resources": [...]} and/or {"links": [...]})`}},
		{Collection, "unknown member", `{"entities": []}`,
			[]string{`body: unknown member "entities"`}},
		{Collection, "deeply wrong nesting", `{"resources": [{"kind": "k#k"}, {"kind": "k#k", "links": [{"kind": "l#l", "target": {"location": ""}}]}]}`,
			[]string{"/resources/1/links/0/target/location: must not be empty"}},

		// ActionInvocation.
		{ActionInvocation, "no action", `{"attributes": {"method": "graceful"}}`,
			[]string{`body: missing required member "action"`}},
		{ActionInvocation, "action as a category object", `{"action": {"term": "stop", "scheme": "s#"}}`,
			[]string{"/action: must be a string, not an object"}},
		{ActionInvocation, "attributes as a string", `{"action": "a#stop", "attributes": "method=graceful"}`,
			[]string{"/attributes: must be an object, not a string"}},

		// Locations.
		{Locations, "a number among locations", `{"locations": ["/compute/1", 2]}`,
			[]string{"/locations/1: must be a string, not a number"}},
		{Locations, "a number in a bare array", `["/compute/1", 3]`,
			[]string{"/1: must be a string, not a number"}},
		{Locations, "empty location", `{"X-OCCI-Location": [""]}`,
			[]string{"/X-OCCI-Location/0: must not be empty"}},
		{Locations, "both member names", `{"locations": [], "X-OCCI-Location": []}`,
			[]string{"body: must have at most 1 member"}},
		{Locations, "empty object", `{}`,
			[]string{"body: must not be empty (expected {\"locations\": [...]}"}},
		{Locations, "a single location", `"/compute/1"`,
			[]string{"body: must be an object or an array, not a string"}},

		// Member names that a dotted path would garble.
		{Categories, "pointer escaping", `{"kinds": [{` + kind + `, "attributes": {"a/b~c": {"type": "int"}}}]}`,
			[]string{"/kinds/0/attributes/a~1b~0c/type: " + typeIs}},
		{Categories, "member name with a NUL next to a prefix of it", `{"kinds": [{` + kind + `, "attributes": {"x": {}, "x\u0000type": {"type": 1}}}]}`,
			[]string{`/kinds/0/attributes/x\u0000type/type: ` + typeIs}},
	}
	if len(tests) < 25 {
		t.Fatalf("only %d cases", len(tests))
	}
	for _, tt := range tests {
		t.Run(string(tt.name)+"/"+tt.desc, func(t *testing.T) {
			err := Validate(tt.name, []byte(tt.body))
			if err == nil {
				t.Fatalf("Validate(%s, %s) = nil, want an error", tt.name, tt.body)
			}
			if !errors.Is(err, occi.ErrInvalidArgument) {
				t.Fatalf("Validate(%s) = %v (code %v), want InvalidArgument", tt.name, err, occi.CodeOf(err))
			}
			var oe *occi.Error
			if !errors.As(err, &oe) {
				t.Fatalf("Validate(%s) = %T, want *occi.Error", tt.name, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(oe.Message, w) {
					t.Errorf("message\n\t%s\ndoes not contain\n\t%s", oe.Message, w)
				}
			}
		})
	}
}

// Every violation is reported, in document order, up to a limit.
func TestSeveralViolations(t *testing.T) {
	t.Run("all listed in document order", func(t *testing.T) {
		body := `{"kinds": [{"scheme": "s#", "term": "a"}, {"scheme": "s#"}, {"term": "t", "scheme": "s#", "parent": 1}],
			"mixins": [{"term": "m"}]}`
		err := Validate(Categories, []byte(body))
		want := `/kinds/1: missing required member "term"; /kinds/2/parent: must be a string, not a number; /mixins/0: missing required member "scheme"`
		if err == nil || err.Error() != want {
			t.Fatalf("Validate = %v\nwant %s", err, want)
		}
	})
	t.Run("capped", func(t *testing.T) {
		var items []string
		for i := range 12 {
			items = append(items, fmt.Sprintf(`{"term": %d, "scheme": "s#"}`, i))
		}
		err := Validate(Categories, []byte(`{"kinds": [`+strings.Join(items, ",")+`]}`))
		if err == nil {
			t.Fatal("Validate = nil")
		}
		msg := err.Error()
		// Array indices sort as numbers: /kinds/10 comes after /kinds/2.
		if !strings.HasPrefix(msg, "/kinds/0/term: must be a string, not a number; /kinds/1/term:") {
			t.Errorf("message starts %q", msg)
		}
		if n := strings.Count(msg, "; "); n != maxReported {
			t.Errorf("%d separators in %q, want %d", n, msg, maxReported)
		}
		if !strings.HasSuffix(msg, "/kinds/4/term: must be a string, not a number; and 7 more") {
			t.Errorf("message ends %q", msg)
		}
	})
	t.Run("summaries of combinators dropped", func(t *testing.T) {
		// The binding's if/then/else adds an error of its own on top of
		// the branch's; only the branch's says something.
		err := Validate(Categories, []byte(`{"providers": [{"OCCI_ID": "k#k"}]}`))
		want := `/providers/0: missing required member "Provider"`
		if err == nil || err.Error() != want {
			t.Fatalf("Validate = %v, want %s", err, want)
		}
	})
}

func TestUnknownName(t *testing.T) {
	for _, name := range []Name{"", "kind", "Resource"} {
		err := Validate(name, []byte(`{}`))
		if got := occi.CodeOf(err); got != occi.Internal {
			t.Errorf("Validate(%q) = %v (code %v), want an Internal error", name, err, got)
		}
		if errors.Is(err, occi.ErrInvalidArgument) {
			t.Errorf("Validate(%q) is InvalidArgument; a bad name is not the client's fault", name)
		}
	}
}

func TestEmbeddedSchemaCompiles(t *testing.T) {
	s, err := compile(schemaFile)
	if err != nil {
		t.Fatalf("compile(embedded) = %v", err)
	}
	for name := range documents {
		if s.byName[name] == nil {
			t.Errorf("no schema compiled for %s", name)
		}
	}
}

// minimalSchemaFile returns a schema file with every definition the
// package needs, each accepting anything, after applying edit.
func minimalSchemaFile(t *testing.T, edit func(defs map[string]any)) []byte {
	t.Helper()
	defs := map[string]any{}
	for _, d := range documents {
		defs[d.definition] = map[string]any{}
	}
	edit(defs)
	b, err := json.Marshal(map[string]any{
		"$schema":     "http://json-schema.org/draft-07/schema#",
		"definitions": defs,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBrokenSchemaFile(t *testing.T) {
	tests := []struct {
		desc string
		src  []byte
		want string
	}{
		{"sane baseline", minimalSchemaFile(t, func(map[string]any) {}), ""},
		{"not JSON", []byte(`{"definitions": `), "not a JSON object"},
		{"definition missing", minimalSchemaFile(t, func(d map[string]any) { delete(d, "resource") }),
			`resource: no definition "resource"`},
		{"reference to nothing", minimalSchemaFile(t, func(d map[string]any) {
			d["link"] = map[string]any{"properties": map[string]any{"kind": map[string]any{"$ref": "#/definitions/categoryId"}}}
		}), `#/definitions/link/properties/kind: $ref "#/definitions/categoryId" does not name a definition`},
		// The form GFD.225's appendix uses, which gojsonschema would let by.
		{"reference without the slash", minimalSchemaFile(t, func(d map[string]any) {
			d["collection"] = map[string]any{"items": map[string]any{"$ref": "#definitions/resource"}}
		}), `#/definitions/collection/items: $ref "#definitions/resource" does not name a definition`},
		{"not a schema", minimalSchemaFile(t, func(d map[string]any) {
			d["categories"] = map[string]any{"required": "term"}
		}), "definitions.categories.required"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			_, err := compile(tt.src)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("compile = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("compile = %v, want an error containing %q", err, tt.want)
			}
		})
	}

	t.Run("mustCompile panics", func(t *testing.T) {
		defer func() {
			r := recover()
			msg, _ := r.(string)
			if !strings.Contains(msg, "schemas: the embedded OCCI JSON schema does not compile") ||
				!strings.Contains(msg, `no definition "resource"`) {
				t.Fatalf("recovered %v, want a panic naming the problem", r)
			}
		}()
		mustCompile(minimalSchemaFile(t, func(d map[string]any) { delete(d, "resource") }))
		t.Fatal("mustCompile returned")
	})
}

// Validate is called by every request handler at once.
func TestConcurrentValidate(t *testing.T) {
	bodies := []struct {
		name Name
		body []byte
	}{
		{Categories, []byte(goodCategories)},
		{Categories, readVector(t, "model.json")},
		{Resource, readVector(t, "instance.json")},
		{Categories, []byte(`{"kinds": [{"term": 1, "related": {}}]}`)},
		{Link, []byte(`{"kind": "l#l", "source": {}}`)},
		{Locations, []byte(`[1, 2]`)},
	}
	want := make([]string, len(bodies))
	for i, b := range bodies {
		want[i] = fmt.Sprint(Validate(b.name, b.body))
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				for i, b := range bodies {
					if got := fmt.Sprint(Validate(b.name, b.body)); got != want[i] {
						t.Errorf("Validate(%s) = %s, want %s", b.name, got, want[i])
					}
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkValidateCategories(b *testing.B) {
	for _, bb := range []struct {
		desc string
		body []byte
	}{
		{"kind+mixin+action", []byte(goodCategories)},
		{"rocci-model", readVector(b, "model.json")},
	} {
		b.Run(bb.desc, func(b *testing.B) {
			if err := Validate(Categories, bb.body); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(bb.body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := Validate(Categories, bb.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
