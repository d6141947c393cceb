package store

import (
	"strconv"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// attrLocations scans the attribute index for name = text.
func attrLocations(t *testing.T, db *DB, name, text string) []string {
	t.Helper()
	var out []string
	if err := db.View(func(tx *Tx) error {
		if !tx.IndexedAttribute(name) {
			t.Fatalf("%s is not indexed", name)
		}
		locs, _, err := tx.Locations(ByAttribute, AttributeValue(name, text), 0)
		out = locs
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func mustCheck(t *testing.T, db *DB) *CheckReport {
	t.Helper()
	rep, err := Check(db, registered)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("problems: %s", strings.Join(rep.Problems, "\n"))
	}
	return rep
}

// The occi.core.* attributes are indexed with their entities; a value too
// long for a key is indexed by its digest, and a delete takes the entries
// away.
func TestCoreAttributesAreIndexed(t *testing.T) {
	db, _ := openTemp(t)
	fill(t, db, 20)
	if got := attrLocations(t, db, "occi.core.title", "machine 7"); len(got) != 1 || got[0] != "/compute/00000007" {
		t.Errorf("title lookup: %v", got)
	}
	long := strings.Repeat("t", 64<<10)
	e := computeAt("/compute/long", 1)
	e.Attributes["occi.core.title"] = long
	if err := db.Write(func(tx *Tx) error { return tx.Put(e) }); err != nil {
		t.Fatal(err)
	}
	if got := attrLocations(t, db, "occi.core.title", long); len(got) != 1 || got[0] != "/compute/long" {
		t.Errorf("long title lookup: %v", got)
	}
	if err := db.Write(func(tx *Tx) error { return tx.Delete("/compute/00000007") }); err != nil {
		t.Fatal(err)
	}
	if got := attrLocations(t, db, "occi.core.title", "machine 7"); len(got) != 0 {
		t.Errorf("after delete: %v", got)
	}
	mustCheck(t, db)
	if db.View(func(tx *Tx) error {
		if tx.IndexedAttribute("occi.compute.state") {
			t.Error("occi.compute.state is indexed without being listed")
		}
		return nil
	}) != nil {
		t.Fatal("view")
	}
}

// An attribute listed is indexed from the entities already there, kept up
// by writes, and dropped when no longer listed; the checker knows it.
func TestIndexAttributes(t *testing.T) {
	db, _ := openTemp(t)
	fill(t, db, 30)
	if err := db.IndexAttributes([]string{"occi.compute.hostname", "occi.core.summary"}); err != nil {
		t.Fatal(err)
	}
	if got := attrLocations(t, db, "occi.compute.hostname", "vm12"); len(got) != 1 || got[0] != "/compute/00000012" {
		t.Errorf("hostname lookup: %v", got)
	}
	// Numbers are indexed by their text form, as filters compare them.
	if err := db.IndexAttributes([]string{"occi.compute.hostname", "occi.compute.cores"}); err != nil {
		t.Fatal(err)
	}
	if got := attrLocations(t, db, "occi.compute.cores", "3"); len(got) != 4 { // i%8 == 2 for i < 30
		t.Errorf("cores lookup: %v", got)
	}
	e := computeAt("/compute/new", 2)
	e.Attributes["occi.compute.hostname"] = "fresh"
	if err := db.Write(func(tx *Tx) error { return tx.Put(e) }); err != nil {
		t.Fatal(err)
	}
	if got := attrLocations(t, db, "occi.compute.hostname", "fresh"); len(got) != 1 {
		t.Errorf("a write after the index was built: %v", got)
	}
	rep := mustCheck(t, db)
	// 31 titles, 31 hostnames, 31 core counts.
	if n := rep.IndexEntries["idx-attr"]; n != 93 {
		t.Errorf("idx-attr holds %d entries, want 93", n)
	}
	if err := db.IndexAttributes(nil); err != nil {
		t.Fatal(err)
	}
	if rep := mustCheck(t, db); rep.IndexEntries["idx-attr"] != 31 {
		t.Errorf("after dropping the listed attributes: %d entries", rep.IndexEntries["idx-attr"])
	}
	// The checker finds an entry missing for a listed attribute.
	if err := db.IndexAttributes([]string{"occi.compute.hostname"}); err != nil {
		t.Fatal(err)
	}
	if err := db.bolt.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketByAttr).Delete(indexKey(AttributeValue("occi.compute.hostname", "vm3"), "/compute/00000003"))
	}); err != nil {
		t.Fatal(err)
	}
	rep, err := Check(db, registered)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], `idx-attr has no entry "occi.compute.hostname\x00vm3"`) {
		t.Errorf("problems: %q", rep.Problems)
	}
	if err := db.IndexAttributes([]string{"bad\nname"}); err == nil {
		t.Error("a name with a newline was accepted")
	}
}

// A layout-1 file (no attribute index) reads as it is for a check, and is
// migrated when opened: the index is built and the layout is 2.
func TestLayout1IsMigrated(t *testing.T) {
	db, path := openTemp(t)
	fill(t, db, 20)
	_ = db.Close()
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketByAttr); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keySchemaVersion, []byte("1"))
	}); err != nil {
		t.Fatal(err)
	}
	_ = b.Close()

	ro, err := OpenReadOnly(path)
	if err != nil {
		t.Fatalf("a layout-1 file read-only: %v", err)
	}
	if rep := mustCheck(t, ro); rep.IndexEntries["idx-attr"] != 0 {
		t.Errorf("layout 1: %v", rep.IndexEntries)
	}
	_ = ro.Close()

	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if rep := mustCheck(t, db); rep.IndexEntries["idx-attr"] != 20 {
		t.Errorf("after migration: %v", rep.IndexEntries)
	}
	if got := attrLocations(t, db, "occi.core.title", "machine 3"); len(got) != 1 {
		t.Errorf("title lookup after migration: %v", got)
	}
	if err := db.View(func(tx *Tx) error {
		if v := string(tx.tx.Bucket(bucketMeta).Get(keySchemaVersion)); v != strconv.Itoa(schemaVersion) {
			t.Errorf("layout %s after migration", v)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
