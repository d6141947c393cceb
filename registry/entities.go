package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
// and removed in the transaction that commits the call's result. An intent
// found at start-up is a call whose outcome the store never saw; the engine
// resolves it with the backend. It also serialises operations on one
// location: a second one finds the intent and is refused.
type Intent struct {
	Op      Op        `json:"op"`
	Entity  *Entity   `json:"entity"`           // as it will be (create, update) or is (action, delete)
	Before  *Entity   `json:"before,omitempty"` // update: as it was
	Action  string    `json:"action,omitempty"` // action id
	Params  any       `json:"params,omitempty"` // action parameters
	Started time.Time `json:"started"`
}

func indexKey(value, location string) []byte {
	k := make([]byte, 0, len(value)+1+len(location))
	k = append(k, value...)
	k = append(k, 0)
	return append(k, location...)
}

// BeginIntent records intents for the locations, refusing if any of them
// has one already, or if a create's location or id is taken. For a create,
// it reserves the id so that two creates cannot pick the same one.
func (db *DB) BeginIntent(intents ...*Intent) error {
	err := db.write(func(tx *bolt.Tx) error {
		ib, ents, ids := tx.Bucket(bucketIntents), tx.Bucket(bucketEntities), tx.Bucket(bucketByID)
		for _, in := range intents {
			loc := in.Entity.Location
			if ib.Get([]byte(loc)) != nil {
				return occi.Errorf(occi.Conflict, "another operation on %s is in progress; retry when it is done", loc)
			}
			if in.Op == OpCreate {
				if ents.Get([]byte(loc)) != nil {
					return occi.Errorf(occi.AlreadyExists, "%s already exists", loc)
				}
				if other := ids.Get([]byte(in.Entity.ID)); other != nil {
					return occi.Errorf(occi.AlreadyExists, "the id %q is already used by %s", in.Entity.ID, other)
				}
				if err := ids.Put([]byte(in.Entity.ID), []byte(loc)); err != nil {
					return err
				}
			}
			raw, err := json.Marshal(in)
			if err != nil {
				return err
			}
			if err := ib.Put([]byte(loc), raw); err != nil {
				return err
			}
		}
		return nil
	})
	return storeErr(err)
}

// Commit writes entities (with their indexes), deletes others, and removes
// the intents of done, all in one transaction. Concurrent commits are
// batched into one fsync.
func (db *DB) Commit(put, del []*Entity, done []string) error {
	err := db.write(func(tx *bolt.Tx) error {
		for _, e := range del {
			if err := deleteEntity(tx, e.Location); err != nil {
				return err
			}
		}
		for _, e := range put {
			if err := deleteEntity(tx, e.Location); err != nil {
				return err
			}
			if err := putEntity(tx, e); err != nil {
				return err
			}
		}
		ib := tx.Bucket(bucketIntents)
		for _, loc := range done {
			if err := ib.Delete([]byte(loc)); err != nil {
				return err
			}
		}
		return nil
	})
	return storeErr(err)
}

// Abort removes intents whose backend call did not happen or was undone,
// releasing the ids that creates had reserved.
func (db *DB) Abort(intents ...*Intent) error {
	err := db.write(func(tx *bolt.Tx) error {
		ib, ents, ids := tx.Bucket(bucketIntents), tx.Bucket(bucketEntities), tx.Bucket(bucketByID)
		for _, in := range intents {
			loc := in.Entity.Location
			if err := ib.Delete([]byte(loc)); err != nil {
				return err
			}
			if in.Op == OpCreate && ents.Get([]byte(loc)) == nil && bytes.Equal(ids.Get([]byte(in.Entity.ID)), []byte(loc)) {
				if err := ids.Delete([]byte(in.Entity.ID)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return storeErr(err)
}

func putEntity(tx *bolt.Tx, e *Entity) error {
	raw, err := json.Marshal(e)
	if err != nil {
		return err
	}
	loc := e.Location
	if err := tx.Bucket(bucketEntities).Put([]byte(loc), raw); err != nil {
		return err
	}
	if err := tx.Bucket(bucketByID).Put([]byte(e.ID), []byte(loc)); err != nil {
		return err
	}
	if err := tx.Bucket(bucketByKind).Put(indexKey(e.Kind, loc), nil); err != nil {
		return err
	}
	for _, m := range e.Mixins {
		if err := tx.Bucket(bucketByMixin).Put(indexKey(m, loc), nil); err != nil {
			return err
		}
	}
	if e.Source != nil {
		if err := tx.Bucket(bucketBySource).Put(indexKey(e.Source.Location, loc), nil); err != nil {
			return err
		}
	}
	if e.Target != nil {
		if err := tx.Bucket(bucketByTarget).Put(indexKey(e.Target.Location, loc), nil); err != nil {
			return err
		}
	}
	return nil
}

// deleteEntity removes an entity and its index entries; a missing entity
// is not an error.
func deleteEntity(tx *bolt.Tx, loc string) error {
	ents := tx.Bucket(bucketEntities)
	raw := ents.Get([]byte(loc))
	if raw == nil {
		return nil
	}
	var e Entity
	if err := json.Unmarshal(raw, &e); err != nil {
		return fmt.Errorf("entity %s: damaged record: %w", loc, err)
	}
	keys := []struct {
		bucket []byte
		key    []byte
	}{{bucketEntities, []byte(loc)}, {bucketByKind, indexKey(e.Kind, loc)}}
	for _, m := range e.Mixins {
		keys = append(keys, struct{ bucket, key []byte }{bucketByMixin, indexKey(m, loc)})
	}
	if e.Source != nil {
		keys = append(keys, struct{ bucket, key []byte }{bucketBySource, indexKey(e.Source.Location, loc)})
	}
	if e.Target != nil {
		keys = append(keys, struct{ bucket, key []byte }{bucketByTarget, indexKey(e.Target.Location, loc)})
	}
	for _, k := range keys {
		if err := tx.Bucket(k.bucket).Delete(k.key); err != nil {
			return err
		}
	}
	ids := tx.Bucket(bucketByID)
	if bytes.Equal(ids.Get([]byte(e.ID)), []byte(loc)) {
		return ids.Delete([]byte(e.ID))
	}
	return nil
}

func storeErr(err error) error {
	if err == nil {
		return nil
	}
	var oe *occi.Error
	if errors.As(err, &oe) {
		return err
	}
	return occi.Errorf(occi.Unavailable, "the data file cannot be written: %w", err)
}

// Entity returns the entity at a location.
func (db *DB) Entity(loc string) (*Entity, error) {
	var e *Entity
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		e, err = getEntity(tx, loc)
		return err
	})
	return e, err
}

func getEntity(tx *bolt.Tx, loc string) (*Entity, error) {
	raw := tx.Bucket(bucketEntities).Get([]byte(loc))
	if raw == nil {
		return nil, occi.Errorf(occi.NotFound, "nothing is at %s", loc)
	}
	e := new(Entity)
	if err := json.Unmarshal(raw, e); err != nil {
		return nil, occi.Errorf(occi.Internal, "entity %s: damaged record: %w", loc, err)
	}
	return e, nil
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
)

// Scan visits, in location order, the entities of an index whose location
// sorts after `after` ("" for the start: a cursor is one seek, however deep
// the page), skipping the first skip of them without reading them, until fn
// returns false.
func (db *DB) Scan(idx Index, value, after string, skip int, fn func(*Entity) bool) error {
	return db.bolt.View(func(tx *bolt.Tx) error {
		if idx == ByPrefix {
			c := tx.Bucket(bucketEntities).Cursor()
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
				e := new(Entity)
				if err := json.Unmarshal(v, e); err != nil {
					return occi.Errorf(occi.Internal, "entity %s: damaged record: %w", k, err)
				}
				if !fn(e) {
					return nil
				}
			}
			return nil
		}
		bucket := map[Index][]byte{ByKind: bucketByKind, ByMixin: bucketByMixin, BySource: bucketBySource, ByTarget: bucketByTarget}[idx]
		prefix := indexKey(value, "")
		start := prefix
		if after != "" {
			start = indexKey(value, after)
		}
		c := tx.Bucket(bucket).Cursor()
		for k, _ := c.Seek(start); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if after != "" && string(k[len(prefix):]) == after {
				continue
			}
			if skip > 0 {
				skip--
				continue
			}
			e, err := getEntity(tx, string(k[len(prefix):]))
			if err != nil {
				return err
			}
			if !fn(e) {
				return nil
			}
		}
		return nil
	})
}

// LinksFrom returns the links whose source is each of the locations, read
// in one transaction: a page of resources renders from one consistent view.
func (db *DB) LinksFrom(locs []string) (map[string][]*Entity, error) {
	out := make(map[string][]*Entity, len(locs))
	err := db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketBySource).Cursor()
		for _, loc := range locs {
			prefix := indexKey(loc, "")
			for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
				l, err := getEntity(tx, string(k[len(prefix):]))
				if err != nil {
					return err
				}
				out[loc] = append(out[loc], l)
			}
		}
		return nil
	})
	return out, err
}

// CountKinds returns, for the first of ids that entities use as kind or
// mixin, how many use it; "" and 0 when none does.
func (db *DB) CountKinds(ids []string) (string, int, error) {
	var id string
	var n int
	err := db.bolt.View(func(tx *bolt.Tx) error {
		for _, candidate := range ids {
			for _, b := range [][]byte{bucketByKind, bucketByMixin} {
				prefix := indexKey(candidate, "")
				c := tx.Bucket(b).Cursor()
				for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
					n++
				}
				if n > 0 {
					id = candidate
					return nil
				}
			}
		}
		return nil
	})
	return id, n, err
}

// Intents returns every intent the store holds, by location.
func (db *DB) Intents() (map[string]*Intent, error) {
	out := map[string]*Intent{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketIntents).ForEach(func(k, v []byte) error {
			in := new(Intent)
			if err := json.Unmarshal(v, in); err != nil {
				return fmt.Errorf("intent %s: damaged record: %w", k, err)
			}
			out[string(k)] = in
			return nil
		})
	})
	return out, err
}

// LocationOfID returns the location of the entity (or in-flight create)
// with the given id.
func (db *DB) LocationOfID(id string) (string, bool, error) {
	var loc string
	err := db.bolt.View(func(tx *bolt.Tx) error {
		loc = string(tx.Bucket(bucketByID).Get([]byte(id)))
		return nil
	})
	return loc, loc != "", err
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
