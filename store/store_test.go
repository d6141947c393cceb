package store

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ocni/ocni/occi"
)

// The categories the test entities use.
var testCategories = map[string]bool{
	occi.ComputeKindID: true, occi.NetworkKindID: true, occi.NetworkInterfaceID: true, occi.OSTplMixinID: true,
}

func registered(id string) bool { return testCategories[id] }

// openTemp opens a new data file in a temporary directory; it is closed
// when the test ends.
func openTemp(t testing.TB) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ocni.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db, path
}

func computeAt(loc string, i int) *Entity {
	e := &Entity{
		Location: loc, ID: fmt.Sprintf("c-%s", loc), Kind: occi.ComputeKindID, Provider: "dummy",
		Attributes: map[string]any{
			"occi.core.title": "machine " + strconv.Itoa(i), "occi.compute.cores": float64(1 + i%8),
			"occi.compute.memory": float64(2 + i%16), "occi.compute.hostname": fmt.Sprintf("vm%d", i),
			"occi.compute.state": "active",
		},
	}
	if i%3 == 0 {
		e.Mixins = []string{occi.OSTplMixinID}
	}
	return e
}

func linkAt(loc, source, target string) *Entity {
	return &Entity{
		Location: loc, ID: "l-" + loc, Kind: occi.NetworkInterfaceID, Provider: "dummy",
		Source: &occi.LinkEnd{Location: source, Kind: occi.ComputeKindID},
		Target: &occi.LinkEnd{Location: target, Kind: occi.NetworkKindID},
	}
}

// fill writes n computes (/compute/00000000...), n/100+1 networks, a link
// from every even compute to a network and one link to a remote network,
// in writes of up to 1000 entities.
func fill(t testing.TB, db *DB, n int) {
	t.Helper()
	nets := n/100 + 1
	put := func(es []*Entity) {
		if err := db.Write(func(tx *Tx) error {
			for _, e := range es {
				if err := tx.Put(e.Clone()); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	var batch []*Entity
	flush := func(force bool) {
		if len(batch) >= 1000 || (force && len(batch) > 0) {
			put(batch)
			batch = batch[:0]
		}
	}
	for k := range nets {
		batch = append(batch, &Entity{Location: fmt.Sprintf("/network/%04d", k), ID: fmt.Sprintf("n-%d", k), Kind: occi.NetworkKindID, Provider: "dummy"})
	}
	flush(true)
	for i := range n {
		c := computeAt(fmt.Sprintf("/compute/%08d", i), i)
		batch = append(batch, c)
		if i%2 == 0 {
			batch = append(batch, linkAt(fmt.Sprintf("/link/%08d", i), c.Location, fmt.Sprintf("/network/%04d", i%nets)))
		}
		flush(false)
	}
	if n > 0 {
		batch = append(batch, linkAt("/link/remote", "/compute/00000000", "https://example.org/network/1"))
	}
	flush(true)
}

func TestOpen(t *testing.T) {
	// setBoltMeta rewrites a meta key of a closed data file behind ocni's
	// back.
	setBoltMeta := func(t *testing.T, path string, key, value []byte) {
		t.Helper()
		b, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = b.Close() }()
		if err := b.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(key, value) }); err != nil {
			t.Fatal(err)
		}
	}
	newFile := func(t *testing.T) string {
		t.Helper()
		path := filepath.Join(t.TempDir(), "ocni.db")
		db, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tests := []struct {
		name    string
		setup   func(t *testing.T) string // returns the path to open
		want    string                    // in the error
		wantErr error                     // errors.Is, if set
	}{
		{
			name: "locked by a running store",
			setup: func(t *testing.T) string {
				_, path := openTemp(t)
				return path
			},
			want: "locked by another process", wantErr: ErrLocked,
		},
		{
			name: "written by a newer layout",
			setup: func(t *testing.T) string {
				path := newFile(t)
				setBoltMeta(t, path, keySchemaVersion, []byte(strconv.Itoa(schemaVersion+1)))
				return path
			},
			want: "newer ocni",
		},
		{
			name: "layout version not a number",
			setup: func(t *testing.T) string {
				path := newFile(t)
				setBoltMeta(t, path, keySchemaVersion, []byte("x"))
				return path
			},
			want: "not a number",
		},
		{
			name: "a directory",
			setup: func(t *testing.T) string {
				path := filepath.Join(t.TempDir(), "ocni.db")
				if err := os.Mkdir(path, 0o700); err != nil {
					t.Fatal(err)
				}
				return path
			},
			want: "is a directory",
		},
		{
			name: "not a data file",
			setup: func(t *testing.T) string {
				path := filepath.Join(t.TempDir(), "ocni.db")
				if err := os.WriteFile(path, bytes.Repeat([]byte("not bbolt\n"), 2000), 0o600); err != nil {
					t.Fatal(err)
				}
				return path
			},
			want: "is damaged", wantErr: ErrDamaged,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.setup(t)
			db, err := Open(path)
			if err == nil {
				_ = db.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not say %q about %s", err, tt.want, path)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %q is not %v", err, tt.wantErr)
			}
		})
	}

	t.Run("reopen keeps the instance and the data", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "sub", "ocni.db")
		db, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		fill(t, db, 10)
		inst := db.Instance()
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		db, err = Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = db.Close() }()
		if db.Instance() != inst || inst == "" {
			t.Errorf("instance %q after reopening, was %q", db.Instance(), inst)
		}
		if _, err := db.Entity("/compute/00000009"); err != nil {
			t.Error(err)
		}
	})
}

// Close must answer every write: committed before it, or failed. None may
// hang, and every write reported done must be in the file.
func TestCloseAnswersEveryWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ocni.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	const writers = 64
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		written []string
		started atomic.Int64
	)
	for w := range writers {
		wg.Go(func() {
			for i := 0; ; i++ {
				loc := fmt.Sprintf("/compute/w%02d-%04d", w, i)
				started.Add(1)
				err := db.Write(func(tx *Tx) error { return tx.Put(computeAt(loc, i)) })
				if err != nil {
					if occi.CodeOf(err) != occi.Unavailable {
						t.Errorf("write after close: %v, want an Unavailable error", err)
					}
					return
				}
				mu.Lock()
				written = append(written, loc)
				mu.Unlock()
			}
		})
	}
	for started.Load() < 500 {
		time.Sleep(time.Millisecond)
	}
	closed := make(chan error, 1)
	go func() { closed <- db.Close() }()
	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()
	for _, ch := range []<-chan struct{}{allDone, waitErr(t, closed)} {
		select {
		case <-ch:
		case <-time.After(30 * time.Second):
			t.Fatal("a write or Close hangs")
		}
	}
	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	for _, loc := range written {
		if _, err := db.Entity(loc); err != nil {
			t.Errorf("write of %s was acknowledged but is lost: %v", loc, err)
		}
	}
	if len(written) == 0 {
		t.Error("no write went through before Close")
	}
}

func waitErr(t *testing.T, ch <-chan error) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		if err := <-ch; err != nil {
			t.Errorf("Close: %v", err)
		}
		close(done)
	}()
	return done
}

// A backup taken while writers keep writing is a sound data file holding
// one state: everything before it, part of what went on during it.
func TestBackupWhileWriting(t *testing.T) {
	db, path := openTemp(t)
	fill(t, db, 2000)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c := computeAt(fmt.Sprintf("/compute/w%d-%06d", w, i), i)
				l := linkAt(fmt.Sprintf("/link/w%d-%06d", w, i), c.Location, "/network/0001")
				if err := db.Write(func(tx *Tx) error {
					if err := tx.Put(c.Clone()); err != nil {
						return err
					}
					return tx.Put(l.Clone())
				}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()

	dir := t.TempDir()
	check := func(t *testing.T, copyPath string) {
		t.Helper()
		b, err := Open(copyPath)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = b.Close() }()
		if b.Instance() != db.Instance() {
			t.Errorf("the copy's instance is %q, want %q", b.Instance(), db.Instance())
		}
		rep, err := Check(b, registered)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() {
			t.Errorf("the copy has problems: %q", rep.Problems)
		}
		if rep.Resources < 2000 {
			t.Errorf("the copy holds %d resources, want at least the 2000 written before", rep.Resources)
		}
	}
	t.Run("BackupFile", func(t *testing.T) {
		for i := range 3 {
			dest := filepath.Join(dir, "copy.db") // overwritten each time
			if err := db.BackupFile(dest); err != nil {
				t.Fatal(err)
			}
			check(t, dest)
			if i == 0 {
				time.Sleep(20 * time.Millisecond)
			}
		}
		left, _ := filepath.Glob(filepath.Join(dir, ".copy.db.tmp-*"))
		if len(left) > 0 {
			t.Errorf("temporary files left: %v", left)
		}
	})
	t.Run("Backup", func(t *testing.T) {
		var buf bytes.Buffer
		n, err := db.Backup(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if n != int64(buf.Len()) {
			t.Errorf("Backup says %d bytes, wrote %d", n, buf.Len())
		}
		dest := filepath.Join(dir, "stream.db")
		if err := os.WriteFile(dest, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		check(t, dest)
	})
	t.Run("BackupHandler", func(t *testing.T) {
		srv := httptest.NewServer(BackupHandler(db))
		defer srv.Close()
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		_, err = body.ReadFrom(resp.Body)
		_ = resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET: %s, %v", resp.Status, err)
		}
		if resp.ContentLength != int64(body.Len()) {
			t.Errorf("Content-Length %d, body %d bytes", resp.ContentLength, body.Len())
		}
		dest := filepath.Join(dir, "download.db")
		if err := os.WriteFile(dest, body.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		check(t, dest)
		left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".ocni.db.download-*"))
		if len(left) > 0 {
			t.Errorf("temporary files left: %v", left)
		}
		resp, err = http.Post(srv.URL, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST: %s, want 405", resp.Status)
		}
	})
}

func TestBackupFileRefusesTheLiveFile(t *testing.T) {
	db, path := openTemp(t)
	fill(t, db, 10)
	link := filepath.Join(t.TempDir(), "link.db")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	for _, dest := range []string{path, filepath.Join(filepath.Dir(path), ".", "ocni.db"), link} {
		err := db.BackupFile(dest)
		if err == nil || !strings.Contains(err.Error(), "live data file") {
			t.Errorf("BackupFile(%s) = %v, want a refusal", dest, err)
		}
	}
	if _, err := db.Entity("/compute/00000009"); err != nil {
		t.Errorf("the live file was changed: %v", err)
	}
}
