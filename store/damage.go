package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/ocni/ocni/occi"
)

// A damaged data file must never take the process down, nor be served
// from. bbolt trusts its file: it maps it and reads pages through
// unchecked pointers, so a truncated file or an overwritten page makes it
// panic, or fault on memory past the end of the file, which no recover
// catches. Worse, with NoFreelistSync (see openBolt) bbolt rebuilds the
// free list at every open by walking the whole tree in a goroutine of its
// own: a damaged page panics there, beyond any recover, before Open
// returns.
//
// So the policy is:
//
//   - Before bbolt opens a file read-write, checkFile walks the file's page
//     tree itself, with bounds-checked reads (ReadAt, not the map), under a
//     shared lock: every page the free-list rebuild and later reads will
//     touch is checked for what would make bbolt panic or fault (page ids
//     and types, element bounds, child pages inside the file, each page
//     used once, key order). A file shorter than its own high-water mark
//     is truncated. Any finding refuses the open with a damaged error.
//     Measured (TestOpenTimings): 1M computes and 0.5M links, 1.7 GiB:
//     bbolt's own open 0.6 s, the walk 0.4 s, Open 1.1 s; a tenth of that
//     for 100k. A full Tx.Check at open would add 0.4 s and find nothing
//     more: the free-list rebuild already runs its structural part, and
//     the free list it checks against was just rebuilt.
//   - What the walk cannot see (a value's bytes overwritten: bbolt keeps no
//     checksum of data pages) shows as a record that does not decode, an
//     error on that read; `ocnid check` lists them all.
//   - If the file is damaged under a running server, the committer
//     recovers bbolt's panic (faults included: it runs with
//     debug.SetPanicOnFault), fails its group with an Unavailable error
//     naming the file, and marks the DB damaged: from then on every write
//     is refused, so nothing more is written on a damaged file. Reads
//     through view recover the same way, and are refused once the file is
//     seen damaged; so are backups. Check still runs.

// ErrDamaged is matched (errors.Is) by every error that reports a damaged
// data file.
var ErrDamaged = errors.New("damaged data file")

// ErrLocked is matched by the error of an open that found the data file
// held by another process.
var ErrLocked = errors.New("locked by another process")

type damageError struct {
	path  string
	cause error
}

func (e *damageError) Error() string {
	return fmt.Sprintf("data file %s is damaged (%v): restore it from a backup made with `ocnid backup`, or move it away to start with an empty store; `ocnid check -data %s` says more", e.path, e.cause, e.path)
}

func (e *damageError) Unwrap() []error { return []error{ErrDamaged, e.cause} }

// damaged wraps what is wrong with a data file in an error that says what to
// do about it.
func damaged(path string, cause error) error { return &damageError{path: path, cause: cause} }

func lockedErr(path string) error {
	return fmt.Errorf("data file %s is %w (is another ocnid running?)", path, ErrLocked)
}

// checkFile refuses a data file that exists but cannot be opened safely:
// one truncated to nothing would otherwise be taken for a new, empty store,
// and a damaged one would crash bbolt (see above).
func checkFile(path string) error {
	fi, err := os.Stat(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("data file %s: %w", path, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("data file %s is a directory", path)
	}
	if fi.Size() == 0 {
		return damaged(path, fmt.Errorf("it is empty (0 bytes)"))
	}
	b, err := openShared(path)
	if err != nil {
		return err
	}
	defer func() { _ = b.Close() }()
	return verifyFile(b, path)
}

// openShared opens an existing file read-only. bbolt then takes a shared
// lock, which a running server's exclusive one excludes, and reads only
// the meta pages (checksummed): safe on a damaged file.
func openShared(path string) (b *bolt.DB, err error) {
	defer func() {
		if p := recover(); p != nil {
			b, err = nil, damaged(path, fmt.Errorf("%v", p))
		}
	}()
	b, err = bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	switch {
	case err == nil:
		return b, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, lockedErr(path)
	case os.IsNotExist(err), os.IsPermission(err):
		return nil, fmt.Errorf("open data file %s: %w", path, err)
	}
	// The file exists and is not empty: whatever else bbolt objects to
	// (bad magic, checksums, a file shorter than two pages) is damage.
	return nil, damaged(path, err)
}

// verifyFile walks the page tree of the state b's latest meta page
// describes; b holds the file's lock. It returns a damaged error for the
// first problem.
func verifyFile(b *bolt.DB, path string) error {
	var probs []string
	err := b.View(func(tx *bolt.Tx) error {
		var err error
		probs, err = verifyPages(tx, path, 1)
		return err
	})
	if err != nil {
		return err
	}
	if len(probs) > 0 {
		return damaged(path, errors.New(probs[0]))
	}
	return nil
}

// verifyPages checks the page structure of the state tx reads, from the
// file itself, and returns up to max problems (all if max <= 0). Pages
// reachable from tx are not reused while tx is open, so it is safe beside
// writers.
func verifyPages(tx *bolt.Tx, path string, max int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data file %s: %w", path, err)
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("data file %s: %w", path, err)
	}
	w := &pageWalker{r: f, ps: uint64(tx.DB().Info().PageSize), max: max}
	if fi.Size() < tx.Size() {
		w.problem("the file is truncated: it holds %d bytes, its header says %d", fi.Size(), tx.Size())
		return w.probs, nil
	}
	w.hwm = uint64(tx.Size()) / w.ps
	w.seen = make([]uint64, (w.hwm+63)/64)
	w.mark(0, 1) // the meta pages
	root := uint64(tx.Cursor().Bucket().Root())
	if fl, ok := w.freelistOf(uint64(tx.ID()), root); ok {
		w.freelist(fl)
	}
	w.tree(root, nil, nil, "the root bucket", 0)
	return w.probs, nil
}

// bbolt's file format (version 2), as far as the walk needs it. Integers
// are in the machine's byte order.
const (
	pageHeader  = 16 // id u64, flags u16, count u16, overflow u32
	elemSize    = 16 // branch: pos u32, ksize u32, pgid u64; leaf: flags u32, pos u32, ksize u32, vsize u32
	flagBranch  = 0x01
	flagLeaf    = 0x02
	flagFree    = 0x10
	leafBucket  = 0x01
	bucketHdr   = 16 // root pgid u64, sequence u64
	noFreelist  = ^uint64(0)
	metaRootOff = pageHeader + 16
	metaFreeOff = pageHeader + 32
	metaTxidOff = pageHeader + 48
)

var ne = binary.NativeEndian

// pageWalker checks a page tree the way bbolt will walk it, but reading
// the file with ReadAt and checking every bound: it cannot fault or panic
// where bbolt would.
type pageWalker struct {
	r     io.ReaderAt
	ps    uint64 // page size
	hwm   uint64 // pages in use: every page id is below
	seen  []uint64
	probs []string
	max   int
	// One page buffer and key list per depth: a page's keys bound its
	// children's, so they must outlive the walk below it, no more.
	bufs [][]byte
	keys [][][]byte
}

func (w *pageWalker) problem(format string, args ...any) {
	if w.max <= 0 || len(w.probs) < w.max {
		w.probs = append(w.probs, fmt.Sprintf(format, args...))
	}
}

func (w *pageWalker) full() bool { return w.max > 0 && len(w.probs) >= w.max }

// mark records pages first..last as used and reports whether one was
// already.
func (w *pageWalker) mark(first, last uint64) bool {
	again := false
	for id := first; id <= last; id++ {
		if w.seen[id/64]&(1<<(id%64)) != 0 {
			again = true
		}
		w.seen[id/64] |= 1 << (id % 64)
	}
	return again
}

// read returns page id with its overflow pages, in depth's buffer, checked
// to be a page of one of the wanted types, inside the file and used once.
func (w *pageWalker) read(id uint64, wantFlags uint16, where string, depth int) []byte {
	if id < 2 || id >= w.hwm {
		w.problem("%s: page %d is outside the file's pages (2..%d)", where, id, w.hwm-1)
		return nil
	}
	for len(w.bufs) <= depth {
		w.bufs = append(w.bufs, make([]byte, w.ps))
		w.keys = append(w.keys, nil)
	}
	p := w.bufs[depth][:w.ps]
	if _, err := w.r.ReadAt(p, int64(id*w.ps)); err != nil {
		w.problem("%s: page %d cannot be read: %v", where, id, err)
		return nil
	}
	if got := ne.Uint64(p); got != id {
		w.problem("%s: page %d says it is page %d", where, id, got)
		return nil
	}
	flags := ne.Uint16(p[8:])
	if flags&wantFlags == 0 || flags&(flags-1) != 0 {
		w.problem("%s: page %d has type %#x", where, id, flags)
		return nil
	}
	overflow := uint64(ne.Uint32(p[12:]))
	if overflow >= w.hwm-id {
		w.problem("%s: page %d runs past the file's pages (%d overflow pages)", where, id, overflow)
		return nil
	}
	if w.mark(id, id+overflow) {
		w.problem("%s: page %d (or one of its %d overflow pages) is used twice", where, id, overflow)
		return nil
	}
	if overflow > 0 {
		size := (overflow + 1) * w.ps
		if uint64(cap(w.bufs[depth])) < size {
			w.bufs[depth] = make([]byte, size)
		}
		p = w.bufs[depth][:size]
		if _, err := w.r.ReadAt(p, int64(id*w.ps)); err != nil {
			w.problem("%s: page %d cannot be read: %v", where, id, err)
			return nil
		}
	}
	return p
}

// tree checks the subtree of page id, whose keys must lie in [lo, hi) (nil
// for no bound). where names the bucket, for messages.
func (w *pageWalker) tree(id uint64, lo, hi []byte, where string, depth int) {
	if w.full() {
		return
	}
	p := w.read(id, flagBranch|flagLeaf, where, depth)
	if p == nil {
		return
	}
	if ne.Uint16(p[8:]) == flagLeaf {
		w.leaf(p, id, lo, hi, where, depth)
		return
	}
	n := int(ne.Uint16(p[10:]))
	if n == 0 || pageHeader+n*elemSize > len(p) {
		w.problem("%s: branch page %d has %d elements", where, id, n)
		return
	}
	keys := w.keys[depth][:0]
	for i := range n {
		e := pageHeader + i*elemSize
		k, ok := slice(p, e, ne.Uint32(p[e:]), uint64(ne.Uint32(p[e+4:])))
		if !ok {
			w.problem("%s: branch page %d: element %d's key lies outside the page", where, id, i)
			return
		}
		keys = append(keys, k)
	}
	w.keys[depth] = keys
	if !w.ordered(keys, lo, hi, where, id) {
		return
	}
	for i := range n {
		next := hi
		if i+1 < n {
			next = keys[i+1]
		}
		w.tree(ne.Uint64(p[pageHeader+i*elemSize+8:]), keys[i], next, where, depth+1)
	}
}

// leaf checks a leaf page (or a bucket's inline page, id 0), and the
// buckets it holds.
func (w *pageWalker) leaf(p []byte, id uint64, lo, hi []byte, where string, depth int) {
	n := int(ne.Uint16(p[10:]))
	if pageHeader+n*elemSize > len(p) {
		w.problem("%s: leaf page %d: %d elements overflow it", where, id, n)
		return
	}
	keys := w.keys[depth][:0]
	buckets := false
	for i := range n {
		e := pageHeader + i*elemSize
		pos, ksize, vsize := ne.Uint32(p[e+4:]), ne.Uint32(p[e+8:]), ne.Uint32(p[e+12:])
		kv, ok := slice(p, e, pos, uint64(ksize)+uint64(vsize))
		if !ok {
			w.problem("%s: leaf page %d: element %d lies outside the page", where, id, i)
			return
		}
		keys = append(keys, kv[:ksize])
		buckets = buckets || ne.Uint32(p[e:])&leafBucket != 0
	}
	w.keys[depth] = keys
	if !w.ordered(keys, lo, hi, where, id) || !buckets {
		return
	}
	for i := range n {
		e := pageHeader + i*elemSize
		if ne.Uint32(p[e:])&leafBucket == 0 {
			continue
		}
		at := fmt.Sprintf("bucket %q", keys[i])
		if where != "the root bucket" {
			at = where + "/" + at
		}
		v, _ := slice(p, e, ne.Uint32(p[e+4:])+ne.Uint32(p[e+8:]), uint64(ne.Uint32(p[e+12:])))
		if len(v) < bucketHdr {
			w.problem("%s: its header has %d bytes", at, len(v))
			continue
		}
		if root := ne.Uint64(v); root != 0 {
			w.tree(root, nil, nil, at, depth+1)
			continue
		}
		inline := v[bucketHdr:]
		if len(inline) < pageHeader || ne.Uint16(inline[8:]) != flagLeaf {
			w.problem("%s: its inline page is damaged", at)
			continue
		}
		for len(w.keys) <= depth+1 {
			w.bufs = append(w.bufs, make([]byte, w.ps))
			w.keys = append(w.keys, nil)
		}
		w.leaf(inline, 0, nil, nil, at, depth+1)
	}
}

// ordered checks that keys are strictly increasing, the first at least lo
// and the last below hi.
func (w *pageWalker) ordered(keys [][]byte, lo, hi []byte, where string, id uint64) bool {
	for i, k := range keys {
		switch {
		case i == 0 && lo != nil && string(k) < string(lo):
			w.problem("%s: page %d: key %s sorts before its parent's %s", where, id, showKey(k), showKey(lo))
			return false
		case i > 0 && string(k) <= string(keys[i-1]):
			w.problem("%s: page %d: key %s does not sort after %s", where, id, showKey(k), showKey(keys[i-1]))
			return false
		case hi != nil && string(k) >= string(hi):
			w.problem("%s: page %d: key %s does not sort before its parent's next key %s", where, id, showKey(k), showKey(hi))
			return false
		}
	}
	return true
}

// showKey quotes a key for a message, cut short: a damaged one can be long.
func showKey(k []byte) string {
	if len(k) > 64 {
		return fmt.Sprintf("%q...", k[:64])
	}
	return fmt.Sprintf("%q", k)
}

// slice returns p[e+pos : e+pos+size] if it lies within p.
func slice(p []byte, e int, pos uint32, size uint64) ([]byte, bool) {
	start := uint64(e) + uint64(pos)
	end := start + size
	if end > uint64(len(p)) {
		return nil, false
	}
	return p[start:end], true
}

// freelistOf returns the free-list page of the meta page bbolt chose (the
// one with transaction id txid), if it has one. Files ocni writes have
// none (NoFreelistSync), but one written otherwise would be read at open.
func (w *pageWalker) freelistOf(txid, root uint64) (uint64, bool) {
	buf := make([]byte, metaTxidOff+8)
	for id := range uint64(2) {
		if _, err := w.r.ReadAt(buf, int64(id*w.ps)); err != nil {
			continue
		}
		if ne.Uint64(buf[metaTxidOff:]) == txid && ne.Uint64(buf[metaRootOff:]) == root {
			fl := ne.Uint64(buf[metaFreeOff:])
			return fl, fl != noFreelist
		}
	}
	return 0, false
}

func (w *pageWalker) freelist(id uint64) {
	p := w.read(id, flagFree, "the free list", 0)
	if p == nil {
		return
	}
	n, at := uint64(ne.Uint16(p[10:])), uint64(pageHeader)
	if n == 0xFFFF { // the count did not fit: it is the first id slot
		n, at = ne.Uint64(p[pageHeader:]), pageHeader+8
	}
	if n > (uint64(len(p))-at)/8 {
		w.problem("the free list: page %d: %d ids overflow it", id, n)
		return
	}
	for i := range n {
		if free := ne.Uint64(p[at+8*i:]); free < 2 || free >= w.hwm {
			w.problem("the free list: page %d: free page %d is outside the file's pages", id, free)
			return
		}
	}
}

// markDamaged records that db's file is damaged and returns the error
// every later read and write gets: the first cause seen is kept.
func (db *DB) markDamaged(cause error) error {
	var err error = occi.Errorf(occi.Unavailable, "%w", damaged(db.path, cause))
	db.damage.CompareAndSwap(nil, &err)
	return *db.damage.Load()
}

// damageErr returns the error recorded by markDamaged, if any.
func (db *DB) damageErr() error {
	if err := db.damage.Load(); err != nil {
		return *err
	}
	return nil
}

// Damaged returns the error that reports damage seen on the data file since
// it was opened (writes are then refused), or nil.
func (db *DB) Damaged() error { return db.damageErr() }

// panicSite returns the function a panic being recovered started in; it
// must be called from the deferred function that recovers. runtime frames
// are skipped: a fault or an index out of range is the code that made it.
func panicSite() string {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	inPanic := false
	for {
		f, more := frames.Next()
		switch {
		case f.Function == "runtime.gopanic":
			inPanic = true
		case inPanic && !strings.HasPrefix(f.Function, "runtime."):
			return f.Function
		}
		if !more {
			return ""
		}
	}
}

// fromFile reports whether a panic comes from the data file rather than
// from a bug of ocni's: it started in bbolt's code (its assertions and its
// unchecked reads are what a damaged page trips), or it is a fault (with
// debug.SetPanicOnFault; a nil dereference is not one), which in a
// transaction is a read of the map past the end of the file, whoever made
// it.
func fromFile(p any, site string) bool {
	_, fault := p.(interface{ Addr() uintptr })
	return fault || strings.HasPrefix(site, "go.etcd.io/bbolt")
}

// view runs fn in a read transaction of a file not seen damaged (see
// guardedView). Every read should go through it: db.View, Categories and
// Dump too.
func (db *DB) view(fn func(*bolt.Tx) error) error {
	if err := db.damageErr(); err != nil {
		return err
	}
	return db.guardedView(fn)
}

// guardedView runs fn in a read transaction, with a panic of bbolt's (or
// a fault) on a damaged page turned into an Unavailable error naming the
// file, and the DB marked damaged.
func (db *DB) guardedView(fn func(*bolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer db.guard(&err)
	return db.bolt.View(fn)
}

// guard turns a panic of bbolt's, in the function it is deferred in, into
// an Unavailable error naming the file, and marks the DB damaged. Other
// panics (ocni's bugs) go on. Use it as `defer db.guard(&err)` in a
// function that calls into bbolt, with faults turned into panics
// (debug.SetPanicOnFault) on its goroutine.
func (db *DB) guard(errp *error) {
	p := recover()
	if p == nil {
		return
	}
	if !fromFile(p, panicSite()) {
		panic(p)
	}
	*errp = db.markDamaged(fmt.Errorf("reading it failed: %v", p))
}
