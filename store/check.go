package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ocni/ocni/occi"
)

// maxProblems bounds a report: a badly damaged file would otherwise list
// millions of lines.
const maxProblems = 1000

// CheckReport is what Check found.
type CheckReport struct {
	Path string
	// Problems are readable findings, each naming its bucket and key; at
	// most maxProblems, Omitted counts the ones left out.
	Problems []string
	Omitted  int

	Size                  int64 // bytes in use (CheckPages: the file's size)
	Resources, Links      int
	Intents               int
	Categories, Bindings  int
	IndexEntries          map[string]int // per index bucket
	Structure, Invariants time.Duration  // time spent on each part
}

// OK reports whether nothing was found.
func (r *CheckReport) OK() bool { return len(r.Problems) == 0 }

// WriteTo writes the report as text for an operator.
func (r *CheckReport) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "data file %s (%d bytes)\n", r.Path, r.Size)
	if r.IndexEntries != nil { // the invariants were checked
		fmt.Fprintf(&b, "  %d resources, %d links, %d intents, %d runtime categories, %d bindings\n",
			r.Resources, r.Links, r.Intents, r.Categories, r.Bindings)
		b.WriteString("  index entries:")
		for _, name := range indexBucketNames {
			fmt.Fprintf(&b, " %s %d", name, r.IndexEntries[string(name)])
		}
		fmt.Fprintf(&b, "\n  checked in %s (page structure %s, invariants %s)\n",
			round(r.Structure+r.Invariants), round(r.Structure), round(r.Invariants))
	} else {
		fmt.Fprintf(&b, "  page structure checked in %s; the invariants are not checked on a damaged file\n", round(r.Structure))
	}
	if r.OK() {
		b.WriteString("no problem found\n")
	} else {
		fmt.Fprintf(&b, "%s found:\n", r.Count())
		for _, p := range r.Problems {
			fmt.Fprintf(&b, "  %s\n", p)
		}
		if r.Omitted > 0 {
			fmt.Fprintf(&b, "  ... and %d more\n", r.Omitted)
		}
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

// Count says how many problems were found, in words.
func (r *CheckReport) Count() string {
	if n := len(r.Problems) + r.Omitted; n != 1 {
		return fmt.Sprintf("%d problems", n)
	}
	return "1 problem"
}

func round(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }

var indexBucketNames = [][]byte{bucketByID, bucketByKind, bucketByMixin, bucketBySource, bucketByTarget, bucketByAttr}

// Check checks an open data file: bbolt's page structure (ocni's own walk,
// which cannot crash on a damaged page, then bbolt's Tx.Check, which also
// checks the free list), then ocni's invariants (Tx.CheckInvariants).
// registered says whether a category id is registered; nil skips that
// part. Structural damage marks the DB damaged (writes are refused) and
// stops the check there: reading a damaged tree is not safe.
//
// bbolt's Tx.Check is safe beside writers only in a write transaction: on
// a DB open for writing it runs in one through the group commit, so writes
// wait for it. The other parts run in a read transaction, beside writers.
func Check(db *DB, registered func(id string) bool) (*CheckReport, error) {
	rep := &CheckReport{Path: db.path}
	var structural []string
	err := db.guardedView(func(tx *bolt.Tx) error {
		rep.Size = tx.Size()
		start := time.Now()
		probs, err := verifyPages(tx, db.path, maxProblems)
		rep.Structure = time.Since(start)
		if err != nil || len(probs) > 0 {
			structural = probs
			return err
		}
		start = time.Now()
		c := newChecker(tx, registered)
		c.run()
		c.report(rep)
		rep.Invariants = time.Since(start)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(structural) == 0 {
		start := time.Now()
		structural, err = db.bboltCheck()
		rep.Structure += time.Since(start)
		if err != nil {
			return nil, err
		}
	}
	if len(structural) > 0 {
		_ = db.markDamaged(errors.New(structural[0]))
		for i, p := range structural {
			structural[i] = "page structure: " + p
		}
		rep.Problems = append(structural, rep.Problems...)
	}
	return rep, nil
}

// bboltCheck runs bbolt's Tx.Check; verifyPages must have passed (it
// walks pages in a goroutine that no recover protects).
func (db *DB) bboltCheck() ([]string, error) {
	var probs []string
	collect := func(tx *bolt.Tx) error {
		probs = probs[:0]
		for err := range tx.Check() {
			if len(probs) < maxProblems {
				probs = append(probs, err.Error())
			}
		}
		return nil
	}
	if db.bolt.IsReadOnly() || db.damageErr() != nil { // no writer can run
		return probs, db.guardedView(collect)
	}
	return probs, db.write(collect)
}

// CheckPages checks the page structure of a data file that Open or
// OpenReadOnly refuses as damaged, listing every problem found (Open
// reports the first). It takes the file's lock, so it fails while a server
// holds the file.
func CheckPages(path string) (*CheckReport, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("data file %s: %w", path, err)
	}
	rep := &CheckReport{Path: path, Size: fi.Size()}
	if fi.Size() == 0 {
		rep.Problems = []string{"the file is empty (0 bytes)"}
		return rep, nil
	}
	b, err := openShared(path)
	if errors.Is(err, ErrDamaged) {
		rep.Problems = []string{err.Error()}
		return rep, nil
	}
	if err != nil {
		return nil, err
	}
	defer func() { _ = b.Close() }()
	start := time.Now()
	err = b.View(func(tx *bolt.Tx) error {
		var err error
		rep.Problems, err = verifyPages(tx, path, maxProblems)
		return err
	})
	rep.Structure = time.Since(start)
	for i, p := range rep.Problems {
		rep.Problems[i] = "page structure: " + p
	}
	return rep, err
}

// OpenReadOnly opens an existing data file for reading only: bbolt takes a
// shared lock and never writes. A running server holds an exclusive lock,
// so this fails (ErrLocked) while one serves the file. Writes on the DB
// fail. The file is checked as by Open.
func OpenReadOnly(path string) (*DB, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("data file %s: %w", path, err)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("data file %s is a directory", path)
	}
	if fi.Size() == 0 {
		return nil, damaged(path, fmt.Errorf("it is empty (0 bytes)"))
	}
	b, err := openShared(path)
	if err != nil {
		return nil, err
	}
	if err := verifyFile(b, path); err != nil {
		_ = b.Close()
		return nil, err
	}
	db := &DB{bolt: b, path: path, queue: make(chan writeCall, maxGroup), closed: make(chan struct{}), stopped: make(chan struct{})}
	err = b.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			return fmt.Errorf("bucket %s is missing: the file is not an ocni data file, or was never opened by ocnid", bucketMeta)
		}
		v, err := strconv.Atoi(string(meta.Get(keySchemaVersion)))
		if err != nil {
			return fmt.Errorf("schema version %q is not a number: the file is not an ocni data file or is damaged", meta.Get(keySchemaVersion))
		}
		if v > schemaVersion {
			return fmt.Errorf("written by a newer ocni (layout %d, this binary knows up to %d)", v, schemaVersion)
		}
		for _, name := range layoutBuckets(v) {
			if tx.Bucket(name) == nil {
				return fmt.Errorf("bucket %s is missing: the file is not an ocni data file, or was never opened by this version of ocnid", name)
			}
		}
		db.instance = string(meta.Get(keyInstance))
		return nil
	})
	if err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("data file %s: %w", path, err)
	}
	// The committer answers writes (bbolt refuses them), and Close waits
	// for it.
	go db.committer()
	return db, nil
}

// CheckInvariants checks ocni's invariants in the state t reads, and
// returns the problems found (none for a sound store):
//
//   - every index entry (idx-id, idx-kind, idx-mixin, idx-source,
//     idx-target, and from layout 2 idx-attr: the occi.core.* attributes
//     and those the file lists as indexed) points at an entity whose
//     record agrees with it, and every entity has all its entries; an
//     intent's id is reserved in idx-id;
//   - every entity record decodes and is stored at its own location;
//   - a link's source is a resource, and so is its target when it is local
//     (a location starting with "/"; an http(s) URL is remote);
//   - every entity's kind and mixins are registered (when registered is
//     not nil: the store does not know the category model);
//   - intents, category records and the meta keys are well formed.
//
// It reads every entity once and looks its index entries up; an index is
// walked entry by entry only when its size says it has entries no entity
// accounts for. It may run in any transaction, beside writers.
func (t *Tx) CheckInvariants(registered func(id string) bool) []string {
	c := newChecker(t.tx, registered)
	c.run()
	if c.omitted > 0 {
		return append(c.probs, fmt.Sprintf("... and %d more problems", c.omitted))
	}
	return c.probs
}

type checker struct {
	tx         *bolt.Tx
	registered func(string) bool
	probs      []string
	omitted    int
	// layout is the file's; extra are the attributes idx-attr holds
	// besides occi.core.*.
	layout int
	extra  []string

	resources, links, intents, categories, bindings int
	// claims counts the index entries the entities (and create intents)
	// call for, per index bucket; missing those of them that are absent.
	claims, missing, entries map[string]int
	creates                  map[string]string // location → id an intent reserves
	regMemo                  map[string]bool
	kindMemo                 map[string]endKind
}

type endKind int8

const (
	endMissing endKind = iota
	endResource
	endLink
	endDamaged
)

func newChecker(tx *bolt.Tx, registered func(string) bool) *checker {
	return &checker{
		tx: tx, registered: registered,
		claims: map[string]int{}, missing: map[string]int{}, entries: map[string]int{},
		creates: map[string]string{}, regMemo: map[string]bool{}, kindMemo: map[string]endKind{},
	}
}

func (c *checker) problem(format string, args ...any) {
	if len(c.probs) >= maxProblems {
		c.omitted++
		return
	}
	c.probs = append(c.probs, fmt.Sprintf(format, args...))
}

func (c *checker) report(rep *CheckReport) {
	rep.Problems, rep.Omitted = c.probs, c.omitted
	rep.Resources, rep.Links, rep.Intents = c.resources, c.links, c.intents
	rep.Categories, rep.Bindings = c.categories, c.bindings
	rep.IndexEntries = c.entries
}

func (c *checker) run() {
	if meta := c.tx.Bucket(bucketMeta); meta != nil {
		c.layout, _ = strconv.Atoi(string(meta.Get(keySchemaVersion)))
	}
	for _, name := range layoutBuckets(c.layout) {
		if c.tx.Bucket(name) == nil {
			c.problem("bucket %s is missing", name)
			return
		}
	}
	c.extra = (&Tx{tx: c.tx}).extraIndexed()
	c.checkMeta()
	c.checkCategories()
	c.checkIntents()
	c.checkEntities()
	for _, name := range indexBucketNames {
		if c.tx.Bucket(name) != nil {
			c.checkIndex(name)
		}
	}
}

// layoutBuckets are the buckets a file of a layout has: a layout-1 file
// (one not yet opened by this version, checked read-only) has no idx-attr.
func layoutBuckets(layout int) [][]byte {
	if layout != 1 {
		return allBuckets
	}
	return slices.DeleteFunc(slices.Clone(allBuckets), func(b []byte) bool { return bytes.Equal(b, bucketByAttr) })
}

// entries are a stored entity's index entries, as this file's layout has
// them.
func (c *checker) entriesOf(s *storedEntity) []indexEntry {
	var extra []string
	e := s.entity()
	if c.layout != 1 {
		extra = c.extra
		e.Attributes = s.indexedAttributes(extra)
	}
	return indexEntries(e, extra)
}

func (c *checker) checkMeta() {
	meta := c.tx.Bucket(bucketMeta)
	if v, err := strconv.Atoi(string(meta.Get(keySchemaVersion))); err != nil || v < 1 || v > schemaVersion {
		c.problem("meta %s: %q is not a layout this binary knows (1..%d)", keySchemaVersion, meta.Get(keySchemaVersion), schemaVersion)
	}
	if len(meta.Get(keyInstance)) == 0 {
		c.problem("meta %s: missing", keyInstance)
	}
	if raw := meta.Get(keyModelRevision); raw != nil {
		if _, err := strconv.ParseUint(string(raw), 10, 64); err != nil {
			c.problem("meta %s: %q is not a number", keyModelRevision, raw)
		}
	}
}

func (c *checker) checkCategories() {
	_ = c.tx.Bucket(bucketCategories).ForEach(func(k, v []byte) error {
		c.categories++
		var rec CategoryRecord
		switch err := json.Unmarshal(v, &rec); {
		case err != nil:
			c.problem("%s %q: damaged record: %v", bucketCategories, k, err)
		case rec.Class != "kind" && rec.Class != "mixin" && rec.Class != "action":
			c.problem("%s %q: unknown class %q", bucketCategories, k, rec.Class)
		case len(rec.Define) == 0:
			c.problem("%s %q: no definition", bucketCategories, k)
		}
		return nil
	})
	_ = c.tx.Bucket(bucketBindings).ForEach(func(k, v []byte) error {
		c.bindings++
		if len(v) == 0 {
			c.problem("%s %q: no provider", bucketBindings, k)
		}
		return nil
	})
}

func (c *checker) checkIntents() {
	_ = c.tx.Bucket(bucketIntents).ForEach(func(k, v []byte) error {
		c.intents++
		in := new(Intent)
		if err := json.Unmarshal(v, in); err != nil {
			c.problem("%s %s: damaged record: %v", bucketIntents, k, err)
			return nil
		}
		switch {
		case in.Entity == nil:
			c.problem("%s %s: no entity", bucketIntents, k)
			return nil
		case in.Entity.Location != string(k):
			c.problem("%s %s: its entity is at %q", bucketIntents, k, in.Entity.Location)
		}
		switch in.Op {
		case OpCreate, OpUpdate, OpAction, OpDelete:
			// Every intent reserves its entity's id until it ends.
			c.creates[string(k)] = in.Entity.ID
		default:
			c.problem("%s %s: unknown operation %q", bucketIntents, k, in.Op)
		}
		return nil
	})
}

// storedEntity is the part of a record the invariants are about: decoding
// it checks the whole record is JSON without building its attributes.
type storedEntity struct {
	Location   string                     `json:"location"`
	ID         string                     `json:"id"`
	Kind       string                     `json:"kind"`
	Mixins     []string                   `json:"mixins"`
	Source     *occi.LinkEnd              `json:"source"`
	Target     *occi.LinkEnd              `json:"target"`
	Attributes map[string]json.RawMessage `json:"attributes"`
}

// indexedAttributes decodes the values of the attributes idx-attr holds.
func (s *storedEntity) indexedAttributes(extra []string) map[string]any {
	out := map[string]any{}
	for name, raw := range s.Attributes {
		var v any
		if attrIndexed(name, extra) && json.Unmarshal(raw, &v) == nil {
			out[name] = v
		}
	}
	return out
}

func (s *storedEntity) entity() *Entity {
	return &Entity{Location: s.Location, ID: s.ID, Kind: s.Kind, Mixins: s.Mixins, Source: s.Source, Target: s.Target}
}

func (c *checker) checkEntities() {
	ids := c.tx.Bucket(bucketByID)
	_ = c.tx.Bucket(bucketEntities).ForEach(func(k, v []byte) error {
		loc := string(k)
		var s storedEntity
		if err := json.Unmarshal(v, &s); err != nil {
			c.problem("%s %s: damaged record: %v", bucketEntities, loc, err)
			return nil
		}
		if s.Location != loc {
			c.problem("%s %s: the record says it is at %q", bucketEntities, loc, s.Location)
			s.Location = loc // its index entries are keyed by where it is
		}
		c.checkCategoriesOf(loc, &s)
		if s.ID == "" {
			c.problem("%s %s: no id", bucketEntities, loc)
		} else {
			c.claims[string(bucketByID)]++
			if got := ids.Get([]byte(s.ID)); string(got) != loc {
				c.missing[string(bucketByID)]++
				c.problem("%s %s: %s maps its id %q to %q", bucketEntities, loc, bucketByID, s.ID, got)
			}
		}
		var seen []string
		for _, ie := range c.entriesOf(&s) {
			key := string(ie.bucket) + "\x00" + string(ie.key)
			if slices.Contains(seen, key) {
				continue // a mixin listed twice has one entry
			}
			seen = append(seen, key)
			c.claims[string(ie.bucket)]++
			if c.tx.Bucket(ie.bucket).Get(ie.key) == nil {
				c.missing[string(ie.bucket)]++
				c.problem("%s %s: %s has no entry %s", bucketEntities, loc, ie.bucket, showIndexKey(ie.key))
			}
		}
		c.checkEnds(loc, &s)
		return nil
	})
	for _, loc := range slices.Sorted(maps.Keys(c.creates)) {
		id := c.creates[loc]
		if c.tx.Bucket(bucketEntities).Get([]byte(loc)) != nil {
			continue // the entity's own entry covers the id
		}
		c.claims[string(bucketByID)]++
		if got := ids.Get([]byte(id)); string(got) != loc {
			c.missing[string(bucketByID)]++
			c.problem("%s %s: the intent's id %q is not reserved in %s (it maps to %q)", bucketIntents, loc, id, bucketByID, got)
		}
	}
}

func (c *checker) checkCategoriesOf(loc string, s *storedEntity) {
	if s.Kind == "" {
		c.problem("%s %s: no kind", bucketEntities, loc)
	} else if !c.isRegistered(s.Kind) {
		c.problem("%s %s: kind %q is not registered", bucketEntities, loc, s.Kind)
	}
	for _, m := range s.Mixins {
		if !c.isRegistered(m) {
			c.problem("%s %s: mixin %q is not registered", bucketEntities, loc, m)
		}
	}
}

func (c *checker) isRegistered(id string) bool {
	if c.registered == nil {
		return true
	}
	ok, seen := c.regMemo[id]
	if !seen {
		ok = c.registered(id)
		c.regMemo[id] = ok
	}
	return ok
}

// checkEnds checks a link's source and target.
func (c *checker) checkEnds(loc string, s *storedEntity) {
	switch {
	case s.Target == nil && s.Source == nil:
		c.resources++
		return
	case s.Target == nil:
		c.problem("%s %s: a source (%s) but no target", bucketEntities, loc, s.Source.Location)
		return
	case s.Source == nil:
		c.problem("%s %s: a link with no source", bucketEntities, loc)
	default:
		c.checkEnd(loc, "source", s.Source.Location)
	}
	c.links++
	switch t := s.Target.Location; {
	case strings.HasPrefix(t, "/"):
		c.checkEnd(loc, "target", t)
	case strings.HasPrefix(t, "http://"), strings.HasPrefix(t, "https://"):
		// A remote resource: not this store's to check.
	default:
		c.problem("%s %s: target %q is neither a location nor an http(s) URL", bucketEntities, loc, t)
	}
}

func (c *checker) checkEnd(loc, end, at string) {
	switch c.kindAt(at) {
	case endMissing:
		c.problem("%s %s: its %s %s does not exist", bucketEntities, loc, end, at)
	case endLink:
		c.problem("%s %s: its %s %s is a link, not a resource", bucketEntities, loc, end, at)
	case endDamaged:
		c.problem("%s %s: its %s %s cannot be read", bucketEntities, loc, end, at)
	}
}

func (c *checker) kindAt(loc string) endKind {
	if k, ok := c.kindMemo[loc]; ok {
		return k
	}
	k := endMissing
	if raw := c.tx.Bucket(bucketEntities).Get([]byte(loc)); raw != nil {
		var s struct {
			Target json.RawMessage `json:"target"`
		}
		switch {
		case json.Unmarshal(raw, &s) != nil:
			k = endDamaged
		case len(s.Target) > 0 && string(s.Target) != "null":
			k = endLink
		default:
			k = endResource
		}
	}
	if len(c.kindMemo) > 1<<16 { // many distinct ends: bound the memory
		clear(c.kindMemo)
	}
	c.kindMemo[loc] = k
	return k
}

// checkIndex counts an index's entries. Every claim found present is one
// distinct entry, so an index holding more entries than that has strays:
// only then is it walked entry by entry to name them.
func (c *checker) checkIndex(name []byte) {
	b := c.tx.Bucket(name)
	n := 0
	cur := b.Cursor()
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		n++
		if len(v) != 0 && !bytes.Equal(name, bucketByID) {
			c.problem("%s %s: holds a value (%d bytes), index values are empty", name, showIndexKey(k), len(v))
		}
	}
	c.entries[string(name)] = n
	if n == c.claims[string(name)]-c.missing[string(name)] {
		return
	}
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		c.checkEntry(name, k, v)
	}
}

// checkEntry checks that one index entry is called for by its entity.
func (c *checker) checkEntry(name, k, v []byte) {
	if bytes.Equal(name, bucketByID) {
		loc := string(v)
		e, readable := c.entityAt(loc)
		switch id, creating := c.creates[loc]; {
		case e != nil && e.ID == string(k):
		case e == nil && creating && id == string(k):
		case !readable:
			c.problem("%s %q: points at %q, whose record cannot be read", name, k, loc)
		default:
			c.problem("%s %q: points at %q, where no entity or intent has that id", name, k, loc)
		}
		return
	}
	i := indexValueEnd(name, k)
	if i < 0 {
		c.problem("%s %q: malformed key (no NUL between value and location)", name, k)
		return
	}
	loc := string(k[i+1:])
	raw := c.tx.Bucket(bucketEntities).Get(k[i+1:])
	if raw == nil {
		c.problem("%s %s: no entity is at %s", name, showIndexKey(k), loc)
		return
	}
	var s storedEntity
	if err := json.Unmarshal(raw, &s); err != nil {
		c.problem("%s %s: the entity at %s cannot be read", name, showIndexKey(k), loc)
		return
	}
	s.Location = loc
	for _, ie := range c.entriesOf(&s) {
		if bytes.Equal(ie.bucket, name) && bytes.Equal(ie.key, k) {
			return
		}
	}
	c.problem("%s %s: the entity at %s does not have %q as its %s", name, showIndexKey(k), loc, k[:i], indexRole(name))
}

// entityAt returns the entity at loc, if any; readable is false when a
// record is there but does not decode.
func (c *checker) entityAt(loc string) (e *storedEntity, readable bool) {
	raw := c.tx.Bucket(bucketEntities).Get([]byte(loc))
	if raw == nil {
		return nil, true
	}
	s := new(storedEntity)
	if json.Unmarshal(raw, s) != nil {
		return nil, false
	}
	return s, true
}

func indexRole(name []byte) string {
	switch string(name) {
	case string(bucketByKind):
		return "kind"
	case string(bucketByMixin):
		return "mixin"
	case string(bucketBySource):
		return "source"
	case string(bucketByTarget):
		return "target"
	case string(bucketByAttr):
		return "attribute value"
	}
	return "value"
}

// indexValueEnd returns where the indexed value of an index key ends (the
// NUL before the location), or -1. An idx-attr value is an attribute name,
// a NUL and the value, neither holding a NUL.
func indexValueEnd(bucket, k []byte) int {
	i := bytes.IndexByte(k, 0)
	if i < 0 || !bytes.Equal(bucket, bucketByAttr) {
		return i
	}
	j := bytes.IndexByte(k[i+1:], 0)
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

// showIndexKey shows "value\0location" as "value → location".
func showIndexKey(k []byte) string {
	if i := bytes.LastIndexByte(k, 0); i >= 0 {
		return fmt.Sprintf("%q → %s", k[:i], k[i+1:])
	}
	return fmt.Sprintf("%q", k)
}
