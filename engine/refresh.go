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
// Entities with an operation in flight are left for the next pass.
func (e *Engine) Refresh(ctx context.Context, provider string) (*RefreshReport, error) {
	p := e.providers[provider]
	if p == nil {
		return nil, occi.Errorf(occi.NotFound, "no provider %q", provider)
	}
	var ents []*store.Entity
	if err := e.db.Scan(store.ByPrefix, "/", "", 0, func(ent *store.Entity) bool {
		if ent.Provider == provider {
			ents = append(ents, ent)
		}
		return true
	}); err != nil {
		return nil, err
	}
	rep := &RefreshReport{}
	snap := e.reg.Snapshot()
	for _, ent := range ents {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		rep.Checked++
		changed, lost, busy, err := e.refreshOne(ctx, snap, p, ent)
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

func (e *Engine) refreshOne(ctx context.Context, snap *registry.Snapshot, p backends.Provider, ent *store.Entity) (changed, lost, busy bool, err error) {
	release, err := e.begin(&store.Intent{Op: store.OpAction, Entity: ent})
	if err != nil {
		return false, false, true, nil //nolint:nilerr // a busy entity is checked next time
	}
	defer release()
	// Read it again under the lock: an operation may have committed since
	// the scan.
	if ent, err = e.db.Entity(ent.Location); err != nil {
		return false, false, false, nil //nolint:nilerr // deleted meanwhile: nothing to refresh
	}
	next := ent.Clone()
	reported, err := p.Retrieve(ctx, object(snap, ent))
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
	if err := e.db.Commit([]*store.Entity{next}, nil, nil); err != nil {
		return false, false, false, err
	}
	return true, lost, false, nil
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
				} else if rep != nil && (rep.Changed > 0 || rep.Lost > 0) {
					e.log.Info("refresh", "provider", name, "checked", rep.Checked, "changed", rep.Changed, "lost", rep.Lost, "busy", rep.Busy)
				}
			}
		}()
	}
}
