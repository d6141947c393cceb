package engine

import (
	"errors"
	"strings"

	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/registry"
	"github.com/ocni/ocni/store"
)

// begin starts operations on the intents' entities: it marks their
// locations busy (a second operation on one of them is refused, not
// interleaved), checks that a create's location and id are free, and
// writes the intents of durable providers to the data file before any VIM
// is called. release ends the operations; call it once the outcome is
// committed or aborted.
func (e *Engine) begin(intents ...*store.Intent) (release func(), err error) {
	var keys []string
	for _, in := range intents {
		keys = append(keys, in.Entity.Location)
		if in.Op == store.OpCreate {
			keys = append(keys, "id "+in.Entity.ID)
		}
	}
	e.mu.Lock()
	for _, k := range keys {
		if e.busy[k] {
			e.mu.Unlock()
			what := k
			if id, isID := strings.CutPrefix(k, "id "); isID {
				what = "an entity of id " + id
			}
			return nil, occi.Errorf(occi.Conflict, "another operation on %s is in progress; retry when it is done", what)
		}
	}
	for _, k := range keys {
		e.busy[k] = true
	}
	e.mu.Unlock()
	release = func() {
		e.mu.Lock()
		for _, k := range keys {
			delete(e.busy, k)
		}
		e.mu.Unlock()
	}
	if err := e.checkFree(intents); err != nil {
		release()
		return nil, err
	}
	if durable := e.durable(intents); len(durable) > 0 {
		if err := e.db.BeginIntent(durable...); err != nil {
			release()
			return nil, err
		}
	}
	return release, nil
}

// checkFree refuses a create whose location or id is taken.
func (e *Engine) checkFree(intents []*store.Intent) error {
	for _, in := range intents {
		if in.Op != store.OpCreate {
			continue
		}
		if _, err := e.db.Entity(in.Entity.Location); err == nil {
			return occi.Errorf(occi.AlreadyExists, "%s already exists", in.Entity.Location)
		} else if !errors.Is(err, occi.ErrNotFound) {
			return err
		}
		if loc, taken, err := e.db.LocationOfID(in.Entity.ID); err != nil {
			return err
		} else if taken {
			return occi.Errorf(occi.AlreadyExists, "the id %q is already used by %s", in.Entity.ID, loc)
		}
	}
	return nil
}

// durable keeps the intents whose provider keeps its objects beyond the
// process: only those can leave something to recover.
func (e *Engine) durable(intents []*store.Intent) []*store.Intent {
	var out []*store.Intent
	for _, in := range intents {
		if p := e.providers[in.Entity.Provider]; p == nil || !p.Capabilities().Volatile {
			out = append(out, in)
		}
	}
	return out
}

// abort removes the durable intents of operations that did not happen or
// were undone.
func (e *Engine) abort(intents ...*store.Intent) {
	durable := e.durable(intents)
	if len(durable) == 0 {
		return
	}
	if err := e.db.Abort(durable...); err != nil {
		e.log.Warn("cannot abort intents; recovery will", "error", err.Error())
	}
}
