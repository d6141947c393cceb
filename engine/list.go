package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
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

// Members changes which entities a mixin is associated with. Every
// location is checked before anything changes.
func (e *Engine) Members(ctx context.Context, mixinID string, locs []string, how Association) error {
	snap := e.reg.Snapshot()
	if _, ok := snap.Mixin(mixinID); !ok {
		return occi.Errorf(occi.NotFound, "no mixin %q is registered", mixinID)
	}
	targets := map[string]bool{}
	for _, loc := range locs {
		ent, err := e.db.Entity(loc)
		if err != nil {
			return err
		}
		if how != Dissociate {
			next := addMixins(snap, ent.Mixins, []string{mixinID})
			if err := checkMixins(snap, ent.Kind, next); err != nil {
				return occi.Prefix(loc, err)
			}
		}
		targets[loc] = true
	}
	if how == SetMembers {
		var current []string
		if err := e.db.Scan(store.ByMixin, mixinID, "", 0, func(ent *store.Entity) bool {
			current = append(current, ent.Location)
			return true
		}); err != nil {
			return err
		}
		for _, loc := range current {
			if !targets[loc] {
				if err := e.setMixin(ctx, loc, mixinID, false); err != nil {
					return err
				}
			}
		}
	}
	for _, loc := range slices.Sorted(maps.Keys(targets)) {
		if err := e.setMixin(ctx, loc, mixinID, how != Dissociate); err != nil {
			return err
		}
	}
	return nil
}

// setMixin associates or dissociates one entity, through Update so that the
// provider sees the change.
func (e *Engine) setMixin(ctx context.Context, loc, mixinID string, on bool) error {
	if on {
		_, err := e.Update(ctx, loc, &Input{Mixins: []string{mixinID}})
		return err
	}
	snap := e.reg.Snapshot()
	ent, err := e.db.Entity(loc)
	if err != nil {
		return err
	}
	if !slices.Contains(ent.Mixins, mixinID) {
		return nil
	}
	next := ent.Clone()
	next.Mixins = slices.DeleteFunc(next.Mixins, func(m string) bool { return m == mixinID })
	set := attributeSet(snap, next.Kind, next.Mixins)
	if next.Attributes, err = completeDefaults(set, keepDefined(ent.Attributes, set)); err != nil {
		return err
	}
	_, err = e.apply(ctx, snap, ent, next)
	return err
}

// DissociateAll removes every association of the mixins, before they are
// removed from the registry.
func (e *Engine) DissociateAll(ctx context.Context, mixinIDs []string) error {
	for _, id := range mixinIDs {
		var members []string
		if err := e.db.Scan(store.ByMixin, id, "", 0, func(ent *store.Entity) bool {
			members = append(members, ent.Location)
			return true
		}); err != nil {
			return err
		}
		for _, loc := range members {
			if err := e.setMixin(ctx, loc, id, false); err != nil {
				return err
			}
		}
	}
	return nil
}
