package engine

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/ocni/ocni/backends"
	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/registry"
	"github.com/ocni/ocni/store"
)

// Get returns the entity at a location with its links and actions, read
// in one transaction.
func (e *Engine) Get(_ context.Context, loc string) (*View, error) {
	snap := e.reg.Snapshot()
	var v *View
	err := e.db.View(func(tx *store.Tx) error {
		ent, err := tx.Entity(loc)
		if err != nil {
			return err
		}
		v, err = e.viewIn(tx, snap, ent)
		return err
	})
	return v, err
}

func (e *Engine) view(snap *registry.Snapshot, ent *store.Entity) (*View, error) {
	var v *View
	err := e.db.View(func(tx *store.Tx) error {
		var err error
		v, err = e.viewIn(tx, snap, ent)
		return err
	})
	return v, err
}

// viewIn builds an entity's view from one read transaction: its actions,
// its links, and an operation pending on it.
func (e *Engine) viewIn(tx *store.Tx, snap *registry.Snapshot, ent *store.Entity) (*View, error) {
	v := &View{Entity: ent}
	v.Actions, v.Defined = e.offered(snap, ent)
	in, err := tx.Intent(ent.Location)
	if err != nil {
		return nil, err
	}
	if in != nil && in.LastError != "" {
		// An operation left pending shows in the entity's state message,
		// where clients look for why an entity is not what they asked.
		if _, message := stateAttributes(snap, ent.Kind); message != "" {
			v.Entity = ent.Clone()
			v.Attributes[message] = "a " + in.Describe()
		}
	}
	if !ent.IsLink() {
		if err := tx.Scan(store.BySource, ent.Location, "", 0, func(l *store.Entity) bool {
			v.Links = append(v.Links, l)
			return true
		}); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// Update applies a partial update: the attributes given change, the
// mixins given are added (a template replacing the one of its family, and
// its defaults applying), the rest stays.
func (e *Engine) Update(ctx context.Context, loc string, in *Input) (*View, error) {
	return e.change(ctx, loc, in, false)
}

// Replace replaces an entity's mixins and attributes with those given;
// immutable attributes must keep their values, and links stay.
func (e *Engine) Replace(ctx context.Context, loc string, in *Input) (*View, error) {
	return e.change(ctx, loc, in, true)
}

func (e *Engine) change(ctx context.Context, loc string, in *Input, replace bool) (*View, error) {
	if err := in.normalize(); err != nil {
		return nil, err
	}
	what := "update"
	if replace {
		what = "replace"
	}
	o, err := e.lockFor(ctx, []lockKey{{key: loc, exclusive: true}}, what+" of "+loc)
	if err != nil {
		return nil, err
	}
	defer o.finish()
	return e.changeLocked(ctx, o, loc, in, replace)
}

// changeLocked is change with the entity's lock held: what it reads is what
// it changes.
func (e *Engine) changeLocked(ctx context.Context, o *op, loc string, in *Input, replace bool) (*View, error) {
	snap := e.reg.Snapshot()
	old, err := e.db.Entity(loc)
	if err != nil {
		return nil, err
	}
	next, err := changed(snap, old, in, replace)
	if err != nil {
		return nil, err
	}
	return e.apply(ctx, snap, o, old, next)
}

// changed returns what an entity becomes under a partial update (or a
// replacement) in the model snap.
func changed(snap *registry.Snapshot, old *store.Entity, in *Input, replace bool) (*store.Entity, error) {
	loc := old.Location
	if in.Kind != "" && in.Kind != old.Kind {
		return nil, occi.Errorf(occi.InvalidArgument, "%s is a %s; its kind cannot change to %s", loc, old.Kind, in.Kind)
	}
	if in.ID != "" && in.ID != old.ID {
		return nil, occi.Errorf(occi.Forbidden, "%s is immutable (%q, not %q)", occi.AttrID, old.ID, in.ID)
	}
	if len(in.Links) > 0 {
		return nil, occi.Errorf(occi.InvalidArgument, "links cannot be changed through their resource; use the link's own location")
	}
	if err := checkEnds(old, in); err != nil {
		return nil, err
	}
	next := old.Clone()
	var added []string
	if replace {
		next.Mixins = slices.Clone(in.Mixins)
	} else {
		next.Mixins = addMixins(snap, old.Mixins, in.Mixins)
	}
	for _, m := range next.Mixins {
		if !slices.Contains(old.Mixins, m) {
			added = append(added, m)
		}
	}
	if err := checkMixins(snap, next.Kind, next.Mixins); err != nil {
		return nil, err
	}
	set := attributeSet(snap, next.Kind, next.Mixins)
	changes := in.Attributes
	if replace {
		// Mutable attributes not sent go back to their defaults, or
		// away; immutable ones keep their values.
		changes = maps.Clone(in.Attributes)
		for name := range old.Attributes {
			if _, sent := changes[name]; !sent && set[name] != nil && set[name].Mutable {
				changes[name] = nil
			}
		}
	}
	current := keepDefined(old.Attributes, set)
	// Defaults of newly added mixins apply (a new template resizes), unless
	// the request sets the attribute itself.
	for _, m := range added {
		for _, dep := range dependsClosure(snap, m) {
			mx, _ := snap.Mixin(dep)
			for name, def := range mx.Attributes {
				if _, sent := changes[name]; !sent && def.Default != nil {
					if err := set[name].Check(def.Default); err != nil {
						return nil, occi.Prefix("mixin "+dep+": default of "+name, err)
					}
					current[name] = def.Default
				}
			}
		}
	}
	attrs, err := set.Update(current, changes)
	if err != nil {
		return nil, err
	}
	if next.Attributes, err = completeDefaults(set, attrs); err != nil {
		return nil, err
	}
	return next, nil
}

// completeDefaults fills attributes left without a value with their
// defaults (a null restores the default), and refuses a missing required
// one.
func completeDefaults(set occi.AttributeSet, attrs map[string]any) (map[string]any, error) {
	for _, name := range slices.Sorted(maps.Keys(set)) {
		def := set[name]
		if _, ok := attrs[name]; ok {
			continue
		}
		switch {
		case def.Default != nil:
			attrs[name] = def.Default
		case def.Required:
			return nil, occi.Errorf(occi.InvalidArgument, "attribute %q is required", name)
		}
	}
	return attrs, nil
}

// apply takes an entity from old to next on its provider and in the store;
// the caller holds the entity's lock.
func (e *Engine) apply(ctx context.Context, snap *registry.Snapshot, o *op, old, next *store.Entity) (*View, error) {
	if reflect.DeepEqual(next, old) {
		return e.view(snap, old)
	}
	loc := old.Location
	p, err := e.providerOf(old)
	if err != nil {
		return nil, err
	}
	intent := &store.Intent{Op: store.OpUpdate, Entity: next, Before: old}
	if err := o.begin(intent); err != nil {
		return nil, err
	}
	reported, err := p.Update(ctx, e.object(snap, old), e.object(snap, next))
	if err != nil {
		o.settle(intent, err)
		return nil, vimError(old.Provider, "update "+loc, err)
	}
	merge(next, reported)
	if err := e.commitOne(ctx, snap, o, intent, next); err != nil {
		return nil, err
	}
	return e.Get(ctx, loc)
}

// commitOne commits the outcome of one VIM call on an existing entity. When
// the commit's checks fail (the categories changed under the entity), the
// VIM call is undone where it can be: an update is reversed; an action
// cannot be, and its outcome is committed without the model check.
func (e *Engine) commitOne(ctx context.Context, snap *registry.Snapshot, o *op, intent *store.Intent, next *store.Entity) error {
	loc := next.Location
	err := e.commit(&change{put: []*store.Entity{next}, done: []string{loc}, model: snap.Version()})
	switch {
	case err == nil:
		return nil
	case occi.CodeOf(err) == occi.Unavailable:
		o.settle(intent, err)
		return err
	case intent.Op == store.OpUpdate && intent.Before != nil:
		p, perr := e.providerOf(intent.Before)
		if perr == nil {
			_, perr = p.Update(ctx, e.object(snap, next), e.object(snap, intent.Before))
		}
		if perr != nil {
			// The update did change the VIM: the reconciler reverses it.
			o.e.pending(intent, perr)
			return err
		}
		o.abort(intent)
		return err
	}
	o.abort(intent)
	return err
}

// keepDefined drops attributes the new set no longer defines (those of a
// mixin that went away).
func keepDefined(attrs map[string]any, set occi.AttributeSet) map[string]any {
	out := make(map[string]any, len(attrs))
	for k, v := range attrs {
		if _, ok := set[k]; ok {
			out[k] = v
		}
	}
	return out
}

func checkEnds(old *store.Entity, in *Input) error {
	if in.Source != nil && in.Source.Location != "" && (old.Source == nil || in.Source.Location != old.Source.Location) {
		return occi.Errorf(occi.Forbidden, "a link's source is immutable")
	}
	if in.Target != nil && in.Target.Location != "" && (old.Target == nil || in.Target.Location != old.Target.Location) {
		return occi.Errorf(occi.Forbidden, "a link's target is immutable")
	}
	return nil
}

func (e *Engine) providerOf(ent *store.Entity) (backends.Provider, error) {
	p := e.providers[ent.Provider]
	if p == nil {
		return nil, occi.Errorf(occi.Unavailable, "provider %q, which holds %s, is not running", ent.Provider, ent.Location)
	}
	return p, nil
}

// Action invokes an action on an entity.
func (e *Engine) Action(ctx context.Context, loc string, inv *occi.ActionInvocation) (*View, error) {
	o, err := e.lockFor(ctx, []lockKey{{key: loc, exclusive: true}}, "action "+inv.Action+" on "+loc)
	if err != nil {
		return nil, err
	}
	defer o.finish()
	snap := e.reg.Snapshot()
	ent, err := e.db.Entity(loc)
	if err != nil {
		return nil, err
	}
	params, err := checkAction(snap, ent, inv)
	if err != nil {
		return nil, err
	}
	p, err := e.providerOf(ent)
	if err != nil {
		return nil, err
	}
	if caps := p.Capabilities(); !caps.ServesAction(inv.Action) {
		return nil, occi.Errorf(occi.Unimplemented, "provider %q does not implement action %s", ent.Provider, inv.Action)
	}
	intent := &store.Intent{Op: store.OpAction, Entity: ent, Action: inv.Action, Params: params}
	if err := o.begin(intent); err != nil {
		return nil, err
	}
	reported, err := p.Action(ctx, e.object(snap, ent), inv.Action, params)
	if err != nil {
		o.settle(intent, err)
		return nil, vimError(ent.Provider, inv.Action+" on "+loc, err)
	}
	next := ent.Clone()
	merge(next, reported)
	// An action happened on the VIM whatever the model says now: its
	// outcome is committed as it is.
	if err := e.commit(&change{put: []*store.Entity{next}, done: []string{loc}, model: e.reg.Snapshot().Version()}); err != nil {
		// The action happened: the reconciler reads its outcome back.
		e.retryLater(intent, err)
		return nil, err
	}
	e.refreshLinks(ctx, next)
	return e.Get(ctx, loc)
}

// checkAction verifies that the entity offers the action and validates its
// parameters.
func checkAction(snap *registry.Snapshot, ent *store.Entity, inv *occi.ActionInvocation) (map[string]any, error) {
	offered := actionsOf(snap, ent)
	if !slices.Contains(offered, inv.Action) {
		return nil, occi.Errorf(occi.NotFound, "action %s is not available on %s (it offers %v)", inv.Action, ent.Location, offered)
	}
	a, ok := snap.Action(inv.Action)
	if !ok {
		return nil, occi.Errorf(occi.NotFound, "action %s is not registered", inv.Action)
	}
	params, err := a.Attributes.Check(inv.Attributes)
	if err != nil {
		return nil, occi.Prefix("action "+inv.Action, err)
	}
	return params, nil
}

// Delete deletes an entity. A resource's links go with it; a resource that
// other resources' links point to is not deleted (409 naming the links):
// deleting it would leave them pointing at nothing.
func (e *Engine) Delete(ctx context.Context, loc string) error {
	o, err := e.lockFor(ctx, []lockKey{{key: loc, exclusive: true}}, "delete of "+loc)
	if err != nil {
		return err
	}
	defer o.finish()
	snap := e.reg.Snapshot()
	ent, err := e.db.Entity(loc)
	if err != nil {
		return err
	}
	victims := []*store.Entity{}
	if !ent.IsLink() {
		// With the resource locked, no link to or from it can be made:
		// what is read here stays true until the commit.
		var incoming []string
		n := 0
		err := e.db.View(func(tx *store.Tx) error {
			if err := tx.Scan(store.BySource, loc, "", 0, func(l *store.Entity) bool {
				victims = append(victims, l)
				return true
			}); err != nil {
				return err
			}
			return tx.Scan(store.ByTarget, loc, "", 0, func(l *store.Entity) bool {
				if l.Source == nil || l.Source.Location != loc {
					n++
					if len(incoming) < 3 {
						incoming = append(incoming, l.Location)
					}
				}
				return true
			})
		})
		if err != nil {
			return err
		}
		if n > 0 {
			return occi.Errorf(occi.Conflict, "%s is the target of %d link(s) from other resources (%s); delete them first", loc, n, strings.Join(incoming, ", "))
		}
		var keys []lockKey
		for _, l := range victims {
			keys = append(keys, lockKey{key: l.Location, exclusive: true})
		}
		if len(keys) > 0 {
			lo, err := e.lockFor(ctx, keys, "delete of "+loc)
			if err != nil {
				return err
			}
			defer lo.finish()
			// Links deleted while their locks were awaited are gone;
			// none can have been added.
			victims = victims[:0]
			if err := e.db.Scan(store.BySource, loc, "", 0, func(l *store.Entity) bool {
				victims = append(victims, l)
				return true
			}); err != nil {
				return err
			}
		}
	}
	// The resource goes first: a VIM removes a compute's devices with it,
	// while it may refuse to unplug them from a running guest. Its links
	// follow, an object already gone counting as deleted.
	victims = append([]*store.Entity{ent}, victims...)
	intents := make([]*store.Intent, len(victims))
	for i, v := range victims {
		intents[i] = &store.Intent{Op: store.OpDelete, Entity: v}
	}
	if err := o.begin(intents...); err != nil {
		return err
	}
	vimDelete := func(v *store.Entity) error {
		p, err := e.providerOf(v)
		if err == nil {
			err = p.Delete(ctx, e.object(snap, v))
		}
		if errors.Is(err, occi.ErrNotFound) {
			return nil
		}
		return err
	}
	if err := vimDelete(ent); err != nil {
		// Nothing is deleted: the resource keeps its entity (and, if the
		// outcome is unknown, its intent), and its links stay.
		o.settle(intents[0], err)
		o.abort(intents[1:]...)
		return vimError(ent.Provider, "delete "+loc, err)
	}
	c := &change{model: snap.Version(), del: victims, done: []string{loc}}
	for i, l := range victims[1:] {
		if err := vimDelete(l); err != nil {
			// The link's entity goes with its resource all the same (it
			// would point at nothing); its VIM object is left to the
			// reconciler, whose intent keeps the location until then.
			e.log.Warn("a link's VIM object outlived its resource; the reconciler deletes it", "location", l.Location, "error", err.Error())
			e.retryLater(intents[i+1], err)
			continue
		}
		c.done = append(c.done, l.Location)
	}
	if err := e.commit(c); err != nil {
		for _, in := range intents {
			if slices.Contains(c.done, in.Entity.Location) {
				e.retryLater(in, err)
			}
		}
		return err
	}
	return nil
}
