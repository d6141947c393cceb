package engine

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/registry"
	"github.com/ocni/ocni/store"
)

// ChangeCategories applies a category change (register, redefine, remove,
// bind) with what it implies for the entities, as one step: a removed
// mixin's members are dissociated from it on their providers and in the
// store in the transaction that removes it, or, if anything refuses, not at
// all. A change that would leave entities the model no longer accepts is
// refused with a count and an example:
//   - removing a kind that entities have;
//   - redefining a kind in use with another parent or location;
//   - redefining a category in use so that its entities no longer validate
//     (a mixin that no longer applies to them, a new required attribute
//     without a default, ...);
//   - giving a category a location under which entities live.
//
// It returns the model as published.
func (e *Engine) ChangeCategories(ctx context.Context, change *CategoryChange) (Model, error) {
	published, err := e.changeCategories(ctx, change.registry())
	return Model{published}, err
}

func (e *Engine) changeCategories(ctx context.Context, ch *registry.Change) (*registry.Snapshot, error) {
	cur := e.reg.Snapshot()
	next, err := e.reg.Check(ch)
	if err != nil {
		return nil, err
	}
	var removedMixins []string
	for _, id := range ch.Remove {
		if _, ok := cur.Mixin(id); ok {
			removedMixins = append(removedMixins, id)
		}
	}
	var members []string
	for _, id := range removedMixins {
		// The dissociations are one step with the removal: bounded like
		// any step, by max_page.
		locs, more, err := e.otherMembers(id, nil, e.maxPage-len(members))
		if err != nil {
			return nil, err
		}
		if more {
			m, _ := cur.Mixin(id)
			return nil, occi.Errorf(occi.Conflict, "removing %s dissociates its members in the same step, and a step changes at most %d entities (max_page): "+
				"dissociate them first (DELETE %s, repeated while it answers a Link rel=\"next\")", id, e.maxPage, m.Location)
		}
		members = append(members, locs...)
	}
	slices.Sort(members)
	members = slices.Compact(members)
	var keys []lockKey
	for _, loc := range members {
		keys = append(keys, lockKey{key: loc, exclusive: true})
	}
	o, err := e.lockFor(ctx, keys, "category change")
	if err != nil {
		return nil, err
	}
	defer o.finish()
	// Under the locks, the members are what they are; a member added
	// meanwhile is caught by the commit's check.
	var pairs []*pair
	for _, loc := range members {
		old, err := e.db.Entity(loc)
		if err != nil {
			continue // deleted meanwhile
		}
		nx := old.Clone()
		nx.Mixins = slices.DeleteFunc(nx.Mixins, func(m string) bool { return slices.Contains(removedMixins, m) })
		set := attributeSet(next, nx.Kind, nx.Mixins)
		if nx.Attributes, err = completeDefaults(set, keepDefined(old.Attributes, set)); err != nil {
			return nil, occi.Prefix(loc, err)
		}
		pairs = append(pairs, &pair{old: old, next: nx})
	}
	var published *registry.Snapshot
	err = e.updateAll(ctx, cur, o, pairs, func(c *change) error {
		// The dissociated members are written against the new model
		// whatever version they were computed under.
		c.model = 0
		var err error
		published, err = e.reg.Change(ctx, ch, func(tx *store.Tx, from, next *registry.Snapshot) error {
			if err := e.applyChange(tx, next, c); err != nil {
				return err
			}
			return checkModelChange(tx, from, next, ch)
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return published, nil
}

// checkModelChange refuses, inside the transaction that commits a model
// change, a change that would leave entities the new model does not
// accept.
func checkModelChange(tx *store.Tx, cur, next *registry.Snapshot, ch *registry.Change) error {
	// An operation pending on the VIM may still commit, or go back to, an
	// entity that uses what is removed.
	intents, err := tx.Intents()
	if err != nil {
		return err
	}
	for _, id := range ch.Remove {
		for _, loc := range slices.Sorted(maps.Keys(intents)) {
			in := intents[loc]
			for _, ent := range []*store.Entity{in.Entity, in.Before} {
				if ent != nil && (ent.Kind == id || slices.Contains(ent.Mixins, id)) {
					return occi.Errorf(occi.Conflict, "%s is used by a %s; retry when it is done", id, in.Describe())
				}
			}
		}
	}
	for _, id := range ch.Remove {
		for _, idx := range []store.Index{store.ByKind, store.ByMixin} {
			locs, n, err := tx.Locations(idx, id, 1)
			if err != nil {
				return err
			}
			if n > 0 {
				return occi.Errorf(occi.Conflict, "%s is still used by %s; remove or dissociate them first", id, countAndExample(n, locs[0]))
			}
		}
	}
	for _, k := range ch.Replace.Kinds {
		old, ok := cur.Kind(k.ID())
		if !ok {
			continue
		}
		locs, n, err := usersOfKind(tx, next, k.ID())
		if err != nil || n == 0 {
			return err
		}
		switch {
		case old.Parent != k.Parent:
			return occi.Errorf(occi.Conflict, "kind %s is used by %s: its parent cannot change (from %s to %s)", k.ID(), countAndExample(n, locs[0]), old.Parent, k.Parent)
		case old.Location != k.Location:
			return occi.Errorf(occi.Conflict, "kind %s is used by %s, which live under %s: its location cannot change", k.ID(), countAndExample(n, locs[0]), old.Location)
		}
	}
	var replaced []string
	for _, k := range ch.Replace.Kinds {
		replaced = append(replaced, k.ID())
	}
	for _, m := range ch.Replace.Mixins {
		replaced = append(replaced, m.ID())
	}
	for _, id := range replaced {
		if err := entitiesStillValid(tx, next, id); err != nil {
			return err
		}
	}
	// A category may not take a location where entities live: they would
	// vanish behind its collection.
	for _, cs := range []*occi.Categories{&ch.Add, &ch.Replace} {
		for _, k := range cs.Kinds {
			if old, ok := cur.Kind(k.ID()); ok && old.Location == k.Location {
				continue
			}
			if err := locationFree(tx, k.ID(), k.Location); err != nil {
				return err
			}
		}
		for _, m := range cs.Mixins {
			if old, ok := cur.Mixin(m.ID()); ok && old.Location == m.Location {
				continue
			}
			if err := locationFree(tx, m.ID(), m.Location); err != nil {
				return err
			}
		}
	}
	return nil
}

// usersOfKind returns the entities of a kind and of the kinds descending
// from it.
func usersOfKind(tx *store.Tx, snap *registry.Snapshot, kindID string) (example []string, n int, err error) {
	for _, k := range snap.All().Kinds {
		if !snap.IsKindOf(k.ID(), kindID) {
			continue
		}
		locs, count, err := tx.Locations(store.ByKind, k.ID(), 1)
		if err != nil {
			return nil, 0, err
		}
		if count > 0 && example == nil {
			example = locs
		}
		n += count
	}
	return example, n, nil
}

// entitiesStillValid validates, against the new model, every entity a
// redefined category concerns: those of the kind and its descendants, and
// the members of the mixin and of the mixins that depend on it.
func entitiesStillValid(tx *store.Tx, next *registry.Snapshot, id string) error {
	var scans []struct {
		idx   store.Index
		value string
	}
	all := next.All()
	for _, k := range all.Kinds {
		if next.IsKindOf(k.ID(), id) {
			scans = append(scans, struct {
				idx   store.Index
				value string
			}{store.ByKind, k.ID()})
		}
	}
	for _, m := range all.Mixins {
		if slices.Contains(dependsClosure(next, m.ID()), id) {
			scans = append(scans, struct {
				idx   store.Index
				value string
			}{store.ByMixin, m.ID()})
		}
	}
	var first string
	var firstErr error
	n := 0
	for _, s := range scans {
		if err := tx.Scan(s.idx, s.value, "", 0, func(ent *store.Entity) bool {
			if err := validEntity(next, ent); err != nil {
				n++
				if firstErr == nil {
					first, firstErr = ent.Location, err
				}
			}
			return true
		}); err != nil {
			return err
		}
	}
	if n > 0 {
		return occi.Errorf(occi.Conflict, "the new definition of %s does not fit %s: %s: %s", id, countAndExample(n, first), first, firstErr.Error())
	}
	return nil
}

// locationFree refuses a category location under which entities live.
func locationFree(tx *store.Tx, id, location string) error {
	if location == "" {
		return nil
	}
	n := 0
	var example string
	if err := tx.Scan(store.ByPrefix, location, "", 0, func(ent *store.Entity) bool {
		if n == 0 {
			example = ent.Location
		}
		n++
		return n < 1000
	}); err != nil {
		return err
	}
	if n > 0 {
		count := countAndExample(n, example)
		if n >= 1000 {
			count = strings.Replace(count, "1000 entities", "1000 or more entities", 1)
		}
		return occi.Errorf(occi.Conflict, "%s cannot take the location %s: %s live there", id, location, count)
	}
	return nil
}
