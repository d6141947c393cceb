// Package server is ocni's HTTP layer: echo routes, middleware (request id,
// logging, recovery, body limit, version checks) and thin handlers that
// decode a request with the negotiated codec, call the registry (and, for
// entities, the engine), and encode the answer. Errors carry occi codes; the
// one table in status.go turns them into HTTP statuses.
package server
