package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/store"
)

// Change is one category management request. It is applied whole or not at
// all.
type Change struct {
	Add     occi.Categories // new categories; their ids must be free
	Replace occi.Categories // runtime categories to redefine
	Remove  []string        // ids of runtime categories to remove
	Bind    []occi.Binding  // kind → provider bindings to set

	// Origin says who asks. The zero value is a client, held to the
	// reservations (see policy.go).
	Origin Origin
	// Provider names the provider whose templates a FromProvider change
	// declares. Its added and replaced categories, and those of Claim
	// (already registered as they are), become that provider's: clients
	// can then neither remove nor redefine them, nor register in their
	// schemes.
	Provider string
	Claim    []string
}

// Origin is who asks for a change.
type Origin int

// The origins of a change.
const (
	// FromClient is a request on the query interface.
	FromClient Origin = iota
	// FromProvider is a provider's templates, registered at start.
	FromProvider
	// fromStore is the data file's categories, loaded at start: they
	// were accepted once and are loaded under the rules of their time,
	// so that nothing a client stored can stop a start.
	fromStore
)

// writes reports whether applying the change writes anything: a change
// that only claims templates marks them in memory.
func (ch *Change) writes() bool {
	return ch.Add.Len()+ch.Replace.Len()+len(ch.Remove)+len(ch.Bind) > 0
}

// Options configure a Registry.
type Options struct {
	// Providers are the provider names bindings may name.
	Providers []string
	// Defaults are the bindings in force for kinds the data file binds to
	// nothing (the config file's bindings).
	Defaults map[string]string
	// Logger receives warnings about the data file; slog.Default if nil.
	Logger *slog.Logger
}

// Registry is the category registry.
type Registry struct {
	db   *store.DB
	opts Options
	// stored is the data file's own bindings, without defaults.
	stored map[string]string

	// mu orders model changes against the writes that depend on the
	// model: a change holds it exclusively from validation to publication,
	// a write that checks entities against the model holds it shared (Read).
	mu   sync.RWMutex
	snap atomic.Pointer[Snapshot]
}

// New loads the registry from db: the built-ins, then the runtime categories
// and bindings the file holds, validated as when they were registered.
func New(db *store.DB, opts Options) (*Registry, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	r := &Registry{db: db, opts: opts}
	cats, bindings, revision, err := db.Categories()
	if err != nil {
		return nil, fmt.Errorf("load registry from %s: %w", db.Path(), err)
	}
	base := &Snapshot{
		kinds:    map[string]*occi.Kind{},
		mixins:   map[string]*occi.Mixin{},
		actions:  map[string]*occi.Action{},
		builtin:  map[string]bool{},
		bindings: map[string]string{},
	}
	b := occi.Builtins()
	for _, k := range b.Kinds {
		base.kinds[k.ID()], base.builtin[k.ID()] = k, true
	}
	for _, m := range b.Mixins {
		base.mixins[m.ID()], base.builtin[m.ID()] = m, true
	}
	for _, a := range b.Actions {
		base.actions[a.ID()], base.builtin[a.ID()] = a, true
	}
	var runtime occi.Categories
	for id, rec := range cats {
		if err := decodeRecord(rec, &runtime); err != nil {
			return nil, fmt.Errorf("data file %s: category %q: %w", db.Path(), id, err)
		}
	}
	r.dropStalePatterns(&runtime)
	r.stored = bindings
	defaults := opts.Defaults
	if defaults == nil {
		defaults = map[string]string{}
	}
	next, err := r.build(base, &Change{Add: runtime, Origin: fromStore}, defaults)
	if err != nil {
		return nil, fmt.Errorf("data file %s: stored categories are inconsistent: %w", db.Path(), err)
	}
	next.version = revision
	r.snap.Store(next)
	return r, nil
}

// dropStalePatterns leaves out, with a warning, the stored patterns that
// no longer compile: one that refers outside itself (which older versions
// followed, fetching URLs and reading files at every start) is not loaded,
// and a start must not depend on what a client once stored. The record
// stays as it is; the category loads without that pattern until it is
// redefined.
func (r *Registry) dropStalePatterns(cs *occi.Categories) {
	check := func(id string, as occi.Attributes) {
		for _, name := range as.Names() {
			def := as[name]
			if def == nil {
				continue
			}
			if err := occi.CheckPattern(def.Pattern); err != nil {
				r.opts.Logger.Warn("stored pattern not loaded; the attribute is checked without it until the category is redefined",
					"category", id, "attribute", name, "reason", err.Error())
				def.Pattern = nil
			}
		}
	}
	for _, k := range cs.Kinds {
		check(k.ID(), k.Attributes)
	}
	for _, m := range cs.Mixins {
		check(m.ID(), m.Attributes)
	}
	for _, a := range cs.Actions {
		check(a.ID(), a.Attributes)
	}
}

func decodeRecord(rec store.CategoryRecord, into *occi.Categories) error {
	var err error
	switch Class(rec.Class) {
	case ClassKind:
		k := new(occi.Kind)
		if err = json.Unmarshal(rec.Define, k); err == nil {
			into.Kinds = append(into.Kinds, k)
		}
	case ClassMixin:
		m := new(occi.Mixin)
		if err = json.Unmarshal(rec.Define, m); err == nil {
			into.Mixins = append(into.Mixins, m)
		}
	case ClassAction:
		a := new(occi.Action)
		if err = json.Unmarshal(rec.Define, a); err == nil {
			into.Actions = append(into.Actions, a)
		}
	default:
		err = fmt.Errorf("unknown class %q", rec.Class)
	}
	return err
}

// Snapshot returns the current state. It never blocks.
func (r *Registry) Snapshot() *Snapshot { return r.snap.Load() }

// Providers returns the provider names bindings may name.
func (r *Registry) Providers() []string { return slices.Clone(r.opts.Providers) }

// Check validates a change against the current state and returns the state
// it would produce, without applying it.
func (r *Registry) Check(ch *Change) (*Snapshot, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.build(r.snap.Load(), ch, nil)
}

// Read runs fn with the current model held: no model change is committed
// until fn returns, so a write that fn commits is checked against the model
// it commits under.
func (r *Registry) Read(fn func(*Snapshot) error) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return fn(r.snap.Load())
}

// Apply validates a change against the state it would produce, commits it to
// the data file and publishes it. On any error nothing changes.
func (r *Registry) Apply(ctx context.Context, ch *Change) error {
	_, err := r.Change(ctx, ch, nil)
	return err
}

// Change applies a change as Apply does; inTx, when set, runs in the same
// transaction with the state the change starts from and the one it
// produces, and may refuse it (for entities the change would invalidate) or
// write with it (the entities the change updates). It returns the published
// state.
func (r *Registry) Change(ctx context.Context, ch *Change, inTx func(tx *store.Tx, cur, next *Snapshot) error) (*Snapshot, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, occi.Errorf(occi.Unavailable, "request cancelled: %w", err)
	}
	cur := r.snap.Load()
	next, err := r.build(cur, ch, nil)
	if err != nil {
		return nil, err
	}
	if !ch.writes() && inTx == nil {
		// Claims only: the model is the same, at the same version.
		next.version = cur.version
		r.snap.Store(next)
		return next, nil
	}
	c, err := r.diff(ch)
	if err != nil {
		return nil, err
	}
	err = r.db.Write(func(tx *store.Tx) error {
		rev, err := tx.ModelRevision()
		if err != nil {
			return err
		}
		next.version = rev + 1
		if err := c.write(tx, next.version); err != nil {
			return err
		}
		if inTx != nil {
			return inTx(tx, cur, next)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, id := range c.delBindings {
		delete(r.stored, id)
	}
	for id, p := range c.putBindings {
		r.stored[id] = p
	}
	r.snap.Store(next)
	return next, nil
}

// commit is the records one change writes.
type commit struct {
	putCategories map[string]store.CategoryRecord
	delCategories []string
	putBindings   map[string]string
	delBindings   []string
}

func (c *commit) write(tx *store.Tx, revision uint64) error {
	for _, id := range c.delCategories {
		if err := tx.DeleteCategory(id); err != nil {
			return err
		}
	}
	for id, rec := range c.putCategories {
		if err := tx.PutCategory(id, rec); err != nil {
			return err
		}
	}
	for _, id := range c.delBindings {
		if err := tx.DeleteBinding(id); err != nil {
			return err
		}
	}
	for id, p := range c.putBindings {
		if err := tx.PutBinding(id, p); err != nil {
			return err
		}
	}
	return tx.SetModelRevision(revision)
}

// diff turns an applied change into the records to write.
func (r *Registry) diff(ch *Change) (*commit, error) {
	c := &commit{putCategories: map[string]store.CategoryRecord{}, putBindings: map[string]string{}}
	put := func(id string, class Class, v any) error {
		raw, err := json.Marshal(v)
		if err != nil {
			return occi.Errorf(occi.Internal, "encode %s: %w", id, err)
		}
		c.putCategories[id] = store.CategoryRecord{Class: string(class), Define: raw}
		return nil
	}
	for _, cs := range []*occi.Categories{&ch.Add, &ch.Replace} {
		for _, k := range cs.Kinds {
			if err := put(k.ID(), ClassKind, k); err != nil {
				return nil, err
			}
		}
		for _, m := range cs.Mixins {
			if err := put(m.ID(), ClassMixin, m); err != nil {
				return nil, err
			}
		}
		for _, a := range cs.Actions {
			if err := put(a.ID(), ClassAction, a); err != nil {
				return nil, err
			}
		}
	}
	c.delCategories = ch.Remove
	for _, id := range ch.Remove {
		if _, ok := r.stored[id]; ok {
			c.delBindings = append(c.delBindings, id)
		}
	}
	for _, b := range ch.Bind {
		c.putBindings[b.Kind] = b.Provider
	}
	return c, nil
}

// Class names a category's class, as the text rendering spells it.
type Class string

// The three classes of category.
const (
	ClassKind   Class = "kind"
	ClassMixin  Class = "mixin"
	ClassAction Class = "action"
)
