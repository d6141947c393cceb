package store

import (
	"bytes"
	"encoding/json"
	"sync"
)

// entityCache keeps entities as decoded from their records: decoding JSON
// is most of what a read costs. An entry is used only when the record read
// now is byte for byte the one it was decoded from, so a record rewritten
// by any transaction is decoded again: the cache can be stale, never wrong.
// Callers get a copy they may change.
type entityCache struct {
	mu      sync.Mutex
	entries map[string]cachedEntity
	max     int
}

type cachedEntity struct {
	raw []byte
	ent *Entity
}

// entityCacheSize bounds the cache: about as many entities as a few pages of
// listings and the entities being worked on.
const entityCacheSize = 16384

func newEntityCache() *entityCache {
	return &entityCache{entries: map[string]cachedEntity{}, max: entityCacheSize}
}

// decode returns the entity a record holds.
func (c *entityCache) decode(loc string, raw []byte) (*Entity, error) {
	if c != nil {
		c.mu.Lock()
		hit, ok := c.entries[loc]
		c.mu.Unlock()
		if ok && bytes.Equal(hit.raw, raw) {
			return hit.ent.Clone(), nil
		}
	}
	e := new(Entity)
	if err := json.Unmarshal(raw, e); err != nil {
		return nil, err
	}
	if c != nil {
		// raw lives in the file's memory map, valid only while the
		// transaction is open: the cache keeps its own copy.
		entry := cachedEntity{raw: bytes.Clone(raw), ent: e.Clone()}
		c.mu.Lock()
		if len(c.entries) >= c.max {
			for k := range c.entries { // evict one, any
				delete(c.entries, k)
				break
			}
		}
		c.entries[loc] = entry
		c.mu.Unlock()
	}
	return e, nil
}
