package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

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

// List returns the entities a query selects. An equality filter on an
// attribute the store indexes drives the scan through that index; without
// one, every entity the filters reject (and every one a ?page= skips)
// counts against the scan budget, and a listing past it stops with a 413:
// no request reads more than the budget beyond what it answers.
func (e *Engine) List(_ context.Context, q *Query) ([]*store.Entity, error) {
	if q.Number > e.maxPage {
		return nil, occi.Errorf(occi.TooLarge, "a page holds at most %d entities; %d were asked", e.maxPage, q.Number)
	}
	if q.Number < 0 || q.Page < 0 {
		return nil, occi.Errorf(occi.InvalidArgument, "page and number must be positive")
	}
	skip := 0
	if q.Number > 0 && q.Page > 1 {
		if q.Page-1 > MaxOffset/q.Number {
			return nil, occi.Errorf(occi.InvalidArgument, "page %d of %d entities starts past entity %d, the furthest a page may start; page with ?after= (each full page's Link rel=\"next\") instead", q.Page, q.Number, MaxOffset)
		}
		skip = (q.Page - 1) * q.Number
	}
	snap := e.reg.Snapshot()
	for _, c := range q.Categories {
		if _, ok := snap.ClassOf(c); !ok {
			return nil, occi.Errorf(occi.NotFound, "no category %q is registered", c)
		}
	}
	var out []*store.Entity
	err := e.db.View(func(tx *store.Tx) error {
		idx, value := q.Index, q.Value
		name, byAttr := indexedFilter(tx, q)
		if byAttr {
			idx, value = store.ByAttribute, store.AttributeValue(name, q.Attributes[name])
		}
		// Without filters every entity counts, so the store skips the
		// first pages without reading them.
		storeSkip := 0
		if len(q.Categories) == 0 && len(q.Attributes) == 0 {
			storeSkip, skip = skip, 0
		}
		wasted := 0
		var over error
		err := tx.Scan(idx, value, q.After, storeSkip, func(ent *store.Entity) bool {
			switch {
			case (byAttr && !inIndex(ent, q)) || !matches(snap, ent, q):
			case skip > 0:
				skip--
			default:
				out = append(out, ent)
				return q.Number == 0 || len(out) < q.Number
			}
			if wasted++; wasted > e.scanBudget {
				over = occi.Errorf(occi.TooLarge, "the filters read more than %d entities without filling the page, the most a request reads beyond what it answers (scan_budget): "+
					"filter on an indexed attribute (occi.core.*, or one listed in indexed_attributes), list a narrower collection, or page with ?after=", e.scanBudget)
				return false
			}
			return true
		})
		if err != nil {
			return err
		}
		return over
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// indexedFilter returns an attribute the query filters on that the store
// indexes, if any.
func indexedFilter(tx *store.Tx, q *Query) (string, bool) {
	for _, name := range slices.Sorted(maps.Keys(q.Attributes)) {
		if tx.IndexedAttribute(name) {
			return name, true
		}
	}
	return "", false
}

// inIndex reports whether an entity found through another index is in the
// query's own.
func inIndex(ent *store.Entity, q *Query) bool {
	switch q.Index {
	case store.ByPrefix:
		return strings.HasPrefix(ent.Location, q.Value)
	case store.ByKind:
		return ent.Kind == q.Value
	case store.ByMixin:
		return slices.Contains(ent.Mixins, q.Value)
	case store.BySource:
		return ent.Source != nil && ent.Source.Location == q.Value
	case store.ByTarget:
		return ent.Target != nil && ent.Target.Location == q.Value
	}
	return true
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
func RenderValue(v any) string { return occi.ValueText(v) }

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

// batch is a query for one step of a bulk operation: at most max_page
// entities.
func (e *Engine) batch(q *Query) *Query {
	b := *q
	if b.Number <= 0 {
		b.Number = e.maxPage
	}
	return &b
}

// DeleteAll deletes the first entities a query selects, at most q.Number
// (max_page when 0): one request does a bounded amount of work. It returns
// the locations deleted and whether more may remain (the batch was full),
// in which case the caller repeats the request. Links go first, so that
// deleting a resource finds its links gone.
func (e *Engine) DeleteAll(ctx context.Context, q *Query) (done []string, more bool, err error) {
	b := e.batch(q)
	ents, err := e.List(ctx, b)
	if err != nil {
		return nil, false, err
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
	for _, ent := range ents {
		if err := e.Delete(ctx, ent.Location); err != nil {
			if errors.Is(err, occi.ErrNotFound) {
				continue // gone with a resource deleted before it
			}
			return done, false, fmt.Errorf("after deleting %d: %w", len(done), err)
		}
		done = append(done, ent.Location)
	}
	return done, len(ents) == b.Number, nil
}

// ActionAll invokes an action on the first entities a query selects after
// q.After, at most q.Number (max_page when 0). Every entity of the batch
// must offer the action; it is checked for all before any is invoked. It
// returns the locations acted on and whether more may follow (the batch was
// full): the next batch starts after the last of them.
func (e *Engine) ActionAll(ctx context.Context, q *Query, inv *occi.ActionInvocation) (done []string, more bool, err error) {
	b := e.batch(q)
	ents, err := e.List(ctx, b)
	if err != nil {
		return nil, false, err
	}
	snap := e.reg.Snapshot()
	for _, ent := range ents {
		if _, err := checkAction(snap, ent, inv); err != nil {
			return nil, false, err
		}
	}
	for i, ent := range ents {
		if _, err := e.Action(ctx, ent.Location, inv); err != nil {
			return done, false, fmt.Errorf("after %d of %d: %w", i, len(ents), err)
		}
		done = append(done, ent.Location)
	}
	return done, len(ents) == b.Number, nil
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
// refuses one change, those made before it are reversed. It repeats
// MembersStep until the change is complete.
func (e *Engine) Members(ctx context.Context, mixinID string, locs []string, how Association) error {
	for {
		more, err := e.MembersStep(ctx, mixinID, locs, how)
		if err != nil || !more {
			return err
		}
	}
}

// MembersStep is one bounded step of Members, all or none: it names at most
// max_page locations (more is a 413), and it changes at most max_page
// entities. SetMembers dissociates the members not named in steps: more
// says that some remain, and the caller repeats the request.
func (e *Engine) MembersStep(ctx context.Context, mixinID string, locs []string, how Association) (more bool, err error) {
	snap := e.reg.Snapshot()
	if _, ok := snap.Mixin(mixinID); !ok {
		return false, occi.Errorf(occi.NotFound, "no mixin %q is registered", mixinID)
	}
	targets := map[string]bool{}
	for _, loc := range locs {
		targets[loc] = true
	}
	if len(targets) > e.maxPage {
		return false, occi.Errorf(occi.TooLarge, "a request associates or dissociates at most %d entities (max_page); this one names %d: send them in several requests", e.maxPage, len(targets))
	}
	// The members to dissociate in this step, within what the targets
	// leave of the step's max_page entities.
	var drop []string
	if how == SetMembers {
		budget, err := e.dissociationBudget(mixinID, targets)
		if err != nil {
			return false, err
		}
		if drop, more, err = e.otherMembers(mixinID, targets, budget); err != nil {
			return false, err
		}
	}
	var keys []lockKey
	for loc := range targets {
		keys = append(keys, lockKey{key: loc, exclusive: true})
	}
	for _, loc := range drop {
		keys = append(keys, lockKey{key: loc, exclusive: true})
	}
	o, err := e.lockFor(ctx, keys, "association with "+mixinID)
	if err != nil {
		return false, err
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
		// Under the locks, the members to drop are read again: one
		// associated meanwhile among them is not locked.
		now, nowMore, err := e.otherMembers(mixinID, targets, len(drop))
		if err != nil {
			return false, err
		}
		locked := map[string]bool{}
		for _, loc := range drop {
			locked[loc] = true
		}
		for _, loc := range now {
			if !locked[loc] {
				return false, occi.Errorf(occi.Conflict, "%s was associated with %s meanwhile; retry", loc, mixinID)
			}
			if err := add(loc, false); err != nil {
				return false, err
			}
		}
		more = nowMore
	}
	for _, loc := range slices.Sorted(maps.Keys(targets)) {
		if err := add(loc, how != Dissociate); err != nil {
			return false, err
		}
	}
	if err := e.updateAll(ctx, snap, o, pairs, e.commit); err != nil {
		return false, err
	}
	return more, nil
}

// dissociationBudget is how many members a SetMembers step may dissociate:
// max_page, less the targets it associates. Once those are associated,
// the next step has all of max_page.
func (e *Engine) dissociationBudget(mixinID string, targets map[string]bool) (int, error) {
	n := e.maxPage
	err := e.db.View(func(tx *store.Tx) error {
		for loc := range targets {
			if ent, err := tx.Entity(loc); err != nil || !slices.Contains(ent.Mixins, mixinID) {
				n--
			}
		}
		return nil
	})
	return n, err
}

// otherMembers returns, in location order, up to limit members of a mixin
// that are not targets, and whether there are more.
func (e *Engine) otherMembers(mixinID string, targets map[string]bool, limit int) (locs []string, more bool, err error) {
	err = e.db.View(func(tx *store.Tx) error {
		return tx.ScanLocations(store.ByMixin, mixinID, "", func(loc string) bool {
			if targets[loc] {
				return true
			}
			if len(locs) == limit {
				more = true
				return false
			}
			locs = append(locs, loc)
			return true
		})
	})
	return locs, more, err
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
