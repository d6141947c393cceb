package occi

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestValidID(t *testing.T) {
	tests := []struct {
		id   string
		want string // substring of the error; "" means valid
	}{
		{"http://schemas.ogf.org/occi/infrastructure#compute", ""},
		{"http://schemas.ogf.org/occi/infrastructure/compute/action#start", ""},
		{"http://example.com/occi/vm#my-term_1.2", ""},
		{"https://example.com/a/b?x=1#t", ""},
		{"urn:example:occi#t0", ""},
		{"http://example.com/a#b#c", ""}, // the last '#' separates the term
		{"no-hash-at-all", "no-hash-at-all"},
		{"", "no '#'"},
		{"http://example.com/occi#", "term is missing"},
		{"http://example.com/occi#bad term", "bad term"},
		{"http://example.com/occi#_leading", "_leading"},
		{"http://example.com/occi#-leading", "-leading"},
		{"http://example.com/occi#a/b", "a/b"},
		{"http://example.com/occi#a:b", "a:b"},
		{"http://example.com/occi#ünï", "ünï"},
		{"example.com/occi#t", "example.com/occi#"},
		{"/relative/path#t", "/relative/path#"},
		{"#t", `"#"`},
		{"http://exa mple.com/occi#t", "exa mple.com"},
		{"http://example.com/my occi#t", "my occi"},
		{"http://example.com/\"q\"#t", "example.com"},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			err := ValidID(tc.id)
			if tc.want == "" {
				wantNoErr(t, err)
				return
			}
			wantErr(t, err, InvalidArgument, tc.want)
		})
	}
}

func TestSplitID(t *testing.T) {
	tests := []struct{ id, scheme, term string }{
		{"http://schemas.ogf.org/occi/core#entity", "http://schemas.ogf.org/occi/core#", "entity"},
		{"http://example.com/a#b#c", "http://example.com/a#b#", "c"},
		{"http://example.com/a#", "http://example.com/a#", ""},
		{"#t", "#", "t"},
		{"nohash", "", "nohash"},
		{"", "", ""},
	}
	for _, tc := range tests {
		scheme, term := SplitID(tc.id)
		if scheme != tc.scheme || term != tc.term {
			t.Errorf("SplitID(%q) = %q, %q; want %q, %q", tc.id, scheme, term, tc.scheme, tc.term)
		}
		if tc.scheme != "" && scheme+term != tc.id {
			t.Errorf("SplitID(%q) does not recompose", tc.id)
		}
	}
}

// attrCase is a set of attribute definitions and the outcome of validating
// them in a category whose scheme is not OGF's.
type attrCase struct {
	name  string
	attrs Attributes
	want  string // substring of the error; "" means valid
}

// attrCases returns fresh definitions on every call: validation compiles
// them in place.
func attrCases() []attrCase {
	def := func(t AttributeType, pattern string, dflt any) *AttributeDef {
		d := &AttributeDef{Type: t, Default: dflt}
		if pattern != "" {
			d.Pattern = json.RawMessage(pattern)
		}
		return d
	}
	one := func(name string, d *AttributeDef) Attributes { return Attributes{name: d} }
	const n = "com.example.x"
	return []attrCase{
		{"no attributes", nil, ""},
		{"plain string", one(n, def(TypeString, "", nil)), ""},
		{"type defaults to string", one(n, def("", "", "v")), ""},
		{"every type", Attributes{
			"com.example.s": def(TypeString, "", "s"),
			"com.example.n": def(TypeNumber, "", 1.5),
			"com.example.b": def(TypeBoolean, "", false),
			"com.example.a": def(TypeArray, "", []any{"x"}),
			"com.example.o": def(TypeObject, "", map[string]any{"k": 1.0}),
		}, ""},
		{"regex pattern and matching default", one(n, def(TypeString, `"[a-z]+"`, "abc")), ""},
		{"schema pattern and matching default", one(n, def(TypeNumber, `{"type":"integer","minimum":1}`, 2.0)), ""},
		{"null pattern", one(n, def(TypeString, `null`, nil)), ""},
		{"plain names", Attributes{"x": def(TypeString, "", nil), "com-example_x.y-z.0": def(TypeString, "", nil)}, ""},

		{"name with empty part", one("com..example", def(TypeString, "", nil)), "com..example"},
		{"name with leading dot", one(".com.example", def(TypeString, "", nil)), ".com.example"},
		{"name with trailing dot", one("com.example.", def(TypeString, "", nil)), "com.example."},
		{"name with space", one("com.example.has space", def(TypeString, "", nil)), "has space"},
		{"name with slash", one("com/example", def(TypeString, "", nil)), "com/example"},
		{"name with non-ASCII", one("com.exämple", def(TypeString, "", nil)), "com.exämple"},
		{"empty name", one("", def(TypeString, "", nil)), `""`},
		{"null definition", Attributes{n: nil}, n},
		{"unknown type", one(n, def("integer", "", nil)), "integer"},
		{"type is case-sensitive", one(n, def("String", "", nil)), "String"},
		{"regex does not compile", one(n, def(TypeString, `"(unclosed"`, nil)), "(unclosed"},
		{"regex with Perl-only syntax", one(n, def(TypeString, `"(?<=a)b"`, nil)), "(?<=a)b"},
		{"schema with a bad type", one(n, def(TypeString, `{"type":"bogus"}`, nil)), n},
		{"schema with a bad keyword value", one(n, def(TypeNumber, `{"minimum":"one"}`, nil)), n},
		{"schema with a bad regex", one(n, def(TypeString, `{"pattern":"(unclosed"}`, nil)), n},
		{"pattern is a number", one(n, def(TypeString, `42`, nil)), n},
		{"pattern is an array", one(n, def(TypeString, `["a"]`, nil)), n},
		{"default not a number", one(n, def(TypeNumber, "", "two")), "two"},
		{"default not a boolean", one(n, def(TypeBoolean, "", "true")), `"true"`},
		{"default not a string", one(n, def(TypeString, "", 3.0)), "3"},
		{"default not an array", one(n, def(TypeArray, "", "x")), `"x"`},
		{"default not an object", one(n, def(TypeObject, "", []any{})), "[]"},
		{"default does not match the regex", one(n, def(TypeString, `"[a-z]+"`, "ABC")), "ABC"},
		{"default does not satisfy the enum", one(n, def(TypeString, `{"enum":["a","b"]}`, "c")), `"c"`},
		{"default is not an integer", one(n, def(TypeNumber, `{"type":"integer"}`, 1.5)), "1.5"},
		{"error names the attribute", one(n, def(TypeNumber, `{"maximum":3}`, 4.0)), n},
	}
}

func validKind() *Kind {
	return &Kind{
		Category: Category{Scheme: "http://example.com/occi/infra#", Term: "vm", Title: "VM"},
		Parent:   ResourceKindID,
		Location: "/vm/",
		Actions:  []string{"http://example.com/occi/infra/vm/action#reboot"},
		Attributes: Attributes{
			"com.example.flavor": {Type: TypeString, Mutable: true},
		},
	}
}

// locationCases apply to kinds and mixins alike.
var locationCases = []struct {
	loc  string
	want string // substring of the error; "" means valid
}{
	{"/vm/", ""},
	{"/a/b-c/d_e/f.g/~h/", ""},
	{"/a.b/", ""},
	{"", "location"},
	{"vm/", `"vm/"`},
	{"/vm", `"/vm"`},
	{"/", `"/"`},
	{"//", `"//"`},
	{"/a//b/", "/a//b/"},
	{"/../", ".."},
	{"/a/../b/", ".."},
	{"/a/./b/", "/a/./b/"},
	{"/./", "/./"},
	{"/my vms/", "my vms"},
	{"/vm /", "/vm /"},
	{"/vm/?x=1/", "?x=1"},
	{"/vm/#x/", "#x"},
	{"/vm%20s/", "%20"},
	{"http://example.com/vm/", "http://example.com/vm/"},
}

func TestKindValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(k *Kind)
		want   string // substring of the error; "" means valid
	}{
		{"valid", func(k *Kind) {}, ""},
		{"link parent", func(k *Kind) { k.Parent = LinkKindID }, ""},
		{"user parent", func(k *Kind) { k.Parent = "http://example.com/occi/infra#base" }, ""},
		{"no actions", func(k *Kind) { k.Actions = nil }, ""},
		{"entity itself needs no parent nor location", func(k *Kind) {
			*k = Kind{Category: Category{Scheme: CoreScheme, Term: "entity"}}
		}, ""},
		{"missing term", func(k *Kind) { k.Term = "" }, "term"},
		{"bad term", func(k *Kind) { k.Term = "v m" }, "v m"},
		{"missing scheme", func(k *Kind) { k.Scheme = "" }, "scheme"},
		{"scheme without '#'", func(k *Kind) { k.Scheme = "http://example.com/occi" }, "http://example.com/occi"},
		{"relative scheme", func(k *Kind) { k.Scheme = "example.com/occi#" }, "example.com/occi#"},
		{"scheme with spaces", func(k *Kind) { k.Scheme = "http://example.com/my occi#" }, "my occi"},
		{"missing parent", func(k *Kind) { k.Parent = "" }, "parent"},
		{"parent without '#'", func(k *Kind) { k.Parent = "resource" }, "resource"},
		{"parent with empty term", func(k *Kind) { k.Parent = "http://example.com/occi#" }, "parent"},
		{"parent with relative scheme", func(k *Kind) { k.Parent = "core#resource" }, "core#"},
		{"parent with spaces", func(k *Kind) { k.Parent = "http://example.com/x y#k" }, "x y"},
		{"action without '#'", func(k *Kind) { k.Actions = []string{"reboot"} }, "reboot"},
		{"bad second action", func(k *Kind) {
			k.Actions = append(k.Actions, "http://example.com/occi#bad term")
		}, "bad term"},
		{"duplicate action", func(k *Kind) {
			k.Actions = []string{"http://example.com/a#x", "http://example.com/a#y", "http://example.com/a#x"}
		}, "http://example.com/a#x"},
		{"reserved attribute prefix", func(k *Kind) {
			k.Attributes = Attributes{"occi.vm.flavor": {Type: TypeString}}
		}, "occi.vm.flavor"},
		{"OGF attribute redefined with another type", func(k *Kind) {
			k.Attributes = Attributes{AttrTitle: {Type: TypeNumber}}
		}, AttrTitle},
		{"reserved attribute prefix in an OGF kind", func(k *Kind) {
			k.Scheme = InfraScheme
			k.Term = "gpu"
			k.Attributes = Attributes{"occi.gpu.count": {Type: TypeNumber}}
		}, ""},
		{"'occi' without the dot is not reserved", func(k *Kind) {
			k.Attributes = Attributes{"occilike.x": {Type: TypeString}, "occi": {Type: TypeString}}
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := validKind()
			tc.mutate(k)
			err := k.Validate()
			if tc.want == "" {
				wantNoErr(t, err)
				return
			}
			wantErr(t, err, InvalidArgument, tc.want)
		})
	}
	for _, tc := range locationCases {
		t.Run("location "+tc.loc, func(t *testing.T) {
			k := validKind()
			k.Location = tc.loc
			err := k.Validate()
			if tc.want == "" {
				wantNoErr(t, err)
				return
			}
			wantErr(t, err, InvalidArgument, tc.want)
		})
	}
	for _, tc := range attrCases() {
		t.Run("attributes "+tc.name, func(t *testing.T) {
			k := validKind()
			k.Attributes = tc.attrs
			err := k.Validate()
			if tc.want == "" {
				wantNoErr(t, err)
				return
			}
			wantErr(t, err, InvalidArgument, tc.want)
		})
	}
}

func validMixin() *Mixin {
	return &Mixin{
		Category: Category{Scheme: "http://example.com/occi/templates#", Term: "xlarge", Title: "XL"},
		Depends:  []string{ResourceTplMixinID},
		Applies:  []string{ComputeKindID},
		Location: "/templates/xlarge/",
		Attributes: Attributes{
			"com.example.gpus": {Type: TypeNumber, Mutable: true, Default: 1.0},
		},
	}
}

func TestMixinValidate(t *testing.T) {
	self := validMixin().ID()
	tests := []struct {
		name   string
		mutate func(m *Mixin)
		want   string // substring of the error; "" means valid
	}{
		{"valid", func(m *Mixin) {}, ""},
		{"tag without anything", func(m *Mixin) {
			*m = Mixin{Category: Category{Scheme: "http://example.com/tags#", Term: "blue"}, Location: "/tags/blue/"}
		}, ""},
		{"with actions", func(m *Mixin) { m.Actions = []string{"http://example.com/occi/templates/action#resize"} }, ""},
		{"missing term", func(m *Mixin) { m.Term = "" }, "term"},
		{"bad term", func(m *Mixin) { m.Term = "x/l" }, "x/l"},
		{"relative scheme", func(m *Mixin) { m.Scheme = "templates#" }, "templates#"},
		{"scheme with spaces", func(m *Mixin) { m.Scheme = "http://example.com/my templates#" }, "my templates"},
		{"bad depends", func(m *Mixin) { m.Depends = []string{"resource_tpl"} }, "resource_tpl"},
		{"bad depends is located", func(m *Mixin) {
			m.Depends = []string{ResourceTplMixinID, "os_tpl"}
		}, "depends[1]"},
		{"bad applies", func(m *Mixin) { m.Applies = []string{"compute"} }, "compute"},
		{"bad applies is located", func(m *Mixin) { m.Applies = []string{"compute"} }, "applies[0]"},
		{"bad action", func(m *Mixin) { m.Actions = []string{"http://example.com/a#"} }, "actions[0]"},
		{"duplicate depends", func(m *Mixin) {
			m.Depends = []string{ResourceTplMixinID, ResourceTplMixinID}
		}, ResourceTplMixinID},
		{"duplicate applies", func(m *Mixin) {
			m.Applies = []string{ComputeKindID, NetworkKindID, ComputeKindID}
		}, ComputeKindID},
		{"duplicate actions", func(m *Mixin) {
			m.Actions = []string{"http://example.com/a#x", "http://example.com/a#x"}
		}, "http://example.com/a#x"},
		{"depends on itself", func(m *Mixin) {
			m.Depends = []string{ResourceTplMixinID, self}
		}, self},
		{"reserved attribute prefix", func(m *Mixin) {
			m.Attributes = Attributes{"occi.compute.gpus": {Type: TypeNumber}}
		}, "occi.compute.gpus"},
		{"reserved attribute prefix in an OGF mixin", func(m *Mixin) {
			m.Scheme = ResourceTplScheme
			m.Attributes = Attributes{"occi.compute.cores": {Type: TypeNumber, Default: 8.0}}
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := validMixin()
			tc.mutate(m)
			err := m.Validate()
			if tc.want == "" {
				wantNoErr(t, err)
				return
			}
			wantErr(t, err, InvalidArgument, tc.want)
		})
	}
	for _, tc := range locationCases {
		t.Run("location "+tc.loc, func(t *testing.T) {
			m := validMixin()
			m.Location = tc.loc
			err := m.Validate()
			if tc.want == "" {
				wantNoErr(t, err)
				return
			}
			wantErr(t, err, InvalidArgument, tc.want)
		})
	}
	for _, tc := range attrCases() {
		t.Run("attributes "+tc.name, func(t *testing.T) {
			m := validMixin()
			m.Attributes = tc.attrs
			err := m.Validate()
			if tc.want == "" {
				wantNoErr(t, err)
				return
			}
			wantErr(t, err, InvalidArgument, tc.want)
		})
	}
}

func validAction() *Action {
	return &Action{
		Category: Category{Scheme: "http://example.com/occi/infra/vm/action#", Term: "reboot", Title: "Reboot"},
		Attributes: Attributes{
			"method": {Type: TypeString, Pattern: json.RawMessage(`{"enum":["soft","hard"]}`), Default: "soft"},
		},
	}
}

func TestActionValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(a *Action)
		want   string // substring of the error; "" means valid
	}{
		{"valid", func(a *Action) {}, ""},
		{"no parameters", func(a *Action) { a.Attributes = nil }, ""},
		// Parameters are plain names; the occi. rule is for entity attributes.
		{"occi. parameter in a user action", func(a *Action) {
			a.Attributes = Attributes{"occi.x": {Type: TypeString}}
		}, ""},
		{"missing term", func(a *Action) { a.Term = "" }, "term"},
		{"bad term", func(a *Action) { a.Term = ".reboot" }, ".reboot"},
		{"missing scheme", func(a *Action) { a.Scheme = "" }, "scheme"},
		{"scheme without '#'", func(a *Action) { a.Scheme = "http://example.com/action" }, "http://example.com/action"},
		{"relative scheme", func(a *Action) { a.Scheme = "vm/action#" }, "vm/action#"},
		{"scheme with spaces", func(a *Action) { a.Scheme = "http://example.com/vm action#" }, "vm action"},
		{"default outside the enum", func(a *Action) { a.Attributes["method"].Default = "medium" }, "medium"},
		{"bad parameter name", func(a *Action) { a.Attributes = Attributes{"the method": {}} }, "the method"},
		{"null parameter", func(a *Action) { a.Attributes = Attributes{"method": nil} }, "method"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := validAction()
			tc.mutate(a)
			err := a.Validate()
			if tc.want == "" {
				wantNoErr(t, err)
				return
			}
			wantErr(t, err, InvalidArgument, tc.want)
		})
	}
	for _, tc := range attrCases() {
		t.Run("attributes "+tc.name, func(t *testing.T) {
			a := validAction()
			a.Attributes = tc.attrs
			err := a.Validate()
			if tc.want == "" {
				wantNoErr(t, err)
				return
			}
			wantErr(t, err, InvalidArgument, tc.want)
		})
	}
}

// Validation through the JSON form a client sends: attribute definitions
// get their defaults and a null definition is caught.
func TestValidateDecodedMixin(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string // substring of the error; "" means valid
	}{
		{"minimal", `{"term":"t","scheme":"http://example.com/s#","location":"/t/"}`, ""},
		{"attribute with defaults", `{"term":"t","scheme":"http://example.com/s#","location":"/t/","attributes":{"com.example.a":{}}}`, ""},
		{"null attribute", `{"term":"t","scheme":"http://example.com/s#","location":"/t/","attributes":{"com.example.a":null}}`, "com.example.a"},
		{"pattern of the wrong JSON type", `{"term":"t","scheme":"http://example.com/s#","location":"/t/","attributes":{"com.example.a":{"pattern":true}}}`, "com.example.a"},
		{"default against decoded schema", `{"term":"t","scheme":"http://example.com/s#","location":"/t/","attributes":{"com.example.a":{"type":"number","pattern":{"type":"integer","maximum":10},"default":11}}}`, "11"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m Mixin
			if err := json.Unmarshal([]byte(tc.body), &m); err != nil {
				t.Fatalf("decode: %v", err)
			}
			err := m.Validate()
			if tc.want == "" {
				wantNoErr(t, err)
				for name, d := range m.Attributes {
					if d.Type != TypeString {
						t.Errorf("%s: type %q, want string", name, d.Type)
					}
				}
				return
			}
			wantErr(t, err, InvalidArgument, tc.want)
		})
	}
}

// Validation compiles definitions in place; doing it twice must be harmless
// and must leave the category as it was.
func TestValidateIdempotent(t *testing.T) {
	k := validKind()
	k.Attributes["com.example.size"] = &AttributeDef{Type: TypeNumber, Pattern: json.RawMessage(`{"minimum":1}`), Default: 2.0}
	k.Attributes["com.example.untyped"] = &AttributeDef{}
	wantNoErr(t, k.Validate())
	before, _ := json.Marshal(k)
	wantNoErr(t, k.Validate())
	after, _ := json.Marshal(k)
	if string(before) != string(after) {
		t.Errorf("second Validate changed the kind:\n%s\n%s", before, after)
	}
	if got := k.Attributes["com.example.untyped"].Type; got != TypeString {
		t.Errorf("untyped attribute type = %q after Validate, want string", got)
	}
	wantErr(t, k.Attributes["com.example.size"].Check(0.0), InvalidArgument)
}

func TestCategoriesHelpers(t *testing.T) {
	cs := &Categories{
		Kinds:   []*Kind{{Category: Category{Scheme: "http://e.com/k#", Term: "b"}}, {Category: Category{Scheme: "http://e.com/k#", Term: "a"}}},
		Mixins:  []*Mixin{{Category: Category{Scheme: "http://e.com/m#", Term: "z"}}, {Category: Category{Scheme: "http://e.com/l#", Term: "z"}}},
		Actions: []*Action{{Category: Category{Scheme: "http://e.com/a#", Term: "y"}}},
	}
	if cs.Len() != 5 {
		t.Errorf("Len = %d, want 5", cs.Len())
	}
	cs.Sort()
	want := []string{"http://e.com/k#a", "http://e.com/k#b", "http://e.com/l#z", "http://e.com/m#z", "http://e.com/a#y"}
	if got := cs.IDs(); !reflect.DeepEqual(got, want) {
		t.Errorf("IDs after Sort = %q, want %q", got, want)
	}
	c := Category{Scheme: OGFScheme + "x#", Term: "t"}
	if !c.IsOGF() {
		t.Errorf("%s is not OGF", c.ID())
	}
	c.Scheme = "https://schemas.ogf.org/occi/x#"
	if c.IsOGF() {
		t.Errorf("%s is OGF", c.ID())
	}
	names := Attributes{"b": nil, "a": nil, "c.a": nil}.Names()
	if !reflect.DeepEqual(names, []string{"a", "b", "c.a"}) {
		t.Errorf("Names = %q", names)
	}
}

// Provider templates set defaults of OGF attributes: a user mixin may
// redefine an attribute the built-ins define, with the same type.
func TestUserTemplateRedefinesOGFAttribute(t *testing.T) {
	m := &Mixin{
		Category: Category{Scheme: "http://example.com/tpl#", Term: "xlarge"},
		Depends:  []string{ResourceTplMixinID},
		Location: "/tpl/xlarge/",
		Attributes: Attributes{
			"occi.compute.cores":  {Type: TypeNumber, Default: float64(8)},
			"occi.compute.memory": {Type: TypeNumber, Default: float64(32)},
		},
	}
	if err := m.Validate(); err != nil {
		t.Fatalf("template redefining OGF defaults rejected: %v", err)
	}
	set := Merge(Builtins().Kinds[findKindIndex(t, ComputeKindID)].Attributes, m.Attributes)
	got, err := set.Create(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got["occi.compute.cores"] != float64(8) {
		t.Errorf("cores = %v, want the template's 8", got["occi.compute.cores"])
	}
	// The kind's rules still apply to the template's default.
	m.Attributes["occi.compute.cores"] = &AttributeDef{Type: TypeNumber, Default: 2.5}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	set = Merge(Builtins().Kinds[findKindIndex(t, ComputeKindID)].Attributes, m.Attributes)
	if _, err := set.Create(nil); err == nil {
		t.Error("a non-integer cores default from a template was accepted")
	}
}

func findKindIndex(t *testing.T, id string) int {
	t.Helper()
	for i, k := range Builtins().Kinds {
		if k.ID() == id {
			return i
		}
	}
	t.Fatalf("no built-in kind %s", id)
	return -1
}
