package occi

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/xeipuuv/gojsonschema"
)

// AttributeType is the JSON type of an attribute value.
type AttributeType string

// The attribute types of OCCI 1.2.
const (
	TypeString  AttributeType = "string"
	TypeNumber  AttributeType = "number"
	TypeBoolean AttributeType = "boolean"
	TypeArray   AttributeType = "array"
	TypeObject  AttributeType = "object"
)

// AttributeDef describes one attribute of a kind, mixin or action.
//
// Pattern is kept exactly as the client sent it so that the query interface
// renders back what was registered. Two forms are understood: a JSON string
// is a regular expression a string value must match whole (the form of the
// 1.2 drafts, rOCCI and pyOCNI; Ruby's "(?-mix:...)" wrapper is tolerated);
// a JSON object is a JSON Schema the value must satisfy (the 1.2 form).
type AttributeDef struct {
	Mutable     bool            `json:"mutable"`
	Required    bool            `json:"required"`
	Type        AttributeType   `json:"type"`
	Pattern     json.RawMessage `json:"pattern,omitempty"`
	Default     any             `json:"default,omitempty"`
	Description string          `json:"description,omitempty"`

	check func(any) error // compiled Pattern; nil when there is none
}

// UnmarshalJSON applies the spec's defaults (type "string") for members that
// are absent.
func (d *AttributeDef) UnmarshalJSON(b []byte) error {
	type plain AttributeDef
	p := plain{Type: TypeString}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return err
	}
	if p.Type == "" {
		p.Type = TypeString
	}
	*d = AttributeDef(p)
	return nil
}

// compile checks the definition and prepares its pattern. It is idempotent
// and must run before Check; the registry runs it when a category is
// registered or loaded.
func (d *AttributeDef) compile() error {
	switch d.Type {
	case TypeString, TypeNumber, TypeBoolean, TypeArray, TypeObject:
	case "":
		d.Type = TypeString
	default:
		return Errorf(InvalidArgument, "type %q is not one of string, number, boolean, array, object", d.Type)
	}
	d.check = nil
	if p := bytes.TrimSpace(d.Pattern); len(p) > 0 && !bytes.Equal(p, []byte("null")) {
		check, err := compilePattern(p)
		if err != nil {
			return err
		}
		d.check = check
	}
	if d.Default != nil {
		if err := d.Check(d.Default); err != nil {
			return Prefix("default", err)
		}
	}
	return nil
}

// CheckPattern reports why a pattern does not compile, if it does not:
// the registry asks it of a stored pattern before loading its category.
func CheckPattern(p json.RawMessage) error {
	if p = bytes.TrimSpace(p); len(p) == 0 || bytes.Equal(p, []byte("null")) {
		return nil
	}
	_, err := compilePattern(p)
	return err
}

func compilePattern(p json.RawMessage) (func(any) error, error) {
	switch p[0] {
	case '"':
		var expr string
		if err := json.Unmarshal(p, &expr); err != nil {
			return nil, Errorf(InvalidArgument, "pattern is not a valid JSON string")
		}
		// rOCCI renders Ruby regexps as (?-mix:...); the flags are Ruby's
		// defaults, so the body alone means the same in Go.
		if strings.HasPrefix(expr, "(?-mix:") && strings.HasSuffix(expr, ")") {
			expr = expr[len("(?-mix:") : len(expr)-1]
		}
		re, err := regexp.Compile(`^(?:` + expr + `)$`)
		if err != nil {
			return nil, Errorf(InvalidArgument, "pattern %q is not a valid regular expression: %v", expr, err)
		}
		return func(v any) error {
			s, ok := v.(string)
			if ok && !re.MatchString(s) {
				return Errorf(InvalidArgument, "value %s does not match the pattern %s", shortJSON(s), shortJSON(expr))
			}
			return nil
		}, nil
	case '{':
		var doc any
		dec := json.NewDecoder(bytes.NewReader(p))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			return nil, Errorf(InvalidArgument, "pattern is not valid JSON: %v", err)
		}
		if err := localRefsOnly(doc); err != nil {
			return nil, err
		}
		if err := refsEnd(doc); err != nil {
			return nil, err
		}
		if check, ok := simpleSchema(doc); ok {
			return check, nil
		}
		// The schema is compiled from the decoded value, with a loader
		// that reaches nothing: a reference the walk above missed fails
		// here instead of being fetched.
		schema, err := gojsonschema.NewSchema(offlineLoader{gojsonschema.NewGoLoader(doc)})
		if err != nil {
			return nil, Errorf(InvalidArgument, "pattern is not a valid JSON Schema: %v", err)
		}
		return func(v any) error {
			res, err := schema.Validate(gojsonschema.NewGoLoader(v))
			if err != nil {
				return Errorf(InvalidArgument, "value cannot be checked against the pattern: %v", err)
			}
			if !res.Valid() {
				msgs := make([]string, 0, len(res.Errors()))
				for _, e := range res.Errors() {
					msgs = append(msgs, e.Description())
				}
				return Errorf(InvalidArgument, "value %s does not satisfy the pattern: %s", shortJSON(v), strings.Join(msgs, "; "))
			}
			return nil
		}, nil
	default:
		return nil, Errorf(InvalidArgument, "pattern must be a string (regular expression) or an object (JSON Schema)")
	}
}

// localRefsOnly refuses a JSON Schema that refers outside itself: a "$ref"
// that is not a "#" fragment, or an "id"/"$id" that would change the base
// the references resolve against. A pattern comes from a client, and
// following its references would make the server fetch URLs and read files
// for it (and make every start depend on them).
func localRefsOnly(v any) error {
	switch x := v.(type) {
	case []any:
		for _, item := range x {
			if err := localRefsOnly(item); err != nil {
				return err
			}
		}
	case map[string]any:
		// A base is checked before the references it would resolve.
		keys := sortedKeys(x)
		slices.SortStableFunc(keys, func(a, b string) int { return cmp.Compare(refRank(a), refRank(b)) })
		for _, k := range keys {
			switch k {
			case "$ref", "$id", "id":
				if s, ok := x[k].(string); ok && !strings.HasPrefix(s, "#") {
					what := "refers to"
					if k != "$ref" {
						what = "sets its base URI to"
					}
					return Errorf(InvalidArgument, "pattern: %q %s %s, outside the pattern; only references within it (\"#...\") are followed", k, what, shortJSON(s))
				}
			case "enum", "const", "default", "examples":
				// Values, not schemas: nothing in them is followed.
				continue
			}
			if err := localRefsOnly(x[k]); err != nil {
				return err
			}
		}
	}
	return nil
}

// Bounds on a JSON Schema pattern: checking a value walks it, so its size
// and depth bound the work of every write.
const (
	maxPatternDepth = 32
	maxPatternNodes = 4096
)

// refsEnd refuses a pattern whose references can lead back to themselves
// ({"$ref": "#"}, or definitions that refer to each other): gojsonschema
// would follow them for ever on the first value checked, exhausting the
// stack, which no recover catches. It also bounds the pattern's depth and
// size, and refuses a reference to nothing.
func refsEnd(doc any) error {
	type ref struct {
		at     []string // where the "$ref" is
		target []string // what it points to
	}
	var refs []ref
	nodes := 0
	var walk func(v any, at []string) error
	walk = func(v any, at []string) error {
		nodes++
		if nodes > maxPatternNodes {
			return Errorf(InvalidArgument, "pattern: more than %d values; keep patterns small", maxPatternNodes)
		}
		if len(at) > maxPatternDepth {
			return Errorf(InvalidArgument, "pattern: nested more than %d levels deep", maxPatternDepth)
		}
		switch x := v.(type) {
		case []any:
			for i, item := range x {
				if err := walk(item, append(slices.Clone(at), strconv.Itoa(i))); err != nil {
					return err
				}
			}
		case map[string]any:
			for _, k := range sortedKeys(x) {
				switch k {
				case "$ref":
					if s, ok := x[k].(string); ok {
						target, err := pointerTokens(s)
						if err != nil {
							return err
						}
						if _, found := lookup(doc, target); !found {
							return Errorf(InvalidArgument, "pattern: %q refers to %s, which the pattern does not hold", k, shortJSON(s))
						}
						refs = append(refs, ref{at: at, target: target})
					}
					continue
				case "enum", "const", "default", "examples":
					continue
				}
				if err := walk(x[k], append(slices.Clone(at), k)); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(doc, nil); err != nil {
		return err
	}
	// Following reference i checks what its target holds, references j
	// under it included: a cycle in that graph never ends.
	inside := func(j int, target []string) bool {
		return len(refs[j].at) >= len(target) && slices.Equal(refs[j].at[:len(target)], target)
	}
	state := make([]int, len(refs)) // 0 unseen, 1 on the path, 2 done
	var visit func(i int) bool
	visit = func(i int) bool {
		state[i] = 1
		for j := range refs {
			if !inside(j, refs[i].target) {
				continue
			}
			if state[j] == 1 || (state[j] == 0 && visit(j)) {
				return true
			}
		}
		state[i] = 2
		return false
	}
	for i := range refs {
		if state[i] == 0 && visit(i) {
			return Errorf(InvalidArgument, "pattern: its references lead back to themselves (through %q); a check would never end", "#/"+strings.Join(refs[i].target, "/"))
		}
	}
	return nil
}

// pointerTokens splits a "#/a/b" reference into its JSON Pointer tokens.
func pointerTokens(ref string) ([]string, error) {
	frag := strings.TrimPrefix(ref, "#")
	if frag == "" {
		return nil, nil
	}
	if !strings.HasPrefix(frag, "/") {
		return nil, Errorf(InvalidArgument, "pattern: %q is not a JSON Pointer within the pattern (\"#/...\")", ref)
	}
	var out []string
	for _, tok := range strings.Split(frag[1:], "/") {
		tok, err := url.PathUnescape(tok)
		if err != nil {
			return nil, Errorf(InvalidArgument, "pattern: %q is not a valid JSON Pointer", ref)
		}
		out = append(out, strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~"))
	}
	return out, nil
}

// lookup finds the value at a JSON Pointer's tokens.
func lookup(doc any, tokens []string) (any, bool) {
	v := doc
	for _, tok := range tokens {
		switch x := v.(type) {
		case map[string]any:
			next, ok := x[tok]
			if !ok {
				return nil, false
			}
			v = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

func refRank(key string) int {
	if key == "$id" || key == "id" {
		return 0
	}
	return 1
}

// offlineLoader is a schema loader whose factory loads nothing: the schema
// is the value it holds, and any other document it would load is refused.
type offlineLoader struct{ gojsonschema.JSONLoader }

func (offlineLoader) LoaderFactory() gojsonschema.JSONLoaderFactory { return offlineFactory{} }

type offlineFactory struct{}

func (offlineFactory) New(source string) gojsonschema.JSONLoader {
	return refusedLoader{JSONLoader: gojsonschema.NewStringLoader(""), source: source}
}

// refusedLoader stands for a document outside the pattern: loading it
// fails.
type refusedLoader struct {
	gojsonschema.JSONLoader
	source string
}

func (l refusedLoader) JsonSource() any { return l.source } //nolint:revive // gojsonschema names it

func (l refusedLoader) LoadJSON() (any, error) {
	return nil, fmt.Errorf("%s is outside the pattern and is not loaded", shortJSON(l.source))
}

func (refusedLoader) LoaderFactory() gojsonschema.JSONLoaderFactory { return offlineFactory{} }

// Check validates a value against the definition's type and pattern.
func (d *AttributeDef) Check(v any) error {
	if err := checkType(d.Type, v); err != nil {
		return err
	}
	if d.check != nil {
		return d.check(v)
	}
	return nil
}

// MaxValueBytes bounds an attribute value (a string, or the JSON of an
// array or object): large enough for cloud-init user data, small enough that
// one attribute cannot fill the store.
const MaxValueBytes = 256 << 10

func checkType(t AttributeType, v any) error {
	if n := valueSize(v); n > MaxValueBytes {
		return Errorf(InvalidArgument, "value is %d bytes long; the limit is %d", n, MaxValueBytes)
	}
	ok := false
	switch t {
	case TypeString, "":
		_, ok = v.(string)
	case TypeNumber:
		ok = isNumber(v)
	case TypeBoolean:
		_, ok = v.(bool)
	case TypeArray:
		_, ok = v.([]any)
	case TypeObject:
		_, ok = v.(map[string]any)
	}
	if !ok {
		return Errorf(InvalidArgument, "value %s is %s, want %s", shortJSON(v), typeName(v), t)
	}
	return nil
}

func valueSize(v any) int {
	switch x := v.(type) {
	case string:
		return len(x)
	case []any, map[string]any:
		b, err := json.Marshal(x)
		if err != nil {
			return 0
		}
		return len(b)
	}
	return 0
}

func isNumber(v any) bool {
	switch n := v.(type) {
	case float64:
		return !math.IsNaN(n) && !math.IsInf(n, 0)
	case float32:
		return !math.IsNaN(float64(n)) && !math.IsInf(float64(n), 0)
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return true
	case json.Number:
		// ParseFloat also reads "NaN" and "Inf", which JSON has not.
		f, err := n.Float64()
		return err == nil && json.Valid([]byte(n)) && !math.IsInf(f, 0)
	}
	return false
}

func typeName(v any) string {
	switch {
	case v == nil:
		return "null"
	case isNumber(v):
		return "a number"
	}
	switch v.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a %T", v)
}

// shortJSON renders v for an error message, cut to a readable length so a
// huge value cannot blow up a response.
func shortJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	const max = 64
	if len(b) <= max {
		return string(b)
	}
	n := max
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return string(b[:n]) + "…"
}
