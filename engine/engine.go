// Package engine is ocni's entity lifecycle: it validates entities against
// the registry's categories, dispatches them to the provider their kind is
// bound to, and commits the outcome to the store. It is the only code that
// calls both a backend and the store.
//
// Each request is one consistent step: it takes in-memory locks on what it
// changes (and shared ones on what it relies on), validates, calls the VIM,
// and commits in one transaction that checks again, against the state it
// commits to, the entity revisions, the model and the links' ends. Any
// interleaving of requests therefore ends in a state some serial order of
// them would produce, and a rejected request changes nothing.
//
// Every call that changes a durable VIM is bracketed by an intent, written
// and fsync'd before the call and removed in the transaction that commits its
// result. An intent whose call failed without a definite answer stays, and
// the reconciler resolves it in the background with backoff (and at start,
// after a crash) by asking the backend what happened: nothing is
// half-written and nothing created on a VIM is leaked.
package engine

import (
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ocni/ocni/backends"
	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/registry"
	"github.com/ocni/ocni/store"
)

// Engine runs entity operations.
type Engine struct {
	reg       *registry.Registry
	db        *store.DB
	providers map[string]backends.Provider
	log       *slog.Logger
	maxPage   int
	lockWait  time.Duration
	// scanBudget bounds the entities a listing reads beyond those it
	// answers.
	scanBudget int
	// defaultProvider serves the kinds no binding names.
	defaultProvider string

	// offers caches the actions offered per combination (offered).
	offers     sync.Map
	offersSize atomic.Int64

	// locks serialise the operations on each entity. The process owns the
	// data file alone, so in-memory locks are all the serialisation
	// needed; intents carry it across a crash.
	locks *locks

	// reconcile wakes the reconciler; orphans are VIM objects it still has
	// to delete, by provider.
	reconcile chan struct{}
	orphansMu sync.Mutex
	orphans   map[string]map[string]bool
}

// Options configure an Engine.
type Options struct {
	// Providers by name, as the registry's bindings name them.
	Providers map[string]backends.Provider
	// MaxPage is the largest page a listing may ask for.
	MaxPage int
	// LockWait is how long a request waits for another operation on the
	// same entity before it answers 409.
	LockWait time.Duration
	// DefaultProvider serves the kinds that no binding names (kinds
	// registered at runtime without one); "" leaves them unserved (501).
	DefaultProvider string
	// IndexedAttributes are the attributes, besides occi.core.* (always
	// indexed), whose equality filters an index answers: the config's
	// indexed_attributes. A name added builds its index at start; one
	// removed drops it.
	IndexedAttributes []string
	// ScanBudget is how many entities a listing may read beyond those it
	// answers (entities its filters reject, pages it skips) before it
	// stops with a 413: the config's scan_budget; DefaultScanBudget if 0.
	ScanBudget int
	Logger     *slog.Logger
}

// DefaultScanBudget is the scan budget when none is configured: a filter on
// an attribute no index holds answers from a collection of that many
// entities, and is refused (413) on a larger one.
const DefaultScanBudget = 10000

// MaxOffset bounds where a ?page= may start (page-1 times number): beyond,
// the cursor (?after=) pages as cheaply and page arithmetic cannot
// overflow.
const MaxOffset = 1_000_000

// DefaultLockWait is how long a request waits for a busy entity when no
// wait is configured.
const DefaultLockWait = 10 * time.Second

// DefaultMaxPage is the page size limit when none is configured.
const DefaultMaxPage = 1000

// New returns an engine over a registry and its data file.
func New(reg *registry.Registry, db *store.DB, opts Options) *Engine {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxPage <= 0 {
		opts.MaxPage = DefaultMaxPage
	}
	if opts.LockWait <= 0 {
		opts.LockWait = DefaultLockWait
	}
	if opts.ScanBudget <= 0 {
		opts.ScanBudget = DefaultScanBudget
	}
	e := &Engine{
		reg: reg, db: db, providers: opts.Providers, log: opts.Logger, maxPage: opts.MaxPage, lockWait: opts.LockWait,
		scanBudget: opts.ScanBudget, defaultProvider: opts.DefaultProvider,
		locks: newLocks(), reconcile: make(chan struct{}, 1), orphans: map[string]map[string]bool{},
	}
	e.indexAttributes(opts.IndexedAttributes)
	return e
}

// indexAttributes has the store index the attributes the operator lists.
// A failure costs speed, not correctness: a filter on an attribute the
// file does not index reads entities, within the scan budget.
func (e *Engine) indexAttributes(names []string) {
	var valid []string
	for _, n := range names {
		if err := occi.ValidAttributeName(n); err != nil {
			e.log.Warn("indexed attribute ignored", "attribute", n, "reason", err.Error())
			continue
		}
		valid = append(valid, n)
	}
	if err := e.db.IndexAttributes(valid); err != nil {
		e.log.Error("cannot index the attributes listed; filters on them read entities", "attributes", valid, "error", err.Error())
	}
}

// MaxPage returns the largest page a listing may ask for.
func (e *Engine) MaxPage() int { return e.maxPage }

// View is an entity as a client reads it: the stored entity, the links of
// a resource, and the actions it offers.
type View struct {
	*store.Entity
	Links []*store.Entity
	// Actions are those the entity's provider implements, the ones to
	// show; Defined are all its categories define, the ones a request may
	// name (an unimplemented one is then a 501, not a 404).
	Actions, Defined []string
}

// provider returns the provider bound to a kind, refusing (501) a kind no
// provider serves.
func (e *Engine) provider(snap *registry.Snapshot, kindID string) (string, backends.Provider, error) {
	name, ok := snap.Binding(kindID)
	if !ok {
		// A kind registered without a binding is served by the default
		// provider: a registered kind is never a 501.
		if name = e.defaultProvider; name == "" {
			return "", nil, occi.Errorf(occi.Unimplemented, "no provider is bound to kind %s; bind one with PUT /-/", kindID)
		}
	}
	p := e.providers[name]
	if p == nil {
		return "", nil, occi.Errorf(occi.Unavailable, "provider %q, bound to kind %s, is not running", name, kindID)
	}
	if caps := p.Capabilities(); !caps.ServesKind(kindID) && !servesAncestor(snap, &caps, kindID) {
		return "", nil, occi.Errorf(occi.Unimplemented, "provider %q does not serve kind %s", name, kindID)
	}
	return name, p, nil
}

func servesAncestor(snap *registry.Snapshot, caps *backends.Capabilities, kindID string) bool {
	for _, a := range ancestors(snap, kindID) {
		if caps.ServesKind(a) {
			return true
		}
	}
	return false
}

// ancestors returns a kind's parent, grandparent, ... up to core#entity.
func ancestors(snap *registry.Snapshot, kindID string) []string {
	var out []string
	k, _ := snap.Kind(kindID)
	for k != nil && k.Parent != "" && len(out) < registry.MaxKindDepth {
		out = append(out, k.Parent)
		k, _ = snap.Kind(k.Parent)
	}
	return out
}

// object is what a provider is given of an entity.
func (e *Engine) object(snap *registry.Snapshot, ent *store.Entity) *backends.Object {
	o := &backends.Object{
		ID:         ent.ID,
		Instance:   e.db.Instance(),
		Location:   ent.Location,
		Kind:       ent.Kind,
		Ancestors:  ancestors(snap, ent.Kind),
		Mixins:     slices.Clone(ent.Mixins),
		Attributes: ent.Attributes,
	}
	if ent.Source != nil {
		o.Source, o.SourceKind = ent.Source.Location, ent.Source.Kind
	}
	if ent.Target != nil {
		o.Target, o.TargetKind = ent.Target.Location, ent.Target.Kind
	}
	return o
}

// merge lays what a backend reports over an entity's attributes.
func merge(ent *store.Entity, reported map[string]any) {
	for k, v := range reported {
		if v == nil {
			delete(ent.Attributes, k)
		} else {
			ent.Attributes[k] = v
		}
	}
}

// actionsOf lists the actions an entity offers: its kind's, its ancestors'
// and its mixins'.
func actionsOf(snap *registry.Snapshot, ent *store.Entity) []string {
	var out []string
	for _, id := range append([]string{ent.Kind}, ancestors(snap, ent.Kind)...) {
		if k, ok := snap.Kind(id); ok {
			out = append(out, k.Actions...)
		}
	}
	for _, id := range ent.Mixins {
		if m, ok := snap.Mixin(id); ok {
			out = append(out, m.Actions...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// offered lists the actions a client can invoke on an entity: those of its
// categories that its provider implements and its state allows. (Invoking
// one the model has and the provider lacks is a 501; one the model lacks a
// 404.) They depend only on the model, the provider, the kind, the mixins
// and the state, which a page of entities shares: they are worked out once
// per combination and model version. The slices returned are shared: callers
// must not change them.
func (e *Engine) offered(snap *registry.Snapshot, ent *store.Entity) (offered, defined []string) {
	key := offeredKey(snap, ent)
	if hit, ok := e.offers.Load(key); ok {
		o := hit.(*offers)
		return o.offered, o.defined
	}
	defined = actionsOf(snap, ent)
	offered = defined
	if p := e.providers[ent.Provider]; p != nil {
		caps := p.Capabilities()
		machine := occi.StateMachineOf(append([]string{ent.Kind}, ancestors(snap, ent.Kind)...)...)
		offered = slices.DeleteFunc(slices.Clone(defined), func(a string) bool {
			// Only what the provider implements and the state allows: an
			// active compute does not offer start.
			return !caps.ServesAction(a) || (machine != nil && !machine.Allows(a, ent.Attributes[machine.Attribute]))
		})
	}
	if e.offersSize.Add(1) > maxOffers {
		// A model with very many combinations: start again rather than
		// grow without bound.
		e.offers.Clear()
		e.offersSize.Store(0)
	}
	e.offers.Store(key, &offers{offered: offered, defined: defined})
	return offered, defined
}

// offers are the actions of one combination (see offered).
type offers struct{ offered, defined []string }

// maxOffers bounds the combinations kept.
const maxOffers = 4096

// offeredKey names what an entity's actions depend on.
func offeredKey(snap *registry.Snapshot, ent *store.Entity) string {
	var b strings.Builder
	b.WriteString(strconv.FormatUint(snap.Version(), 10))
	for _, s := range append([]string{ent.Provider, ent.Kind}, ent.Mixins...) {
		b.WriteByte(0)
		b.WriteString(s)
	}
	m := occi.StateMachineOf(ent.Kind)
	if m == nil {
		m = occi.StateMachineOf(ancestors(snap, ent.Kind)...)
	}
	if m != nil {
		b.WriteByte(1)
		_, _ = fmt.Fprint(&b, ent.Attributes[m.Attribute])
	}
	return b.String()
}

// isRemote reports whether a link target names another OCCI endpoint.
func isRemote(loc string) bool {
	return strings.HasPrefix(loc, "http://") || strings.HasPrefix(loc, "https://")
}
