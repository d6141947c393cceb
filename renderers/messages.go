package renderers

import "github.com/ocni/ocni/occi"

// The messages codecs exchange besides the occi model types
// (*occi.Resource, *occi.Link, *occi.ActionInvocation).

// QueryInterface is the answer of GET /-/: categories and, as ocni's
// extension, the provider bound to each kind.
type QueryInterface struct {
	Categories *occi.Categories
	Bindings   map[string]string // kind id → provider
}

// CategoryRequest is the body of POST and PUT on /-/: categories to add or
// replace, and kind → provider bindings to set.
type CategoryRequest struct {
	Categories occi.Categories
	Bindings   []occi.Binding
}

// CategoryRefs names categories: the body of DELETE /-/ and of a filtering
// GET /-/.
type CategoryRefs struct {
	IDs []string
}

// Collection is a list of entities.
type Collection struct {
	Resources []*occi.Resource
	Links     []*occi.Link
	// Base is the scheme and authority ("http://host:port") that the
	// renderings listing a collection by location (text/plain, text/occi,
	// text/uri-list) put before each entity's path; empty leaves the
	// paths alone. It is not part of the other renderings.
	Base string
}

// Entity is one entity as a request on its location sends it (a partial
// update with POST, a replacement or a create with PUT): a resource or a
// link, whose kind may be left out (the entity keeps its own). Exactly one
// of Resource and Link is set.
type Entity struct {
	Resource *occi.Resource
	Link     *occi.Link
}

// Locations is a list of entity locations: mixin membership, path listings
// and the answer to a multiple create.
type Locations []string

// Problem is an error as a client reads it.
type Problem struct {
	Status    int    `json:"status"`
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id,omitempty"`
}
