package renderers_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/renderers"
)

const (
	infra   = "http://schemas.ogf.org/occi/infrastructure#"
	example = "http://example.com/occi#"
)

type categoryHeaderCase struct {
	name   string
	values []string
	want   []string // the identifiers; nil for none or for an error
	// wantErr lists what the InvalidArgument message must mention; nil
	// when no error is expected.
	wantErr []string
}

var categoryHeaderCases = []categoryHeaderCase{
	{
		name:   "single value",
		values: []string{`compute; scheme="` + infra + `"; class="kind"`},
		want:   []string{infra + "compute"},
	},
	{
		name:   "several comma-separated",
		values: []string{`compute; scheme="` + infra + `"; class="kind", os_tpl; scheme="` + infra + `"; class="mixin",storage; scheme="` + infra + `"`},
		want:   []string{infra + "compute", infra + "os_tpl", infra + "storage"},
	},
	{
		name: "repeated header values",
		values: []string{
			`compute; scheme="` + infra + `"; class="kind"`,
			`network; scheme="` + infra + `"; class="kind"`,
		},
		want: []string{infra + "compute", infra + "network"},
	},
	{
		name: "repeated and comma-separated",
		values: []string{
			`compute; scheme="` + infra + `", network; scheme="` + infra + `"`,
			`gold; scheme="` + example + `"`,
		},
		want: []string{infra + "compute", infra + "network", example + "gold"},
	},
	{
		name:   "comma inside a quoted title",
		values: []string{`compute; scheme="` + infra + `"; title="Compute, the big one"`},
		want:   []string{infra + "compute"},
	},
	{
		name:   "semicolon inside a quoted title",
		values: []string{`compute; title="a; b; c"; scheme="` + infra + `"`},
		want:   []string{infra + "compute"},
	},
	{
		name:   "comma, semicolon and equals inside the quoted scheme",
		values: []string{`t1; scheme="http://example.com/p;v=1,2#"`},
		want:   []string{"http://example.com/p;v=1,2#t1"},
	},
	{
		name:   "escaped quotes do not end a quoted string",
		values: []string{`compute; title="say \"hi\", then; go"; scheme="` + infra + `", network; scheme="` + infra + `"`},
		want:   []string{infra + "compute", infra + "network"},
	},
	{
		name:   "escaped backslash before the closing quote",
		values: []string{`compute; title="ends with \\"; scheme="` + infra + `", storage; scheme="` + infra + `"`},
		want:   []string{infra + "compute", infra + "storage"},
	},
	{
		name:   "extra spaces and tabs",
		values: []string{"  compute \t;   scheme =  \"" + infra + "\"  ;\tclass = \"kind\"  ,\t network ; scheme=\"" + infra + "\" "},
		want:   []string{infra + "compute", infra + "network"},
	},
	{
		name:   "parameter names are case-insensitive",
		values: []string{`compute; Scheme="` + infra + `"`, `network; SCHEME="` + infra + `"`},
		want:   []string{infra + "compute", infra + "network"},
	},
	{
		name:   "unquoted scheme",
		values: []string{`vm; scheme=` + example},
		want:   []string{example + "vm"},
	},
	{
		name: "class, title, rel, location, attributes and actions are ignored",
		values: []string{`compute; scheme="` + infra + `"; class="kind"; title="Compute Resource"; ` +
			`rel="http://schemas.ogf.org/occi/core#resource"; location="/compute/"; ` +
			`attributes="occi.compute.cores occi.compute.state{immutable}"; ` +
			`actions="http://schemas.ogf.org/occi/infrastructure/compute/action#start"`},
		want: []string{infra + "compute"},
	},
	{
		name:   "empty items are skipped",
		values: []string{`, compute; scheme="` + infra + `",, ,`, "", "   ", `network; scheme="` + infra + `",`},
		want:   []string{infra + "compute", infra + "network"},
	},
	{
		name:   "nothing at all",
		values: nil,
	},
	{
		name:   "only empty values",
		values: []string{"", " , ,\t"},
	},
	{
		name:    "missing scheme",
		values:  []string{`compute`},
		wantErr: []string{`Category "compute" has no scheme`},
	},
	{
		name:    "missing scheme among other parameters",
		values:  []string{`compute; class="kind"; title="x"`},
		wantErr: []string{`Category "compute; class=\"kind\"; title=\"x\"" has no scheme`},
	},
	{
		name:    "empty scheme",
		values:  []string{`compute; scheme=""`},
		wantErr: []string{`"compute; scheme=\"\""`, "no scheme"},
	},
	{
		name:    "second item without scheme",
		values:  []string{`compute; scheme="` + infra + `", storage`},
		wantErr: []string{`Category "storage" has no scheme`},
	},
	{
		name:    "item without scheme in a repeated value",
		values:  []string{`compute; scheme="` + infra + `"`, `network; class="kind"`},
		wantErr: []string{`"network; class=\"kind\""`, "no scheme"},
	},
	{
		name:    "parameter without '='",
		values:  []string{`compute; scheme="` + infra + `"; kind`},
		wantErr: []string{`parameter "kind" has no value`, `Category "compute;`},
	},
	{
		name:    "scheme without '='",
		values:  []string{`compute; scheme`},
		wantErr: []string{`parameter "scheme" has no value`},
	},
	{
		name:    "term with a space",
		values:  []string{`com pute; scheme="` + infra + `"`},
		wantErr: []string{"Category header", `term "com pute" is not valid`},
	},
	{
		name:    "term starting with '-'",
		values:  []string{`-compute; scheme="` + infra + `"`},
		wantErr: []string{`term "-compute" is not valid`},
	},
	{
		name:    "term with a slash",
		values:  []string{`os/tpl; scheme="` + infra + `"`},
		wantErr: []string{"is not valid"},
	},
	{
		name:    "quoted term",
		values:  []string{`"compute"; scheme="` + infra + `"`},
		wantErr: []string{"is not valid"},
	},
	{
		name:    "empty term",
		values:  []string{`; scheme="` + infra + `"`},
		wantErr: []string{"term is missing"},
	},
	{
		name:    "scheme without '#'",
		values:  []string{`compute; scheme="http://example.com/occi/"`},
		wantErr: []string{"Category header", "no '#'"},
	},
	{
		name:    "scheme that is not an absolute URI",
		values:  []string{`compute; scheme="schemas/occi#"`},
		wantErr: []string{"not an absolute URI"},
	},
	{
		name:    "unterminated quoted scheme",
		values:  []string{`compute; scheme="http://example.com/occi#`},
		wantErr: []string{"Category header"},
	},
}

func TestParseCategoryHeader(t *testing.T) {
	for _, tc := range categoryHeaderCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := renderers.ParseCategoryHeader(tc.values)
			if tc.wantErr != nil {
				wantCode(t, err, occi.InvalidArgument, tc.wantErr...)
				if got != nil {
					t.Errorf("got identifiers %q along with the error", got)
				}
				return
			}
			wantNoErr(t, err)
			if !slices.Equal(got, tc.want) {
				t.Errorf("ParseCategoryHeader(%q)\n got  %q\n want %q", tc.values, got, tc.want)
			}
		})
	}
}

// A '#' cannot be part of a term. Checking scheme+term as one identifier
// does not catch it: the identifier is split again at its last '#', so
// "a#b" with scheme "http://example.com/x#" becomes term "b" of scheme
// "http://example.com/x#a#", a category the client never named.
func TestParseCategoryHeaderTermWithHash(t *testing.T) {
	for _, v := range []string{
		`a#b; scheme="http://example.com/x#"`,
		`#b; scheme="http://example.com/x#a"`,
	} {
		t.Run(v, func(t *testing.T) {
			got, err := renderers.ParseCategoryHeader([]string{v})
			if err == nil {
				t.Fatalf("ParseCategoryHeader(%q) = %q, want an InvalidArgument error", v, got)
			}
			wantCode(t, err, occi.InvalidArgument)
		})
	}
}

func FuzzParseCategoryHeader(f *testing.F) {
	// Each input is one or more header values separated by newlines, which
	// header values cannot contain.
	for _, tc := range categoryHeaderCases {
		f.Add(strings.Join(tc.values, "\n"))
	}
	f.Fuzz(func(t *testing.T, in string) {
		values := strings.Split(in, "\n")
		ids, err := renderers.ParseCategoryHeader(values)
		if err != nil {
			if code := occi.CodeOf(err); code != occi.InvalidArgument {
				t.Fatalf("error %q has code %v, want InvalidArgument", err, code)
			}
			if ids != nil {
				t.Fatalf("got identifiers %q along with the error %q", ids, err)
			}
			return
		}
		if len(ids) > strings.Count(in, ",")+len(values) {
			t.Fatalf("%d identifiers from %d values with %d commas", len(ids), len(values), strings.Count(in, ","))
		}
		for _, id := range ids {
			if err := occi.ValidID(id); err != nil {
				t.Fatalf("identifier %q is not valid: %v", id, err)
			}
		}
	})
}
