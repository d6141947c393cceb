package engine

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ocni/ocni/occi"
)

// locks serialise entity operations in memory. An operation takes, all at
// once or not at all, exclusive locks on what it changes (an entity's
// location, a create's id) and shared locks on what it relies on (a link's
// ends): two operations that touch the same entity run one after the other,
// and a resource cannot be deleted while a link to it is being made. Taking
// every lock at once means an operation never holds one while waiting for
// another, so operations cannot deadlock.
type locks struct {
	mu   sync.Mutex
	held map[string]*lockState
	// changed is closed, and replaced, whenever a lock is released: the
	// waiters try again.
	changed chan struct{}
}

type lockState struct {
	readers int
	writer  bool
	// what and since describe the exclusive holder, for the 409 of a
	// request that gave up waiting.
	what  string
	since time.Time
}

// lockKey is one lock an operation asks for.
type lockKey struct {
	key       string
	exclusive bool
}

func newLocks() *locks {
	return &locks{held: map[string]*lockState{}, changed: make(chan struct{})}
}

func idKey(id string) string { return "\x00id " + id }

// acquire takes every key, waiting up to wait (and no longer than ctx)
// while another operation holds one of them; then it gives up with a
// Conflict that says what holds it. what describes the operation, for
// others' messages.
func (l *locks) acquire(ctx context.Context, keys []lockKey, what string, wait time.Duration) (release func(), err error) {
	keys = mergeKeys(keys)
	deadline := time.Now().Add(wait)
	for {
		l.mu.Lock()
		blocker, blocked := l.blocker(keys)
		if !blocked {
			for _, k := range keys {
				st := l.held[k.key]
				if st == nil {
					st = &lockState{}
					l.held[k.key] = st
				}
				if k.exclusive {
					st.writer, st.what, st.since = true, what, time.Now()
				} else {
					st.readers++
				}
			}
			l.mu.Unlock()
			return func() { l.release(keys) }, nil
		}
		st := l.held[blocker]
		msg := busyMessage(blocker, st)
		changed := l.changed
		l.mu.Unlock()
		left := time.Until(deadline)
		if left <= 0 {
			return nil, occi.Errorf(occi.Conflict, "%s; retry when it is done", msg)
		}
		timer := time.NewTimer(left)
		select {
		case <-changed:
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return nil, occi.Errorf(occi.Conflict, "%s; the request ended while waiting for it", msg)
		}
		timer.Stop()
	}
}

// blocker returns a key that another operation holds in a mode that
// conflicts with the one asked.
func (l *locks) blocker(keys []lockKey) (string, bool) {
	for _, k := range keys {
		st := l.held[k.key]
		if st == nil {
			continue
		}
		if st.writer || (k.exclusive && st.readers > 0) {
			return k.key, true
		}
	}
	return "", false
}

func (l *locks) release(keys []lockKey) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		st := l.held[k.key]
		if st == nil {
			continue
		}
		if k.exclusive {
			st.writer, st.what = false, ""
		} else {
			st.readers--
		}
		if !st.writer && st.readers <= 0 {
			delete(l.held, k.key)
		}
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

func busyMessage(key string, st *lockState) string {
	subject := key
	if id, ok := strings.CutPrefix(key, idKey("")); ok {
		subject = "an entity of id " + id
	}
	if st.writer && st.what != "" {
		return "another operation on " + subject + " (" + st.what + ", since " + st.since.UTC().Format(time.RFC3339) + ") is in progress"
	}
	return "another operation on " + subject + " is in progress"
}

// mergeKeys sorts the keys and merges duplicates, exclusive winning.
func mergeKeys(keys []lockKey) []lockKey {
	out := slices.Clone(keys)
	slices.SortFunc(out, func(a, b lockKey) int { return strings.Compare(a.key, b.key) })
	merged := out[:0]
	for _, k := range out {
		if n := len(merged); n > 0 && merged[n-1].key == k.key {
			merged[n-1].exclusive = merged[n-1].exclusive || k.exclusive
			continue
		}
		merged = append(merged, k)
	}
	return merged
}
