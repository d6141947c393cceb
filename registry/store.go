package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/ocni/ocni/occi"
)

// The data file's layout, declared in one place. A change of layout bumps
// schemaVersion; a binary refuses a file written by a newer layout rather
// than misreading it.
var (
	bucketMeta       = []byte("meta")       // schema-version → decimal
	bucketCategories = []byte("categories") // category id → categoryRecord (JSON)
	bucketBindings   = []byte("bindings")   // kind id → provider name

	// Entities and their indexes. An index key is the indexed value, a NUL
	// and the entity's location; values are empty. Indexes are written in
	// the same transaction as the entity.
	bucketEntities = []byte("entities")   // location → Entity (JSON)
	bucketByID     = []byte("idx-id")     // entity id → location
	bucketByKind   = []byte("idx-kind")   // kind id \0 location
	bucketByMixin  = []byte("idx-mixin")  // mixin id \0 location
	bucketBySource = []byte("idx-source") // source location \0 link location
	bucketByTarget = []byte("idx-target") // target location \0 link location
	bucketIntents  = []byte("intents")    // location → Intent (JSON): backend calls in flight

	allBuckets = [][]byte{
		bucketMeta, bucketCategories, bucketBindings,
		bucketEntities, bucketByID, bucketByKind, bucketByMixin, bucketBySource, bucketByTarget, bucketIntents,
	}

	keySchemaVersion = []byte("schema-version")
)

const schemaVersion = 1

// Class names a category's class, as the text rendering spells it.
type Class string

// The three classes of category.
const (
	ClassKind   Class = "kind"
	ClassMixin  Class = "mixin"
	ClassAction Class = "action"
)

// categoryRecord is how a runtime category is stored: its class and its JSON
// rendering, exactly as registered.
type categoryRecord struct {
	Class  Class           `json:"class"`
	Define json.RawMessage `json:"define"`
}

// DB is the bbolt data file.
type DB struct {
	bolt    *bolt.DB
	path    string
	queue   chan writeCall // entity writes, for the group commit
	closed  chan struct{}
	stopped chan struct{}
}

// OpenDB opens (creating if needed) the data file at path, creates the
// buckets and checks the layout version.
func OpenDB(path string) (*DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
	}
	// The freelist is rebuilt on open instead of written at every commit:
	// fewer pages per fsync, which is what bounds durable writes.
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("data file %s is locked by another process (is another ocnid running?)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("open data file %s: %w", path, err)
	}
	db := &DB{bolt: b, path: path, queue: make(chan writeCall, maxGroup), closed: make(chan struct{}), stopped: make(chan struct{})}
	if err := b.Update(db.initLayout); err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("data file %s: %w", path, err)
	}
	go db.committer()
	return db, nil
}

func (db *DB) initLayout(tx *bolt.Tx) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	meta := tx.Bucket(bucketMeta)
	raw := meta.Get(keySchemaVersion)
	if raw == nil {
		return meta.Put(keySchemaVersion, []byte(strconv.Itoa(schemaVersion)))
	}
	v, err := strconv.Atoi(string(raw))
	if err != nil {
		return fmt.Errorf("schema version %q is not a number: the file is not an ocni data file or is damaged", raw)
	}
	if v > schemaVersion {
		return fmt.Errorf("written by a newer ocni (layout %d, this binary knows up to %d)", v, schemaVersion)
	}
	return nil
}

// Path returns the data file's path.
func (db *DB) Path() string { return db.path }

// Bolt gives packages that keep their own buckets in the same file access to
// the underlying database.
func (db *DB) Bolt() *bolt.DB { return db.bolt }

// Close lets the group being committed finish, fails the writes still
// queued, and closes the data file.
func (db *DB) Close() error {
	close(db.closed)
	<-db.stopped
	for {
		select {
		case c := <-db.queue:
			c.done <- errClosed
		default:
			return db.bolt.Close()
		}
	}
}

// stored is what the data file holds for the registry.
type stored struct {
	categories map[string]categoryRecord
	bindings   map[string]string
}

func (db *DB) load() (*stored, error) {
	st := &stored{categories: map[string]categoryRecord{}, bindings: map[string]string{}}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketCategories).ForEach(func(k, v []byte) error {
			var rec categoryRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("category %q: damaged record: %w", k, err)
			}
			st.categories[string(k)] = rec
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketBindings).ForEach(func(k, v []byte) error {
			st.bindings[string(k)] = string(v)
			return nil
		})
	})
	return st, err
}

// commit writes one registry change in one transaction: the file never holds
// half of a change.
type commit struct {
	putCategories map[string]categoryRecord
	delCategories []string
	putBindings   map[string]string
	delBindings   []string
}

func (db *DB) commit(c *commit) error {
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		cats, binds := tx.Bucket(bucketCategories), tx.Bucket(bucketBindings)
		for _, id := range c.delCategories {
			if err := cats.Delete([]byte(id)); err != nil {
				return err
			}
		}
		for id, rec := range c.putCategories {
			v, err := json.Marshal(rec)
			if err != nil {
				return err
			}
			if err := cats.Put([]byte(id), v); err != nil {
				return err
			}
		}
		for _, id := range c.delBindings {
			if err := binds.Delete([]byte(id)); err != nil {
				return err
			}
		}
		for id, p := range c.putBindings {
			if err := binds.Put([]byte(id), []byte(p)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return occi.Errorf(occi.Unavailable, "the data file cannot be written: %w", err)
	}
	return nil
}
