// Package schemas holds the JSON Schemas of the request documents ocni
// accepts in the OCCI 1.2 JSON rendering (application/occi+json), and checks
// request bodies against them before they are decoded.
//
// The schemas are written from GFD.225 rather than copied from its appendix,
// whose schema is unfinished and has known defects: broken "#definitions/x"
// references, an "id" required on entities that are being created (and so
// have none yet), link ends that cannot carry a kind. They live in one file,
// occi-1.2.schema.json, embedded in the binary; each document the server
// accepts is one entry of its "definitions" and is identified here by a
// Name.
//
// Checking the shape of a body first, instead of relying on the decoder,
// gives clients every structural mistake at once, each located by a JSON
// Pointer (RFC 6901), and rejects members the model does not know (a
// misspelled member name, or OCCI 1.1's "related") instead of dropping them
// silently. The rules that need the model — category identifier grammar,
// attribute names, values against their definitions, references to other
// categories — stay in package occi and the registry.
//
// The schemas are compiled once, on first use. The embedded file is part of
// the program, so a schema that does not compile is a bug: it panics, and
// the package tests make sure it cannot ship.
package schemas
