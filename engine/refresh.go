package engine

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/ocni/ocni/backends"
	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/registry"
	"github.com/ocni/ocni/store"
)

// Refresher is implemented by providers whose VIM changes on its own
// (guests crash, operators use other tools): the engine reads their
// objects again every RefreshInterval.
type Refresher interface {
	RefreshInterval() time.Duration
}

// RefreshReport says what one refresh pass did: entities checked, changed
// (their VIM state moved), lost (gone from the VIM, now in error) and left
// for the next pass because an operation was in flight.
type RefreshReport struct {
	Checked, Changed, Lost, Busy int
}

// Refresh reads every entity a provider holds from its VIM and commits what
// changed. An object gone from the VIM behind ocni's back is not dropped:
// its entity is marked in error, with a message, for an operator to see.
// Entities with an operation in flight are left for the next pass. A refresh
// changes nothing on the VIM, so it writes no intent.
func (e *Engine) Refresh(ctx context.Context, provider string) (*RefreshReport, error) {
	p := e.providers[provider]
	if p == nil {
		return nil, occi.Errorf(occi.NotFound, "no provider %q", provider)
	}
	var locs []string
	if err := e.db.Scan(store.ByPrefix, "/", "", 0, func(ent *store.Entity) bool {
		if ent.Provider == provider {
			locs = append(locs, ent.Location)
		}
		return true
	}); err != nil {
		return nil, err
	}
	rep := &RefreshReport{}
	for _, loc := range locs {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		rep.Checked++
		changed, lost, busy, err := e.refreshOne(ctx, p, loc)
		switch {
		case err != nil:
			return rep, err
		case busy:
			rep.Busy++
		case lost:
			rep.Lost++
		case changed:
			rep.Changed++
		}
	}
	return rep, nil
}

// refreshOne reads one entity from its VIM, unless an operation holds it
// or has an intent pending on it.
func (e *Engine) refreshOne(ctx context.Context, p backends.Provider, loc string) (changed, lost, busy bool, err error) {
	release, err := e.locks.acquire(ctx, []lockKey{{key: loc, exclusive: true}}, "refresh of "+loc, 0)
	if err != nil {
		return false, false, true, nil //nolint:nilerr // a busy entity is checked next time
	}
	defer release()
	snap := e.reg.Snapshot()
	var ent *store.Entity
	var pending bool
	if err := e.db.View(func(tx *store.Tx) error {
		in, err := tx.Intent(loc)
		pending = in != nil
		if err != nil || pending {
			return err
		}
		ent, err = tx.Entity(loc)
		return err
	}); err != nil || pending {
		return false, false, pending, nil //nolint:nilerr // deleted meanwhile, or pending: nothing to refresh now
	}
	next := ent.Clone()
	reported, err := p.Retrieve(ctx, e.object(snap, ent))
	switch {
	case errors.Is(err, occi.ErrNotFound):
		lost = true
		state, message := stateAttributes(snap, ent.Kind)
		if state == "" {
			return false, false, false, nil
		}
		next.Attributes[state] = "error"
		if message != "" {
			next.Attributes[message] = "the object is gone from the VIM: it was removed outside ocni"
		}
	case err != nil:
		e.log.Warn("refresh: cannot read the VIM", "location", ent.Location, "error", err.Error())
		return false, false, false, nil
	default:
		merge(next, reported)
	}
	if reflect.DeepEqual(next.Attributes, ent.Attributes) {
		return false, false, false, nil
	}
	if err := e.commit(&change{put: []*store.Entity{next}, model: snap.Version()}); err != nil {
		if occi.CodeOf(err) == occi.Unavailable {
			return false, false, false, err
		}
		return false, false, true, nil // changed meanwhile: next time
	}
	if lost {
		e.log.Warn("refresh: object lost from the VIM", "location", loc, "provider", ent.Provider)
	}
	return true, lost, false, nil
}

// refreshLinks reads again the links of a resource an action changed: a
// compute's stop takes its interfaces and disks down with it.
func (e *Engine) refreshLinks(ctx context.Context, res *store.Entity) {
	if res.IsLink() {
		return
	}
	var locs []string
	_ = e.db.Scan(store.BySource, res.Location, "", 0, func(l *store.Entity) bool {
		locs = append(locs, l.Location)
		return true
	})
	for _, loc := range locs {
		p := e.providers[res.Provider]
		if ent, err := e.db.Entity(loc); err == nil {
			p = e.providers[ent.Provider]
		}
		if p == nil {
			continue
		}
		if _, _, _, err := e.refreshOne(ctx, p, loc); err != nil {
			e.log.Warn("cannot read a link again after an action", "location", loc, "error", err.Error())
		}
	}
}

// stateAttributes finds the state attribute of a kind (…state, with an
// "error" value allowed) and its message attribute, through its ancestors.
func stateAttributes(snap *registry.Snapshot, kindID string) (state, message string) {
	set := attributeSet(snap, kindID, nil)
	for _, name := range slices.Sorted(maps.Keys(set)) {
		if strings.HasSuffix(name, ".state") && set[name].Check("error") == nil {
			state = name
			if _, ok := set[name+".message"]; ok {
				message = name + ".message"
			}
			return state, message
		}
	}
	return "", ""
}

// RunRefresh refreshes, until ctx ends, every provider that asks for it, at
// its own interval.
func (e *Engine) RunRefresh(ctx context.Context) {
	for _, name := range slices.Sorted(maps.Keys(e.providers)) {
		r, ok := e.providers[name].(Refresher)
		if !ok || r.RefreshInterval() <= 0 {
			continue
		}
		go func() {
			t := time.NewTicker(r.RefreshInterval())
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				rep, err := e.Refresh(ctx, name)
				if err != nil && ctx.Err() == nil {
					e.log.Warn("refresh failed", "provider", name, "error", err.Error())
				} else if rep != nil {
					e.log.Debug("refresh", "provider", name, "checked", rep.Checked, "changed", rep.Changed, "lost", rep.Lost, "busy", rep.Busy)
				}
			}
		}()
	}
}
