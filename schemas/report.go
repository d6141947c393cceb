package schemas

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/xeipuuv/gojsonschema"

	"github.com/ocni/ocni/occi"
)

// maxReported is how many violations a message lists before it only counts
// the rest: enough to fix a body in one round trip, short enough to read.
const maxReported = 5

// issue is one violation: where (JSON Pointer segments) and what.
type issue struct {
	path []string
	text string
	// summary marks the error a combinator (allOf, if/then/else, ...) adds
	// on top of the errors of its branches; it says nothing those do not,
	// so it is dropped when they are reported.
	summary bool
}

// reporter writes the errors of one validation.
type reporter struct {
	doc         document
	definitions map[string]any // the schema file's definitions
	body        any            // the decoded body
}

// report turns gojsonschema's errors into one InvalidArgument error.
func (r *reporter) report(errs []gojsonschema.ResultError) error {
	issues := make([]issue, 0, len(errs))
	for _, e := range errs {
		issues = append(issues, r.describe(e))
	}
	issues = slices.DeleteFunc(issues, func(s issue) bool {
		return s.summary && slices.ContainsFunc(issues, func(o issue) bool {
			return !o.summary && hasPrefix(o.path, s.path)
		})
	})
	slices.SortFunc(issues, func(a, b issue) int {
		return cmp.Or(comparePaths(a.path, b.path), strings.Compare(a.text, b.text))
	})
	issues = slices.CompactFunc(issues, func(a, b issue) bool {
		return a.text == b.text && slices.Equal(a.path, b.path)
	})

	msgs := make([]string, 0, maxReported+1)
	for i, s := range issues {
		if i == maxReported {
			msgs = append(msgs, fmt.Sprintf("and %d more", len(issues)-maxReported))
			break
		}
		msgs = append(msgs, pointer(s.path)+": "+s.text)
	}
	return occi.Errorf(occi.InvalidArgument, "%s", strings.Join(msgs, "; "))
}

// describe writes one gojsonschema error in the project's words. The
// library's own descriptions use its dotted field notation, which is
// ambiguous with attribute names such as "occi.compute.cores".
func (r *reporter) describe(e gojsonschema.ResultError) issue {
	s := issue{path: locate(r.body, e.Context())}
	det := e.Details()
	switch e.Type() {
	case "required":
		s.text = "missing required member " + quote(fmt.Sprint(det["property"]))
	case "additional_property_not_allowed":
		member := fmt.Sprint(det["property"])
		s.text = "unknown member " + quote(member) + r.hint(s.path, member)
	case "invalid_type":
		s.text = "must be " + expectedTypes(fmt.Sprint(det["expected"])) + ", not " + typeOf(e.Value())
	case "enum":
		s.text = fmt.Sprintf("must be one of %v (got %s)", det["allowed"], brief(e.Value()))
	case "const":
		s.text = fmt.Sprintf("must be %v (got %s)", det["allowed"], brief(e.Value()))
	case "string_gte":
		if fmt.Sprint(det["min"]) == "1" {
			s.text = "must not be empty"
		} else {
			s.text = fmt.Sprintf("must be at least %v characters long", det["min"])
		}
	case "string_lte":
		s.text = fmt.Sprintf("must be at most %v characters long", det["max"])
	case "array_min_items":
		s.text = fmt.Sprintf("must have at least %v items", det["min"])
	case "array_max_items":
		s.text = fmt.Sprintf("must have at most %v items", det["max"])
	case "unique":
		s.text = fmt.Sprintf("items %v and %v are equal (each may appear only once)", det["i"], det["j"])
	case "array_min_properties":
		if fmt.Sprint(det["min"]) == "1" {
			s.text = "must not be empty"
		} else {
			s.text = fmt.Sprintf("must have at least %v members", det["min"])
		}
	case "array_max_properties":
		s.text = fmt.Sprintf("must have at most %v member%s", det["max"], plural(det["max"]))
	case "pattern":
		s.text = fmt.Sprintf("must match the regular expression %v", det["pattern"])
	case "false":
		s.text = "is not allowed"
	case "number_any_of", "number_one_of", "number_all_of", "condition_then", "condition_else":
		s.text = "does not have an accepted form"
		s.summary = true
	case "number_not":
		s.text = "has a form that is not accepted here"
	default:
		s.text = e.Description()
	}
	// A body wrong as a whole gets the shape it should have.
	if len(s.path) == 0 {
		switch e.Type() {
		case "invalid_type", "array_min_properties", "array_max_properties", "number_any_of", "number_one_of":
			s.text += " (expected " + r.doc.shape + ")"
		}
	}
	return s
}

// locate returns the JSON Pointer segments of an error's context.
//
// gojsonschema keeps the path as a list of member names and indices but
// only exposes it joined into one string. Joined with "." it would be
// ambiguous ("occi.compute.cores" is one member); joined with NUL it is not,
// unless a member name holds a NUL, and the document is there to settle
// that: the segments are matched against the members that really exist.
func locate(doc any, ctx *gojsonschema.JsonContext) []string {
	if ctx == nil {
		return nil
	}
	// The first element is the root's name, "(root)".
	_, rest, found := strings.Cut(ctx.String(sep), sep)
	if !found {
		return nil
	}
	if path, ok := walk(doc, rest); ok {
		return path
	}
	return strings.Split(rest, sep)
}

const sep = "\x00"

func walk(node any, rest string) ([]string, bool) {
	switch n := node.(type) {
	case map[string]any:
		seg, tail, more := strings.Cut(rest, sep)
		if v, ok := n[seg]; ok {
			if !more {
				return []string{seg}, true
			}
			if path, ok := walk(v, tail); ok {
				return append([]string{seg}, path...), true
			}
		}
		// Only a member whose name holds the separator can still match.
		var keys []string
		for k := range n {
			if strings.Contains(k, sep) {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			if rest == k {
				return []string{k}, true
			}
			if strings.HasPrefix(rest, k+sep) {
				if path, ok := walk(n[k], rest[len(k)+len(sep):]); ok {
					return append([]string{k}, path...), true
				}
			}
		}
	case []any:
		seg, tail, more := strings.Cut(rest, sep)
		i, err := strconv.Atoi(seg)
		if err != nil || i < 0 || i >= len(n) || strconv.Itoa(i) != seg {
			return nil, false
		}
		if !more {
			return []string{seg}, true
		}
		if path, ok := walk(n[i], tail); ok {
			return append([]string{seg}, path...), true
		}
	}
	return nil, false
}

// pointer renders path as a JSON Pointer (RFC 6901), or "body" for the
// whole document, whose pointer is the empty string. Control characters are
// escaped and very long member names shortened: the text goes back to the
// client verbatim.
func pointer(path []string) string {
	if len(path) == 0 {
		return "body"
	}
	var b strings.Builder
	for _, seg := range path {
		b.WriteByte('/')
		seg = strings.NewReplacer("~", "~0", "/", "~1").Replace(seg)
		b.WriteString(printable(seg))
	}
	return b.String()
}

const maxShown = 200

func printable(s string) string {
	if len(s) > maxShown {
		cut := maxShown
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsPrint(r) {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

func quote(s string) string { return `"` + printable(strings.ReplaceAll(s, `"`, `\"`)) + `"` }

// brief renders a JSON value for a message, cut to a readable length.
func brief(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return typeOf(v)
	}
	return printable(string(b))
}

func typeOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number, float64, int:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a %T", v)
}

// expectedTypes turns gojsonschema's "string" or "[string,object]" into
// "a string" or "a string or an object".
func expectedTypes(s string) string {
	names := strings.Split(strings.Trim(s, "[]"), ",")
	for i, n := range names {
		switch n {
		case "null":
		case "array", "object", "integer":
			names[i] = "an " + n
		default:
			names[i] = "a " + n
		}
	}
	return strings.Join(names, " or ")
}

func plural(n any) string {
	if fmt.Sprint(n) == "1" {
		return ""
	}
	return "s"
}

func hasPrefix(path, prefix []string) bool {
	return len(path) >= len(prefix) && slices.Equal(path[:len(prefix)], prefix)
}

// comparePaths orders pointers as the document reads: member by member,
// array indices by value (so /kinds/2 comes before /kinds/10).
func comparePaths(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] == b[i] {
			continue
		}
		x, errX := strconv.Atoi(a[i])
		y, errY := strconv.Atoi(b[i])
		if errX == nil && errY == nil {
			return cmp.Compare(x, y)
		}
		return strings.Compare(a[i], b[i])
	}
	return cmp.Compare(len(a), len(b))
}

// renamed are members clients are known to send under another name:
// OCCI 1.1's, or the 1.2 draft's own listing of a link.
var renamed = map[string]string{
	"related":     `OCCI 1.1; in OCCI 1.2 a kind names its parent in "parent" and a mixin its dependencies in "depends"`,
	"source.type": `write "source": {"location": ..., "kind": ...}`,
	"target.type": `write "target": {"location": ..., "kind": ...}`,
}

// hint explains an unknown member when there is something useful to say:
// the name it has in OCCI 1.2, or the member it looks like a misspelling
// of. Only a member the schema allows in that object, and that the object
// does not have yet, is suggested.
func (r *reporter) hint(at []string, member string) string {
	if h := renamed[member]; h != "" {
		return " (" + h + ")"
	}
	present, _ := lookup(r.body, at).(map[string]any)
	best, bestDist := "", 3
	for _, m := range r.membersAt(at) {
		if _, taken := present[m]; taken {
			continue
		}
		if strings.EqualFold(m, member) {
			best = m
			break
		}
		if d := distance(m, member); d < bestDist && d < len(m)/2 {
			best, bestDist = m, d
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + quote(best) + "?)"
}

// membersAt lists, sorted, the members the document's schema names for the
// object at path: the "properties" of every subschema that applies there,
// following "$ref", the combinators and both branches of an if.
func (r *reporter) membersAt(path []string) []string {
	found := map[string]bool{}
	var visit func(schema any, path []string, depth int)
	visit = func(schema any, path []string, depth int) {
		m, ok := schema.(map[string]any)
		if !ok || depth > 64 {
			return
		}
		if ref, ok := m["$ref"].(string); ok {
			visit(r.definitions[strings.TrimPrefix(ref, "#/definitions/")], path, depth+1)
			return
		}
		for _, k := range []string{"allOf", "anyOf", "oneOf"} {
			branches, _ := m[k].([]any)
			for _, b := range branches {
				visit(b, path, depth+1)
			}
		}
		visit(m["then"], path, depth+1)
		visit(m["else"], path, depth+1)
		props, _ := m["properties"].(map[string]any)
		if len(path) == 0 {
			for k := range props {
				found[k] = true
			}
			return
		}
		if p, ok := props[path[0]]; ok {
			visit(p, path[1:], depth+1)
			return
		}
		if _, err := strconv.Atoi(path[0]); err == nil {
			visit(m["items"], path[1:], depth+1)
		}
		visit(m["additionalProperties"], path[1:], depth+1)
	}
	visit(r.definitions[r.doc.definition], path, 0)
	return slices.Sorted(maps.Keys(found))
}

func lookup(doc any, path []string) any {
	for _, seg := range path {
		switch n := doc.(type) {
		case map[string]any:
			doc = n[seg]
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(n) {
				return nil
			}
			doc = n[i]
		default:
			return nil
		}
	}
	return doc
}

// distance is the Levenshtein distance between two short strings.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
