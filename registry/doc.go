// Package registry is ocni's category model: the categories the server
// knows (the OGF built-ins plus those registered at runtime on the query
// interface) and the binding of each kind to the backend provider that
// serves it. Its records live in the data file (package store).
//
// Reads are lock-free: the registry publishes an immutable snapshot that
// answers lookups by identifier and by location in O(1). Changes are
// serialised, validated against the whole resulting state, committed in one
// transaction (together with whatever the caller writes with them), and only
// then published. The snapshot's version is the model revision the data file
// keeps, so it only grows, across restarts too.
package registry
