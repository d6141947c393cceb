package occi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/xeipuuv/gojsonschema"
)

// compilePatternUnchecked compiles a schema as compilePattern does, but
// without the walk that refuses outside references: what the loader alone
// does with them.
func compilePatternUnchecked(p string) (*gojsonschema.Schema, error) {
	var doc any
	if err := json.Unmarshal([]byte(p), &doc); err != nil {
		return nil, err
	}
	return gojsonschema.NewSchema(offlineLoader{gojsonschema.NewGoLoader(doc)})
}

// A JSON Schema pattern follows its own "#" references only: any other
// reference, or a base URI, is refused before anything is loaded, and the
// loader reaches nothing even for what the check lets through.
func TestPatternReferencesStayLocal(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(`{"type":"string"}`))
	}))
	defer srv.Close()
	for _, p := range []string{
		`{"$ref":"` + srv.URL + `/x"}`,
		`{"$ref":"file:///etc/hostname"}`,
		`{"$ref":"x.json"}`,
		`{"definitions":{"a":{"$ref":"` + srv.URL + `/a"}},"$ref":"#/definitions/a"}`,
		`{"properties":{"p":{"items":[{"allOf":[{"$ref":"` + srv.URL + `/deep"}]}]}}}`,
		`{"id":"` + srv.URL + `/base","$ref":"#/definitions/a","definitions":{"a":{}}}`,
		`{"$id":"file:///etc/","$ref":"hostname"}`,
	} {
		d := &AttributeDef{Type: TypeString, Pattern: json.RawMessage(p)}
		err := d.compile()
		if CodeOf(err) != InvalidArgument || !strings.Contains(fmt.Sprint(err), "outside the pattern") {
			t.Errorf("%s: %v, want InvalidArgument saying the reference is outside the pattern", p, err)
		}
	}
	// References inside the pattern work, as do values that merely look
	// like references.
	local := &AttributeDef{Type: TypeString, Pattern: json.RawMessage(`{"$ref":"#/definitions/short","definitions":{"short":{"type":"string","maxLength":3}}}`)}
	if err := local.compile(); err != nil {
		t.Fatal(err)
	}
	if err := local.Check("abc"); err != nil {
		t.Errorf("abc: %v", err)
	}
	if err := local.Check("abcd"); CodeOf(err) != InvalidArgument {
		t.Errorf("abcd: %v", err)
	}
	named := &AttributeDef{Type: TypeObject, Pattern: json.RawMessage(`{"id":"#self","enum":[{"$ref":"` + srv.URL + `/e"}],"default":{"$ref":"file:///x"}}`)}
	if err := named.compile(); err != nil {
		t.Errorf("a local id and references in values: %v", err)
	}
	// The loader refuses on its own what a walk would miss.
	if _, err := compilePatternUnchecked(`{"$ref":"` + srv.URL + `/y"}`); err == nil {
		t.Error("the offline loader loaded a remote schema")
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the listener saw %d requests", n)
	}
}

func TestReservedScheme(t *testing.T) {
	for scheme, want := range map[string]bool{
		OGFScheme + "infrastructure#":                       true,
		"HTTP://SCHEMAS.OGF.ORG/occi/infrastructure#":       true,
		"https://schemas.ogf.org/occi/core#":                true,
		"http://schemas.ogf.org:80/OCCI/x#":                 true,
		"https://schemas.ogf.org./occi/#":                   true,
		"http://me@schemas.ogf.org/occi/x#":                 true,
		"http://schemas.ogf.org/./occi/infrastructure#":     true,
		"http://schemas.ogf.org//occi/infrastructure#":      true,
		"http://schemas.ogf.org/x/../occi/infrastructure#":  true,
		"http://schemas.ogf.org/occiware#":                  false,
		"http://schemas.ogf.org:8080/occi/x#":               false,
		"http://example.com/occi/infrastructure#":           false,
		"urn:schemas.ogf.org/occi/x#":                       false,
		"http://schemas.ogf.org.example.com/occi/compute#":  false,
		"http://schemas.ocni.org/dummy/dummy/os_tpl#":       false,
		"http://example.com/schemas.ogf.org/occi/compute#":  false,
		"ftp://schemas.ogf.org/occi/infrastructure#compute": false,
	} {
		if got := ReservedScheme(scheme); got != want {
			t.Errorf("ReservedScheme(%q) = %v, want %v", scheme, got, want)
		}
	}
}

func TestReservedAttributeName(t *testing.T) {
	for name, want := range map[string]bool{
		"occi.compute.cores":     false, // the OGF's own: a template sets its default
		"OCCI.compute.cores":     true,
		"Occi.Compute.Cores":     true,
		"occi.compute.turbo":     true,
		"oCcI.x":                 true,
		"com.example.occi.cores": false,
		"occix.cores":            false,
	} {
		if got := ReservedAttributeName(name); got != want {
			t.Errorf("ReservedAttributeName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestLinkEnds(t *testing.T) {
	if s, tg, ok := LinkEnds(NetworkInterfaceID); !ok || s != ComputeKindID || tg != NetworkKindID {
		t.Errorf("networkinterface: %s %s %v", s, tg, ok)
	}
	if s, tg, ok := LinkEnds(StorageLinkKindID); !ok || s != ComputeKindID || tg != StorageKindID {
		t.Errorf("storagelink: %s %s %v", s, tg, ok)
	}
	if _, _, ok := LinkEnds(LinkKindID); ok {
		t.Error("core link fixes its ends")
	}
}

func TestValueText(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{"a", "a"}, {2.0, "2"}, {2.5, "2.5"}, {true, "true"}, {[]any{1.0, "x"}, `[1,"x"]`}, {map[string]any{"k": 1.0}, `{"k":1}`},
	} {
		if got := ValueText(tc.v); got != tc.want {
			t.Errorf("ValueText(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}
