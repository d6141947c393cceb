package occi

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

func TestAttributeDefUnmarshalJSON(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    AttributeDef
		wantErr bool
	}{
		{"empty object gets the defaults", `{}`, AttributeDef{Type: TypeString}, false},
		{"explicit empty type", `{"type":""}`, AttributeDef{Type: TypeString}, false},
		{"null type", `{"type":null}`, AttributeDef{Type: TypeString}, false},
		{"every member", `{"mutable":true,"required":true,"type":"number","pattern":{"minimum":1},"default":2,"description":"d"}`,
			AttributeDef{Mutable: true, Required: true, Type: TypeNumber, Pattern: json.RawMessage(`{"minimum":1}`), Default: 2.0, Description: "d"}, false},
		{"regex pattern kept as sent", `{"pattern":"(?-mix:^a$)"}`,
			AttributeDef{Type: TypeString, Pattern: json.RawMessage(`"(?-mix:^a$)"`)}, false},
		{"boolean type", `{"type":"boolean","default":false}`, AttributeDef{Type: TypeBoolean, Default: false}, false},
		// The type is checked by compile, not by decoding.
		{"unknown type decodes", `{"type":"integer"}`, AttributeDef{Type: "integer"}, false},
		{"unknown member", `{"type":"string","minimum":1}`, AttributeDef{}, true},
		{"1.1 member", `{"immutable":true}`, AttributeDef{}, true},
		{"wrong member type", `{"mutable":"yes"}`, AttributeDef{}, true},
		{"not an object", `"string"`, AttributeDef{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d AttributeDef
			err := json.Unmarshal([]byte(tc.body), &d)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("decoded %s without error: %+v", tc.body, d)
				}
				return
			}
			if err != nil {
				t.Fatalf("decode %s: %v", tc.body, err)
			}
			if !reflect.DeepEqual(d, tc.want) {
				t.Errorf("decoded %s\n got %+v\nwant %+v", tc.body, d, tc.want)
			}
		})
	}
}

func TestAttributesUnmarshalJSON(t *testing.T) {
	var as Attributes
	body := `{"a":{},"b":{"type":"number","required":true},"c":null}`
	if err := json.Unmarshal([]byte(body), &as); err != nil {
		t.Fatal(err)
	}
	if as["a"] == nil || as["a"].Type != TypeString {
		t.Errorf("a = %+v, want type string", as["a"])
	}
	if as["b"] == nil || as["b"].Type != TypeNumber || !as["b"].Required || as["b"].Mutable {
		t.Errorf("b = %+v", as["b"])
	}
	if d, ok := as["c"]; !ok || d != nil {
		t.Errorf("c = %+v, %v; want a null definition", d, ok)
	}
	if err := json.Unmarshal([]byte(`{"a":{"bogus":1}}`), &as); err == nil {
		t.Error("unknown member inside a map accepted")
	}
}

// The rendering of a definition decodes to the same definition.
func TestAttributeDefRoundTrip(t *testing.T) {
	for _, d := range []*AttributeDef{
		{Type: TypeString},
		{Type: TypeNumber, Mutable: true, Required: true, Default: 4.0, Pattern: json.RawMessage(`{"type":"integer"}`), Description: "n"},
		{Type: TypeString, Pattern: json.RawMessage(`"[a-z]+"`), Default: "x"},
		{Type: TypeArray, Default: []any{"a", 1.0}},
		{Type: TypeObject, Default: map[string]any{"k": true}},
	} {
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var got AttributeDef
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
		if !reflect.DeepEqual(&got, d) {
			t.Errorf("round trip of %s\n got %+v\nwant %+v", b, &got, d)
		}
	}
}

func TestCheckType(t *testing.T) {
	tests := []struct {
		typ   AttributeType
		name  string
		value any
		ok    bool
	}{
		{TypeString, "string", "x", true},
		{TypeString, "empty string", "", true},
		{TypeString, "number", 1.0, false},
		{TypeString, "boolean", true, false},
		{TypeString, "null", nil, false},
		{TypeString, "array", []any{"x"}, false},
		{"", "untyped string", "x", true},
		{"", "untyped number", 1.0, false},

		{TypeNumber, "float64", 1.5, true},
		{TypeNumber, "negative float64", -3.0, true},
		{TypeNumber, "zero", 0.0, true},
		{TypeNumber, "int", 3, true},
		{TypeNumber, "int64", int64(-7), true},
		{TypeNumber, "uint8", uint8(7), true},
		{TypeNumber, "float32", float32(2.5), true},
		{TypeNumber, "json.Number integer", json.Number("2"), true},
		{TypeNumber, "json.Number decimal", json.Number("-2.5e3"), true},
		{TypeNumber, "max float64", math.MaxFloat64, true},
		{TypeNumber, "NaN", math.NaN(), false},
		{TypeNumber, "+Inf", math.Inf(1), false},
		{TypeNumber, "-Inf", math.Inf(-1), false},
		{TypeNumber, "float32 NaN", float32(math.NaN()), false},
		{TypeNumber, "float32 Inf", float32(math.Inf(1)), false},
		{TypeNumber, "json.Number NaN", json.Number("NaN"), false},
		{TypeNumber, "json.Number Inf", json.Number("Inf"), false},
		{TypeNumber, "json.Number -infinity", json.Number("-infinity"), false},
		{TypeNumber, "json.Number overflow", json.Number("1e400"), false},
		{TypeNumber, "json.Number garbage", json.Number("two"), false},
		{TypeNumber, "json.Number empty", json.Number(""), false},
		{TypeNumber, "numeric string", "2", false},
		{TypeNumber, "boolean", false, false},
		{TypeNumber, "null", nil, false},

		{TypeBoolean, "true", true, true},
		{TypeBoolean, "false", false, true},
		{TypeBoolean, "string true", "true", false},
		{TypeBoolean, "number 1", 1.0, false},
		{TypeBoolean, "null", nil, false},

		{TypeArray, "empty array", []any{}, true},
		{TypeArray, "mixed array", []any{"a", 1.0, nil, map[string]any{}}, true},
		{TypeArray, "object", map[string]any{}, false},
		{TypeArray, "string", "[]", false},
		{TypeArray, "null", nil, false},

		{TypeObject, "empty object", map[string]any{}, true},
		{TypeObject, "nested object", map[string]any{"a": map[string]any{"b": []any{1.0}}}, true},
		{TypeObject, "array", []any{}, false},
		{TypeObject, "string", "{}", false},
		{TypeObject, "null", nil, false},
	}
	for _, tc := range tests {
		t.Run(string(tc.typ)+" "+tc.name, func(t *testing.T) {
			d := compiled(t, &AttributeDef{Type: tc.typ})
			err := d.Check(tc.value)
			if tc.ok {
				wantNoErr(t, err)
				return
			}
			want := string(tc.typ)
			if want == "" {
				want = string(TypeString)
			}
			wantErr(t, err, InvalidArgument, "want "+want)
		})
	}
}

func TestCheckMessageNamesTheValue(t *testing.T) {
	tests := []struct {
		name  string
		def   *AttributeDef
		value any
		want  []string
	}{
		{"type mismatch", &AttributeDef{Type: TypeNumber}, "two", []string{`"two"`, "a string", "number"}},
		{"type mismatch, null", &AttributeDef{Type: TypeString}, nil, []string{"null"}},
		{"type mismatch, object", &AttributeDef{Type: TypeArray}, map[string]any{"k": 1.0}, []string{`{"k":1}`, "an object", "array"}},
		{"regex mismatch", &AttributeDef{Type: TypeString, Pattern: json.RawMessage(`"[a-z]+"`)}, "ABC", []string{"ABC", "[a-z]+"}},
		{"enum mismatch", &AttributeDef{Type: TypeString, Pattern: json.RawMessage(`{"enum":["x86","x64"]}`)}, "arm", []string{`"arm"`}},
		{"maximum", &AttributeDef{Type: TypeNumber, Pattern: json.RawMessage(`{"maximum":4095}`)}, 4096.0, []string{"4096"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, compiled(t, tc.def).Check(tc.value), InvalidArgument, tc.want...)
		})
	}
}

func TestRegexPatterns(t *testing.T) {
	tests := []struct {
		pattern string
		value   string
		ok      bool
	}{
		// The whole string must match, as in rOCCI and JSON Schema's
		// intent for OCCI attribute patterns.
		{"a|b", "a", true},
		{"a|b", "b", true},
		{"a|b", "ab", false},
		{"a|b", "ba", false},
		{"a|b", "", false},
		{"[0-9]+", "123", true},
		{"[0-9]+", "12a", false},
		{"[0-9]+", "x123", false},
		{"[0-9]+", "1 2", false},
		{"", "", true},
		{"", "x", false},
		{".*", "anything at all", true},
		{"^x$", "x", true},
		{"^x$", "xx", false},
		// rOCCI's rendering of a Ruby regexp.
		{"(?-mix:^(x|y)$)", "x", true},
		{"(?-mix:^(x|y)$)", "y", true},
		{"(?-mix:^(x|y)$)", "xy", false},
		{"(?-mix:^(x|y)$)", "z", false},
		{"(?-mix:[a-z]+)", "abc", true},
		{"(?-mix:[a-z]+)", "abc1", false},
		{"(?i)abc", "ABC", true},
	}
	for _, tc := range tests {
		t.Run(tc.pattern+" "+tc.value, func(t *testing.T) {
			p, _ := json.Marshal(tc.pattern)
			d := compiled(t, &AttributeDef{Type: TypeString, Pattern: p})
			err := d.Check(tc.value)
			if tc.ok {
				wantNoErr(t, err)
				return
			}
			wantErr(t, err, InvalidArgument, tc.value)
		})
	}
}

func TestJSONSchemaPatterns(t *testing.T) {
	enum := json.RawMessage(`{"enum":["active","inactive","suspended","error"]}`)
	intRange := json.RawMessage(`{"type":"integer","minimum":1,"maximum":8}`)
	tests := []struct {
		name    string
		typ     AttributeType
		pattern json.RawMessage
		value   any
		ok      bool
	}{
		{"enum member", TypeString, enum, "active", true},
		{"enum last member", TypeString, enum, "error", true},
		{"enum non-member", TypeString, enum, "running", false},
		{"enum is case-sensitive", TypeString, enum, "Active", false},
		{"integer float64", TypeNumber, intRange, 4.0, true},
		{"integer int", TypeNumber, intRange, 4, true},
		{"integer json.Number", TypeNumber, intRange, json.Number("4"), true},
		{"integer minimum", TypeNumber, intRange, 1.0, true},
		{"integer maximum", TypeNumber, intRange, 8, true},
		{"integer below minimum", TypeNumber, intRange, 0.0, false},
		{"integer above maximum", TypeNumber, intRange, 9, false},
		{"integer negative", TypeNumber, intRange, -1, false},
		{"integer fraction", TypeNumber, intRange, 2.5, false},
		{"integer json.Number fraction", TypeNumber, intRange, json.Number("2.5"), false},
		{"exclusive minimum ok", TypeNumber, json.RawMessage(`{"type":"number","exclusiveMinimum":0}`), 0.5, true},
		{"exclusive minimum at the bound", TypeNumber, json.RawMessage(`{"type":"number","exclusiveMinimum":0}`), 0.0, false},
		{"string schema pattern", TypeString, json.RawMessage(`{"pattern":"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$"}`), "00:11:22:33:44:55", true},
		{"string schema pattern mismatch", TypeString, json.RawMessage(`{"pattern":"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$"}`), "00:11:22", false},
		{"ipv4 format", TypeString, json.RawMessage(`{"anyOf":[{"format":"ipv4"},{"format":"ipv6"}]}`), "192.0.2.1", true},
		{"ipv6 format", TypeString, json.RawMessage(`{"anyOf":[{"format":"ipv4"},{"format":"ipv6"}]}`), "2001:db8::1", true},
		{"ip format mismatch", TypeString, json.RawMessage(`{"anyOf":[{"format":"ipv4"},{"format":"ipv6"}]}`), "not-an-ip", false},
		{"array items", TypeArray, json.RawMessage(`{"items":{"type":"string"},"minItems":1}`), []any{"a", "b"}, true},
		{"array items mismatch", TypeArray, json.RawMessage(`{"items":{"type":"string"}}`), []any{"a", 1.0}, false},
		{"array too short", TypeArray, json.RawMessage(`{"minItems":1}`), []any{}, false},
		{"object required", TypeObject, json.RawMessage(`{"required":["k"],"properties":{"k":{"type":"boolean"}}}`), map[string]any{"k": true}, true},
		{"object missing required", TypeObject, json.RawMessage(`{"required":["k"]}`), map[string]any{}, false},
		{"object property type", TypeObject, json.RawMessage(`{"properties":{"k":{"type":"boolean"}}}`), map[string]any{"k": "yes"}, false},
		{"boolean const", TypeBoolean, json.RawMessage(`{"enum":[true]}`), false, false},
		{"empty schema accepts all", TypeString, json.RawMessage(`{}`), "anything", true},
		// The type is checked before the schema.
		{"schema agrees, type does not", TypeString, json.RawMessage(`{}`), 1.0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := compiled(t, &AttributeDef{Type: tc.typ, Pattern: tc.pattern})
			err := d.Check(tc.value)
			if tc.ok {
				wantNoErr(t, err)
				return
			}
			wantErr(t, err, InvalidArgument)
		})
	}
}

// Patterns are checked through Kind.Validate the way the registry does it,
// then used on values.
func TestPatternThroughKindValidate(t *testing.T) {
	k := validKind()
	k.Attributes = Attributes{
		"com.example.state": {Type: TypeString, Pattern: json.RawMessage(`"(?-mix:^(up|down)$)"`), Default: "down"},
		"com.example.slots": {Type: TypeNumber, Pattern: json.RawMessage(`{"type":"integer","minimum":0,"maximum":3}`)},
	}
	wantNoErr(t, k.Validate())
	state, slots := k.Attributes["com.example.state"], k.Attributes["com.example.slots"]
	wantNoErr(t, state.Check("up"))
	wantErr(t, state.Check("updown"), InvalidArgument, "updown")
	wantNoErr(t, slots.Check(3.0))
	wantErr(t, slots.Check(4.0), InvalidArgument, "4")
}

func TestCheckMessageIsShort(t *testing.T) {
	huge := strings.Repeat("x", 10000)
	hugeArray := make([]any, 2000)
	for i := range hugeArray {
		hugeArray[i] = "item"
	}
	tests := []struct {
		name  string
		def   *AttributeDef
		value any
	}{
		{"type mismatch string", &AttributeDef{Type: TypeNumber}, huge},
		{"type mismatch array", &AttributeDef{Type: TypeString}, hugeArray},
		{"regex mismatch", &AttributeDef{Type: TypeString, Pattern: json.RawMessage(`"[a-w]*"`)}, huge},
		{"schema mismatch", &AttributeDef{Type: TypeString, Pattern: json.RawMessage(`{"enum":["a","b"]}`)}, huge},
		{"schema maxLength", &AttributeDef{Type: TypeString, Pattern: json.RawMessage(`{"maxLength":10}`)}, huge},
		{"schema array", &AttributeDef{Type: TypeArray, Pattern: json.RawMessage(`{"maxItems":1}`)}, hugeArray},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := compiled(t, tc.def).Check(tc.value)
			if err == nil {
				t.Fatal("huge value accepted")
			}
			wantErr(t, err, InvalidArgument)
			if n := len(err.Error()); n >= 300 {
				t.Errorf("message is %d bytes long: %.120q…", n, err.Error())
			}
			if _, isString := tc.value.(string); isString && !strings.Contains(err.Error(), "xxxxxxxxxx") {
				t.Errorf("message %.200q does not show the start of the value", err.Error())
			}
		})
	}
}

// A value cut short for a message must stay valid UTF-8: messages are
// rendered in JSON and text bodies.
func TestCheckMessageIsValidUTF8(t *testing.T) {
	for _, v := range []any{
		strings.Repeat("é", 100),
		"x" + strings.Repeat("€", 100),
		"xx" + strings.Repeat("😀", 100),
		[]any{strings.Repeat("ü", 100)},
	} {
		err := compiled(t, &AttributeDef{Type: TypeNumber}).Check(v)
		if err == nil {
			t.Fatal("string accepted as a number")
		}
		if !utf8.ValidString(err.Error()) {
			t.Errorf("message is not valid UTF-8: %q", err.Error())
		}
	}
}

func TestCompile(t *testing.T) {
	// Idempotent, and a null or blank pattern means no pattern.
	for _, p := range []json.RawMessage{nil, json.RawMessage(`null`), json.RawMessage("  ")} {
		d := &AttributeDef{Type: TypeString, Pattern: p}
		wantNoErr(t, d.compile())
		wantNoErr(t, d.compile())
		if d.check != nil {
			t.Errorf("pattern %q compiled to a check", p)
		}
	}
	// Recompiling after the pattern changed uses the new pattern.
	d := compiled(t, &AttributeDef{Type: TypeString, Pattern: json.RawMessage(`"a"`)})
	wantErr(t, d.Check("b"), InvalidArgument)
	d.Pattern = json.RawMessage(`"b"`)
	compiled(t, d)
	wantNoErr(t, d.Check("b"))
	d.Pattern = nil
	compiled(t, d)
	wantNoErr(t, d.Check("anything"))
	// A bad pattern reports the problem and names the expression.
	err := (&AttributeDef{Type: TypeString, Pattern: json.RawMessage(`"a("`)}).compile()
	wantErr(t, err, InvalidArgument, "a(", "regular expression")
	err = (&AttributeDef{Type: TypeString, Pattern: json.RawMessage(`{"type":5}`)}).compile()
	wantErr(t, err, InvalidArgument, "JSON Schema")
	err = (&AttributeDef{Type: TypeString, Pattern: json.RawMessage(`true`)}).compile()
	wantErr(t, err, InvalidArgument, "pattern")
}

// Compiled definitions are shared by every request: checking from many
// goroutines at once must be safe.
func TestCheckConcurrent(t *testing.T) {
	compute := findKind(Builtins(), ComputeKindID)
	if compute == nil {
		t.Fatal("no compute kind")
	}
	values := map[string][]any{
		"occi.compute.architecture": {"x86", "arm"},
		"occi.compute.cores":        {2.0, 0.0},
		"occi.compute.state":        {"active", "running"},
		"occi.compute.memory":       {1.5, -1.0},
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				for name, vs := range values {
					d := compute.Attributes[name]
					if err := d.Check(vs[0]); err != nil {
						t.Errorf("%s %v: %v", name, vs[0], err)
					}
					if err := d.Check(vs[1]); err == nil {
						t.Errorf("%s %v accepted", name, vs[1])
					}
				}
			}
		}()
	}
	wg.Wait()
}

func TestValueSizeLimit(t *testing.T) {
	def := &AttributeDef{Type: TypeString}
	if err := def.Check(strings.Repeat("x", MaxValueBytes)); err != nil {
		t.Errorf("a value at the limit is refused: %v", err)
	}
	err := def.Check(strings.Repeat("x", MaxValueBytes+1))
	if CodeOf(err) != InvalidArgument || !strings.Contains(err.Error(), "limit") {
		t.Errorf("a value over the limit: %v", err)
	}
	big := make([]any, MaxValueBytes/2)
	for i := range big {
		big[i] = 1.0
	}
	if err := (&AttributeDef{Type: TypeArray}).Check(big); CodeOf(err) != InvalidArgument {
		t.Errorf("an array over the limit: %v", err)
	}
}
