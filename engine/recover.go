package engine

import (
	"context"
	"errors"
	"maps"
	"slices"

	"github.com/ocni/ocni/backends"
	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/registry"
	"github.com/ocni/ocni/store"
)

// RecoveryReport says what Recover did.
type RecoveryReport struct {
	Adopted    []string // creates that reached the VIM: committed
	Dropped    []string // creates that did not: forgotten
	Completed  []string // deletes, updates and actions finished or confirmed
	Orphans    []string // VIM objects of ours that no entity holds: deleted
	Unresolved []string // intents left for the next start (provider down)
}

// Recover resolves the intents a previous process left behind, asking each
// backend what became of the call, then removes objects a provider holds
// that no entity or intent accounts for. It runs before the server serves.
func (e *Engine) Recover(ctx context.Context) (*RecoveryReport, error) {
	rep := &RecoveryReport{}
	intents, err := e.db.Intents()
	if err != nil {
		return nil, err
	}
	snap := e.reg.Snapshot()
	for _, loc := range slices.Sorted(maps.Keys(intents)) {
		in := intents[loc]
		if err := e.resolve(ctx, snap, in, rep); err != nil {
			e.log.Warn("intent unresolved", "op", in.Op, "location", loc, "error", err.Error())
			rep.Unresolved = append(rep.Unresolved, loc)
		}
	}
	if err := e.removeOrphans(ctx, rep); err != nil {
		return rep, err
	}
	return rep, nil
}

func (e *Engine) resolve(ctx context.Context, snap *registry.Snapshot, in *store.Intent, rep *RecoveryReport) error {
	p, err := e.providerOf(in.Entity)
	if err != nil {
		return err
	}
	loc := in.Entity.Location
	obj := object(snap, in.Entity)
	switch in.Op {
	case store.OpCreate:
		reported, err := p.Retrieve(ctx, obj)
		switch {
		case errors.Is(err, occi.ErrNotFound):
			rep.Dropped = append(rep.Dropped, loc)
			return e.db.Abort(in)
		case err != nil:
			return err
		}
		merge(in.Entity, reported)
		rep.Adopted = append(rep.Adopted, loc)
		return e.db.Commit([]*store.Entity{in.Entity}, nil, []string{loc})
	case store.OpDelete:
		if err := p.Delete(ctx, obj); err != nil && !errors.Is(err, occi.ErrNotFound) {
			return err
		}
		rep.Completed = append(rep.Completed, loc)
		return e.db.Commit(nil, []*store.Entity{in.Entity}, []string{loc})
	case store.OpUpdate, store.OpAction:
		var reported map[string]any
		if in.Op == store.OpUpdate && in.Before != nil {
			// Updates make the VIM match the object: doing it again is
			// harmless, and settles whether it happened.
			reported, err = p.Update(ctx, object(snap, in.Before), obj)
		} else {
			reported, err = p.Retrieve(ctx, obj)
		}
		switch {
		case errors.Is(err, occi.ErrNotFound):
			// The object left the VIM behind our back: the entity stays
			// as it was, and the state refresh reports the loss.
			rep.Completed = append(rep.Completed, loc)
			return e.db.Abort(in)
		case err != nil:
			return err
		}
		merge(in.Entity, reported)
		rep.Completed = append(rep.Completed, loc)
		return e.db.Commit([]*store.Entity{in.Entity}, nil, []string{loc})
	}
	return occi.Errorf(occi.Internal, "intent of unknown operation %q", in.Op)
}

// removeOrphans deletes what providers hold that no entity or intent names:
// objects whose create reached the VIM but whose intent was lost can only
// come from a damaged store, but a leak on a VIM costs real money.
func (e *Engine) removeOrphans(ctx context.Context, rep *RecoveryReport) error {
	for _, name := range slices.Sorted(maps.Keys(e.providers)) {
		p := e.providers[name]
		ids, err := p.List(ctx)
		if err != nil {
			e.log.Warn("cannot list provider objects; orphans not checked", "provider", name, "error", err.Error())
			continue
		}
		for _, id := range ids {
			_, known, err := e.db.LocationOfID(id)
			if err != nil {
				return err
			}
			if known {
				continue
			}
			if err := p.Delete(ctx, &backends.Object{ID: id}); err != nil && !errors.Is(err, occi.ErrNotFound) {
				e.log.Warn("cannot delete orphan", "provider", name, "id", id, "error", err.Error())
				continue
			}
			e.log.Warn("orphan deleted", "provider", name, "id", id)
			rep.Orphans = append(rep.Orphans, name+":"+id)
		}
	}
	return nil
}
