package occi

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"unicode/utf8"
)

// simpleSchema checks a value against a JSON Schema that uses only type,
// enum, the numeric bounds, pattern and the string lengths (every built-in
// pattern, and most a client writes) without going through gojsonschema,
// which encodes and decodes the value at every check: attribute values are
// checked on every write. It reports false for any other schema, which
// gojsonschema then checks.
func simpleSchema(doc any) (func(any) error, bool) {
	m, ok := doc.(map[string]any)
	if !ok {
		return nil, false
	}
	var checks []func(any) string
	for key, spec := range m {
		c, ok := simpleKeyword(key, spec, m)
		if !ok {
			return nil, false
		}
		if c != nil {
			checks = append(checks, c)
		}
	}
	return func(v any) error {
		for _, c := range checks {
			if msg := c(v); msg != "" {
				return Errorf(InvalidArgument, "value %s does not satisfy the pattern: %s", shortJSON(v), msg)
			}
		}
		return nil
	}, true
}

// simpleKeyword returns the check of one keyword (nil when it checks
// nothing on its own), or false for a keyword simpleSchema does not handle.
func simpleKeyword(key string, spec any, schema map[string]any) (func(any) string, bool) {
	switch key {
	case "description", "title", "$comment", "default", "examples":
		return nil, true
	case "type":
		t, ok := spec.(string)
		if !ok || !slices.Contains([]string{"string", "number", "integer", "boolean"}, t) {
			return nil, false
		}
		return func(v any) string {
			if !isType(v, t) {
				return "must be of type " + t
			}
			return ""
		}, true
	case "enum":
		vals, ok := spec.([]any)
		if !ok || len(vals) == 0 {
			return nil, false
		}
		norm := make([]any, len(vals))
		for i, x := range vals {
			norm[i] = normalize(x)
		}
		return func(v any) string {
			n := normalize(v)
			for _, x := range norm {
				if reflect.DeepEqual(n, x) {
					return ""
				}
			}
			b, _ := json.Marshal(vals)
			return "must be one of " + string(b)
		}, true
	case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum":
		if _, isBool := spec.(bool); isBool {
			// Draft 4: a boolean that makes minimum or maximum exclusive;
			// checked with them.
			return nil, true
		}
		bound, ok := number(spec)
		if !ok {
			return nil, false
		}
		exclusive := key == "exclusiveMinimum" || key == "exclusiveMaximum"
		lower := key == "minimum" || key == "exclusiveMinimum"
		if !exclusive {
			flag := "exclusiveMaximum"
			if lower {
				flag = "exclusiveMinimum"
			}
			if b, ok := schema[flag].(bool); ok && b {
				exclusive = true
			}
		}
		return func(v any) string {
			x, ok := number(v)
			if !ok {
				return ""
			}
			switch {
			case lower && exclusive && x <= bound:
				return fmt.Sprintf("must be greater than %v", bound)
			case lower && !exclusive && x < bound:
				return fmt.Sprintf("must be at least %v", bound)
			case !lower && exclusive && x >= bound:
				return fmt.Sprintf("must be less than %v", bound)
			case !lower && !exclusive && x > bound:
				return fmt.Sprintf("must be at most %v", bound)
			}
			return ""
		}, true
	case "minLength", "maxLength":
		n, ok := number(spec)
		if !ok || n < 0 || n != math.Trunc(n) {
			return nil, false
		}
		return func(v any) string {
			s, ok := v.(string)
			if !ok {
				return ""
			}
			l := float64(utf8.RuneCountInString(s))
			if key == "minLength" && l < n {
				return fmt.Sprintf("must be at least %v characters long", n)
			}
			if key == "maxLength" && l > n {
				return fmt.Sprintf("must be at most %v characters long", n)
			}
			return ""
		}, true
	case "pattern":
		expr, ok := spec.(string)
		if !ok {
			return nil, false
		}
		// JSON Schema patterns are ECMA 262 regular expressions, not
		// anchored; what RE2 cannot compile goes to gojsonschema, which
		// says so.
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, false
		}
		return func(v any) string {
			if s, ok := v.(string); ok && !re.MatchString(s) {
				return "must match " + shortJSON(expr)
			}
			return ""
		}, true
	}
	return nil, false
}

// isType reports whether a JSON value is of a JSON Schema simple type.
func isType(v any, t string) bool {
	switch t {
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "number":
		_, ok := number(v)
		return ok
	case "integer":
		x, ok := number(v)
		return ok && x == math.Trunc(x) && !math.IsInf(x, 0)
	}
	return false
}

// number returns a JSON number's value.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// normalize makes numbers comparable whatever Go type decoded them.
func normalize(v any) any {
	if x, ok := number(v); ok {
		return x
	}
	return v
}
