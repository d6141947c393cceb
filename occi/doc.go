// Package occi is the OCCI 1.2 core model as ocni understands it: categories
// (Kind, Mixin, Action) and their attribute definitions, entities (Resource,
// Link), the validation of attribute values against definitions, the
// built-in OGF core and infrastructure categories with the CRTP 1.1 resource
// templates, and the closed set of error codes every other package uses.
//
// The package is pure: it does no I/O, so every rule here can be tested in
// isolation and reused by the server, the client and the backends alike.
package occi
