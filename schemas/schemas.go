package schemas

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/xeipuuv/gojsonschema"

	"github.com/ocni/ocni/occi"
)

// Name identifies one request document the server accepts.
type Name string

// The request documents. Each is checked against its own schema.
const (
	// Categories is the body of POST and PUT on the query interface /-/:
	// {"kinds": [Kind], "mixins": [Mixin], "actions": [Action],
	// "providers": [Binding]}, every member optional.
	Categories Name = "categories"
	// CategoryRefs is the body of DELETE on /-/ and the filter body of GET
	// on it: the same members, but each category needs only scheme and
	// term; its other members are allowed and ignored.
	CategoryRefs Name = "category-refs"
	// Resource is one resource.
	Resource Name = "resource"
	// Link is one link.
	Link Name = "link"
	// EntityUpdate is one entity in a partial update: a resource's or a
	// link's members, the kind too optional.
	EntityUpdate Name = "entity-update"
	// Collection is {"resources": [...]} and/or {"links": [...]}.
	Collection Name = "collection"
	// ActionInvocation is {"action": ID, "attributes": {...}}.
	ActionInvocation Name = "action-invocation"
	// Locations is the body of a mixin association: {"locations": [...]},
	// a bare JSON array of locations, or {"X-OCCI-Location": [...]}.
	Locations Name = "locations"
)

// document ties a Name to its entry in the schema file. shape is what a
// body of that kind looks like, quoted to the client when the body is wrong
// as a whole (not an object, empty, not JSON).
type document struct {
	definition string
	shape      string
}

var documents = map[Name]document{
	Categories: {
		definition: "categories",
		shape:      `{"kinds": [...], "mixins": [...], "actions": [...], "providers": [...]}`,
	},
	CategoryRefs: {
		definition: "categoryRefs",
		shape:      `{"kinds": [{"scheme": ..., "term": ...}], "mixins": [...], "actions": [...]}`,
	},
	Resource: {
		definition: "resource",
		shape:      `{"kind": ID, "mixins": [ID], "attributes": {...}, "links": [...]}`,
	},
	Link: {
		definition: "link",
		shape:      `{"kind": ID, "attributes": {...}, "source": {"location": ...}, "target": {"location": ...}}`,
	},
	EntityUpdate: {
		definition: "entityUpdate",
		shape:      `{"mixins": [ID], "attributes": {...}}, the kind optional`,
	},
	Collection: {
		definition: "collection",
		shape:      `{"resources": [...]} and/or {"links": [...]}`,
	},
	ActionInvocation: {
		definition: "actionInvocation",
		shape:      `{"action": ID, "attributes": {...}}`,
	},
	Locations: {
		definition: "locations",
		shape:      `{"locations": [...]}, a JSON array of locations, or {"X-OCCI-Location": [...]}`,
	},
}

//go:embed occi-1.2.schema.json
var schemaFile []byte

// compiled holds the schemas, compiled on first use. sync.OnceValue
// re-raises the panic of a failed compilation on every call, so a broken
// schema can never be half-used.
var compiled = sync.OnceValue(func() *compiledSchemas { return mustCompile(schemaFile) })

// compiledSchemas is the compiled schema file.
type compiledSchemas struct {
	byName map[Name]*gojsonschema.Schema
	// definitions is the file's "definitions" as plain JSON values, read
	// to tell which members an object may have when a client sends an
	// unknown one.
	definitions map[string]any
}

func mustCompile(src []byte) *compiledSchemas {
	s, err := compile(src)
	if err != nil {
		panic("schemas: the embedded OCCI JSON schema does not compile (a bug in occi-1.2.schema.json): " + err.Error())
	}
	return s
}

// compile builds one schema per Name from the schema file: the file itself,
// with a root "$ref" to the Name's definition, so that every definition can
// refer to the others with plain "#/definitions/..." references. Each schema
// is checked against the draft-07 meta-schema, which gojsonschema carries
// with it (nothing is fetched).
func compile(src []byte) (*compiledSchemas, error) {
	var root map[string]any
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	defs, _ := root["definitions"].(map[string]any)
	if err := checkRefs(root, defs, "#"); err != nil {
		return nil, err
	}
	out := &compiledSchemas{byName: make(map[Name]*gojsonschema.Schema, len(documents)), definitions: defs}
	for _, name := range slices.Sorted(maps.Keys(documents)) {
		def := documents[name].definition
		if _, ok := defs[def]; !ok {
			return nil, fmt.Errorf("%s: no definition %q", name, def)
		}
		doc := maps.Clone(root)
		doc["$ref"] = "#/definitions/" + def
		loader := gojsonschema.NewSchemaLoader()
		loader.Validate = true
		s, err := loader.Compile(gojsonschema.NewGoLoader(doc))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out.byName[name] = s
	}
	return out, nil
}

// checkRefs makes sure every "$ref" of the file names one of its
// definitions as "#/definitions/name". gojsonschema accepts some malformed
// references, such as the "#definitions/name" of GFD.225's appendix, and
// reports a missing one against whichever document it was compiling; this
// check names the culprit.
func checkRefs(node any, defs map[string]any, at string) error {
	switch n := node.(type) {
	case map[string]any:
		if ref, ok := n["$ref"]; ok {
			s, _ := ref.(string)
			name, found := strings.CutPrefix(s, "#/definitions/")
			if _, exists := defs[name]; !found || !exists {
				return fmt.Errorf("%s: $ref %q does not name a definition as \"#/definitions/<name>\"", at, fmt.Sprint(ref))
			}
		}
		for _, k := range slices.Sorted(maps.Keys(n)) {
			if err := checkRefs(n[k], defs, at+"/"+k); err != nil {
				return err
			}
		}
	case []any:
		for i, v := range n {
			if err := checkRefs(v, defs, at+"/"+strconv.Itoa(i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// Validate checks body against the named schema. It returns nil, or an
// *occi.Error with code occi.InvalidArgument whose message says where, as a
// JSON Pointer, and what is wrong, e.g.
//
//	/kinds/0/attributes/com.example.size/type: must be one of "string", "number", "boolean", "array", "object" (got "integer")
//
// Several violations are all reported, joined with "; ", up to a few and
// then counted. A body that is not JSON is reported with the byte offset,
// line and column of the syntax error. An unknown name is a programming
// error and gives an occi.Internal error.
func Validate(name Name, body []byte) error {
	d, ok := documents[name]
	if !ok {
		return occi.Errorf(occi.Internal, "schemas: no schema named %q", string(name))
	}
	doc, err := parse(body, d)
	if err != nil {
		return err
	}
	cs := compiled()
	res, err := cs.byName[name].Validate(gojsonschema.NewRawLoader(doc))
	if err != nil {
		return occi.Errorf(occi.Internal, "schemas: validating a %s document: %w", name, err)
	}
	if res.Valid() {
		return nil
	}
	r := reporter{doc: d, definitions: cs.definitions, body: doc}
	return r.report(res.Errors())
}

// parse decodes body the way gojsonschema expects it (numbers as
// json.Number, so that 10000000000000000001 is not rounded before being
// checked), after making sure it is one well-formed JSON value.
func parse(body []byte, d document) (any, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, occi.Errorf(occi.InvalidArgument, "body is empty (expected %s)", d.shape)
	}
	if !json.Valid(body) {
		// json.Valid says no more than that; Unmarshal reports where.
		var se *json.SyntaxError
		if err := json.Unmarshal(body, new(json.RawMessage)); errors.As(err, &se) {
			return nil, syntaxError(body, se)
		}
		return nil, occi.Errorf(occi.InvalidArgument, "body is not valid JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, occi.Errorf(occi.InvalidArgument, "body is not valid JSON: %v", err)
	}
	return doc, nil
}

// syntaxError locates a JSON syntax error for a human: the byte offset
// (from 0) of the offending byte, and its line and column (from 1, the
// column counted in characters).
func syntaxError(body []byte, se *json.SyntaxError) error {
	off := int(se.Offset)
	// Offset counts the bytes read, the bad one included; at the end of a
	// truncated body there is no bad byte and the error is at the end.
	if !strings.HasPrefix(se.Error(), "unexpected end") && off > 0 {
		off--
	}
	off = min(max(off, 0), len(body))
	line := 1 + bytes.Count(body[:off], []byte("\n"))
	lineStart := bytes.LastIndexByte(body[:off], '\n') + 1
	col := 1 + utf8.RuneCount(body[lineStart:off])
	return occi.Errorf(occi.InvalidArgument, "body is not valid JSON: %s at byte offset %d (line %d, column %d)", se.Error(), off, line, col)
}
