package backends

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// optionsDriver is a driver registered only in these tests, taking an
// option of every type.
const optionsDriver = "options-test"

// opened records the options New last received.
var opened Options

var errNew = errors.New("refused")

func init() {
	Register(&Driver{
		Name:        optionsDriver,
		Description: "takes an option of every type",
		Options: []Option{
			{Name: "endpoint", Type: String, Required: true, Help: "where the VIM is"},
			{Name: "region", Type: String, Default: "eu-west", Help: "region"},
			{Name: "retries", Type: Int, Default: 3, Help: "how many times"},
			{Name: "ratio", Type: Float, Default: 0.5, Help: "how much"},
			{Name: "verbose", Type: Bool, Default: false, Help: "say more"},
			{Name: "timeout", Type: Duration, Default: 30 * time.Second, Help: "how long"},
			{Name: "tags", Type: Strings, Default: []string{"ocni"}, Help: "labels"},
			{Name: "zones", Type: Strings, Help: "no default"},
		},
		New: func(_ string, opts Options) (Provider, error) {
			opened = opts
			if opts.String("endpoint") == "refuse" {
				return nil, errNew
			}
			return nopProvider{}, nil
		},
	})
}

type nopProvider struct{}

func (nopProvider) Capabilities() Capabilities { return Capabilities{} }
func (nopProvider) Create(context.Context, *Object) (map[string]any, error) {
	return nil, nil
}

func (nopProvider) Retrieve(context.Context, *Object) (map[string]any, error) {
	return nil, nil
}

func (nopProvider) Update(context.Context, *Object, *Object) (map[string]any, error) {
	return nil, nil
}
func (nopProvider) Delete(context.Context, *Object) error { return nil }
func (nopProvider) Action(context.Context, *Object, string, map[string]any) (map[string]any, error) {
	return nil, nil
}
func (nopProvider) List(context.Context, string) ([]string, error) { return nil, nil }
func (nopProvider) Close() error                                   { return nil }

func openOptions(t *testing.T, raw map[string]any) (Options, error) {
	t.Helper()
	opened = nil
	p, err := Open("lab", optionsDriver, raw)
	if err != nil {
		return nil, err
	}
	p.Close()
	return opened, nil
}

func TestOptionsDefaults(t *testing.T) {
	opts, err := openOptions(t, map[string]any{"endpoint": "https://vim.example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if got := opts.String("endpoint"); got != "https://vim.example.org" {
		t.Errorf("endpoint = %q", got)
	}
	if got := opts.String("region"); got != "eu-west" {
		t.Errorf("region = %q, want the default eu-west", got)
	}
	if got := opts.Int("retries"); got != 3 {
		t.Errorf("retries = %d, want the default 3", got)
	}
	if got := opts.Float("ratio"); got != 0.5 {
		t.Errorf("ratio = %v, want the default 0.5", got)
	}
	if got, ok := opts["verbose"].(bool); !ok || got {
		t.Errorf("verbose = %#v, want the default false", opts["verbose"])
	}
	if got := opts.Duration("timeout"); got != 30*time.Second {
		t.Errorf("timeout = %s, want the default 30s", got)
	}
	if got := opts.Strings("tags"); !reflect.DeepEqual(got, []string{"ocni"}) {
		t.Errorf("tags = %#v, want the default [ocni]", got)
	}
	if got := opts.Strings("zones"); got != nil {
		t.Errorf("zones = %#v, want nothing", got)
	}
}

func TestOptionsValues(t *testing.T) {
	opts, err := openOptions(t, map[string]any{
		"endpoint": "https://vim.example.org",
		"region":   "us-east",
		"retries":  7,
		"ratio":    0.25,
		"verbose":  true,
		"timeout":  "250ms",
		"tags":     []any{"a", "b"},
		"zones":    []string{"z1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Options{
		"endpoint": "https://vim.example.org", "region": "us-east", "retries": 7, "ratio": 0.25,
		"verbose": true, "timeout": 250 * time.Millisecond, "tags": []string{"a", "b"}, "zones": []string{"z1"},
	}
	if !reflect.DeepEqual(opts, want) {
		t.Errorf("options = %#v\nwant %#v", opts, want)
	}
}

// Values as a YAML or JSON decoder produces them are converted to the
// declared type when nothing is lost.
func TestOptionsConversions(t *testing.T) {
	for _, tt := range []struct {
		name  string
		value any
		want  any
	}{
		{"retries", 7.0, 7},
		{"retries", int64(9), 9},
		{"ratio", 2, 2.0},
		{"timeout", 2 * time.Minute, 2 * time.Minute},
		{"tags", []any{}, []string{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts, err := openOptions(t, map[string]any{"endpoint": "e", tt.name: tt.value})
			if err != nil {
				t.Fatalf("%s = %#v: %v", tt.name, tt.value, err)
			}
			if got := opts[tt.name]; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s = %#v from %#v, want %#v", tt.name, got, tt.value, tt.want)
			}
		})
	}
}

func TestOptionsErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		raw  map[string]any
		want []string // the error says each of these
	}{
		{"unknown option", map[string]any{"endpoint": "e", "colour": "blue", "bogus": 1},
			[]string{"bogus, colour", "endpoint", "region", "retries", "ratio", "verbose", "timeout", "tags", "zones"}},
		{"required missing", map[string]any{"region": "r"}, []string{"option endpoint is required", "where the VIM is"}},
		{"required null", map[string]any{"endpoint": nil}, []string{"option endpoint is required"}},
		{"string for int", map[string]any{"endpoint": "e", "retries": "7"}, []string{"option retries", "string"}},
		{"fraction for int", map[string]any{"endpoint": "e", "retries": 7.5}, []string{"option retries"}},
		{"bad duration", map[string]any{"endpoint": "e", "timeout": "abc"}, []string{"option timeout", `"abc"`}},
		{"number for duration", map[string]any{"endpoint": "e", "timeout": 5}, []string{"option timeout"}},
		{"number in strings", map[string]any{"endpoint": "e", "tags": []any{"a", 1}}, []string{"option tags", "item 1"}},
		{"string for strings", map[string]any{"endpoint": "e", "tags": "a"}, []string{"option tags"}},
		{"string for bool", map[string]any{"endpoint": "e", "verbose": "yes"}, []string{"option verbose"}},
		{"number for string", map[string]any{"endpoint": 42}, []string{"option endpoint"}},
		{"bad float", map[string]any{"endpoint": "e", "ratio": "half"}, []string{"option ratio"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := openOptions(t, tt.raw)
			if err == nil {
				t.Fatalf("Open(%v) succeeded", tt.raw)
			}
			for _, w := range append([]string{"provider lab", "driver " + optionsDriver}, tt.want...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Open(%v) = %q, want it to say %q", tt.raw, err, w)
				}
			}
		})
	}
}

func TestOpenUnknownDriver(t *testing.T) {
	_, err := Open("lab", "no-such-driver", nil)
	if err == nil {
		t.Fatal("Open with an unknown driver succeeded")
	}
	for _, w := range []string{"provider lab", `"no-such-driver"`, optionsDriver} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Open = %q, want it to say %q", err, w)
		}
	}
}

func TestOpenNewFails(t *testing.T) {
	_, err := Open("lab", optionsDriver, map[string]any{"endpoint": "refuse"})
	if !errors.Is(err, errNew) || !strings.Contains(err.Error(), "provider lab") {
		t.Errorf("Open = %v, want New's error wrapped with the provider's name", err)
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("a second registration of a name did not panic")
		}
	}()
	Register(&Driver{Name: optionsDriver})
}

func TestNames(t *testing.T) {
	names := Names()
	found := false
	for i, n := range names {
		if i > 0 && names[i-1] >= n {
			t.Errorf("Names() = %v, not sorted", names)
		}
		found = found || n == optionsDriver
	}
	if !found {
		t.Errorf("Names() = %v, want %s in it", names, optionsDriver)
	}
	if d, ok := Lookup(optionsDriver); !ok || d.Name != optionsDriver {
		t.Errorf("Lookup(%s) = %v, %v", optionsDriver, d, ok)
	}
}
