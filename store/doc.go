// Package store is ocni's data file: one bbolt file holding the entities
// with their indexes, the intents of VIM calls in flight, and the records of
// the runtime categories and bindings (which the registry package
// interprets). Its buckets are declared in one place (db.go).
//
// Writes go through a group commit: one goroutine runs every queued write
// function in one bbolt transaction, so one fsync acknowledges a group. A
// write function sees the file through a Tx, which offers the entity,
// index, intent and category operations; whatever it checks, it checks
// against the state it commits to.
//
// A damaged file is refused at Open (damage.go walks its pages first, with
// bounds checks, since bbolt would panic or fault on them); damage met later
// turns into Unavailable errors naming the file, and the file is then
// written no more. Check (check.go) runs bbolt's consistency check and
// ocni's invariants; Backup (backup.go) takes a consistent hot copy.
package store
