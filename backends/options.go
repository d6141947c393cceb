package backends

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// OptionType is the type of a driver option's value.
type OptionType string

// The option types.
const (
	String   OptionType = "string"
	Int      OptionType = "int"
	Float    OptionType = "float"
	Bool     OptionType = "bool"
	Duration OptionType = "duration"
	Strings  OptionType = "strings" // a list of strings
)

// Option declares one option of a driver.
type Option struct {
	Name     string
	Type     OptionType
	Default  any // of the Go type Get returns for Type; nil for none
	Required bool
	Help     string
	// Secret options (passwords, tokens) are never logged or shown.
	Secret bool
}

// Options are validated option values, by name, with the Go type of their
// OptionType: string, int, float64, bool, time.Duration, []string. An option
// neither configured nor defaulted is absent, and its getter returns the
// zero value.
type Options map[string]any

// String returns a string option.
func (o Options) String(name string) string { s, _ := o[name].(string); return s }

// Int returns an int option.
func (o Options) Int(name string) int { i, _ := o[name].(int); return i }

// Float returns a float option.
func (o Options) Float(name string) float64 { f, _ := o[name].(float64); return f }

// Bool returns a bool option.
func (o Options) Bool(name string) bool { b, _ := o[name].(bool); return b }

// Duration returns a duration option.
func (o Options) Duration(name string) time.Duration { d, _ := o[name].(time.Duration); return d }

// Strings returns a list option.
func (o Options) Strings(name string) []string { s, _ := o[name].([]string); return s }

func (d *Driver) parseOptions(raw map[string]any) (Options, error) {
	declared := map[string]*Option{}
	for i := range d.Options {
		declared[d.Options[i].Name] = &d.Options[i]
	}
	var unknown []string
	for k := range raw {
		if declared[k] == nil {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		known := make([]string, 0, len(d.Options))
		for _, o := range d.Options {
			known = append(known, o.Name)
		}
		return nil, fmt.Errorf("unknown option(s) %s (this driver takes: %s)", strings.Join(unknown, ", "), strings.Join(known, ", "))
	}
	out := Options{}
	for _, o := range d.Options {
		v, ok := raw[o.Name]
		if !ok || v == nil {
			if o.Required {
				return nil, fmt.Errorf("option %s is required (%s)", o.Name, o.Help)
			}
			if o.Default != nil {
				out[o.Name] = o.Default
			}
			continue
		}
		parsed, err := convert(o.Type, v)
		if err != nil {
			return nil, fmt.Errorf("option %s: %w", o.Name, err)
		}
		out[o.Name] = parsed
	}
	return out, nil
}

// convert reads a value as YAML decodes it into the option's type.
func convert(t OptionType, v any) (any, error) {
	switch t {
	case String:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case Int:
		switch n := v.(type) {
		case int:
			return n, nil
		case int64:
			return int(n), nil
		case float64:
			if math.Trunc(n) == n && n >= math.MinInt32 && n <= math.MaxInt32 {
				return int(n), nil
			}
		}
	case Float:
		switch n := v.(type) {
		case float64:
			return n, nil
		case int:
			return float64(n), nil
		case int64:
			return float64(n), nil
		}
	case Bool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case Duration:
		switch d := v.(type) {
		case string:
			parsed, err := time.ParseDuration(d)
			if err != nil {
				return nil, fmt.Errorf("%q is not a duration like 250ms or 2s", d)
			}
			return parsed, nil
		case time.Duration:
			return d, nil
		case int:
			if d == 0 { // YAML's bare 0 is a zero duration
				return time.Duration(0), nil
			}
		}
	case Strings:
		switch l := v.(type) {
		case []string:
			return slices.Clone(l), nil
		case []any:
			out := make([]string, len(l))
			for i, e := range l {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("item %d is %T, want a string", i, e)
				}
				out[i] = s
			}
			return out, nil
		}
	default:
		return nil, fmt.Errorf("undeclared option type %q", t)
	}
	return nil, fmt.Errorf("%v (%T) is not a %s", v, v, t)
}

// Describe renders a provider's options for the log: every option the
// driver declares, with its configured or default value, secrets masked. An
// unknown driver or invalid options give what can be said.
func Describe(driver string, raw map[string]any) string {
	d, ok := Lookup(driver)
	if !ok {
		return "unknown driver"
	}
	opts, err := d.parseOptions(raw)
	if err != nil {
		return "invalid: " + err.Error()
	}
	var parts []string
	for _, o := range d.Options {
		v, set := opts[o.Name]
		switch {
		case !set:
			continue
		case o.Secret:
			parts = append(parts, o.Name+"=***")
		default:
			parts = append(parts, fmt.Sprintf("%s=%v", o.Name, v))
		}
	}
	return strings.Join(parts, " ")
}
