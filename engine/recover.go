package engine

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/ocni/ocni/backends"
	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/store"
)

// RecoveryReport says what a reconciliation pass did.
type RecoveryReport struct {
	Adopted    []string // creates that reached the VIM: committed
	Dropped    []string // creates that did not, or were undone: forgotten
	Completed  []string // deletes, updates and actions finished or confirmed
	Orphans    []string // VIM objects of this instance that no entity holds: deleted
	Unresolved []string // intents left for a later pass (the VIM still fails)
}

// Recover resolves the intents a previous process left behind, asking each
// backend what became of the call, then removes the objects of this
// instance that providers hold and no entity or intent accounts for. It
// runs before the server serves.
func (e *Engine) Recover(ctx context.Context) (*RecoveryReport, error) {
	rep, err := e.reconcileOnce(ctx, true)
	if err != nil {
		return rep, err
	}
	if err := e.removeOrphans(ctx, rep); err != nil {
		return rep, err
	}
	return rep, nil
}

// RunReconciler resolves, until ctx ends, the intents that failed VIM calls
// leave, each at its next try time (doubling from a second up to five
// minutes), and retries deleting orphans that could not be deleted.
func (e *Engine) RunReconciler(ctx context.Context, every time.Duration) {
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-e.reconcile:
			}
			if _, err := e.reconcileOnce(ctx, false); err != nil && ctx.Err() == nil {
				e.log.Warn("reconciliation failed", "error", err.Error())
			}
			e.retryOrphans(ctx)
		}
	}()
}

// wakeReconciler makes the reconciler look at its intents soon.
func (e *Engine) wakeReconciler() {
	select {
	case e.reconcile <- struct{}{}:
	default:
	}
}

// Reconcile runs one pass over the intents, trying every one whose next try
// is due (or every one, when all is set).
func (e *Engine) Reconcile(ctx context.Context, all bool) (*RecoveryReport, error) {
	return e.reconcileOnce(ctx, all)
}

func (e *Engine) reconcileOnce(ctx context.Context, all bool) (*RecoveryReport, error) {
	rep := &RecoveryReport{}
	intents, err := e.db.Intents()
	if err != nil {
		return rep, err
	}
	// Links first: a resource's delete commits only once its links are
	// gone, and a link's create only once its ends are there.
	locs := slices.Sorted(maps.Keys(intents))
	slices.SortStableFunc(locs, func(a, b string) int {
		la, lb := intents[a].Entity.IsLink(), intents[b].Entity.IsLink()
		switch {
		case la && !lb:
			return -1
		case !la && lb:
			return 1
		}
		return 0
	})
	now := time.Now()
	for _, loc := range locs {
		in := intents[loc]
		if !all && in.NextTry.After(now) {
			continue
		}
		// An operation in flight holds its intent's location: leave it.
		release, err := e.locks.acquire(ctx, []lockKey{{key: loc, exclusive: true}}, "reconciliation of "+loc, 0)
		if err != nil {
			continue
		}
		// What was listed may have ended, or been rewritten, before the
		// lock was had: only the intent as it is now is resolved.
		if in, err = e.currentIntent(in); err != nil || in == nil {
			release()
			continue
		}
		err = e.resolve(ctx, in, rep)
		release()
		if err != nil {
			e.log.Warn("intent unresolved", "op", in.Op, "location", loc, "error", err.Error())
			rep.Unresolved = append(rep.Unresolved, loc)
			e.retryLater(in, err)
		}
	}
	return rep, nil
}

// currentIntent returns the intent stored at listed's location if it is
// still the one listed (same operation, start and attempts), else nil.
func (e *Engine) currentIntent(listed *store.Intent) (*store.Intent, error) {
	var cur *store.Intent
	err := e.db.View(func(tx *store.Tx) error {
		var err error
		cur, err = tx.Intent(listed.Entity.Location)
		return err
	})
	if err != nil || cur == nil || cur.Op != listed.Op || !cur.Started.Equal(listed.Started) || cur.Attempts != listed.Attempts {
		return nil, err
	}
	return cur, nil
}

// resolve settles one intent with its backend. Whatever it commits is
// validated against the model as it is now: the intent's entity was made
// under the model of its time.
func (e *Engine) resolve(ctx context.Context, in *store.Intent, rep *RecoveryReport) error {
	p, err := e.providerOf(in.Entity)
	if err != nil {
		return err
	}
	snap := e.reg.Snapshot()
	loc := in.Entity.Location
	obj := e.object(snap, in.Entity)
	end := func() error {
		return e.db.Write(func(tx *store.Tx) error { return tx.EndIntent(loc) })
	}
	switch {
	case in.Op == store.OpCreate && in.Undo:
		if err := p.Delete(ctx, obj); err != nil && !errors.Is(err, occi.ErrNotFound) {
			return err
		}
		rep.Dropped = append(rep.Dropped, loc)
		return end()
	case in.Op == store.OpCreate:
		reported, err := p.Retrieve(ctx, obj)
		switch {
		case errors.Is(err, occi.ErrNotFound):
			rep.Dropped = append(rep.Dropped, loc)
			return end()
		case err != nil:
			return err
		}
		merge(in.Entity, reported)
		err = e.commit(&change{put: []*store.Entity{in.Entity}, created: map[string]bool{loc: true}, done: []string{loc}})
		if err != nil && occi.CodeOf(err) != occi.Unavailable {
			// It cannot be adopted (its kind or a link end is gone):
			// remove it from the VIM instead.
			e.log.Warn("cannot adopt a created object; removing it", "location", loc, "error", err.Error())
			if derr := p.Delete(ctx, obj); derr != nil && !errors.Is(derr, occi.ErrNotFound) {
				return derr
			}
			rep.Dropped = append(rep.Dropped, loc)
			return end()
		}
		if err == nil {
			rep.Adopted = append(rep.Adopted, loc)
		}
		return err
	case in.Op == store.OpDelete:
		if err := p.Delete(ctx, obj); err != nil && !errors.Is(err, occi.ErrNotFound) {
			return err
		}
		// A resource's own links go with it, as in Delete.
		c := &change{del: e.stillThere(in.Entity), done: []string{loc}}
		links, err := e.linksFrom(loc)
		if err != nil {
			return err
		}
		for _, l := range links {
			if lp, err := e.providerOf(l); err == nil {
				if err := lp.Delete(ctx, e.object(snap, l)); err != nil && !errors.Is(err, occi.ErrNotFound) {
					return err
				}
			}
			c.del = append(c.del, l)
		}
		if err := e.commit(c); err != nil {
			return err
		}
		rep.Completed = append(rep.Completed, loc)
		return nil
	case in.Op == store.OpUpdate && in.Undo && in.Before != nil:
		// The request failed and was answered so: the VIM goes back to
		// the entity as it was, which the store still holds.
		if _, err := p.Update(ctx, obj, e.object(snap, in.Before)); err != nil && !errors.Is(err, occi.ErrNotFound) {
			return err
		}
		rep.Completed = append(rep.Completed, loc)
		return end()
	}
	// An update found after a crash is done again (it makes the VIM match
	// the object: harmless if it happened); an action is read back.
	var reported map[string]any
	if in.Op == store.OpUpdate && in.Before != nil {
		reported, err = p.Update(ctx, e.object(snap, in.Before), obj)
	} else {
		reported, err = p.Retrieve(ctx, obj)
	}
	switch {
	case errors.Is(err, occi.ErrNotFound):
		// The object left the VIM behind our back: the entity stays as
		// it was, and the state refresh reports the loss.
		rep.Completed = append(rep.Completed, loc)
		return end()
	case err != nil:
		return err
	}
	next := in.Entity.Clone()
	merge(next, reported)
	if cur, err := e.db.Entity(loc); err == nil {
		next.Revision = cur.Revision
	}
	err = e.commit(&change{put: []*store.Entity{next}, done: []string{loc}})
	if err != nil && occi.CodeOf(err) != occi.Unavailable && in.Op == store.OpUpdate && in.Before != nil {
		// The model no longer accepts the update (a mixin it adds was
		// removed meanwhile): it is reversed on the VIM instead.
		e.log.Warn("cannot finish an update; reversing it", "location", loc, "error", err.Error())
		if _, uerr := p.Update(ctx, obj, e.object(snap, in.Before)); uerr != nil && !errors.Is(uerr, occi.ErrNotFound) {
			return uerr
		}
		rep.Completed = append(rep.Completed, loc)
		return end()
	}
	if err == nil {
		rep.Completed = append(rep.Completed, loc)
	}
	return err
}

// linksFrom returns the links whose source is a location.
func (e *Engine) linksFrom(loc string) ([]*store.Entity, error) {
	links, err := e.db.LinksFrom([]string{loc})
	return links[loc], err
}

// stillThere returns the entity as the store holds it now (for a delete's
// revision check), or nothing if it is gone already.
func (e *Engine) stillThere(ent *store.Entity) []*store.Entity {
	cur, err := e.db.Entity(ent.Location)
	if err != nil {
		return nil
	}
	return []*store.Entity{cur}
}

// removeOrphans deletes what providers hold for this instance that no
// entity or intent names: objects whose create reached the VIM but whose
// intent was lost can only come from a damaged store, but a leak on a VIM
// costs real money. Objects of other instances are never listed; an id the
// store knows is never deleted.
func (e *Engine) removeOrphans(ctx context.Context, rep *RecoveryReport) error {
	for _, name := range slices.Sorted(maps.Keys(e.providers)) {
		p := e.providers[name]
		ids, err := p.List(ctx, e.db.Instance())
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
			if e.deleteOrphan(ctx, name, p, id) {
				rep.Orphans = append(rep.Orphans, name+":"+id)
			}
		}
	}
	return nil
}

// deleteOrphan deletes one orphan, or keeps it for the reconciler's next
// pass when the VIM refuses for now.
func (e *Engine) deleteOrphan(ctx context.Context, name string, p backends.Provider, id string) bool {
	err := p.Delete(ctx, &backends.Object{ID: id, Instance: e.db.Instance()})
	e.orphansMu.Lock()
	defer e.orphansMu.Unlock()
	if err != nil && !errors.Is(err, occi.ErrNotFound) {
		e.log.Warn("cannot delete orphan yet; retried later", "provider", name, "id", id, "error", err.Error())
		if e.orphans[name] == nil {
			e.orphans[name] = map[string]bool{}
		}
		e.orphans[name][id] = true
		return false
	}
	delete(e.orphans[name], id)
	e.log.Warn("orphan deleted", "provider", name, "id", id)
	return true
}

// retryOrphans tries again the orphans that could not be deleted, unless
// their id has since been given to an entity.
func (e *Engine) retryOrphans(ctx context.Context) {
	e.orphansMu.Lock()
	pending := map[string][]string{}
	for name, ids := range e.orphans {
		pending[name] = slices.Collect(maps.Keys(ids))
	}
	e.orphansMu.Unlock()
	for name, ids := range pending {
		p := e.providers[name]
		for _, id := range ids {
			// The id's lock keeps a create of the same id from starting
			// while its old object is deleted.
			release, err := e.locks.acquire(ctx, []lockKey{{key: idKey(id), exclusive: true}}, "orphan removal", 0)
			if err != nil {
				continue
			}
			if _, known, err := e.db.LocationOfID(id); err != nil || known {
				e.orphansMu.Lock()
				delete(e.orphans[name], id)
				e.orphansMu.Unlock()
			} else {
				e.deleteOrphan(ctx, name, p, id)
			}
			release()
		}
	}
}

// PendingOrphans returns the orphans still to delete, as provider:id.
func (e *Engine) PendingOrphans() []string {
	e.orphansMu.Lock()
	defer e.orphansMu.Unlock()
	var out []string
	for name, ids := range e.orphans {
		for id := range ids {
			out = append(out, name+":"+id)
		}
	}
	slices.Sort(out)
	return out
}

// clearLeftover removes the orphan of an id, if recovery left one to
// retry, before the id is made again; it reports whether the id is clear.
func (e *Engine) clearLeftover(ctx context.Context, provider, id string) bool {
	e.orphansMu.Lock()
	leftover := e.orphans[provider][id]
	e.orphansMu.Unlock()
	if !leftover {
		return true
	}
	p := e.providers[provider]
	return p != nil && e.deleteOrphan(ctx, provider, p, id)
}
