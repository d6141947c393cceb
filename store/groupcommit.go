package store

import (
	"errors"
	"fmt"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"

	"github.com/ocni/ocni/occi"
)

// A group commit: writers queue their transaction functions, and one
// goroutine runs everything queued in one bbolt transaction, so one fsync
// acknowledges them all. While it commits, the next group gathers: the
// group grows with the load by itself, with no timer to wait on. (bbolt's
// own Batch waits a fixed delay, then queues its batches one behind the
// other on the writer lock, which under load makes many small commits.)

const maxGroup = 1000

type writeCall struct {
	fn   func(*bolt.Tx) error
	done chan error
}

// write runs fn in a write transaction shared with the other writers of
// the moment. fn may run more than once (when another fn of its group
// fails, the group runs again without it), so it must be idempotent.
func (db *DB) write(fn func(*bolt.Tx) error) error {
	// Nothing more is written on a file seen damaged.
	if err := db.damageErr(); err != nil {
		return err
	}
	c := writeCall{fn: fn, done: make(chan error, 1)}
	// Queued under the read side of closing: Close takes the write side
	// before it drains the queue, so every queued write is either
	// committed or failed, never left waiting.
	db.closing.RLock()
	if db.isClosed {
		db.closing.RUnlock()
		return errClosed
	}
	db.queue <- c
	db.closing.RUnlock()
	err := <-c.done
	if wp, ok := err.(*writePanic); ok { //nolint:errorlint // sent as it is by runGroup
		panic(wp)
	}
	return err
}

var errClosed = errors.New("the data file is closed")

// writePanic is a write function's own panic, raised again in the
// goroutine that queued the function, as if it had run it itself: a bug in
// one write function must neither kill the committer nor fail the others.
type writePanic struct {
	value any
	stack []byte // the committer's, where the function panicked
}

func (p *writePanic) Error() string {
	return fmt.Sprintf("store: write function panicked: %v\n\ncommitter stack:\n%s", p.value, p.stack)
}

// committer runs the groups until the data file closes.
func (db *DB) committer() {
	defer close(db.stopped)
	// A damaged page can make bbolt read past the end of the file: a fault,
	// which kills the process unless it is turned into a panic that
	// runGroup recovers.
	debug.SetPanicOnFault(true)
	for {
		var group []writeCall
		select {
		case c := <-db.queue:
			group = append(group, c)
		case <-db.closed:
			return
		}
	gather:
		for len(group) < maxGroup {
			select {
			case c := <-db.queue:
				group = append(group, c)
			default:
				break gather
			}
		}
		db.commitGroup(group)
	}
}

// commitGroup commits a group; a fn that fails is answered with its error
// and the others are committed without it. A panic in bbolt fails the
// whole group and marks the file damaged: no group is committed after it.
func (db *DB) commitGroup(group []writeCall) {
	for len(group) > 0 {
		if err := db.damageErr(); err != nil {
			for _, c := range group {
				c.done <- err
			}
			return
		}
		failed, failure, err := db.runGroup(group)
		if failed >= 0 {
			group[failed].done <- failure
			group = append(group[:failed], group[failed+1:]...)
			continue
		}
		for _, c := range group {
			c.done <- err
		}
		return
	}
}

// runGroup runs a group in one transaction. failed is the index of the fn
// that failed or panicked (-1 if none) and failure what it gets; err is
// the outcome for the others.
//
// It is bbolt's Update written out, but for one thing: on a panic it rolls
// back with Tx.Rollback. Update's own rollback on a panic rebuilds the
// free list by walking the whole file (with NoFreelistSync), in a
// goroutine no recover protects: on the damaged page that caused the
// panic, that walk would take the process down.
func (db *DB) runGroup(group []writeCall) (failed int, failure, err error) {
	failed = -1
	tx, err := db.bolt.Begin(true)
	if err != nil {
		return -1, nil, err
	}
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		site := panicSite()
		rollback(tx)
		switch {
		case fromFile(p, site):
			failed, err = -1, db.markDamaged(fmt.Errorf("bbolt failed during a write: %v", p))
		case failed >= 0:
			failure = &writePanic{value: p, stack: debug.Stack()}
		default:
			err = occi.Errorf(occi.Internal, "the commit panicked in %s: %v", site, p)
		}
	}()
	for i, c := range group {
		failed = i
		if err := c.fn(tx); err != nil {
			_ = tx.Rollback()
			return i, err, nil
		}
	}
	failed = -1
	return -1, nil, tx.Commit()
}

// rollback ends a transaction that panicked; on a damaged file the
// rollback may panic too, which must not take the committer down.
func rollback(tx *bolt.Tx) {
	defer func() { _ = recover() }()
	_ = tx.Rollback()
}
