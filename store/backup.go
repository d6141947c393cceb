package store

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ocni/ocni/occi"
)

// Backup writes a consistent copy of the data file to w while the server
// keeps serving: bbolt's Tx.WriteTo in a read transaction, so the copy is
// the state of one moment and writers go on. The copy is a data file that
// Open takes as it is. A file seen damaged is not copied: a backup must be
// something to restore.
//
// The read transaction lasts as long as w takes. While it is open, a
// write that needs bbolt to map a larger file waits for it: give Backup a
// fast writer (a local file: BackupFile), not a slow network peer.
func (db *DB) Backup(w io.Writer) (int64, error) {
	var n int64
	err := db.view(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil && !errors.Is(err, ErrDamaged) {
		err = occi.Errorf(occi.Unavailable, "back up data file %s: %w", db.path, err)
	}
	return n, err
}

// BackupFile writes a consistent copy of the data file (see Backup) to
// path, atomically: to a temporary file in the same directory, synced,
// then renamed over path, and the directory synced. It refuses path when
// it is the live data file itself.
func (db *DB) BackupFile(path string) error {
	if same, err := sameFile(path, db.path); err != nil {
		return err
	} else if same {
		return occi.Errorf(occi.InvalidArgument, "%s is the live data file: back it up to another path", path)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	done := false
	defer func() {
		if !done {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := db.Backup(tmp); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("backup %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("backup %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("backup %s: %w", path, err)
	}
	done = true
	return syncDir(dir)
}

// sameFile reports whether path names the file at live (through any
// spelling or link).
func sameFile(path, live string) (bool, error) {
	a, err := os.Stat(path)
	if os.IsNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("backup %s: %w", path, err)
	}
	b, err := os.Stat(live)
	if err != nil {
		return false, fmt.Errorf("data file %s: %w", live, err)
	}
	return os.SameFile(a, b), nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("backup: sync %s: %w", dir, err)
	}
	return nil
}

// BackupHandler serves a consistent copy of the data file on GET, for `curl -o copy.db http://ADMIN/PATH` while the server
// runs: a second process cannot open a file the server holds. Mount it on
// an address only operators reach.
//
// The copy is first written to a temporary file beside the data file, then
// streamed from there: the read transaction lasts as long as the local
// copy takes, not as long as the client takes to download it (see
// Backup). That needs free space for one more copy. A failure before the
// first byte is a 503 with the reason; a failure while streaming cuts the
// body short of its Content-Length, which clients report.
func BackupHandler(db *DB) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			http.Error(w, "use GET", http.StatusMethodNotAllowed)
			return
		}
		tmp, err := os.CreateTemp(filepath.Dir(db.path), "."+filepath.Base(db.path)+".download-*")
		if err != nil {
			http.Error(w, "backup: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		defer func() {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}()
		n, err := db.Backup(tmp)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		name := fmt.Sprintf("ocni-%s-%s.db", db.instance, time.Now().UTC().Format("20060102T150405Z"))
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		w.Header().Set("Cache-Control", "no-store")
		_, _ = io.Copy(w, io.NewSectionReader(tmp, 0, n))
	})
}
