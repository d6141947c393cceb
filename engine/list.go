package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"

	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/registry"
	"github.com/ocni/ocni/store"
)

// Query selects entities: those of an index (a kind's or a mixin's
// collection, or a path prefix), filtered, one page at a time.
type Query struct {
	Index store.Index
	Value string
	// Categories keep entities whose kind (or an ancestor) or a mixin is
	// one of them.
	Categories []string
	// Attributes keep entities whose attribute equals the value, compared
	// as the attribute's rendering ("2" matches 2, "true" matches true).
	Attributes map[string]string
	// Page counts from 1; Number is the page size, 0 for everything.
	Page, Number int
	// After, when set, starts the listing after this location: the cursor
	// form of paging, as cheap on the last page as on the first.
	After string
}

// List returns the entities a query selects.
func (e *Engine) List(_ context.Context, q *Query) ([]*store.Entity, error) {
	if q.Number > e.maxPage {
		return nil, occi.Errorf(occi.TooLarge, "a page holds at most %d entities; %d were asked", e.maxPage, q.Number)
	}
	if q.Number < 0 || q.Page < 0 {
		return nil, occi.Errorf(occi.InvalidArgument, "page and number must be positive")
	}
	snap := e.reg.Snapshot()
	for _, c := range q.Categories {
		if _, ok := snap.ClassOf(c); !ok {
			return nil, occi.Errorf(occi.NotFound, "no category %q is registered", c)
		}
	}
	skip := 0
	if q.Number > 0 && q.Page > 1 {
		skip = (q.Page - 1) * q.Number
	}
	// Without filters every entity counts, so the store skips the first
	// pages without reading them.
	storeSkip := 0
	if len(q.Categories) == 0 && len(q.Attributes) == 0 {
		storeSkip, skip = skip, 0
	}
	var out []*store.Entity
	err := e.db.Scan(q.Index, q.Value, q.After, storeSkip, func(ent *store.Entity) bool {
		if !matches(snap, ent, q) {
			return true
		}
		if skip > 0 {
			skip--
			return true
		}
		out = append(out, ent)
		return q.Number == 0 || len(out) < q.Number
	})
	return out, err
}

func matches(snap *registry.Snapshot, ent *store.Entity, q *Query) bool {
	if len(q.Categories) > 0 {
		found := false
		for _, c := range q.Categories {
			if snap.IsKindOf(ent.Kind, c) || slices.Contains(ent.Mixins, c) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	for name, want := range q.Attributes {
		v, ok := ent.Attributes[name]
		if !ok || RenderValue(v) != want {
			return false
		}
	}
	return true
}

// RenderValue gives an attribute value's text form, as attribute filters
// compare it.
func RenderValue(v any) string {
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

// Views returns the views of entities, for rendering a collection.
func (e *Engine) Views(ents []*store.Entity) ([]*View, error) {
	snap := e.reg.Snapshot()
	var resources []string
	for _, ent := range ents {
		if !ent.IsLink() {
			resources = append(resources, ent.Location)
		}
	}
	links, err := e.db.LinksFrom(resources)
	if err != nil {
		return nil, err
	}
	out := make([]*View, len(ents))
	for i, ent := range ents {
		out[i] = &View{Entity: ent, Links: links[ent.Location]}
		out[i].Actions, out[i].Defined = e.offered(snap, ent)
	}
	return out, nil
}

// DeleteAll deletes every entity a query selects and returns how many went.
// Links go first, so that deleting a resource finds its links gone.
func (e *Engine) DeleteAll(ctx context.Context, q *Query) (int, error) {
	ents, err := e.List(ctx, q)
	if err != nil {
		return 0, err
	}
	slices.SortStableFunc(ents, func(a, b *store.Entity) int {
		switch {
		case a.IsLink() && !b.IsLink():
			return -1
		case !a.IsLink() && b.IsLink():
			return 1
		}
		return 0
	})
	n := 0
	for _, ent := range ents {
		if err := e.Delete(ctx, ent.Location); err != nil {
			if errors.Is(err, occi.ErrNotFound) {
				continue // gone with a resource deleted before it
			}
			return n, fmt.Errorf("after deleting %d: %w", n, err)
		}
		n++
	}
	return n, nil
}

// ActionAll invokes an action on every entity a query selects. Every
// entity must offer the action; it is checked for all before any is
// invoked.
func (e *Engine) ActionAll(ctx context.Context, q *Query, inv *occi.ActionInvocation) (int, error) {
	ents, err := e.List(ctx, q)
	if err != nil {
		return 0, err
	}
	snap := e.reg.Snapshot()
	for _, ent := range ents {
		if _, err := checkAction(snap, ent, inv); err != nil {
			return 0, err
		}
	}
	for i, ent := range ents {
		if _, err := e.Action(ctx, ent.Location, inv); err != nil {
			return i, fmt.Errorf("after %d of %d: %w", i, len(ents), err)
		}
	}
	return len(ents), nil
}

// Association is how a mixin's membership changes.
type Association int

// The ways of changing a mixin's membership.
const (
	Associate  Association = iota // add the entities
	Dissociate                    // remove the entities
	SetMembers                    // make the entities exactly the members
)

// Members changes which entities a mixin is associated with, all or none:
// every location is checked before anything changes, and when a provider
// refuses one change, those made before it are reversed.
func (e *Engine) Members(ctx context.Context, mixinID string, locs []string, how Association) error {
	snap := e.reg.Snapshot()
	if _, ok := snap.Mixin(mixinID); !ok {
		return occi.Errorf(occi.NotFound, "no mixin %q is registered", mixinID)
	}
	targets := map[string]bool{}
	for _, loc := range locs {
		targets[loc] = true
	}
	keys := func(members []string) []lockKey {
		var out []lockKey
		for loc := range targets {
			out = append(out, lockKey{key: loc, exclusive: true})
		}
		for _, loc := range members {
			out = append(out, lockKey{key: loc, exclusive: true})
		}
		return out
	}
	var members []string
	if how == SetMembers {
		var err error
		if members, err = e.members(mixinID); err != nil {
			return err
		}
	}
	o, err := e.lockFor(ctx, keys(members), "association with "+mixinID)
	if err != nil {
		return err
	}
	defer o.finish()
	var pairs []*pair
	add := func(loc string, on bool) error {
		old, err := e.db.Entity(loc)
		if err != nil {
			return err
		}
		next, err := withMixin(snap, old, mixinID, on)
		if err != nil {
			return occi.Prefix(loc, err)
		}
		pairs = append(pairs, &pair{old: old, next: next})
		return nil
	}
	if how == SetMembers {
		now, err := e.members(mixinID)
		if err != nil {
			return err
		}
		locked := map[string]bool{}
		for _, loc := range members {
			locked[loc] = true
		}
		for _, loc := range now {
			if !locked[loc] && !targets[loc] {
				return occi.Errorf(occi.Conflict, "%s was associated with %s meanwhile; retry", loc, mixinID)
			}
			if !targets[loc] {
				if err := add(loc, false); err != nil {
					return err
				}
			}
		}
	}
	for _, loc := range slices.Sorted(maps.Keys(targets)) {
		if err := add(loc, how != Dissociate); err != nil {
			return err
		}
	}
	return e.updateAll(ctx, snap, o, pairs, e.commit)
}

// members lists the locations of a mixin's members.
func (e *Engine) members(mixinID string) ([]string, error) {
	var out []string
	err := e.db.View(func(tx *store.Tx) error {
		var err error
		out, _, err = tx.Locations(store.ByMixin, mixinID, 0)
		return err
	})
	return out, err
}

// withMixin returns what an entity becomes when associated with a mixin
// (its defaults applying, a template replacing the one of its family) or
// dissociated from it (its attributes going away).
func withMixin(snap *registry.Snapshot, ent *store.Entity, mixinID string, on bool) (*store.Entity, error) {
	if on {
		return changed(snap, ent, &Input{Mixins: []string{mixinID}, Attributes: map[string]any{}}, false)
	}
	next := ent.Clone()
	if !slices.Contains(ent.Mixins, mixinID) {
		return next, nil
	}
	next.Mixins = slices.DeleteFunc(next.Mixins, func(m string) bool { return m == mixinID })
	set := attributeSet(snap, next.Kind, next.Mixins)
	var err error
	if next.Attributes, err = completeDefaults(set, keepDefined(ent.Attributes, set)); err != nil {
		return nil, err
	}
	return next, nil
}

// pair is an entity as it is and as it is to become.
type pair struct{ old, next *store.Entity }

// updateAll takes entities from old to next on their providers, in order,
// then commits them as one change through commit; the caller holds their
// locks. When a provider refuses, or the commit does, the providers' changes
// made so far are reversed and nothing is committed. A reversal that fails
// leaves its intent for the reconciler, which finishes it.
func (e *Engine) updateAll(ctx context.Context, snap *registry.Snapshot, o *op, pairs []*pair, commit func(*change) error) error {
	var work []*pair
	for _, p := range pairs {
		if !reflect.DeepEqual(p.old, p.next) {
			work = append(work, p)
		}
	}
	intents := make([]*store.Intent, len(work))
	for i, p := range work {
		intents[i] = &store.Intent{Op: store.OpUpdate, Entity: p.next, Before: p.old}
	}
	if len(intents) > 0 {
		if err := o.begin(intents...); err != nil {
			return err
		}
	}
	reverse := func(done int) {
		for i := done - 1; i >= 0; i-- {
			p := work[i]
			prov, err := e.providerOf(p.old)
			if err == nil {
				_, err = prov.Update(ctx, e.object(snap, p.next), e.object(snap, p.old))
			}
			if err != nil {
				e.pending(intents[i], err)
				continue
			}
			o.abort(intents[i])
		}
	}
	for i, p := range work {
		prov, err := e.providerOf(p.old)
		if err == nil {
			var reported map[string]any
			if reported, err = prov.Update(ctx, e.object(snap, p.old), e.object(snap, p.next)); err == nil {
				merge(p.next, reported)
			}
		}
		if err != nil {
			o.settle(intents[i], err)
			o.abort(intents[i+1:]...)
			reverse(i)
			return vimError(p.old.Provider, "update "+p.old.Location, err)
		}
	}
	c := &change{model: snap.Version()}
	for _, p := range work {
		c.put = append(c.put, p.next)
		c.done = append(c.done, p.next.Location)
	}
	if err := commit(c); err != nil {
		reverse(len(work))
		return err
	}
	return nil
}
