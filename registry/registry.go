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
)

// Change is one category management request. It is applied whole or not at
// all.
type Change struct {
	Add     occi.Categories // new categories; their ids must be free
	Replace occi.Categories // runtime categories to redefine
	Remove  []string        // ids of runtime categories to remove
	Bind    []occi.Binding  // kind → provider bindings to set
}

// InUseFunc reports whether entities still use a kind, for the rule that a
// kind in use cannot be removed. It receives the ids being removed
// and returns a description of the first one in use ("" when none is).
type InUseFunc func(ctx context.Context, ids []string) (string, error)

// Options configure a Registry.
type Options struct {
	// Providers are the provider names bindings may name.
	Providers []string
	// Defaults are the bindings in force for kinds the data file binds to
	// nothing (the config file's bindings).
	Defaults map[string]string
	// InUse, when set, guards the removal of kinds.
	InUse InUseFunc
	// Logger receives warnings about the data file; slog.Default if nil.
	Logger *slog.Logger
}

// Registry is the category registry.
type Registry struct {
	db   *DB
	opts Options
	// stored is the data file's own bindings, without defaults.
	stored map[string]string

	mu   sync.Mutex // serialises writers
	snap atomic.Pointer[Snapshot]
}

// New loads the registry from db: the built-ins, then the runtime categories
// and bindings the file holds, validated as when they were registered.
func New(db *DB, opts Options) (*Registry, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	r := &Registry{db: db, opts: opts}
	st, err := db.load()
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
	for id, rec := range st.categories {
		if err := decodeRecord(rec, &runtime); err != nil {
			return nil, fmt.Errorf("data file %s: category %q: %w", db.Path(), id, err)
		}
	}
	r.stored = st.bindings
	defaults := opts.Defaults
	if defaults == nil {
		defaults = map[string]string{}
	}
	next, err := r.build(base, &Change{Add: runtime}, defaults)
	if err != nil {
		return nil, fmt.Errorf("data file %s: stored categories are inconsistent: %w", db.Path(), err)
	}
	next.version = 1
	r.snap.Store(next)
	return r, nil
}

func decodeRecord(rec categoryRecord, into *occi.Categories) error {
	var err error
	switch rec.Class {
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

// Check reports whether a change would be applied, without applying it.
func (r *Registry) Check(ctx context.Context, ch *Change) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.snap.Load()
	if _, err := r.build(cur, ch, nil); err != nil {
		return err
	}
	return r.checkNotInUse(ctx, cur, ch.Remove)
}

// SetInUse installs the check that keeps kinds in use from being removed;
// the engine, built after the registry, provides it.
func (r *Registry) SetInUse(f InUseFunc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.opts.InUse = f
}

// Apply validates a change against the state it would produce, commits it to
// the data file and publishes it. On any error nothing changes.
func (r *Registry) Apply(ctx context.Context, ch *Change) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return occi.Errorf(occi.Unavailable, "request cancelled: %w", err)
	}
	cur := r.snap.Load()
	next, err := r.build(cur, ch, nil)
	if err != nil {
		return err
	}
	if err := r.checkNotInUse(ctx, cur, ch.Remove); err != nil {
		return err
	}
	c, err := r.diff(ch)
	if err != nil {
		return err
	}
	if err := r.db.commit(c); err != nil {
		return err
	}
	for _, id := range c.delBindings {
		delete(r.stored, id)
	}
	for id, p := range c.putBindings {
		r.stored[id] = p
	}
	r.snap.Store(next)
	return nil
}

// checkNotInUse refuses to remove a kind that entities still have. (A
// mixin's associations are dropped by the caller before it goes.)
func (r *Registry) checkNotInUse(ctx context.Context, cur *Snapshot, ids []string) error {
	if r.opts.InUse == nil {
		return nil
	}
	var guarded []string
	for _, id := range ids {
		if c, ok := cur.ClassOf(id); ok && c == ClassKind {
			guarded = append(guarded, id)
		}
	}
	if len(guarded) == 0 {
		return nil
	}
	what, err := r.opts.InUse(ctx, guarded)
	if err != nil {
		return err
	}
	if what != "" {
		return occi.Errorf(occi.Conflict, "%s is still in use; remove its entities first", what)
	}
	return nil
}

// diff turns an applied change into the records to write.
func (r *Registry) diff(ch *Change) (*commit, error) {
	c := &commit{putCategories: map[string]categoryRecord{}, putBindings: map[string]string{}}
	put := func(id string, class Class, v any) error {
		raw, err := json.Marshal(v)
		if err != nil {
			return occi.Errorf(occi.Internal, "encode %s: %w", id, err)
		}
		c.putCategories[id] = categoryRecord{Class: class, Define: raw}
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
