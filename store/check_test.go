package store

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ocni/ocni/occi"
)

func TestCheckHealthyStore(t *testing.T) {
	db, _ := openTemp(t)
	fill(t, db, 300)
	err := db.Write(func(tx *Tx) error {
		// A create in flight, and an update of an existing entity.
		if err := tx.PutIntent(&Intent{Op: OpCreate, Entity: computeAt("/compute/pending", 1), Started: time.Now()}); err != nil {
			return err
		}
		e, err := tx.Entity("/compute/00000001")
		if err != nil {
			return err
		}
		if err := tx.PutIntent(&Intent{Op: OpUpdate, Entity: e, Before: e, Started: time.Now()}); err != nil {
			return err
		}
		if err := tx.PutCategory("http://example.org/x#small", CategoryRecord{Class: "mixin", Define: json.RawMessage(`{"term":"small"}`)}); err != nil {
			return err
		}
		if err := tx.PutBinding(occi.ComputeKindID, "dummy"); err != nil {
			return err
		}
		return tx.SetModelRevision(3)
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Check(db, registered)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("problems in a healthy store: %q", rep.Problems)
	}
	got := fmt.Sprintf("resources %d links %d intents %d categories %d bindings %d index %v",
		rep.Resources, rep.Links, rep.Intents, rep.Categories, rep.Bindings, rep.IndexEntries)
	// 300 computes and 4 networks; 150 links and the remote one; every
	// entity's id and the pending create's; a third of the computes have
	// the mixin.
	want := "resources 304 links 151 intents 2 categories 1 bindings 1 index map[idx-attr:300 idx-id:456 idx-kind:455 idx-mixin:100 idx-source:151 idx-target:151]"
	if got != want {
		t.Errorf("counts:\n got %s\nwant %s", got, want)
	}
	var out strings.Builder
	if _, err := rep.WriteTo(&out); err != nil || !strings.Contains(out.String(), "no problem found") {
		t.Errorf("report %q, %v", out.String(), err)
	}
	if err := db.View(func(tx *Tx) error {
		if probs := tx.CheckInvariants(registered); len(probs) > 0 {
			t.Errorf("CheckInvariants: %q", probs)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// Without a registry, the categories are not checked.
	if err := db.Write(func(tx *Tx) error {
		e := computeAt("/compute/odd", 1)
		e.Kind = "http://example.org/x#thing"
		return tx.Put(e)
	}); err != nil {
		t.Fatal(err)
	}
	if rep, err := Check(db, nil); err != nil || !rep.OK() {
		t.Errorf("Check without a registry: %v, %v", err, rep.Problems)
	}
}

// Each case breaks one invariant behind the store's back, through a raw
// bbolt transaction, and Check must name it.
func TestCheckFindsProblems(t *testing.T) {
	put := func(bucket []byte, k, v string) func(*bolt.Tx) error {
		return func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put([]byte(k), []byte(v)) }
	}
	del := func(bucket []byte, k string) func(*bolt.Tx) error {
		return func(tx *bolt.Tx) error { return tx.Bucket(bucket).Delete([]byte(k)) }
	}
	// store puts an entity with its index entries, as the store would.
	store := func(e *Entity) func(*bolt.Tx) error {
		return func(tx *bolt.Tx) error { return (&Tx{tx: tx, writable: true}).Put(e) }
	}
	withKind := func(e *Entity, kind string) *Entity { e.Kind = kind; return e }
	withMixin := func(e *Entity, m string) *Entity { e.Mixins = []string{m}; return e }
	compute := occi.ComputeKindID
	intent := func(op, loc, id string) string {
		return fmt.Sprintf(`{"op":%q,"entity":{"location":%q,"id":%q,"kind":%q,"provider":"dummy"},"started":"2026-01-01T00:00:00Z"}`, op, loc, id, compute)
	}
	tests := []struct {
		name    string
		corrupt func(*bolt.Tx) error
		want    []string
	}{
		{"index entry for a missing entity", put(bucketByKind, compute+"\x00/compute/ghost", ""),
			[]string{`idx-kind "` + compute + `" → /compute/ghost: no entity is at /compute/ghost`}},
		{"index entry disagreeing with its entity", put(bucketByKind, occi.NetworkKindID+"\x00/compute/00000001", ""),
			[]string{`the entity at /compute/00000001 does not have "` + occi.NetworkKindID + `" as its kind`}},
		{"entity without its kind entry", del(bucketByKind, compute+"\x00/compute/00000001"),
			[]string{`entities /compute/00000001: idx-kind has no entry "` + compute + `" → /compute/00000001`}},
		{"entity without its mixin entry", del(bucketByMixin, occi.OSTplMixinID+"\x00/compute/00000003"),
			[]string{`entities /compute/00000003: idx-mixin has no entry`}},
		{"source entry for a resource", put(bucketBySource, "/compute/00000002\x00/compute/00000003", ""),
			[]string{`idx-source "/compute/00000002" → /compute/00000003: the entity at /compute/00000003 does not have "/compute/00000002" as its source`}},
		{"link without its target entry", del(bucketByTarget, "/network/0000\x00/link/00000000"),
			[]string{`entities /link/00000000: idx-target has no entry`}},
		{"id mapped to another entity", put(bucketByID, "c-/compute/00000001", "/compute/00000002"),
			[]string{`entities /compute/00000001: idx-id maps its id "c-/compute/00000001" to "/compute/00000002"`,
				`idx-id "c-/compute/00000001": points at "/compute/00000002"`}},
		{"id entry missing", del(bucketByID, "c-/compute/00000005"),
			[]string{`entities /compute/00000005: idx-id maps its id "c-/compute/00000005" to ""`}},
		{"stray id entry", put(bucketByID, "nobody", "/compute/00000001"),
			[]string{`idx-id "nobody": points at "/compute/00000001", where no entity or intent has that id`}},
		{"damaged entity record", put(bucketEntities, "/compute/00000004", `{"location":`),
			[]string{`entities /compute/00000004: damaged record`,
				`idx-id "c-/compute/00000004": points at "/compute/00000004", whose record cannot be read`,
				`idx-kind "` + compute + `" → /compute/00000004: the entity at /compute/00000004 cannot be read`,
				`idx-attr "occi.core.title\x00machine 4" → /compute/00000004: the entity at /compute/00000004 cannot be read`,
				`entities /link/00000004: its source /compute/00000004 cannot be read`}},
		{"record stored under another location", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketEntities).Put([]byte("/compute/elsewhere"), tx.Bucket(bucketEntities).Get([]byte("/compute/00000007")))
		}, []string{`entities /compute/elsewhere: the record says it is at "/compute/00000007"`,
			`entities /compute/elsewhere: idx-id maps its id "c-/compute/00000007" to "/compute/00000007"`,
			`entities /compute/elsewhere: idx-kind has no entry`,
			`entities /compute/elsewhere: idx-attr has no entry`}},
		{"link whose source is missing", store(linkAt("/link/bad", "/compute/missing", "/network/0000")),
			[]string{`entities /link/bad: its source /compute/missing does not exist`}},
		{"link whose source is a link", store(linkAt("/link/bad", "/link/00000000", "/network/0000")),
			[]string{`entities /link/bad: its source /link/00000000 is a link, not a resource`}},
		{"link whose local target is missing", store(linkAt("/link/bad", "/compute/00000001", "/network/none")),
			[]string{`entities /link/bad: its target /network/none does not exist`}},
		{"link whose target is a link", store(linkAt("/link/bad", "/compute/00000001", "/link/00000002")),
			[]string{`entities /link/bad: its target /link/00000002 is a link, not a resource`}},
		{"link whose target is no location", store(linkAt("/link/bad", "/compute/00000001", "network/0000")),
			[]string{`entities /link/bad: target "network/0000" is neither a location nor an http(s) URL`}},
		{"unregistered kind", store(withKind(computeAt("/compute/odd", 1), "http://example.org/x#thing")),
			[]string{`entities /compute/odd: kind "http://example.org/x#thing" is not registered`}},
		{"unregistered mixin", store(withMixin(computeAt("/compute/odd", 1), "http://example.org/x#tag")),
			[]string{`entities /compute/odd: mixin "http://example.org/x#tag" is not registered`}},
		{"intent that is not JSON", put(bucketIntents, "/compute/00000001", `{"op":`),
			[]string{`intents /compute/00000001: damaged record`}},
		{"intent stored under another location", put(bucketIntents, "/compute/00000001", intent("update", "/compute/00000002", "c-/compute/00000002")),
			[]string{`intents /compute/00000001: its entity is at "/compute/00000002"`}},
		{"create intent whose id is not reserved", put(bucketIntents, "/compute/new", intent("create", "/compute/new", "c-new")),
			[]string{`intents /compute/new: the intent's id "c-new" is not reserved in idx-id`}},
		{"intent with an unknown operation", put(bucketIntents, "/compute/00000001", intent("explode", "/compute/00000001", "c-/compute/00000001")),
			[]string{`intents /compute/00000001: unknown operation "explode"`}},
		{"index key without a NUL", put(bucketByKind, "garbage", ""),
			[]string{`idx-kind "garbage": malformed key`}},
		{"index entry with a value", put(bucketByKind, compute+"\x00/compute/00000001", "x"),
			[]string{`idx-kind "` + compute + `" → /compute/00000001: holds a value (1 bytes)`}},
		{"category record that is not JSON", put(bucketCategories, "http://example.org/x#y", "nope"),
			[]string{`categories "http://example.org/x#y": damaged record`}},
		{"category record of no known class", put(bucketCategories, "http://example.org/x#y", `{"class":"thing","define":{}}`),
			[]string{`categories "http://example.org/x#y": unknown class "thing"`}},
		{"layout version out of range", put(bucketMeta, string(keySchemaVersion), "0"),
			[]string{`meta schema-version: "0" is not a layout this binary knows`}},
		{"bucket missing", func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketByTarget) },
			[]string{`bucket idx-target is missing`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, _ := openTemp(t)
			fill(t, db, 20)
			if err := db.bolt.Update(tt.corrupt); err != nil {
				t.Fatal(err)
			}
			rep, err := Check(db, registered)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range tt.want {
				found := false
				for _, p := range rep.Problems {
					found = found || strings.Contains(p, want)
				}
				if !found {
					t.Errorf("no problem says %q; found:\n%s", want, strings.Join(rep.Problems, "\n"))
				}
			}
			if len(rep.Problems) > len(tt.want) {
				t.Errorf("more problems than expected:\n%s", strings.Join(rep.Problems, "\n"))
			}
			if err := db.View(func(tx *Tx) error {
				if got := tx.CheckInvariants(registered); len(got) == 0 {
					t.Error("CheckInvariants found nothing")
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// The engine's tests call CheckInvariants on a live store: every state a
// read transaction sees must be sound while writers change it.
func TestCheckInvariantsBesideWriters(t *testing.T) {
	db, _ := openTemp(t)
	fill(t, db, 200)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c := computeAt(fmt.Sprintf("/compute/w%d-%04d", w, i%50), i)
				l := linkAt(fmt.Sprintf("/link/w%d-%04d", w, i%50), c.Location, "/network/0001")
				err := db.Write(func(tx *Tx) error {
					if tx.Exists(l.Location) { // delete a link and its source together
						if err := tx.Delete(l.Location); err != nil {
							return err
						}
						return tx.Delete(c.Location)
					}
					if err := tx.Put(c.Clone()); err != nil {
						return err
					}
					return tx.Put(l.Clone())
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	deadline := time.Now().Add(500 * time.Millisecond)
	checks := 0
	for time.Now().Before(deadline) {
		if err := db.View(func(tx *Tx) error {
			if probs := tx.CheckInvariants(registered); len(probs) > 0 {
				t.Errorf("CheckInvariants beside writers: %q", probs)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		checks++
	}
	close(stop)
	wg.Wait()
	if rep, err := Check(db, registered); err != nil || !rep.OK() {
		t.Errorf("Check after the writers: %v, %q", err, rep.Problems)
	}
	t.Logf("%d checks", checks)
}
