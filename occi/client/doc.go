// Package client is a Go client of OCCI 1.2 endpoints, ocni and others: the
// query interface, entity CRUD and partial updates, actions, mixin
// collections, paged listings, in the JSON rendering or in text/plain for
// OCCI 1.1 endpoints. It is what the occi provider (federation) and ocnictl
// are built on.
//
// Messages are encoded and decoded with ocni's own codecs (package
// renderers), so that the client and the server read and write exactly the
// same renderings. Failures the server reports come back as *Error, which
// carries the HTTP status and the occi code: errors.Is(err,
// occi.ErrNotFound) and friends work on them.
package client
