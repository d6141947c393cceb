package engine

import (
	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/registry"
)

// Model is the category model as one request sees it: an immutable state,
// so that a request never sees half of a concurrent change.
type Model struct{ snap *registry.Snapshot }

// Model returns the current category model. It never blocks.
func (e *Engine) Model() Model { return Model{e.reg.Snapshot()} }

// Version is the model's revision: it grows with every change, across
// restarts too, which makes it the query interface's ETag.
func (m Model) Version() uint64 { return m.snap.Version() }

// All returns every category, sorted by id.
func (m Model) All() *occi.Categories { return m.snap.All() }

// Select returns the categories with the given ids (NotFound for an unknown
// one).
func (m Model) Select(ids []string) (*occi.Categories, error) { return m.snap.Select(ids) }

// Bindings returns the provider serving each kind that has one. The map is
// shared: callers must not modify it.
func (m Model) Bindings() map[string]string { return m.snap.Bindings() }

// AtLocation returns the id of the kind or mixin whose collection is at a
// location.
func (m Model) AtLocation(location string) (string, bool) { return m.snap.AtLocation(location) }

// Kind returns the kind with the given id.
func (m Model) Kind(id string) (*occi.Kind, bool) { return m.snap.Kind(id) }

// Mixin returns the mixin with the given id.
func (m Model) Mixin(id string) (*occi.Mixin, bool) { return m.snap.Mixin(id) }

// Ancestors returns a kind's parent, grandparent, ... up to core#entity.
func (m Model) Ancestors(kindID string) []string { return ancestors(m.snap, kindID) }

// CategoryChange is one category management request: it is applied whole or
// not at all.
type CategoryChange struct {
	Add     occi.Categories // new categories; their ids must be free
	Replace occi.Categories // runtime categories to redefine
	Remove  []string        // ids of runtime categories to remove
	Bind    []occi.Binding  // kind → provider bindings to set
}

func (c *CategoryChange) registry() *registry.Change {
	return &registry.Change{Add: c.Add, Replace: c.Replace, Remove: c.Remove, Bind: c.Bind}
}
