// Package backends is where ocni meets the VIMs. Drivers (dummy, libvirt,
// OpenStack, AWS, remote OCCI) register themselves here by name; the
// configuration declares provider instances, each a driver with options, and
// the registry binds kinds to those providers.
package backends

import (
	"fmt"
	"slices"
	"sort"
	"sync"
)

// Driver describes a backend driver.
type Driver struct {
	// Name is what provider configurations put in their "driver" field.
	Name string
	// Description is one line for operators.
	Description string
	// Kinds are the ids of the kinds the driver serves; empty means any kind
	// (a driver that simulates or forwards everything).
	Kinds []string
}

// Serves reports whether the driver can serve entities of the kind.
func (d *Driver) Serves(kindID string) bool {
	return len(d.Kinds) == 0 || slices.Contains(d.Kinds, kindID)
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
