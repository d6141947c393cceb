package store

import (
	"errors"

	bolt "go.etcd.io/bbolt"
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
	return <-c.done
}

var errClosed = errors.New("the data file is closed")

// committer runs the groups until the data file closes.
func (db *DB) committer() {
	defer close(db.stopped)
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
// and the others are committed without it.
func (db *DB) commitGroup(group []writeCall) {
	for len(group) > 0 {
		failed := -1
		var failure error
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			for i, c := range group {
				if err := c.fn(tx); err != nil {
					failed, failure = i, err
					return err
				}
			}
			return nil
		})
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
