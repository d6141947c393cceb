package occi

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/xeipuuv/gojsonschema"
)

// The fast path agrees with gojsonschema on every schema it takes.
func TestSimpleSchemaAgreesWithGojsonschema(t *testing.T) {
	schemas := []string{
		`{"type":"integer","minimum":1}`,
		`{"type":"number","exclusiveMinimum":0}`,
		`{"type":"integer","minimum":0,"maximum":4095}`,
		`{"enum":["x86","x64"]}`,
		`{"enum":[1,2,"three",true]}`,
		`{"pattern":"^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$"}`,
		`{"type":"string","minLength":2,"maxLength":4}`,
		`{"type":"number","minimum":5,"exclusiveMinimum":true}`,
		`{"type":"number","maximum":5,"exclusiveMaximum":true}`,
		`{"type":"number","exclusiveMaximum":10}`,
		`{"type":"boolean"}`,
		`{"type":"string","pattern":"b"}`,
		`{"description":"anything","type":"string"}`,
	}
	values := []string{`0`, `1`, `1.5`, `4095`, `4096`, `-1`, `5`, `10`, `"x86"`, `"x64"`, `"x"`, `"three"`, `true`, `false`,
		`"02:00:c0:a8:01:05"`, `"02:00"`, `"ab"`, `"abcde"`, `"é"`, `"éé"`, `"abc"`, `2`, `1e300`, `[1]`, `{"a":1}`, `null`}
	for _, src := range schemas {
		var doc any
		dec := json.NewDecoder(bytes.NewReader([]byte(src)))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			t.Fatal(err)
		}
		fast, ok := simpleSchema(doc)
		if !ok {
			t.Errorf("%s: not taken by the fast path", src)
			continue
		}
		slow, err := gojsonschema.NewSchema(gojsonschema.NewStringLoader(src))
		if err != nil {
			t.Fatal(err)
		}
		for _, vs := range values {
			var v any
			if err := json.Unmarshal([]byte(vs), &v); err != nil {
				t.Fatal(err)
			}
			res, err := slow.Validate(gojsonschema.NewGoLoader(v))
			if err != nil {
				t.Fatal(err)
			}
			if got := fast(v) == nil; got != res.Valid() {
				t.Errorf("schema %s, value %s: fast path says valid=%v, gojsonschema %v (%v)", src, vs, got, res.Valid(), fast(v))
			}
		}
	}
	for _, src := range []string{`{"type":"array"}`, `{"$ref":"#/definitions/x"}`, `{"anyOf":[{"type":"string"}]}`, `{"pattern":"(?<=a)b"}`} {
		var doc any
		_ = json.Unmarshal([]byte(src), &doc)
		if _, ok := simpleSchema(doc); ok {
			t.Errorf("%s: taken by the fast path", src)
		}
	}
}
