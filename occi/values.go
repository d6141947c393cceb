package occi

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
)

// AttributeSet is the effective set of attribute definitions of an entity:
// those of its kind and the kind's ancestors, then those of its mixins. When
// a mixin redefines an attribute its default wins (this is how templates set
// cores and memory); the rest of the definition stays the first definer's, so
// that a mixin cannot loosen a kind's rules.
type AttributeSet map[string]*AttributeDef

// Merge returns the set made of defs in order, later defaults overriding.
func Merge(defs ...Attributes) AttributeSet {
	set := make(AttributeSet)
	for _, as := range defs {
		for name, d := range as {
			prev, ok := set[name]
			if !ok {
				set[name] = d
				continue
			}
			if d.Default != nil {
				merged := *prev
				merged.Default = d.Default
				set[name] = &merged
			}
		}
	}
	return set
}

// Create validates the attributes a client sends to create an entity and
// returns them completed with defaults. Unknown names, wrong types, pattern
// mismatches and missing required attributes are InvalidArgument errors
// naming the attribute.
func (s AttributeSet) Create(values map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(s))
	for _, name := range sortedKeys(values) {
		v := values[name]
		def, ok := s[name]
		if !ok {
			return nil, Errorf(InvalidArgument, "attribute %q is not defined by the kind or any mixin of this entity", name)
		}
		if v == nil {
			continue // null means "not given": the default applies
		}
		if err := def.Check(v); err != nil {
			return nil, Prefix("attribute "+name, err)
		}
		out[name] = v
	}
	for _, name := range sortedKeys(s) {
		def := s[name]
		if _, ok := out[name]; ok {
			continue
		}
		if def.Default != nil {
			// A mixin's default passes the first definer's rules too.
			if err := def.Check(def.Default); err != nil {
				return nil, Prefix("attribute "+name+" (default)", err)
			}
			out[name] = def.Default
		} else if def.Required {
			return nil, Errorf(InvalidArgument, "attribute %q is required", name)
		}
	}
	return out, nil
}

// Update applies changes to current and returns the result. Immutable
// attributes may be sent unchanged (clients echo what they read) but not
// changed: that is Forbidden. A null value removes an optional attribute.
func (s AttributeSet) Update(current, changes map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(current)+len(changes))
	for k, v := range current {
		out[k] = v
	}
	for _, name := range sortedKeys(changes) {
		v := changes[name]
		def, ok := s[name]
		if !ok {
			return nil, Errorf(InvalidArgument, "attribute %q is not defined by the kind or any mixin of this entity", name)
		}
		old, had := current[name]
		if had && reflect.DeepEqual(old, v) {
			continue
		}
		if !def.Mutable {
			return nil, Errorf(Forbidden, "attribute %q is immutable", name)
		}
		if v == nil {
			if def.Required {
				return nil, Errorf(InvalidArgument, "attribute %q is required and cannot be removed", name)
			}
			delete(out, name)
			continue
		}
		if err := def.Check(v); err != nil {
			return nil, Prefix("attribute "+name, err)
		}
		out[name] = v
	}
	return out, nil
}

// Check validates the parameters of an action invocation: like Create,
// without the immutability rules, which are for entities.
func (as Attributes) Check(values map[string]any) (map[string]any, error) {
	return Merge(as).Create(values)
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// ValueText gives an attribute value's text form: what attribute filters
// compare ("2" matches 2, "true" matches true) and what the store indexes.
func ValueText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
