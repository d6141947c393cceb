// Package registry is ocni's persistent registry: the categories the server
// knows (the OGF built-ins plus those registered at runtime on the query
// interface) and the binding of each kind to the backend provider that
// serves it.
//
// Reads are lock-free: the registry publishes an immutable snapshot that
// answers lookups by identifier and by location in O(1). Writes are
// serialised, validated against the whole resulting state, committed to the
// bbolt data file in one transaction, and only then published. The data file
// is the truth across restarts; the built-ins always come from the code.
package registry
