// Package server is ocni's HTTP layer: echo routes, middleware (request id,
// logging, recovery, the Host, Origin and proxy-header checks, authentication
// and roles, body and write time limits, version checks) and thin handlers
// that decode a request with the negotiated codec, call the engine, and
// encode the answer. Errors carry occi codes; the one table in status.go
// turns them into HTTP statuses.
package server
