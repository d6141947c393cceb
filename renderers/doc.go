// Package renderers holds ocni's codecs, one per OCCI media type, and the
// negotiation that picks them from Accept and Content-Type.
//
// A codec decodes request messages and encodes response messages of a closed
// set of types (messages.go). Handlers never see a media type: they ask the
// Set for the codecs of a request and hand it values, so a new rendering is a
// new Codec registered in the Set and nothing else.
//
// The text renderings of GFD.229 share one grammar (textgrammar.go) and one
// layer of messages (text.go): text/plain and text/occi differ only in where
// the fields live, body lines or header fields (textcodecs.go).
package renderers
