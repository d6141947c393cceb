package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/ocni/ocni/occi"
)

// builtFile writes a data file the way the server does (Open, entities
// through Write, Close) and returns its path.
func builtFile(t testing.TB, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ocni.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, db, n)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// pages finds, in a closed data file, the root page of the entities bucket
// (a branch page once it holds a few thousand entities), a leaf page below
// it, and the file offset of one entity's record.
type pages struct {
	pageSize       int64
	inUse          int64 // the high-water mark: the file may be longer
	branch, leaf   uint64
	recordOffset   int64
	recordLocation string
}

func findPages(t testing.TB, path string) pages {
	t.Helper()
	b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	var p pages
	p.pageSize = int64(b.Info().PageSize)
	p.recordLocation = "/compute/00000001"
	err = b.View(func(tx *bolt.Tx) error {
		p.inUse = tx.Size()
		ents := tx.Bucket(bucketEntities)
		p.branch = uint64(ents.Root())
		raw := ents.Get([]byte(p.recordLocation))
		// The value points into bbolt's map of the file.
		p.recordOffset = int64(uintptr(unsafe.Pointer(&raw[0])) - b.Info().Data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	buf := make([]byte, p.pageSize)
	id := p.branch
	for {
		if _, err := f.ReadAt(buf, int64(id)*p.pageSize); err != nil {
			t.Fatal(err)
		}
		switch ne.Uint16(buf[8:]) {
		case flagBranch:
			id = ne.Uint64(buf[pageHeader+8:]) // the first child
			continue
		case flagLeaf:
			p.leaf = id
		default:
			t.Fatalf("page %d has flags %#x", id, ne.Uint16(buf[8:]))
		}
		break
	}
	if p.leaf == p.branch {
		t.Fatal("the entities bucket is one page: fill more entities")
	}
	return p
}

func overwrite(t testing.TB, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func truncate(t testing.TB, path string, size func(int64) int64) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, size(fi.Size())); err != nil {
		t.Fatal(err)
	}
}

func junk(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 0xAB
	}
	return b
}

func u64(v uint64) []byte { return ne.AppendUint64(nil, v) }

// A damaged data file is refused at Open with an error that names it and
// says what to do, and never panics (before, a truncated file or a damaged
// page crashed the process from bbolt's free-list rebuild).
func TestOpenRefusesDamagedFiles(t *testing.T) {
	tests := []struct {
		name    string
		damage  func(t *testing.T, path string, p pages)
		wantErr error // errors.Is, besides ErrDamaged
	}{
		{name: "truncated to 0 bytes", damage: func(t *testing.T, path string, _ pages) {
			truncate(t, path, func(int64) int64 { return 0 })
		}},
		{name: "truncated to half its size", damage: func(t *testing.T, path string, _ pages) {
			truncate(t, path, func(n int64) int64 { return n / 2 })
		}},
		{name: "a page short of its high-water mark", damage: func(t *testing.T, path string, p pages) {
			truncate(t, path, func(int64) int64 { return p.inUse - p.pageSize })
		}},
		{name: "shorter than its meta pages", damage: func(t *testing.T, path string, _ pages) {
			truncate(t, path, func(int64) int64 { return 5000 })
		}},
		{name: "branch page header overwritten", damage: func(t *testing.T, path string, p pages) {
			overwrite(t, path, int64(p.branch)*p.pageSize, junk(16))
		}},
		{name: "branch page elements overwritten", damage: func(t *testing.T, path string, p pages) {
			overwrite(t, path, int64(p.branch)*p.pageSize+pageHeader, junk(64))
		}},
		{name: "branch child outside the file", damage: func(t *testing.T, path string, p pages) {
			overwrite(t, path, int64(p.branch)*p.pageSize+pageHeader+8, u64(1<<30))
		}},
		{name: "branch child is a meta page", damage: func(t *testing.T, path string, p pages) {
			overwrite(t, path, int64(p.branch)*p.pageSize+pageHeader+8, u64(1))
		}},
		{name: "leaf page header overwritten", damage: func(t *testing.T, path string, p pages) {
			overwrite(t, path, int64(p.leaf)*p.pageSize, junk(16))
		}},
		{name: "leaf page elements overwritten", damage: func(t *testing.T, path string, p pages) {
			overwrite(t, path, int64(p.leaf)*p.pageSize+pageHeader, junk(64))
		}},
		{name: "leaf page count too large", damage: func(t *testing.T, path string, p pages) {
			overwrite(t, path, int64(p.leaf)*p.pageSize+10, []byte{0xff, 0x7f})
		}},
		{name: "keys out of order", damage: func(t *testing.T, path string, p pages) {
			// The key just before the record, /compute/00000001, becomes
			// /compute/90000001: it sorts after the keys that follow it.
			overwrite(t, path, p.recordOffset-int64(len(p.recordLocation)), []byte("/compute/9"))
		}},
		{name: "both meta pages overwritten", wantErr: berrors.ErrInvalid, damage: func(t *testing.T, path string, p pages) {
			overwrite(t, path, pageHeader, junk(64))
			overwrite(t, path, p.pageSize+pageHeader, junk(64))
		}},
		{name: "both meta checksums wrong", wantErr: berrors.ErrChecksum, damage: func(t *testing.T, path string, p pages) {
			overwrite(t, path, metaTxidOff, u64(12345))
			overwrite(t, path, p.pageSize+metaTxidOff, u64(12346))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := builtFile(t, 3000)
			tt.damage(t, path, findPages(t, path))
			db, err := Open(path)
			if err == nil {
				_ = db.Close()
				t.Fatal("Open accepted a damaged file")
			}
			msg := err.Error()
			for _, want := range []string{path, "is damaged", "ocnid backup", "move it away"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not say %q", msg, want)
				}
			}
			if !errors.Is(err, ErrDamaged) {
				t.Errorf("error %q is not ErrDamaged", msg)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %q is not %v", msg, tt.wantErr)
			}
			// ocnid check lists the problems of a file Open refuses.
			rep, err := CheckPages(path)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() {
				t.Error("CheckPages found nothing")
			}
			// The refusal leaves the file unlocked and as it was.
			if _, err := OpenReadOnly(path); !errors.Is(err, ErrDamaged) {
				t.Errorf("OpenReadOnly: %v, want ErrDamaged", err)
			}
		})
	}
}

// bbolt keeps two meta pages: when the newest is damaged, it opens the
// file as of the other, the commit before, which is a sound state.
func TestOpenWithOneMetaPageDamaged(t *testing.T) {
	for _, meta := range []int64{0, 1} {
		t.Run(fmt.Sprint("meta ", meta), func(t *testing.T) {
			path := builtFile(t, 3000)
			p := findPages(t, path)
			overwrite(t, path, meta*p.pageSize+pageHeader, junk(64))
			db, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = db.Close() }()
			rep, err := Check(db, registered)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() {
				t.Errorf("problems: %q", rep.Problems)
			}
		})
	}
}

// A record's bytes overwritten leave bbolt's structure sound: Open cannot
// see it (bbolt keeps no checksum of data pages). Reading the record is an
// error, not a panic, and Check names it.
func TestDamagedRecord(t *testing.T) {
	path := builtFile(t, 3000)
	p := findPages(t, path)
	overwrite(t, path, p.recordOffset, []byte("\x00\xff"))
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	if _, err := db.Entity(p.recordLocation); err == nil || !strings.Contains(err.Error(), "damaged record") {
		t.Errorf("reading the damaged record: %v", err)
	}
	rep, err := Check(db, registered)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, pr := range rep.Problems {
		if strings.Contains(pr, "entities "+p.recordLocation+": damaged record") {
			found = true
		}
	}
	if !found {
		t.Errorf("Check does not name the damaged record: %q", rep.Problems)
	}
}

// A file damaged under a running store: the committer recovers bbolt's
// panic (or fault), fails the group with an Unavailable error naming the
// file, and refuses every later write. Before, the committer died with the
// process.
func TestDamageUnderARunningStore(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, path string, branch uint64, pageSize int64)
	}{
		{"page header overwritten: bbolt panics", func(t *testing.T, path string, branch uint64, pageSize int64) {
			overwrite(t, path, int64(branch)*pageSize, junk(16))
		}},
		{"child pointer far outside the map: a fault", func(t *testing.T, path string, branch uint64, pageSize int64) {
			overwrite(t, path, int64(branch)*pageSize+pageHeader+8, u64(1<<30))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, path := openTemp(t)
			fill(t, db, 3000)
			var branch uint64
			_ = db.bolt.View(func(tx *bolt.Tx) error {
				branch = uint64(tx.Bucket(bucketEntities).Root())
				return nil
			})
			tt.damage(t, path, branch, int64(db.bolt.Info().PageSize))

			// Several writers in flight: the whole group fails.
			var wg sync.WaitGroup
			errs := make([]error, 8)
			for i := range errs {
				wg.Go(func() {
					errs[i] = db.Write(func(tx *Tx) error { return tx.Put(computeAt(fmt.Sprintf("/compute/%08d", i), i)) })
				})
			}
			wg.Wait()
			t.Logf("write error: %v", errs[0])
			for _, err := range errs {
				if err == nil {
					t.Fatal("a write on a damaged page succeeded")
				}
				if occi.CodeOf(err) != occi.Unavailable || !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), path) {
					t.Errorf("write error %q: want an Unavailable damage error naming %s", err, path)
				}
			}
			if db.Damaged() == nil {
				t.Error("the DB is not marked damaged")
			}
			// A write that would not touch the damaged page is refused too.
			err := db.Write(func(tx *Tx) error { return tx.SetModelRevision(7) })
			if !errors.Is(err, ErrDamaged) {
				t.Errorf("write after damage: %v, want refused", err)
			}
			if _, err := db.Backup(new(strings.Builder)); !errors.Is(err, ErrDamaged) {
				t.Errorf("backup after damage: %v, want refused", err)
			}
			closed := make(chan error, 1)
			go func() { closed <- db.Close() }()
			select {
			case err := <-closed:
				t.Logf("Close: %v", err)
			case <-time.After(10 * time.Second):
				t.Fatal("Close hangs after damage")
			}
		})
	}
}

// A read through view on a page damaged under a running store is an
// Unavailable error naming the file, not a crash (faults included), and
// later reads are refused; a bug of the caller's still panics.
func TestViewRecoversDamage(t *testing.T) {
	for _, tt := range []struct {
		name string
		at   int64 // in the entities bucket's root page
		b    []byte
	}{
		{"page header overwritten: bbolt panics", 0, junk(16)},
		{"child pointer far outside the map: a fault", pageHeader + 8, u64(1 << 30)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db, path := openTemp(t)
			fill(t, db, 3000)
			read := func(tx *bolt.Tx) error {
				tx.Bucket(bucketEntities).Get([]byte("/compute/00000001"))
				return nil
			}
			func() {
				defer func() {
					if p := recover(); p != "a bug" {
						t.Errorf("the caller's panic became %v", p)
					}
				}()
				_ = db.view(func(*bolt.Tx) error { panic("a bug") })
			}()
			var branch uint64
			if err := db.view(func(tx *bolt.Tx) error { branch = uint64(tx.Bucket(bucketEntities).Root()); return read(tx) }); err != nil {
				t.Fatal(err)
			}
			overwrite(t, path, int64(branch)*int64(db.bolt.Info().PageSize)+tt.at, tt.b)
			err := db.view(read)
			if occi.CodeOf(err) != occi.Unavailable || !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), path) {
				t.Errorf("read of a damaged page: %v", err)
			}
			if err := db.view(func(*bolt.Tx) error { return nil }); !errors.Is(err, ErrDamaged) {
				t.Errorf("read after damage: %v, want refused", err)
			}
		})
	}
}

// Check on a live store whose file was damaged under it: a report, not a
// panic, and writes are refused from then on.
func TestCheckSeesDamageUnderARunningStore(t *testing.T) {
	db, path := openTemp(t)
	fill(t, db, 3000)
	var leaf uint64
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		leaf = uint64(tx.Bucket(bucketByKind).Root())
		return nil
	})
	overwrite(t, path, int64(leaf)*int64(db.bolt.Info().PageSize)+pageHeader, junk(48))
	rep, err := Check(db, registered)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || !strings.HasPrefix(rep.Problems[0], "page structure: ") {
		t.Errorf("problems: %q", rep.Problems)
	}
	if err := db.Write(func(tx *Tx) error { return tx.SetModelRevision(7) }); !errors.Is(err, ErrDamaged) {
		t.Errorf("write after Check found damage: %v", err)
	}
}

// A write function's own panic is a bug of its caller's, not damage: it is
// raised again in the caller, and the others of its group commit.
func TestWriteFunctionPanic(t *testing.T) {
	db, _ := openTemp(t)
	fill(t, db, 10)
	var wg sync.WaitGroup
	var recovered any
	for i := range 20 {
		wg.Go(func() {
			if i == 7 {
				defer func() { recovered = recover() }()
				_ = db.Write(func(tx *Tx) error {
					if tx.Exists("/compute/00000001") {
						panic("a bug in a write function")
					}
					return nil
				})
				return
			}
			if err := db.Write(func(tx *Tx) error { return tx.Put(computeAt(fmt.Sprintf("/compute/p%02d", i), i)) }); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if recovered == nil || !strings.Contains(fmt.Sprint(recovered), "a bug in a write function") {
		t.Errorf("the caller recovered %v, want its own panic", recovered)
	}
	if err := db.Damaged(); err != nil {
		t.Errorf("a write function's panic marked the file damaged: %v", err)
	}
	if _, err := db.Entity("/compute/p19"); err != nil {
		t.Error(err)
	}
	if err := db.Write(func(tx *Tx) error { return tx.SetModelRevision(7) }); err != nil {
		t.Errorf("the committer is gone: %v", err)
	}
}

// TestOpenTimings measures what the damage checks cost at open, and what
// Check costs, on a large store. It runs when OCNI_STORE_TIMINGS is a
// number of entities (e.g. 100000); building the file takes a while.
func TestOpenTimings(t *testing.T) {
	var n int
	if _, err := fmt.Sscan(os.Getenv("OCNI_STORE_TIMINGS"), &n); err != nil || n <= 0 {
		t.Skip("set OCNI_STORE_TIMINGS to a number of entities")
	}
	start := time.Now()
	path := builtFile(t, n)
	fi, _ := os.Stat(path)
	t.Logf("%d computes (+%d links): %d MiB, built in %s", n, n/2, fi.Size()>>20, time.Since(start).Round(time.Millisecond))

	for range 2 { // the second round runs with the file in the page cache
		start = time.Now()
		b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, NoFreelistSync: true})
		if err != nil {
			t.Fatal(err)
		}
		bare := time.Since(start)
		_ = b.Close()

		start = time.Now()
		if err := checkFile(path); err != nil {
			t.Fatal(err)
		}
		walk := time.Since(start)

		start = time.Now()
		db, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		open := time.Since(start)

		start = time.Now()
		var bboltErrs int
		_ = db.bolt.View(func(tx *bolt.Tx) error {
			for range tx.Check() {
				bboltErrs++
			}
			return nil
		})
		txCheck := time.Since(start)

		rep, err := Check(db, registered)
		if err != nil {
			t.Fatal(err)
		}
		_ = db.Close()
		t.Logf("bbolt open alone %s; ocni's page walk %s; Open %s; bbolt Tx.Check %s (%d errors); Check: structure %s, invariants %s, %d problems",
			bare.Round(time.Millisecond), walk.Round(time.Millisecond), open.Round(time.Millisecond), txCheck.Round(time.Millisecond), bboltErrs,
			rep.Structure.Round(time.Millisecond), rep.Invariants.Round(time.Millisecond), len(rep.Problems))
	}
}
