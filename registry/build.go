package registry

import (
	"fmt"
	"slices"

	"github.com/ocni/ocni/occi"
)

// build returns the snapshot that applying ch to cur produces, or the first
// reason it may not exist. defaults, when not nil, are bindings applied
// under the stored ones (at load time only).
func (r *Registry) build(cur *Snapshot, ch *Change, defaults map[string]string) (*Snapshot, error) {
	next := cur.clone()
	changed := map[string]bool{}

	removed := map[string]bool{}
	for _, id := range ch.Remove {
		class, ok := next.ClassOf(id)
		switch {
		case removed[id]:
			continue
		case !ok:
			return nil, occi.Errorf(occi.NotFound, "cannot remove %q: no such category", id)
		case next.builtin[id]:
			return nil, occi.Errorf(occi.Forbidden, "cannot remove %q: it is an OGF built-in", id)
		}
		removed[id] = true
		switch class {
		case ClassKind:
			delete(next.kinds, id)
		case ClassMixin:
			delete(next.mixins, id)
		case ClassAction:
			delete(next.actions, id)
		}
		delete(next.bindings, id)
	}

	if err := putAll(next, &ch.Replace, changed, true); err != nil {
		return nil, err
	}
	if err := putAll(next, &ch.Add, changed, false); err != nil {
		return nil, err
	}
	if len(removed) > 0 {
		if err := checkNoReferences(next, removed); err != nil {
			return nil, err
		}
	}
	if err := checkReferences(next, changed); err != nil {
		return nil, err
	}
	if err := checkPolicy(cur, next, ch, changed); err != nil {
		return nil, err
	}
	if err := next.checkLocations(changed); err != nil {
		return nil, err
	}
	if ch.Origin == FromProvider {
		if err := markProvided(next, ch); err != nil {
			return nil, err
		}
	}

	if defaults != nil {
		r.applyLoadedBindings(next, defaults)
	}
	for i, b := range ch.Bind {
		if err := r.checkBinding(next, b); err != nil {
			return nil, occi.Prefix(fmt.Sprintf("providers[%d]", i), err)
		}
		next.bindings[b.Kind] = b.Provider
	}
	next.seal()
	return next, nil
}

// putAll validates each category of cs on its own and puts it in next.
// replace says whether the categories must already exist (PUT) or must not
// (POST).
func putAll(next *Snapshot, cs *occi.Categories, changed map[string]bool, replace bool) error {
	put := func(where, id string, class Class, validate func() error, store func()) error {
		if err := validate(); err != nil {
			return occi.Prefix(fmt.Sprintf("%s %s", where, id), err)
		}
		if !replace && (&occi.Category{Scheme: schemeOf(id)}).IsOGF() {
			return occi.Errorf(occi.Forbidden, "%s %s: the scheme %s is reserved for OGF categories; use a scheme of your own", where, id, occi.OGFScheme)
		}
		if changed[id] {
			return occi.Errorf(occi.AlreadyExists, "%s %s: the request names this category twice", where, id)
		}
		have, exists := next.ClassOf(id)
		switch {
		case replace && !exists:
			return occi.Errorf(occi.NotFound, "%s %s: no such category to replace", where, id)
		case replace && next.builtin[id]:
			return occi.Errorf(occi.Forbidden, "%s %s: OGF built-ins cannot be replaced", where, id)
		case replace && have != class:
			return occi.Errorf(occi.Conflict, "%s %s: it is registered as a %s, not a %s", where, id, have, class)
		case !replace && exists:
			return occi.Errorf(occi.AlreadyExists, "%s %s: a %s with this identifier is already registered", where, id, have)
		}
		changed[id] = true
		store()
		return nil
	}
	for i, k := range cs.Kinds {
		if err := put(fmt.Sprintf("kinds[%d]", i), k.ID(), ClassKind, k.Validate, func() { next.kinds[k.ID()] = k }); err != nil {
			return err
		}
	}
	for i, m := range cs.Mixins {
		if err := put(fmt.Sprintf("mixins[%d]", i), m.ID(), ClassMixin, m.Validate, func() { next.mixins[m.ID()] = m }); err != nil {
			return err
		}
	}
	for i, a := range cs.Actions {
		if err := put(fmt.Sprintf("actions[%d]", i), a.ID(), ClassAction, a.Validate, func() { next.actions[a.ID()] = a }); err != nil {
			return err
		}
	}
	return nil
}

func schemeOf(id string) string { s, _ := occi.SplitID(id); return s }

// checkReferences verifies that what the changed categories name exists and
// has the right class, and that kind parents and mixin dependencies form no
// cycle. Every kind must be a Resource or a Link kind: OCCI entities are one
// or the other.
func checkReferences(next *Snapshot, changed map[string]bool) error {
	for id := range changed {
		if k := next.kinds[id]; k != nil {
			if next.kinds[k.Parent] == nil {
				return occi.Errorf(occi.InvalidArgument, "kind %s: parent %q is not a registered kind", id, k.Parent)
			}
			if err := checkActions("kind "+id, next, k.Actions); err != nil {
				return err
			}
		}
		if m := next.mixins[id]; m != nil {
			for _, d := range m.Depends {
				if next.mixins[d] == nil {
					return occi.Errorf(occi.InvalidArgument, "mixin %s: depends on %q, which is not a registered mixin", id, d)
				}
			}
			for _, a := range m.Applies {
				if next.kinds[a] == nil {
					return occi.Errorf(occi.InvalidArgument, "mixin %s: applies to %q, which is not a registered kind", id, a)
				}
			}
			if err := checkActions("mixin "+id, next, m.Actions); err != nil {
				return err
			}
		}
	}
	// A replaced kind can close a cycle through kinds that did not change,
	// so the chains are checked for every kind, which is cheap.
	for _, id := range sortedIDs(next.kinds) {
		if next.builtin[id] {
			continue
		}
		if !next.IsKindOf(id, occi.ResourceKindID) && !next.IsKindOf(id, occi.LinkKindID) {
			if hasParentCycle(next, id) {
				return occi.Errorf(occi.InvalidArgument, "kind %s: its parent chain is a cycle", id)
			}
			return occi.Errorf(occi.InvalidArgument, "kind %s: must descend from %s or %s", id, occi.ResourceKindID, occi.LinkKindID)
		}
	}
	for _, id := range sortedIDs(next.mixins) {
		if changed[id] && dependsOnItself(next, id) {
			return occi.Errorf(occi.InvalidArgument, "mixin %s: its depends chain leads back to itself", id)
		}
	}
	return nil
}

func checkActions(where string, next *Snapshot, ids []string) error {
	for _, a := range ids {
		if next.actions[a] == nil {
			return occi.Errorf(occi.InvalidArgument, "%s: action %q is not a registered action", where, a)
		}
	}
	return nil
}

func hasParentCycle(s *Snapshot, id string) bool {
	seen := map[string]bool{}
	for k := s.kinds[id]; k != nil; k = s.kinds[k.Parent] {
		if seen[k.ID()] {
			return true
		}
		seen[k.ID()] = true
	}
	return false
}

func dependsOnItself(s *Snapshot, start string) bool {
	seen := map[string]bool{}
	stack := slices.Clone(s.mixins[start].Depends)
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if id == start {
			return true
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		if m := s.mixins[id]; m != nil {
			stack = append(stack, m.Depends...)
		}
	}
	return false
}

// checkNoReferences refuses to remove a category that a remaining one still
// names: the registry never holds a dangling reference.
func checkNoReferences(next *Snapshot, removed map[string]bool) error {
	refuse := func(id, who, how string) error {
		return occi.Errorf(occi.Conflict, "cannot remove %s: %s %s it; remove or change that first", id, who, how)
	}
	for _, kid := range sortedIDs(next.kinds) {
		k := next.kinds[kid]
		if removed[k.Parent] {
			return refuse(k.Parent, "kind "+kid, "has it as parent")
		}
		for _, a := range k.Actions {
			if removed[a] {
				return refuse(a, "kind "+kid, "lists")
			}
		}
	}
	for _, mid := range sortedIDs(next.mixins) {
		m := next.mixins[mid]
		for _, lists := range [][]string{m.Depends, m.Applies, m.Actions} {
			for _, ref := range lists {
				if removed[ref] {
					return refuse(ref, "mixin "+mid, "refers to")
				}
			}
		}
	}
	return nil
}

func (r *Registry) checkBinding(s *Snapshot, b occi.Binding) error {
	k := s.kinds[b.Kind]
	if k == nil {
		return occi.Errorf(occi.InvalidArgument, "kind %q is not registered", b.Kind)
	}
	if k.Location == "" {
		return occi.Errorf(occi.InvalidArgument, "kind %q has no location: it cannot be instantiated, so it cannot be bound", b.Kind)
	}
	if !slices.Contains(r.opts.Providers, b.Provider) {
		return occi.Errorf(occi.InvalidArgument, "provider %q is not configured (configured: %v)", b.Provider, r.opts.Providers)
	}
	return nil
}

// applyLoadedBindings sets the effective bindings at load time: the config's
// defaults, then the data file's, which win. A stored binding the current
// configuration cannot honour is reported and left out, not fatal: the
// operator fixes the config or rebinds, and the file keeps the record.
func (r *Registry) applyLoadedBindings(next *Snapshot, defaults map[string]string) {
	set := func(kind, provider, from string) {
		if err := r.checkBinding(next, occi.Binding{Kind: kind, Provider: provider}); err != nil {
			r.opts.Logger.Warn("binding ignored", "from", from, "kind", kind, "provider", provider, "reason", err.Error())
			return
		}
		next.bindings[kind] = provider
	}
	for _, k := range sortedIDs(defaults) {
		set(k, defaults[k], "config")
	}
	for _, k := range sortedIDs(r.stored) {
		set(k, r.stored[k], "data file")
	}
}

func sortedIDs[V any](m map[string]V) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
