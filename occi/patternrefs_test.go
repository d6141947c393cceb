package occi

import (
	"encoding/json"
	"strings"
	"testing"
)

// A pattern whose references lead back to themselves would make the first
// check recurse until the stack is exhausted, which kills the process: it
// is refused when compiled. References that end are still followed.
func TestPatternReferencesMustEnd(t *testing.T) {
	tests := []struct {
		pattern string
		want    string // "" when accepted
	}{
		{`{"$ref":"#"}`, "lead back to themselves"},
		{`{"not":{"$ref":"#/not"}}`, "lead back to themselves"},
		{`{"anyOf":[{"pattern":"^ok$"},{"$ref":"#"}]}`, "lead back to themselves"},
		{`{"$ref":"#/definitions/a","definitions":{"a":{"$ref":"#/definitions/a"}}}`, "lead back to themselves"},
		{`{"$ref":"#/definitions/a","definitions":{"a":{"$ref":"#/definitions/b"},"b":{"anyOf":[{"$ref":"#/definitions/a"}]}}}`, "lead back to themselves"},
		{`{"$ref":"#/definitions/missing","definitions":{}}`, "does not hold"},
		{`{"$ref":"#definitions"}`, "not a JSON Pointer"},
		{`{"$ref":"#/definitions/a","definitions":{"a":{"$ref":"#/definitions/b"},"b":{"type":"string","minLength":2}}}`, ""},
		{`{"allOf":[{"$ref":"#/definitions/s"},{"$ref":"#/definitions/s"}],"definitions":{"s":{"type":"string"}}}`, ""},
		{`{"$ref":"#/definitions/a~1b","definitions":{"a/b":{"type":"string"}}}`, ""},
		{strings.Repeat(`{"not":`, 40) + `{}` + strings.Repeat(`}`, 40), "nested more than"},
	}
	for _, tt := range tests {
		check, err := compilePattern(json.RawMessage(tt.pattern))
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tt.pattern, err)
		case tt.want == "":
			if err := check("ok value"); err != nil {
				t.Errorf("%s: a valid value is refused: %v", tt.pattern, err)
			}
			if err := check(3.0); err == nil {
				t.Errorf("%s: a number passes a string schema", tt.pattern)
			}
		case err == nil || !strings.Contains(err.Error(), tt.want):
			t.Errorf("%s: %v, want an error saying %q", tt.pattern, err, tt.want)
		}
	}
}
