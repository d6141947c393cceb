package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/ocni/ocni/occi"
)

// The data file's layout, declared in one place. A change of layout bumps
// schemaVersion; a binary refuses a file written by a newer layout rather
// than misreading it.
var (
	bucketMeta       = []byte("meta")       // keys below → values
	bucketCategories = []byte("categories") // category id → CategoryRecord (JSON)
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
	// Attribute values, for equality filters: the occi.core.* attributes
	// and those listed under keyIndexedAttrs. A value is its text form
	// (occi.ValueText), or a digest of it when long (see attrValueKey).
	bucketByAttr  = []byte("idx-attr") // attribute name \0 value \0 location (layout 2)
	bucketIntents = []byte("intents")  // location → Intent (JSON): backend calls in flight

	allBuckets = [][]byte{
		bucketMeta, bucketCategories, bucketBindings,
		bucketEntities, bucketByID, bucketByKind, bucketByMixin, bucketBySource, bucketByTarget, bucketByAttr, bucketIntents,
	}

	keySchemaVersion = []byte("schema-version")     // decimal
	keyInstance      = []byte("instance-id")        // a UUID chosen when the file is created
	keyModelRevision = []byte("model-revision")     // decimal, bumped by every category change
	keyIndexedAttrs  = []byte("indexed-attributes") // names idx-attr holds besides occi.core.*, one a line
)

// schemaVersion is the layout this binary writes. Layout 2 added idx-attr:
// a layout-1 file is migrated when opened (the index is built from the
// entities), and a binary of layout 1, which would write entities without
// their attribute entries, refuses a layout-2 file.
const schemaVersion = 2

// CategoryRecord is how a runtime category is stored: its class ("kind",
// "mixin" or "action") and its JSON rendering, exactly as registered.
type CategoryRecord struct {
	Class  string          `json:"class"`
	Define json.RawMessage `json:"define"`
}

// DB is the bbolt data file.
type DB struct {
	bolt     *bolt.DB
	path     string
	instance string
	// damage is the error every access gets once the file has been seen
	// damaged (see damage.go).
	damage atomic.Pointer[error]
	// entities caches decoded entity records (cache.go).
	entities *entityCache
	// reads counts the entity records decoded: the work requests do,
	// which tests measure.
	reads atomic.Uint64

	// The group commit's queue. closing is held for reading while a write
	// is queued and for writing while Close shuts the queue, so that no
	// write can slip in once the queue is drained.
	closing  sync.RWMutex
	isClosed bool
	queue    chan writeCall
	closed   chan struct{}
	stopped  chan struct{}
}

// Open opens (creating if needed) the data file at path, creates the
// buckets, checks the layout version and gives a new file its instance id.
func Open(path string) (*DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
	}
	if err := checkFile(path); err != nil {
		return nil, err
	}
	b, err := openBolt(path)
	if err != nil {
		return nil, err
	}
	db := &DB{bolt: b, path: path, queue: make(chan writeCall, maxGroup), closed: make(chan struct{}), stopped: make(chan struct{}), entities: newEntityCache()}
	if err := b.Update(db.initLayout); err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("data file %s: %w", path, err)
	}
	go db.committer()
	return db, nil
}

// openBolt opens the bbolt file, turning its errors (and its panics, which
// a damaged file can provoke) into errors that name the file.
func openBolt(path string) (b *bolt.DB, err error) {
	defer func() {
		if p := recover(); p != nil {
			b, err = nil, damaged(path, fmt.Errorf("%v", p))
		}
	}()
	// The freelist is rebuilt on open instead of written at every commit:
	// fewer pages per fsync, which is what bounds durable writes.
	b, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, NoFreelistSync: true})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("data file %s is locked by another process (is another ocnid running?)", path)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch):
		return nil, damaged(path, err)
	case err != nil:
		return nil, fmt.Errorf("open data file %s: %w", path, err)
	}
	return b, nil
}

func (db *DB) initLayout(tx *bolt.Tx) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	meta := tx.Bucket(bucketMeta)
	if raw := meta.Get(keySchemaVersion); raw == nil {
		if err := meta.Put(keySchemaVersion, []byte(strconv.Itoa(schemaVersion))); err != nil {
			return err
		}
	} else {
		v, err := strconv.Atoi(string(raw))
		if err != nil {
			return fmt.Errorf("schema version %q is not a number: the file is not an ocni data file or is damaged", raw)
		}
		if v > schemaVersion {
			return fmt.Errorf("written by a newer ocni (layout %d, this binary knows up to %d)", v, schemaVersion)
		}
		if v < 2 {
			// Layout 1 has no attribute index: it is built here, in the
			// transaction that marks the file layout 2.
			if err := (&Tx{tx: tx, db: db, writable: true}).addAttrIndex(isCoreAttr); err != nil {
				return fmt.Errorf("migrate to layout 2: %w", err)
			}
			if err := meta.Put(keySchemaVersion, []byte(strconv.Itoa(schemaVersion))); err != nil {
				return err
			}
		}
	}
	if raw := meta.Get(keyInstance); raw != nil {
		db.instance = string(raw)
		return nil
	}
	db.instance = uuid.NewString()
	return meta.Put(keyInstance, []byte(db.instance))
}

// EntitiesRead returns how many entity records have been decoded since the
// file was opened: the work listings and filters do, which tests measure.
func (db *DB) EntitiesRead() uint64 { return db.reads.Load() }

// Path returns the data file's path.
func (db *DB) Path() string { return db.path }

// Instance returns the data file's instance id: chosen when the file was
// created, it tags every object ocni makes on a VIM, so that an ocni never
// touches objects another one made.
func (db *DB) Instance() string { return db.instance }

// Close lets the group being committed finish, fails the writes still
// queued, and closes the data file. Writes after Close fail.
func (db *DB) Close() error {
	db.closing.Lock()
	if db.isClosed {
		db.closing.Unlock()
		return nil
	}
	db.isClosed = true
	db.closing.Unlock()
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

// Categories returns the stored category records and bindings, and the
// model revision.
func (db *DB) Categories() (cats map[string]CategoryRecord, bindings map[string]string, revision uint64, err error) {
	cats, bindings = map[string]CategoryRecord{}, map[string]string{}
	err = db.view(func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketCategories).ForEach(func(k, v []byte) error {
			var rec CategoryRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("category %q: damaged record: %w", k, err)
			}
			cats[string(k)] = rec
			return nil
		})
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketBindings).ForEach(func(k, v []byte) error {
			bindings[string(k)] = string(v)
			return nil
		}); err != nil {
			return err
		}
		revision, err = (&Tx{tx: tx, db: db}).ModelRevision()
		return err
	})
	return cats, bindings, revision, err
}

// View runs fn in a read transaction: everything it reads is one state.
func (db *DB) View(fn func(*Tx) error) error {
	return db.view(func(tx *bolt.Tx) error { return fn(&Tx{tx: tx, db: db}) })
}

// Write runs fn in a write transaction shared with the other writers of the
// moment (a group commit), and returns once it is durable. fn may run more
// than once (when another function of its group fails, the group runs again
// without it), so it must not keep state between runs. An error fn returns
// is returned as it is; a failure of the file is an Unavailable error.
func (db *DB) Write(fn func(*Tx) error) error {
	return storeErr(db.write(func(tx *bolt.Tx) error { return fn(&Tx{tx: tx, db: db, writable: true}) }))
}

func storeErr(err error) error {
	if err == nil {
		return nil
	}
	var oe *occi.Error
	if errors.As(err, &oe) {
		return err
	}
	return occi.Errorf(occi.Unavailable, "the data file cannot be written: %w", err)
}

// Dump writes every bucket's keys and values, in order, as text: two dumps
// are equal exactly when the files hold the same data.
func (db *DB) Dump(w io.Writer) error {
	return db.view(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := fmt.Fprintf(w, "[%s]\n", name); err != nil {
				return err
			}
			if tx.Bucket(name) == nil {
				continue // a bucket of a later layout, on a file opened read-only
			}
			if err := tx.Bucket(name).ForEach(func(k, v []byte) error {
				_, err := fmt.Fprintf(w, "%q=%q\n", k, v)
				return err
			}); err != nil {
				return err
			}
		}
		return nil
	})
}
