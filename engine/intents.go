package engine

import (
	"context"
	"time"

	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/store"
)

// op is one operation in flight: the locks it holds and the intents it
// wrote. Every path through an operation ends with finish, which releases
// the locks; by then each intent is committed, aborted, or left for the
// reconciler because the VIM's answer was lost.
type op struct {
	e       *Engine
	release func()
	intents []*store.Intent
}

// lockFor takes the locks an operation needs.
func (e *Engine) lockFor(ctx context.Context, keys []lockKey, what string) (*op, error) {
	release, err := e.locks.acquire(ctx, keys, what, e.lockWait)
	if err != nil {
		return nil, err
	}
	return &op{e: e, release: release}, nil
}

func (o *op) finish() { o.release() }

// begin records the operation's intents: it refuses when a location has an
// intent still pending (a VIM call whose outcome is unknown), or when a
// create's location or id is taken; then it writes the intents of durable
// providers, fsync'd, before any VIM is called. The caller holds the locks.
func (o *op) begin(intents ...*store.Intent) error {
	now := time.Now().UTC()
	for _, in := range intents {
		in.Started = now
	}
	durable := o.e.durable(intents)
	check := func(tx *store.Tx) error {
		for _, in := range intents {
			loc := in.Entity.Location
			pending, err := tx.Intent(loc)
			if err != nil {
				return err
			}
			if pending != nil {
				return occi.Errorf(occi.Conflict, "a %s; retry when it is done", pending.Describe())
			}
			if in.Op != store.OpCreate {
				continue
			}
			if tx.Exists(loc) {
				return occi.Errorf(occi.AlreadyExists, "%s already exists", loc)
			}
			if other, taken := tx.LocationOfID(in.Entity.ID); taken {
				return occi.Errorf(occi.AlreadyExists, "the id %q is already used by %s", in.Entity.ID, other)
			}
		}
		for _, in := range durable {
			if err := tx.PutIntent(in); err != nil {
				return err
			}
		}
		return nil
	}
	var err error
	if len(durable) > 0 {
		err = o.e.db.Write(check)
	} else {
		err = o.e.db.View(check)
	}
	if err != nil {
		return err
	}
	o.intents = append(o.intents, intents...)
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

// abort ends intents whose VIM call did not happen or was undone.
func (o *op) abort(intents ...*store.Intent) {
	o.e.abort(intents...)
}

func (e *Engine) abort(intents ...*store.Intent) {
	durable := e.durable(intents)
	if len(durable) == 0 {
		return
	}
	err := e.db.Write(func(tx *store.Tx) error {
		for _, in := range durable {
			if err := tx.EndIntent(in.Entity.Location); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		// The reconciler finds them and asks the VIM.
		e.log.Warn("cannot end intents; the reconciler will", "error", err.Error())
	}
}

// settle ends an intent whose VIM call failed: a definite failure changed
// nothing and is aborted; an uncertain one (the VIM did not answer, or
// answered with an internal error) stays, marked with the failure, for the
// reconciler to resolve.
func (o *op) settle(in *store.Intent, err error) {
	if !uncertain(err) {
		o.abort(in)
		return
	}
	o.e.pending(in, err)
}

// pending leaves the intent of a failed request for the reconciler, saying
// why. A create or an update the client is told failed must not take effect
// later: its intent is marked to be undone, not finished. (An action cannot
// be undone: its outcome is read back; a delete is finished.)
func (e *Engine) pending(in *store.Intent, cause error) {
	if in.Op == store.OpCreate || in.Op == store.OpUpdate {
		in.Undo = true
	}
	e.retryLater(in, cause)
}

// retryLater records a failed try of an intent and when the next one is.
func (e *Engine) retryLater(in *store.Intent, cause error) {
	if len(e.durable([]*store.Intent{in})) == 0 {
		return
	}
	e.log.Warn("VIM outcome unknown; the reconciler resolves it", "op", in.Op, "location", in.Entity.Location, "error", cause.Error())
	in.Attempts++
	in.LastError = cause.Error()
	in.NextTry = time.Now().Add(backoff(in.Attempts)).UTC()
	if err := e.db.Write(func(tx *store.Tx) error { return tx.PutIntent(in) }); err != nil {
		e.log.Warn("cannot mark an intent pending", "location", in.Entity.Location, "error", err.Error())
	}
	e.wakeReconciler()
}

// uncertain reports whether a failed VIM call may have changed the VIM.
func uncertain(err error) bool {
	switch occi.CodeOf(err) {
	case occi.Unavailable, occi.Internal:
		return true
	}
	return false
}

// backoff is how long the reconciler waits before the next try of an
// intent that failed attempts times: doubling from a second, at most five
// minutes.
func backoff(attempts int) time.Duration {
	d := time.Second
	for i := 1; i < attempts && d < 5*time.Minute; i++ {
		d *= 2
	}
	return min(d, 5*time.Minute)
}
