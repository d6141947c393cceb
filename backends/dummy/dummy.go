// Package dummy is a backend that simulates a VIM in memory, for demos and
// tests. It serves every kind.
package dummy

import "github.com/ocni/ocni/backends"

// DriverName is the name provider configurations use for this driver.
const DriverName = "dummy"

func init() {
	backends.Register(&backends.Driver{
		Name:        DriverName,
		Description: "in-memory simulation of a VIM, for demos and tests",
	})
}
