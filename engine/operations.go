package engine

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"slices"
	"time"

	"github.com/ocni/ocni/backends"
	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/registry"
	"github.com/ocni/ocni/store"
)

// Get returns the entity at a location with its links and actions.
func (e *Engine) Get(_ context.Context, loc string) (*View, error) {
	ent, err := e.db.Entity(loc)
	if err != nil {
		return nil, err
	}
	return e.view(e.reg.Snapshot(), ent)
}

func (e *Engine) view(snap *registry.Snapshot, ent *store.Entity) (*View, error) {
	v := &View{Entity: ent}
	v.Actions, v.Defined = e.offered(snap, ent)
	if !ent.IsLink() {
		links, err := e.db.LinksFrom([]string{ent.Location})
		if err != nil {
			return nil, err
		}
		v.Links = links[ent.Location]
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
	snap := e.reg.Snapshot()
	old, err := e.db.Entity(loc)
	if err != nil {
		return nil, err
	}
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
	return e.apply(ctx, snap, old, next)
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

// apply takes an entity from old to next on its provider and in the store.
func (e *Engine) apply(ctx context.Context, snap *registry.Snapshot, old, next *store.Entity) (*View, error) {
	if reflect.DeepEqual(next, old) {
		return e.view(snap, old)
	}
	loc := old.Location
	p, err := e.providerOf(old)
	if err != nil {
		return nil, err
	}
	intent := &store.Intent{Op: store.OpUpdate, Entity: next, Before: old, Started: time.Now().UTC()}
	release, err := e.begin(intent)
	if err != nil {
		return nil, err
	}
	defer release()
	reported, err := p.Update(ctx, object(snap, old), object(snap, next))
	if err != nil {
		e.settle(intent, err)
		return nil, occi.Prefix("provider "+old.Provider+": update "+loc, err)
	}
	merge(next, reported)
	if err := e.db.Commit([]*store.Entity{next}, nil, []string{loc}); err != nil {
		return nil, err
	}
	return e.view(snap, next)
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

// settle ends an intent whose backend call failed: a definite failure
// changed nothing and is aborted; an uncertain one (the VIM did not answer)
// stays for recovery to resolve.
func (e *Engine) settle(intent *store.Intent, err error) {
	switch occi.CodeOf(err) {
	case occi.Unavailable, occi.Internal:
		e.log.Warn("backend outcome unknown; recovery will resolve it", "op", intent.Op, "location", intent.Entity.Location, "error", err.Error())
		return
	}
	e.abort(intent)
}

// Action invokes an action on an entity.
func (e *Engine) Action(ctx context.Context, loc string, inv *occi.ActionInvocation) (*View, error) {
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
	intent := &store.Intent{Op: store.OpAction, Entity: ent, Action: inv.Action, Params: params, Started: time.Now().UTC()}
	release, err := e.begin(intent)
	if err != nil {
		return nil, err
	}
	defer release()
	reported, err := p.Action(ctx, object(snap, ent), inv.Action, params)
	if err != nil {
		e.settle(intent, err)
		return nil, occi.Prefix("provider "+ent.Provider+": "+inv.Action+" on "+loc, err)
	}
	next := ent.Clone()
	merge(next, reported)
	if err := e.db.Commit([]*store.Entity{next}, nil, []string{loc}); err != nil {
		return nil, err
	}
	return e.view(snap, next)
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

// Delete deletes an entity; a resource's links (from it and to it) go
// with it.
func (e *Engine) Delete(ctx context.Context, loc string) error {
	snap := e.reg.Snapshot()
	ent, err := e.db.Entity(loc)
	if err != nil {
		return err
	}
	victims := []*store.Entity{}
	if !ent.IsLink() {
		for _, idx := range []store.Index{store.BySource, store.ByTarget} {
			if err := e.db.Scan(idx, loc, "", 0, func(l *store.Entity) bool {
				if !slices.ContainsFunc(victims, func(v *store.Entity) bool { return v.Location == l.Location }) {
					victims = append(victims, l)
				}
				return true
			}); err != nil {
				return err
			}
		}
	}
	victims = append(victims, ent) // links first, the resource last
	intents := make([]*store.Intent, len(victims))
	for i, v := range victims {
		intents[i] = &store.Intent{Op: store.OpDelete, Entity: v, Started: time.Now().UTC()}
	}
	release, err := e.begin(intents...)
	if err != nil {
		return err
	}
	defer release()
	var gone []*store.Entity
	var done []string
	var failure error
	for i, v := range victims {
		p, err := e.providerOf(v)
		if err == nil {
			err = p.Delete(ctx, object(snap, v))
		}
		if err != nil && !errors.Is(err, occi.ErrNotFound) {
			// Stop here: what is deleted is committed, the rest keeps
			// its entity (and, if the outcome is unknown, its intent).
			failure = occi.Prefix("provider "+v.Provider+": delete "+v.Location, err)
			for _, rest := range intents[i:] {
				if rest == intents[i] {
					e.settle(rest, err)
				} else {
					e.abort(rest)
				}
			}
			break
		}
		gone = append(gone, v)
		done = append(done, v.Location)
	}
	if len(gone) > 0 {
		if err := e.db.Commit(nil, gone, done); err != nil {
			return err
		}
	}
	return failure
}
