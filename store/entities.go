package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ocni/ocni/occi"
)

// Entity is an entity as stored. Every attribute, the core ones included
// (occi.core.id, occi.core.title, ...), lives in Attributes: one map to
// validate, one to render.
type Entity struct {
	Location   string         `json:"location"`
	ID         string         `json:"id"`
	Kind       string         `json:"kind"`
	Mixins     []string       `json:"mixins,omitempty"`
	Attributes map[string]any `json:"attributes,omitempty"`
	// Source and Target are set for links only.
	Source *occi.LinkEnd `json:"source,omitempty"`
	Target *occi.LinkEnd `json:"target,omitempty"`
	// Provider is the provider that holds the entity on its VIM.
	Provider string `json:"provider"`
	// Revision counts the entity's commits: a write that read revision n
	// commits only over revision n.
	Revision uint64 `json:"rev,omitempty"`
}

// IsLink reports whether the entity is a link.
func (e *Entity) IsLink() bool { return e.Target != nil }

// Clone returns a copy whose maps and slices the caller may change.
func (e *Entity) Clone() *Entity {
	c := *e
	c.Mixins = append([]string(nil), e.Mixins...)
	c.Attributes = make(map[string]any, len(e.Attributes))
	for k, v := range e.Attributes {
		c.Attributes[k] = v
	}
	if e.Source != nil {
		s := *e.Source
		c.Source = &s
	}
	if e.Target != nil {
		t := *e.Target
		c.Target = &t
	}
	return &c
}

// Op names what an intent is doing.
type Op string

// The operations an intent records.
const (
	OpCreate Op = "create"
	OpUpdate Op = "update"
	OpAction Op = "action"
	OpDelete Op = "delete"
)

// Intent is written, and fsync'd, before a backend call that changes a VIM,
// and removed in the transaction that commits the call's result (or when the
// call certainly changed nothing). An intent that stays is a call whose
// outcome is unknown: the engine's reconciler resolves it with the backend,
// and until then the location is busy.
type Intent struct {
	Op      Op        `json:"op"`
	Entity  *Entity   `json:"entity"`           // as it will be (create, update) or is (action, delete)
	Before  *Entity   `json:"before,omitempty"` // update: as it was
	Action  string    `json:"action,omitempty"` // action id
	Params  any       `json:"params,omitempty"` // action parameters
	Started time.Time `json:"started"`
	// Undo says that the request failed and was answered so: the
	// reconciler removes whatever the call made instead of adopting it.
	Undo bool `json:"undo,omitempty"`
	// Attempts counts the reconciler's tries, LastError says why the last
	// one failed, and NextTry is when it tries again.
	Attempts  int       `json:"attempts,omitempty"`
	LastError string    `json:"last_error,omitempty"`
	NextTry   time.Time `json:"next_try,omitzero"`
}

// Describe says what the intent is doing, for messages.
func (in *Intent) Describe() string {
	what := string(in.Op)
	if in.Op == OpAction && in.Action != "" {
		what = "action " + in.Action
	}
	if in.Undo {
		what += " (being undone)"
	}
	s := what + " of " + in.Entity.Location + " started at " + in.Started.UTC().Format(time.RFC3339)
	if in.LastError != "" {
		s += " is pending on the VIM (" + in.LastError + "); it is retried"
		if !in.NextTry.IsZero() {
			s += " at " + in.NextTry.UTC().Format(time.RFC3339)
		}
	} else {
		s += " is in progress"
	}
	return s
}

// Index selects the entities a listing walks.
type Index int

// The indexes a listing can walk.
const (
	ByPrefix Index = iota // locations starting with Value
	ByKind                // entities of kind Value
	ByMixin               // entities associated with mixin Value
	BySource              // links whose source is Value
	ByTarget              // links whose target is Value
	// ByAttribute: entities whose attribute has a value; Value is
	// AttributeValue(name, text), for a name IndexedAttribute holds.
	ByAttribute
)

var indexBuckets = map[Index][]byte{ByKind: bucketByKind, ByMixin: bucketByMixin, BySource: bucketBySource, ByTarget: bucketByTarget, ByAttribute: bucketByAttr}

func indexKey(value, location string) []byte {
	k := make([]byte, 0, len(value)+1+len(location))
	k = append(k, value...)
	k = append(k, 0)
	return append(k, location...)
}

// Tx is a transaction on the data file: what one write function (or one
// read) sees and changes.
type Tx struct {
	tx       *bolt.Tx
	db       *DB // counts the records read; nil for internal uses
	writable bool
}

func (t *Tx) read() {
	if t.db != nil {
		t.db.reads.Add(1)
	}
}

// Entity returns the entity at a location (a NotFound error if none).
func (t *Tx) Entity(loc string) (*Entity, error) {
	raw := t.tx.Bucket(bucketEntities).Get([]byte(loc))
	if raw == nil {
		return nil, occi.Errorf(occi.NotFound, "nothing is at %s", loc)
	}
	t.read()
	e, err := t.cache().decode(loc, raw)
	if err != nil {
		return nil, occi.Errorf(occi.Internal, "entity %s: damaged record: %w", loc, err)
	}
	return e, nil
}

// cache returns the data file's entity cache (nil, no caching, for
// transactions made without their DB).
func (t *Tx) cache() *entityCache {
	if t.db == nil {
		return nil
	}
	return t.db.entities
}

// Exists reports whether an entity is at a location.
func (t *Tx) Exists(loc string) bool { return t.tx.Bucket(bucketEntities).Get([]byte(loc)) != nil }

// LocationOfID returns the location of the entity (or in-flight create)
// with the given id.
func (t *Tx) LocationOfID(id string) (string, bool) {
	loc := t.tx.Bucket(bucketByID).Get([]byte(id))
	return string(loc), loc != nil
}

// Put writes an entity and its index entries, replacing what was at its
// location. It is stored with a revision one more than the stored one's
// (e itself is not changed: a write function may run twice).
func (t *Tx) Put(e *Entity) error {
	var rev uint64
	if old, err := t.Entity(e.Location); err == nil {
		rev = old.Revision
		if err := t.Delete(e.Location); err != nil {
			return err
		}
	}
	stored := *e
	stored.Revision = rev + 1
	raw, err := json.Marshal(&stored)
	if err != nil {
		return err
	}
	loc := e.Location
	if err := t.tx.Bucket(bucketEntities).Put([]byte(loc), raw); err != nil {
		return err
	}
	if err := t.tx.Bucket(bucketByID).Put([]byte(e.ID), []byte(loc)); err != nil {
		return err
	}
	for _, k := range indexEntries(e, t.extraIndexed()) {
		if err := t.tx.Bucket(k.bucket).Put(k.key, nil); err != nil {
			return err
		}
	}
	return nil
}

type indexEntry struct{ bucket, key []byte }

// indexEntries are an entity's index entries but its id's; extra are the
// attributes indexed besides occi.core.*.
func indexEntries(e *Entity, extra []string) []indexEntry {
	loc := e.Location
	out := []indexEntry{{bucketByKind, indexKey(e.Kind, loc)}}
	out = append(out, attrEntries(loc, e.Attributes, extra)...)
	for _, m := range e.Mixins {
		out = append(out, indexEntry{bucketByMixin, indexKey(m, loc)})
	}
	if e.Source != nil {
		out = append(out, indexEntry{bucketBySource, indexKey(e.Source.Location, loc)})
	}
	if e.Target != nil {
		out = append(out, indexEntry{bucketByTarget, indexKey(e.Target.Location, loc)})
	}
	return out
}

// Delete removes an entity and its index entries; a missing entity is not
// an error.
func (t *Tx) Delete(loc string) error {
	e, err := t.Entity(loc)
	if occi.CodeOf(err) == occi.NotFound {
		return nil
	}
	if err != nil {
		return err
	}
	if err := t.tx.Bucket(bucketEntities).Delete([]byte(loc)); err != nil {
		return err
	}
	for _, k := range indexEntries(e, t.extraIndexed()) {
		if err := t.tx.Bucket(k.bucket).Delete(k.key); err != nil {
			return err
		}
	}
	// An intent still at the location (a delete whose VIM call is
	// pending) keeps the id: no other entity may take it until then.
	ids := t.tx.Bucket(bucketByID)
	if bytes.Equal(ids.Get([]byte(e.ID)), []byte(loc)) && t.tx.Bucket(bucketIntents).Get([]byte(loc)) == nil {
		return ids.Delete([]byte(e.ID))
	}
	return nil
}

// Intent returns the intent recorded for a location, if any.
func (t *Tx) Intent(loc string) (*Intent, error) {
	raw := t.tx.Bucket(bucketIntents).Get([]byte(loc))
	if raw == nil {
		return nil, nil
	}
	in := new(Intent)
	if err := json.Unmarshal(raw, in); err != nil {
		return nil, fmt.Errorf("intent %s: damaged record: %w", loc, err)
	}
	return in, nil
}

// PutIntent records (or rewrites) an intent. An intent reserves its
// entity's id until it ends: two creates cannot pick the same one, and a
// pending delete's VIM call can never reach an object made since for
// another entity of that id.
func (t *Tx) PutIntent(in *Intent) error {
	loc := in.Entity.Location
	if err := t.tx.Bucket(bucketByID).Put([]byte(in.Entity.ID), []byte(loc)); err != nil {
		return err
	}
	raw, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return t.tx.Bucket(bucketIntents).Put([]byte(loc), raw)
}

// EndIntent removes the intent of a location. An id reserved for a location
// that holds no entity is released.
func (t *Tx) EndIntent(loc string) error {
	in, err := t.Intent(loc)
	if err != nil || in == nil {
		return err
	}
	if err := t.tx.Bucket(bucketIntents).Delete([]byte(loc)); err != nil {
		return err
	}
	ids := t.tx.Bucket(bucketByID)
	if !t.Exists(loc) && bytes.Equal(ids.Get([]byte(in.Entity.ID)), []byte(loc)) {
		return ids.Delete([]byte(in.Entity.ID))
	}
	return nil
}

// Intents returns every intent, by location.
func (t *Tx) Intents() (map[string]*Intent, error) {
	out := map[string]*Intent{}
	err := t.tx.Bucket(bucketIntents).ForEach(func(k, v []byte) error {
		in := new(Intent)
		if err := json.Unmarshal(v, in); err != nil {
			return fmt.Errorf("intent %s: damaged record: %w", k, err)
		}
		out[string(k)] = in
		return nil
	})
	return out, err
}

// Scan visits, in location order, the entities of an index whose location
// sorts after `after` ("" for the start: a cursor is one seek, however deep
// the page), skipping the first skip of them without reading them, until fn
// returns false.
func (t *Tx) Scan(idx Index, value, after string, skip int, fn func(*Entity) bool) error {
	if idx == ByPrefix {
		c := t.tx.Bucket(bucketEntities).Cursor()
		start := value
		if after > start {
			start = after
		}
		for k, v := c.Seek([]byte(start)); k != nil && bytes.HasPrefix(k, []byte(value)); k, v = c.Next() {
			if string(k) == after {
				continue
			}
			if skip > 0 {
				skip--
				continue
			}
			t.read()
			e, err := t.cache().decode(string(k), v)
			if err != nil {
				return occi.Errorf(occi.Internal, "entity %s: damaged record: %w", k, err)
			}
			if !fn(e) {
				return nil
			}
		}
		return nil
	}
	return t.scanIndex(idx, value, after, skip, func(loc string) (bool, error) {
		e, err := t.Entity(loc)
		if err != nil {
			return false, err
		}
		return fn(e), nil
	})
}

// Locations returns the locations an index holds for a value (links from
// or to a resource, members of a mixin, entities of a kind), at most max of
// them (0 for all), and how many there are in all.
func (t *Tx) Locations(idx Index, value string, max int) (locs []string, total int, err error) {
	err = t.scanIndex(idx, value, "", 0, func(loc string) (bool, error) {
		total++
		if max == 0 || len(locs) < max {
			locs = append(locs, loc)
		}
		return true, nil
	})
	return locs, total, err
}

// ScanLocations visits, in location order, the locations an index holds
// for a value after `after`, without reading the entities, until fn
// returns false.
func (t *Tx) ScanLocations(idx Index, value, after string, fn func(loc string) bool) error {
	return t.scanIndex(idx, value, after, 0, func(loc string) (bool, error) { return fn(loc), nil })
}

func (t *Tx) scanIndex(idx Index, value, after string, skip int, fn func(loc string) (bool, error)) error {
	bucket := indexBuckets[idx]
	if bucket == nil {
		return occi.Errorf(occi.Internal, "no index %d", idx)
	}
	prefix := indexKey(value, "")
	start := prefix
	if after != "" {
		start = indexKey(value, after)
	}
	c := t.tx.Bucket(bucket).Cursor()
	for k, _ := c.Seek(start); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		loc := string(k[len(prefix):])
		if after != "" && loc == after {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		more, err := fn(loc)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// ModelRevision returns the revision of the category model: it starts at 1
// and every category change bumps it, across restarts.
func (t *Tx) ModelRevision() (uint64, error) {
	raw := t.tx.Bucket(bucketMeta).Get(keyModelRevision)
	if raw == nil {
		return 1, nil
	}
	v, err := strconv.ParseUint(string(raw), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("model revision %q is not a number: the file is damaged", raw)
	}
	return v, nil
}

// SetModelRevision records the model's revision.
func (t *Tx) SetModelRevision(v uint64) error {
	return t.tx.Bucket(bucketMeta).Put(keyModelRevision, []byte(strconv.FormatUint(v, 10)))
}

// PutCategory writes a runtime category's record.
func (t *Tx) PutCategory(id string, rec CategoryRecord) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return t.tx.Bucket(bucketCategories).Put([]byte(id), raw)
}

// DeleteCategory removes a runtime category's record.
func (t *Tx) DeleteCategory(id string) error { return t.tx.Bucket(bucketCategories).Delete([]byte(id)) }

// PutBinding binds a kind to a provider.
func (t *Tx) PutBinding(kind, provider string) error {
	return t.tx.Bucket(bucketBindings).Put([]byte(kind), []byte(provider))
}

// DeleteBinding removes a kind's stored binding.
func (t *Tx) DeleteBinding(kind string) error {
	return t.tx.Bucket(bucketBindings).Delete([]byte(kind))
}

// Entity returns the entity at a location.
func (db *DB) Entity(loc string) (*Entity, error) {
	var e *Entity
	err := db.View(func(t *Tx) error {
		var err error
		e, err = t.Entity(loc)
		return err
	})
	return e, err
}

// Scan is Tx.Scan in a read transaction of its own.
func (db *DB) Scan(idx Index, value, after string, skip int, fn func(*Entity) bool) error {
	return db.View(func(t *Tx) error { return t.Scan(idx, value, after, skip, fn) })
}

// LinksFrom returns the links whose source is each of the locations, read
// in one transaction: a page of resources renders from one consistent view.
func (db *DB) LinksFrom(locs []string) (map[string][]*Entity, error) {
	out := make(map[string][]*Entity, len(locs))
	err := db.View(func(t *Tx) error {
		for _, loc := range locs {
			if err := t.Scan(BySource, loc, "", 0, func(l *Entity) bool {
				out[loc] = append(out[loc], l)
				return true
			}); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// Intents returns every intent the store holds, by location.
func (db *DB) Intents() (map[string]*Intent, error) {
	var out map[string]*Intent
	err := db.View(func(t *Tx) error {
		var err error
		out, err = t.Intents()
		return err
	})
	return out, err
}

// LocationOfID returns the location of the entity (or in-flight create)
// with the given id.
func (db *DB) LocationOfID(id string) (string, bool, error) {
	var loc string
	var ok bool
	err := db.View(func(t *Tx) error {
		loc, ok = t.LocationOfID(id)
		return nil
	})
	return loc, ok, err
}

// ChildPrefixes returns the distinct next path segments below prefix, for
// listing an unbound path: "/a/" with entities /a/x and /a/b/y gives the
// entity /a/x and the folder /a/b/.
func ChildPrefixes(prefix string, locations []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, loc := range locations {
		rest := strings.TrimPrefix(loc, prefix)
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			rest = rest[:i+1]
		}
		if !seen[rest] {
			seen[rest] = true
			out = append(out, prefix+rest)
		}
	}
	return out
}
