package registry

import (
	"maps"
	"slices"
	"strings"

	"github.com/ocni/ocni/occi"
)

// Snapshot is an immutable view of the registry at one moment. Everything a
// request reads comes from one snapshot, so a request never sees half of a
// concurrent change.
type Snapshot struct {
	version    uint64
	kinds      map[string]*occi.Kind
	mixins     map[string]*occi.Mixin
	actions    map[string]*occi.Action
	byLocation map[string]string // location → category id
	builtin    map[string]bool
	bindings   map[string]string // kind id → provider name, bound directly
	effective  map[string]string // kind id → provider name, inherited ones included
	all        *occi.Categories  // every category, sorted by id
	// provided are the providers' templates, by id, and the schemes they
	// use, each with its provider's name. They are learnt at start from
	// the providers themselves, not stored: what a provider offers is the
	// VIM's to say.
	provided map[string]string
	schemes  map[string]string
}

// ProvidedBy returns the provider whose template the category is, if it is
// one.
func (s *Snapshot) ProvidedBy(id string) (string, bool) {
	p, ok := s.provided[id]
	return p, ok
}

// Version increases with every change; it makes a good ETag.
func (s *Snapshot) Version() uint64 { return s.version }

// Kind returns the kind with the given id.
func (s *Snapshot) Kind(id string) (*occi.Kind, bool) { k, ok := s.kinds[id]; return k, ok }

// Mixin returns the mixin with the given id.
func (s *Snapshot) Mixin(id string) (*occi.Mixin, bool) { m, ok := s.mixins[id]; return m, ok }

// Action returns the action with the given id.
func (s *Snapshot) Action(id string) (*occi.Action, bool) { a, ok := s.actions[id]; return a, ok }

// ClassOf returns the class of the category with the given id.
func (s *Snapshot) ClassOf(id string) (Class, bool) {
	switch {
	case s.kinds[id] != nil:
		return ClassKind, true
	case s.mixins[id] != nil:
		return ClassMixin, true
	case s.actions[id] != nil:
		return ClassAction, true
	}
	return "", false
}

// AtLocation returns the id of the kind or mixin bound to location.
func (s *Snapshot) AtLocation(location string) (string, bool) {
	id, ok := s.byLocation[location]
	return id, ok
}

// IsBuiltin reports whether id is one of the OGF built-ins.
func (s *Snapshot) IsBuiltin(id string) bool { return s.builtin[id] }

// Binding returns the provider bound to a kind, and whether there is one. A
// kind without its own binding inherits its nearest ancestor's, so that a
// user kind derived from compute is served where compute is.
func (s *Snapshot) Binding(kindID string) (string, bool) {
	for id, hops := kindID, 0; id != "" && hops <= len(s.kinds); hops++ {
		if p, ok := s.bindings[id]; ok {
			return p, true
		}
		k := s.kinds[id]
		if k == nil {
			break
		}
		id = k.Parent
	}
	return "", false
}

// Bindings returns the provider serving each kind that has one, directly or
// through an ancestor. The map is shared: callers must not modify it.
func (s *Snapshot) Bindings() map[string]string { return s.effective }

// All returns every category, sorted by id. The result is shared: callers
// must not modify it.
func (s *Snapshot) All() *occi.Categories { return s.all }

// Select returns the categories with the given ids, in the order of All. An
// unknown id is NotFound, naming it: a client filtering on a typo should
// hear about the typo rather than get an empty answer.
func (s *Snapshot) Select(ids []string) (*occi.Categories, error) {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		if _, ok := s.ClassOf(id); !ok {
			return nil, occi.Errorf(occi.NotFound, "no category %q is registered", id)
		}
		want[id] = true
	}
	out := &occi.Categories{}
	for _, k := range s.all.Kinds {
		if want[k.ID()] {
			out.Kinds = append(out.Kinds, k)
		}
	}
	for _, m := range s.all.Mixins {
		if want[m.ID()] {
			out.Mixins = append(out.Mixins, m)
		}
	}
	for _, a := range s.all.Actions {
		if want[a.ID()] {
			out.Actions = append(out.Actions, a)
		}
	}
	return out, nil
}

// IsKindOf reports whether kind id is, or descends from, ancestor.
func (s *Snapshot) IsKindOf(id, ancestor string) bool {
	for hops := 0; id != "" && hops <= len(s.kinds); hops++ {
		if id == ancestor {
			return true
		}
		k := s.kinds[id]
		if k == nil {
			return false
		}
		id = k.Parent
	}
	return false
}

// clone returns a mutable copy of the maps (the categories themselves are
// shared: they are replaced, never modified).
func (s *Snapshot) clone() *Snapshot {
	return &Snapshot{
		version:  s.version + 1,
		kinds:    maps.Clone(s.kinds),
		mixins:   maps.Clone(s.mixins),
		actions:  maps.Clone(s.actions),
		builtin:  s.builtin,
		bindings: maps.Clone(s.bindings),
		provided: maps.Clone(s.provided),
		schemes:  maps.Clone(s.schemes),
	}
}

// seal computes the derived indexes once the maps are final.
func (s *Snapshot) seal() {
	s.byLocation = make(map[string]string, len(s.kinds)+len(s.mixins))
	all := &occi.Categories{
		Kinds:   slices.Collect(maps.Values(s.kinds)),
		Mixins:  slices.Collect(maps.Values(s.mixins)),
		Actions: slices.Collect(maps.Values(s.actions)),
	}
	all.Sort()
	for _, k := range all.Kinds {
		if k.Location != "" {
			s.byLocation[k.Location] = k.ID()
		}
	}
	for _, m := range all.Mixins {
		s.byLocation[m.Location] = m.ID()
	}
	s.all = all
	s.effective = make(map[string]string, len(s.kinds))
	for id := range s.kinds {
		if p, ok := s.Binding(id); ok {
			s.effective[id] = p
		}
	}
}

// reservedLocations are paths the server itself answers; no category may be
// bound at or below them.
var reservedLocations = []string{"/-/", "/.well-known/"}

// TemplatesLocation is where providers put their templates' locations; no
// client category may be bound at or below it.
const TemplatesLocation = "/templates/"

// checkLocations verifies that every changed location is unique, is not
// nested in another location nor contains one (a path below a location
// belongs to that collection), and does not touch the paths the server
// reserves. Each check is a map lookup or a binary search, so registering
// thousands of categories stays cheap.
func (s *Snapshot) checkLocations(changed map[string]bool) error {
	owners := make(map[string][]string, len(s.kinds)+len(s.mixins))
	add := func(id, loc string) {
		if loc != "" {
			owners[loc] = append(owners[loc], id)
		}
	}
	for id, k := range s.kinds {
		add(id, k.Location)
	}
	for id, m := range s.mixins {
		add(id, m.Location)
	}
	sorted := slices.Sorted(maps.Keys(owners))
	for _, id := range slices.Sorted(maps.Keys(changed)) {
		loc := ""
		if k := s.kinds[id]; k != nil {
			loc = k.Location
		} else if m := s.mixins[id]; m != nil {
			loc = m.Location
		}
		if loc == "" {
			continue
		}
		for _, r := range reservedLocations {
			if strings.HasPrefix(loc, r) || strings.HasPrefix(r, loc) {
				return occi.Errorf(occi.Conflict, "%s: location %q collides with %q, which the server reserves", id, loc, r)
			}
		}
		for _, other := range owners[loc] {
			if other != id {
				return occi.Errorf(occi.AlreadyExists, "%s: location %q is already bound to %s", id, loc, other)
			}
		}
		// Ancestors: every shorter prefix ending in '/'.
		for i := 1; i < len(loc)-1; i++ {
			if loc[i] == '/' {
				if ids, ok := owners[loc[:i+1]]; ok {
					return occi.Errorf(occi.Conflict, "%s: location %q is inside %q, the location of %s", id, loc, loc[:i+1], ids[0])
				}
			}
		}
		// Descendants sort right after loc.
		if i, _ := slices.BinarySearch(sorted, loc); i+1 < len(sorted) && strings.HasPrefix(sorted[i+1], loc) {
			return occi.Errorf(occi.Conflict, "%s: location %q would contain %q, the location of %s", id, loc, sorted[i+1], owners[sorted[i+1]][0])
		}
	}
	return nil
}
