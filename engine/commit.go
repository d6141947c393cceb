package engine

import (
	"strconv"
	"strings"

	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/registry"
	"github.com/ocni/ocni/store"
)

// change is what one operation commits: entities written and deleted, and
// the intents it ends, as one transaction. Before writing, the transaction
// checks again, against the state it commits to, everything the operation
// checked when it began: a request is validated and committed against the
// same state, whatever ran in between.
type change struct {
	// put are the entities to write. Those in created must not exist yet;
	// the others must still be at the revision their Revision field holds.
	put     []*store.Entity
	created map[string]bool
	// collection is, for entities created in a kind's collection, that
	// collection's path.
	collection map[string]string
	// del are the entities to delete, at the revision they hold.
	del []*store.Entity
	// done are the locations whose intents end.
	done []string
	// model is the model version the entities were validated against;
	// under another version they are validated again.
	model uint64
}

// commit writes a change, with the model held so that no category change
// commits in between its checks and its writes.
func (e *Engine) commit(c *change) error {
	return e.reg.Read(func(snap *registry.Snapshot) error {
		return e.db.Write(func(tx *store.Tx) error { return e.applyChange(tx, snap, c) })
	})
}

// applyChange checks and writes a change in tx. It also serves category
// changes, which write the entities they update in their own transaction.
func (e *Engine) applyChange(tx *store.Tx, snap *registry.Snapshot, c *change) error {
	for _, ent := range c.del {
		if err := sameRevision(tx, ent); err != nil {
			return err
		}
		if err := tx.Delete(ent.Location); err != nil {
			return err
		}
	}
	for _, ent := range c.put {
		if c.created[ent.Location] {
			if tx.Exists(ent.Location) {
				return occi.Errorf(occi.AlreadyExists, "%s already exists", ent.Location)
			}
			if loc, taken := tx.LocationOfID(ent.ID); taken && loc != ent.Location {
				return occi.Errorf(occi.AlreadyExists, "the id %q is already used by %s", ent.ID, loc)
			}
		} else if err := sameRevision(tx, ent); err != nil {
			return err
		}
		if snap.Version() != c.model {
			err := validEntity(snap, ent)
			if err == nil && c.created[ent.Location] {
				err = validPlace(snap, ent, c.collection[ent.Location])
			}
			if err != nil {
				return occi.Errorf(occi.Conflict, "the categories changed while %s was being written, and it no longer fits them: %s", ent.Location, err.Error())
			}
		}
		if err := tx.Put(ent); err != nil {
			return err
		}
	}
	for _, loc := range c.done {
		if err := tx.EndIntent(loc); err != nil {
			return err
		}
	}
	return checkIntegrity(tx, snap, c)
}

// sameRevision refuses a write over an entity that changed since it was
// read (or went away).
func sameRevision(tx *store.Tx, ent *store.Entity) error {
	cur, err := tx.Entity(ent.Location)
	if err != nil {
		return occi.Errorf(occi.Conflict, "%s was deleted meanwhile", ent.Location)
	}
	if cur.Revision != ent.Revision {
		return occi.Errorf(occi.Conflict, "%s was changed meanwhile (revision %d, not %d); read it again", ent.Location, cur.Revision, ent.Revision)
	}
	return nil
}

// checkIntegrity verifies, after the change's writes, that every link it
// wrote has both ends, that each link it created joins the kinds its kind
// asks for in the model it commits under, and that nothing links to or
// from what it deleted.
func checkIntegrity(tx *store.Tx, snap *registry.Snapshot, c *change) error {
	for _, ent := range c.put {
		if !ent.IsLink() {
			continue
		}
		shape := *ent
		src, tgt := *ent.Source, *ent.Target
		shape.Source, shape.Target = &src, &tgt
		for _, end := range []*occi.LinkEnd{shape.Source, shape.Target} {
			role := "source"
			if end == shape.Target {
				role = "target"
			}
			if isRemote(end.Location) {
				continue
			}
			res, err := tx.Entity(end.Location)
			if err != nil {
				return occi.Errorf(occi.Conflict, "link %s: its %s %s was deleted meanwhile", ent.Location, role, end.Location)
			}
			if res.IsLink() {
				return occi.Errorf(occi.InvalidArgument, "link %s: its %s %s is a link, not a resource", ent.Location, role, end.Location)
			}
			end.Kind = res.Kind
		}
		// A link's ends cannot change once it exists: only new links are
		// checked, so that links stored before the rule stay writable.
		if c.created[ent.Location] {
			if err := checkLinkShape(snap, &shape); err != nil {
				return occi.Prefix("link "+ent.Location, err)
			}
		}
	}
	for _, ent := range c.del {
		if ent.IsLink() || tx.Exists(ent.Location) {
			continue
		}
		for _, idx := range []store.Index{store.ByTarget, store.BySource} {
			locs, n, err := tx.Locations(idx, ent.Location, 3)
			if err != nil {
				return err
			}
			if n > 0 {
				return occi.Errorf(occi.Conflict, "%s is linked by %d link(s) (%s); delete them first", ent.Location, n, strings.Join(locs, ", "))
			}
		}
	}
	return nil
}

// validEntity checks a stored entity against a model: its kind and mixins
// are registered and fit together, and its attributes meet their
// definitions (the required ones present). Attributes the model does not
// define are tolerated: providers may report more than the model says.
func validEntity(snap *registry.Snapshot, ent *store.Entity) error {
	kind, ok := snap.Kind(ent.Kind)
	if !ok {
		return occi.Errorf(occi.InvalidArgument, "kind %s is not registered", ent.Kind)
	}
	if ent.IsLink() != snap.IsKindOf(ent.Kind, occi.LinkKindID) {
		return occi.Errorf(occi.InvalidArgument, "kind %s is not a %s kind any more", kind.ID(), map[bool]string{true: "link", false: "resource"}[ent.IsLink()])
	}
	if err := checkMixins(snap, ent.Kind, ent.Mixins); err != nil {
		return err
	}
	set := attributeSet(snap, ent.Kind, ent.Mixins)
	for name, def := range set {
		v, ok := ent.Attributes[name]
		switch {
		case !ok && def.Required && def.Default == nil:
			return occi.Errorf(occi.InvalidArgument, "attribute %q is required", name)
		case ok:
			if err := def.Check(v); err != nil {
				return occi.Prefix("attribute "+name, err)
			}
		}
	}
	return nil
}

// validPlace checks a new entity's location against a model: not inside a
// mixin's location or a path the server reserves, not in another kind's
// collection, and, when it was created in its kind's collection, that
// collection is still there.
func validPlace(snap *registry.Snapshot, ent *store.Entity, collection string) error {
	if err := checkPath(snap, ent.Location); err != nil {
		return err
	}
	if k, ok := kindLocationOf(snap, ent.Location); ok && k != ent.Kind {
		return occi.Errorf(occi.Conflict, "%s is in the collection of kind %s, not %s", ent.Location, k, ent.Kind)
	}
	if kind, ok := snap.Kind(ent.Kind); collection != "" && (!ok || kind.Location != collection) {
		return occi.Errorf(occi.Conflict, "kind %s no longer has its collection at %s", ent.Kind, collection)
	}
	return nil
}

// countAndExample phrases how many entities something concerns, with one
// of them.
func countAndExample(n int, example string) string {
	if n == 1 {
		return "1 entity (" + example + ")"
	}
	return strconv.Itoa(n) + " entities (e.g. " + example + ")"
}
