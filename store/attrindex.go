package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/ocni/ocni/occi"
)

// The attribute index (idx-attr) answers equality filters on attributes
// without reading every entity: the occi.core.* attributes are always
// indexed, and the operator lists others (IndexAttributes). A filter on an
// attribute it does not hold reads entities, within the engine's budget.

// coreAttrPrefix names the attributes every file indexes.
const coreAttrPrefix = "occi.core."

func isCoreAttr(name string) bool { return strings.HasPrefix(name, coreAttrPrefix) }

// maxInlineValue is the longest value kept as it is in an index key; a
// longer one (a title may be 256 KiB, a bbolt key at most 32 KiB) is kept
// as a digest. Either way the entity is read and compared after the lookup.
const maxInlineValue = 128

func attrValueKey(text string) string {
	if len(text) <= maxInlineValue && strings.IndexByte(text, 0) < 0 {
		return text
	}
	sum := sha256.Sum256([]byte(text))
	// 0xff never occurs in UTF-8, so a digest never equals a short value.
	return "\xff" + hex.EncodeToString(sum[:])
}

// AttributeValue is the Value of a ByAttribute scan: the entities whose
// attribute name has the value whose text form (occi.ValueText) is text.
func AttributeValue(name, text string) string { return name + "\x00" + attrValueKey(text) }

// canonicalText is a value's text form as it reads back from the file, so
// that the key written with an entity is the one a filter and the checker
// compute from the decoded record (a json.Number 2.0 reads back as 2).
func canonicalText(v any) string {
	switch v.(type) {
	case string, bool, float64:
		return occi.ValueText(v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return occi.ValueText(v)
	}
	var back any
	if json.Unmarshal(b, &back) != nil {
		return occi.ValueText(v)
	}
	return occi.ValueText(back)
}

func attrIndexed(name string, extra []string) bool {
	return isCoreAttr(name) || slices.Contains(extra, name)
}

// attrEntries are an entity's idx-attr entries.
func attrEntries(loc string, attrs map[string]any, extra []string) []indexEntry {
	var out []indexEntry
	for name, v := range attrs {
		if attrIndexed(name, extra) {
			out = append(out, indexEntry{bucketByAttr, indexKey(AttributeValue(name, canonicalText(v)), loc)})
		}
	}
	return out
}

// extraIndexed returns the names idx-attr holds besides occi.core.*.
func (t *Tx) extraIndexed() []string {
	raw := t.tx.Bucket(bucketMeta).Get(keyIndexedAttrs)
	if len(raw) == 0 {
		return nil
	}
	return strings.Split(string(raw), "\n")
}

// IndexedAttribute reports whether the ByAttribute index answers equality
// on an attribute in the state t reads.
func (t *Tx) IndexedAttribute(name string) bool {
	if t.tx.Bucket(bucketByAttr) == nil {
		return false // a layout-1 file opened read-only
	}
	return attrIndexed(name, t.extraIndexed())
}

// IndexAttributes sets the attributes indexed besides occi.core.* (which
// always are): the index of a name newly listed is built from the entities
// in the same transaction, and that of a name no longer listed is dropped.
// It runs at start, before requests; it is safe beside writers all the
// same, since every write reads the list in its own transaction.
func (db *DB) IndexAttributes(names []string) error {
	var want []string
	for _, n := range names {
		if n == "" || strings.ContainsAny(n, "\n\x00") {
			return occi.Errorf(occi.InvalidArgument, "attribute name %q cannot be indexed", n)
		}
		if !isCoreAttr(n) {
			want = append(want, n)
		}
	}
	slices.Sort(want)
	want = slices.Compact(want)
	same := false
	if err := db.View(func(t *Tx) error { same = slices.Equal(t.extraIndexed(), want); return nil }); err != nil || same {
		return err
	}
	return db.Write(func(t *Tx) error {
		have := t.extraIndexed()
		if slices.Equal(have, want) {
			return nil
		}
		for _, n := range have {
			if !slices.Contains(want, n) {
				if err := t.dropAttrIndex(n); err != nil {
					return err
				}
			}
		}
		if err := t.addAttrIndex(func(n string) bool { return slices.Contains(want, n) && !slices.Contains(have, n) }); err != nil {
			return err
		}
		meta := t.tx.Bucket(bucketMeta)
		if len(want) == 0 {
			return meta.Delete(keyIndexedAttrs)
		}
		return meta.Put(keyIndexedAttrs, []byte(strings.Join(want, "\n")))
	})
}

// addAttrIndex writes the idx-attr entries of every entity's attributes
// whose names match. A record that does not decode is left to the checker,
// which reports it.
func (t *Tx) addAttrIndex(match func(string) bool) error {
	idx := t.tx.Bucket(bucketByAttr)
	c := t.tx.Bucket(bucketEntities).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var rec struct {
			Attributes map[string]json.RawMessage `json:"attributes"`
		}
		if json.Unmarshal(v, &rec) != nil {
			continue
		}
		for name, raw := range rec.Attributes {
			if !match(name) {
				continue
			}
			var val any
			if json.Unmarshal(raw, &val) != nil {
				continue
			}
			if err := idx.Put(indexKey(AttributeValue(name, occi.ValueText(val)), string(k)), nil); err != nil {
				return fmt.Errorf("index %s of %s: %w", name, k, err)
			}
		}
	}
	return nil
}

// dropAttrIndex deletes a name's idx-attr entries.
func (t *Tx) dropAttrIndex(name string) error {
	c := t.tx.Bucket(bucketByAttr).Cursor()
	prefix := []byte(name + "\x00")
	for k, _ := c.Seek(prefix); k != nil && strings.HasPrefix(string(k), string(prefix)); k, _ = c.Seek(prefix) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}
