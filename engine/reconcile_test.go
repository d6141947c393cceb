package engine

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/store"
)

// A resource whose VIM delete lost its answer keeps its links until the
// reconciler finishes the delete; then the links go with it and the intent
// ends (the links would otherwise refuse the commit for ever).
func TestPendingDeleteOfAResourceWithLinksEnds(t *testing.T) {
	w := newWorld(t, nil)
	ctx := context.Background()
	w.create(compute("vm1"))
	w.create(storage("disk"))
	w.create(storageLink("sl", "/compute/vm1", "/storage/disk"))
	w.setFailures(nil, []string{"delete"})
	if err := w.eng.Delete(ctx, "/compute/vm1"); !errors.Is(err, occi.ErrUnavailable) {
		t.Fatalf("delete = %v", err)
	}
	w.setFailures(nil, nil)
	for i := 0; i < 3; i++ {
		rep, err := w.eng.Reconcile(ctx, true)
		t.Logf("pass %d: %+v %v", i, rep, err)
	}
	if in := w.intents(); len(in) != 0 {
		for l, i := range in {
			t.Errorf("intent never ends: %s: %s", l, i.Describe())
		}
	}
	t.Logf("vim: %v, store: %v", w.vimIDs(), w.entityLocations())
}

// A create at a path the client chose, racing a mixin that takes that path
// as its location: one of the two is refused.
func TestCreateAtAPathRacesAMixinLocation(t *testing.T) {
	w := newWorld(t, nil)
	ctx := context.Background()
	m := &occi.Mixin{Category: occi.Category{Scheme: "http://example.com/occi#", Term: "lab"}, Location: "/lab/"}
	w.dummy().SetLatency(300 * time.Millisecond)
	errA, errB := race(func() error {
		_, err := w.eng.Create(ctx, compute("vm1"), Placement{Path: "/lab/vm1"})
		return err
	}, func() error {
		_, err := w.eng.ChangeCategories(ctx, &CategoryChange{Add: occi.Categories{Mixins: []*occi.Mixin{m}}})
		return err
	})
	t.Logf("create: %v; category change: %v", errA, errB)
	if errA == nil && errB == nil {
		t.Errorf("both succeeded: an entity lives at /lab/vm1 inside the location of mixin %s", m.ID())
	}
	w.checkInvariants()
}

// An update whose commit is refused (the model changed under it) is
// reversed on the VIM; when the reversal is refused too, the intent stays
// pending, to be undone, rather than leave the VIM with an update the store
// does not have.
func TestRefusedReversalLeavesAPendingUndo(t *testing.T) {
	w := newWorld(t, nil)
	ctx := context.Background()
	tag := w.registerMixin("tag")
	w.create(compute("vm1"))
	w.dummy().SetLatency(300 * time.Millisecond)
	// the second update call (the reversal) is refused
	if err := w.dummy().FailNth("update", 2); err != nil {
		t.Fatal(err)
	}
	errA, errB := race(func() error {
		_, err := w.eng.Update(ctx, "/compute/vm1", &Input{Mixins: []string{tag.ID()}, Attributes: map[string]any{occi.AttrTitle: "new"}})
		return err
	}, func() error {
		_, err := w.eng.ChangeCategories(ctx, &CategoryChange{Remove: []string{tag.ID()}})
		return err
	})
	w.dummy().SetLatency(0)
	t.Logf("update: %v; category change: %v", errA, errB)
	ent, _ := w.db.Entity("/compute/vm1")
	vim := w.dummy().Attributes("vm1")
	t.Logf("store title=%v vim title=%v intents=%v", ent.Attributes[occi.AttrTitle], vim[occi.AttrTitle], w.intents())
	if errA != nil && vim[occi.AttrTitle] == "new" && len(w.intents()) == 0 {
		t.Errorf("the update was refused, the VIM holds it, and no intent is left to undo it")
	}
}

// The reconciler resolves an intent only as it is when it holds its lock:
// an operation that was in flight when the pass listed the intents, and
// committed since, is not resolved again (its VIM object is not removed).
func TestReconcilerSkipsIntentsThatEnded(t *testing.T) {
	w := newWorld(t, nil)
	ctx := context.Background()
	w.create(compute("aaa"))
	// A pending intent that takes the reconciler some time to resolve.
	w.setFailures(nil, []string{"delete"})
	if err := w.eng.Delete(ctx, "/compute/aaa"); !errors.Is(err, occi.ErrUnavailable) {
		t.Fatalf("delete = %v", err)
	}
	w.setFailures(nil, nil)
	w.dummy().SetLatency(300 * time.Millisecond)
	errA, errB := race(func() error {
		_, err := w.eng.Create(ctx, compute("zzz"), Placement{})
		return err
	}, func() error {
		rep, err := w.eng.Reconcile(ctx, true)
		t.Logf("reconcile: %+v", rep)
		return err
	})
	w.dummy().SetLatency(0)
	t.Logf("create: %v; reconcile: %v", errA, errB)
	if errA != nil {
		t.Skip("the create failed")
	}
	if _, err := w.db.Entity("/compute/zzz"); err != nil {
		t.Fatalf("entity: %v", err)
	}
	ids := w.vimIDs()
	t.Logf("vim ids: %v", ids)
	found := false
	for _, id := range ids {
		found = found || id == "zzz"
	}
	if !found {
		t.Errorf("the create succeeded and its entity is stored, but the reconciler deleted its VIM object")
	}
}

// A link whose VIM delete lost its answer leaves with its resource, but its
// pending intent keeps the id: a new entity cannot take it until the
// reconciler is done, so that delete can never reach the new object.
func TestPendingDeleteKeepsItsID(t *testing.T) {
	w := newWorld(t, nil)
	ctx := context.Background()
	w.create(compute("vm1"))
	w.create(storage("disk"))
	w.create(storageLink("sl", "/compute/vm1", "/storage/disk"))
	w.dummy().SetLatency(300 * time.Millisecond)
	done := make(chan error)
	go func() { done <- w.eng.Delete(ctx, "/compute/vm1") }()
	// The resource's VIM delete ends at ~300ms, the link's at ~600ms: its
	// answer is lost.
	time.Sleep(450 * time.Millisecond)
	w.setFailures(nil, []string{"delete"})
	err := <-done
	w.setFailures(nil, nil)
	w.dummy().SetLatency(0)
	t.Logf("delete: %v; intents: %v", err, w.intents())
	if _, ok := w.intents()["/storagelink/sl"]; !ok {
		t.Skip("timing: no pending link delete")
	}
	// While the link's delete is pending, its id stays reserved: nothing
	// made now can be reached by that delete.
	if _, err := w.eng.Create(ctx, compute("sl"), Placement{}); !errors.Is(err, occi.ErrAlreadyExists) {
		t.Fatalf("create of id sl while its delete is pending = %v, want 409", err)
	}
	if _, err := w.eng.Reconcile(ctx, true); err != nil {
		t.Fatal(err)
	}
	if _, err := w.eng.Create(ctx, compute("sl"), Placement{}); err != nil {
		t.Fatalf("create of id sl once the delete is done: %v", err)
	}
	if !slices.Contains(w.vimIDs(), "sl") {
		t.Errorf("/compute/sl has no VIM object: %v", w.vimIDs())
	}
	w.checkInvariants()
}

// An update left by a crash, which adds a mixin, holds that mixin while it
// is pending: the mixin's removal is refused, naming it, until the
// reconciler has finished the update; then the removal goes through.
func TestPendingUpdateHoldsItsMixin(t *testing.T) {
	w := newWorld(t, nil)
	ctx := context.Background()
	tag := w.registerMixin("tag")
	w.create(compute("vm1"))
	old, _ := w.db.Entity("/compute/vm1")
	next := old.Clone()
	next.Mixins = append(next.Mixins, tag.ID())
	if err := w.putIntent(&store.Intent{Op: store.OpUpdate, Entity: next, Before: old, Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	// restart; the VIM fails during recovery
	w.stop()
	w.start(map[string]any{"fail": []string{"update"}})
	if rep, err := w.eng.Recover(ctx); err != nil || len(rep.Unresolved) != 1 {
		t.Fatalf("recover: %+v %v", rep, err)
	}
	// The pending update still uses the mixin: its removal waits.
	if _, err := w.eng.ChangeCategories(ctx, &CategoryChange{Remove: []string{tag.ID()}}); !errors.Is(err, occi.ErrConflict) || !strings.Contains(err.Error(), "update of /compute/vm1") {
		t.Fatalf("remove the mixin while an update that adds it is pending = %v, want a 409 naming it", err)
	}
	w.setFailures(nil, nil)
	for i := 0; i < 3; i++ {
		rep, err := w.eng.Reconcile(ctx, true)
		t.Logf("pass %d: %+v %v", i, rep, err)
	}
	for l, in := range w.intents() {
		t.Errorf("intent never ends: %s: %s", l, in.Describe())
	}
	if _, err := w.eng.ChangeCategories(ctx, &CategoryChange{Remove: []string{tag.ID()}}); err != nil {
		t.Fatalf("remove the mixin once the update is done: %v", err)
	}
	w.checkInvariants()
}

// Two PUTs of the same new path: as in any serial order, the first creates
// and the second replaces.
func TestConcurrentPutsOfANewPath(t *testing.T) {
	w := newWorld(t, nil)
	ctx := context.Background()
	w.dummy().SetLatency(300 * time.Millisecond)
	errA, errB := race(func() error {
		_, _, err := w.eng.Put(ctx, "/compute/p1", compute("p1"))
		return err
	}, func() error {
		in := compute("p1")
		in.Attributes = map[string]any{occi.AttrTitle: "second"}
		_, _, err := w.eng.Put(ctx, "/compute/p1", in)
		return err
	})
	t.Logf("put A: %v; put B: %v", errA, errB)
	if errA != nil || errB != nil {
		t.Errorf("a PUT failed though a serial order makes both succeed")
	}
}
