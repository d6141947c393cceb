// Package backends is where ocni meets the VIMs. A driver (dummy, libvirt,
// OpenStack, AWS, remote OCCI) implements Provider and registers itself here
// by name with the options it takes; the configuration declares provider
// instances, each a driver with options, and the registry binds kinds to
// them. Only the engine calls providers.
//
// Every driver passes the conformance suite in backends/backendtest.
package backends

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/ocni/ocni/occi"
)

// Object is what a provider sees of an entity: everything it needs to make
// or change the thing on the VIM, already validated by the engine.
type Object struct {
	// ID is the entity's OCCI id, unique on the server. Providers tag what
	// they create on the VIM with it (metadata, tags, names), so that the
	// engine can find, adopt or clean it up after a crash.
	ID string
	// Location is the entity's path on the server.
	Location string
	// Instance identifies the ocni data file the entity belongs to.
	// Providers tag what they make on the VIM with it as well as with ID,
	// and List only reports objects with their own instance's tag: two
	// ocni servers sharing one VIM never touch each other's objects.
	Instance string
	// Kind is the kind id; Ancestors its parent, grandparent and so on up
	// to core#entity, so that a driver serves a user kind derived from
	// compute as a compute. Mixins are the mixin ids.
	Kind      string
	Ancestors []string
	Mixins    []string
	// Attributes are complete: the client's values with defaults applied.
	Attributes map[string]any
	// Source and Target are the locations of a link's ends, with their
	// kinds; empty for resources.
	Source, SourceKind string
	Target, TargetKind string
}

// IsLink reports whether the object is a link.
func (o *Object) IsLink() bool { return o.Target != "" }

// Is reports whether the object's kind is kindID or descends from it.
func (o *Object) Is(kindID string) bool {
	return o.Kind == kindID || slices.Contains(o.Ancestors, kindID)
}

// Clone returns a deep enough copy for a provider to keep: maps and slices
// are copied, attribute values are shared (they are never modified).
func (o *Object) Clone() *Object {
	c := *o
	c.Mixins = slices.Clone(o.Mixins)
	c.Ancestors = slices.Clone(o.Ancestors)
	c.Attributes = make(map[string]any, len(o.Attributes))
	for k, v := range o.Attributes {
		c.Attributes[k] = v
	}
	return &c
}

// Capabilities declare what a provider serves. The engine refuses (501)
// what a provider does not declare, and the conformance suite tests exactly
// what is declared.
type Capabilities struct {
	// Kinds are the kind ids served; empty means any kind.
	Kinds []string
	// Actions are the action ids implemented.
	Actions []string
	// Volatile says that the provider's objects do not outlive it (an
	// in-memory simulation): there is nothing on a VIM to recover after a
	// crash, so the engine writes no intents for it.
	Volatile bool
}

// ServesKind reports whether the provider serves entities of the kind.
func (c *Capabilities) ServesKind(id string) bool {
	return len(c.Kinds) == 0 || slices.Contains(c.Kinds, id)
}

// ServesAction reports whether the provider implements the action.
func (c *Capabilities) ServesAction(id string) bool { return slices.Contains(c.Actions, id) }

// Provider is one configured backend instance. Methods return errors with
// occi codes: NotFound when the object is not on the VIM, AlreadyExists when
// Create finds the id taken, FailedPrecondition for an action the object's
// state does not allow, Unimplemented for what the VIM cannot do,
// Unavailable when the VIM does not answer. They honour ctx.
//
// The attribute maps they return hold what the VIM decided or observed
// (states, addresses, generated names); the engine merges them over the
// entity's attributes.
type Provider interface {
	// Capabilities are fixed for the provider's lifetime.
	Capabilities() Capabilities
	// Create makes the object on the VIM.
	Create(ctx context.Context, o *Object) (map[string]any, error)
	// Retrieve reads the object's current attributes from the VIM.
	Retrieve(ctx context.Context, o *Object) (map[string]any, error)
	// Update makes the VIM object match o (attributes and mixins); old is
	// the object as it was.
	Update(ctx context.Context, old, o *Object) (map[string]any, error)
	// Delete removes the object from the VIM.
	Delete(ctx context.Context, o *Object) error
	// Action invokes an action with validated parameters.
	Action(ctx context.Context, o *Object, action string, params map[string]any) (map[string]any, error)
	// List returns the ids of every object this provider holds on the VIM
	// tagged with the instance, for crash recovery. An object that belongs
	// to an entity (a compute's root volume) is reported under that
	// entity's id, so that it is never taken for an orphan while the entity
	// exists.
	List(ctx context.Context, instance string) ([]string, error)
	// Close releases the provider's connections.
	Close() error
}

// TemplateSource is implemented by providers whose VIM offers templates
// (images, flavours): the server registers them as mixins at start, so that
// clients find them in the query interface. OS templates depend on
// infrastructure#os_tpl, resource templates on infrastructure#resource_tpl;
// their scheme is the provider's own, and their location is under
// /templates/<provider>/.
type TemplateSource interface {
	Templates(ctx context.Context) ([]*occi.Mixin, error)
}

// Driver describes a backend driver: how to build providers from options.
type Driver struct {
	// Name is what provider configurations put in their "driver" field.
	Name string
	// Description is one line for operators.
	Description string
	// Options are the options the driver takes, declared once: they are
	// validated before New is called, and documented from here.
	Options []Option
	// New builds a provider named name from validated options (an option
	// not configured has its default, or is absent when it has none).
	New func(name string, opts Options) (Provider, error)
}

var (
	mu      sync.RWMutex
	drivers = map[string]*Driver{}
)

// Register makes a driver available by name. Drivers call it from init; a
// second registration of one name is a programming error.
func Register(d *Driver) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := drivers[d.Name]; dup {
		panic(fmt.Sprintf("backends: driver %q registered twice", d.Name))
	}
	if d.New == nil {
		panic(fmt.Sprintf("backends: driver %q has no New", d.Name))
	}
	for _, o := range d.Options {
		if o.Default == nil {
			continue
		}
		if _, err := convert(o.Type, o.Default); err != nil {
			panic(fmt.Sprintf("backends: driver %q: default of option %s: %v", d.Name, o.Name, err))
		}
	}
	drivers[d.Name] = d
}

// Lookup returns the driver registered under name.
func Lookup(name string) (*Driver, bool) {
	mu.RLock()
	defer mu.RUnlock()
	d, ok := drivers[name]
	return d, ok
}

// Names lists the registered drivers, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	names := make([]string, 0, len(drivers))
	for n := range drivers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Open builds a provider: it finds the driver, validates the raw options
// from the configuration against the driver's declarations, and calls New.
func Open(name, driver string, raw map[string]any) (Provider, error) {
	d, ok := Lookup(driver)
	if !ok {
		return nil, fmt.Errorf("provider %s: unknown driver %q (known: %v)", name, driver, Names())
	}
	opts, err := d.parseOptions(raw)
	if err != nil {
		return nil, fmt.Errorf("provider %s (driver %s): %w", name, driver, err)
	}
	p, err := d.New(name, opts)
	if err != nil {
		return nil, fmt.Errorf("provider %s (driver %s): %w", name, driver, err)
	}
	return p, nil
}
