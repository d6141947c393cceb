package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ocni/ocni/backends"
	"github.com/ocni/ocni/backends/dummy"
	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/registry"
	"github.com/ocni/ocni/store"
)

type world struct {
	t     *testing.T
	path  string
	db    *store.DB
	reg   *registry.Registry
	eng   *Engine
	vim   backends.Provider
	state string // the dummy VIM's file: it outlives the server
}

func newWorld(t *testing.T, options map[string]any) *world {
	t.Helper()
	dir := t.TempDir()
	w := &world{t: t, path: filepath.Join(dir, "ocni.db"), state: filepath.Join(dir, "vim.json")}
	w.start(options)
	t.Cleanup(func() { w.stop() })
	return w
}

// start (re)starts the server side: data file, registry, engine, and a
// provider reading the VIM's state file.
func (w *world) start(options map[string]any) {
	w.t.Helper()
	opts := map[string]any{"state_file": w.state}
	for k, v := range options {
		opts[k] = v
	}
	vim, err := backends.Open("dummy", dummy.DriverName, opts)
	if err != nil {
		w.t.Fatal(err)
	}
	db, err := store.Open(w.path)
	if err != nil {
		w.t.Fatal(err)
	}
	defaults := map[string]string{}
	for _, k := range []string{occi.ComputeKindID, occi.NetworkKindID, occi.StorageKindID, occi.NetworkInterfaceID, occi.StorageLinkKindID} {
		defaults[k] = "dummy"
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg, err := registry.New(db, registry.Options{Providers: []string{"dummy"}, Defaults: defaults, Logger: logger})
	if err != nil {
		w.t.Fatal(err)
	}
	w.db, w.reg, w.vim = db, reg, vim
	w.eng = New(reg, db, Options{Providers: map[string]backends.Provider{"dummy": vim}, Logger: logger})
}

// stop simulates the process going away: nothing is flushed or undone.
func (w *world) stop() {
	if w.db != nil {
		_ = w.db.Close()
		_ = w.vim.Close()
		w.db = nil
	}
}

func (w *world) restart(options map[string]any) *RecoveryReport {
	w.t.Helper()
	w.stop()
	w.start(options)
	rep, err := w.eng.Recover(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	return rep
}

func (w *world) vimIDs() []string {
	w.t.Helper()
	ids, err := w.vim.List(context.Background(), w.db.Instance())
	if err != nil {
		w.t.Fatal(err)
	}
	return ids
}

// putIntent writes an intent as an operation does before its VIM call.
func (w *world) putIntent(in *store.Intent) error {
	return w.db.Write(func(tx *store.Tx) error { return tx.PutIntent(in) })
}

func (w *world) entityLocations() []string {
	w.t.Helper()
	ents, err := w.eng.List(context.Background(), &Query{Index: store.ByPrefix, Value: "/"})
	if err != nil {
		w.t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Location)
	}
	return out
}

func compute(id string) *Input {
	return &Input{Kind: occi.ComputeKindID, ID: id, Mixins: []string{occi.ResourceTplScheme + "small"}}
}

// A crash after the VIM made the object and before the store committed it:
// at the next start the object is adopted, whole.
func TestRecoveryAdoptsACreateThatReachedTheVIM(t *testing.T) {
	w := newWorld(t, nil)
	snap := w.reg.Snapshot()
	p, err := w.eng.prepare(snap, compute("vm1"), Placement{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.putIntent(&store.Intent{Op: store.OpCreate, Entity: p.ent, Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.provider.Create(context.Background(), w.eng.object(snap, p.ent)); err != nil {
		t.Fatal(err)
	}
	// crash here

	rep := w.restart(nil)
	if !slices.Equal(rep.Adopted, []string{"/compute/vm1"}) || len(rep.Unresolved) != 0 {
		t.Fatalf("report %+v", rep)
	}
	v, err := w.eng.Get(context.Background(), "/compute/vm1")
	if err != nil {
		t.Fatal(err)
	}
	if v.Attributes["occi.compute.state"] != "active" || v.Attributes["occi.compute.cores"] != 1.0 {
		t.Errorf("adopted entity: %v", v.Attributes)
	}
	if intents, _ := w.db.Intents(); len(intents) != 0 {
		t.Errorf("intents left: %v", intents)
	}
}

// A crash after the intent and before the VIM call: the create is forgotten,
// and its id is free again.
func TestRecoveryDropsACreateThatDidNotReachTheVIM(t *testing.T) {
	w := newWorld(t, nil)
	p, err := w.eng.prepare(w.reg.Snapshot(), compute("vm1"), Placement{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.putIntent(&store.Intent{Op: store.OpCreate, Entity: p.ent, Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	rep := w.restart(nil)
	if !slices.Equal(rep.Dropped, []string{"/compute/vm1"}) {
		t.Fatalf("report %+v", rep)
	}
	if locs := w.entityLocations(); len(locs) != 0 {
		t.Errorf("entities: %v", locs)
	}
	if _, err := w.eng.Create(context.Background(), compute("vm1"), Placement{}); err != nil {
		t.Errorf("the id was not released: %v", err)
	}
}

// A crash in the middle of a delete: at the next start it is finished.
func TestRecoveryFinishesADelete(t *testing.T) {
	w := newWorld(t, nil)
	ctx := context.Background()
	if _, err := w.eng.Create(ctx, compute("vm1"), Placement{}); err != nil {
		t.Fatal(err)
	}
	ent, _ := w.db.Entity("/compute/vm1")
	if err := w.putIntent(&store.Intent{Op: store.OpDelete, Entity: ent, Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := w.vim.Delete(ctx, w.eng.object(w.reg.Snapshot(), ent)); err != nil {
		t.Fatal(err)
	}
	rep := w.restart(nil)
	if !slices.Equal(rep.Completed, []string{"/compute/vm1"}) {
		t.Fatalf("report %+v", rep)
	}
	if locs, ids := w.entityLocations(), w.vimIDs(); len(locs)+len(ids) != 0 {
		t.Errorf("left behind: entities %v, VIM %v", locs, ids)
	}
}

// A crash after an action reached the VIM: the state the VIM reports is
// committed.
func TestRecoveryCompletesAnAction(t *testing.T) {
	w := newWorld(t, nil)
	ctx := context.Background()
	if _, err := w.eng.Create(ctx, compute("vm1"), Placement{}); err != nil {
		t.Fatal(err)
	}
	ent, _ := w.db.Entity("/compute/vm1")
	stop := occi.StopActionID
	if err := w.putIntent(&store.Intent{Op: store.OpAction, Entity: ent, Action: stop, Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.vim.Action(ctx, w.eng.object(w.reg.Snapshot(), ent), stop, map[string]any{"method": "poweroff"}); err != nil {
		t.Fatal(err)
	}
	w.restart(nil)
	v, err := w.eng.Get(ctx, "/compute/vm1")
	if err != nil {
		t.Fatal(err)
	}
	if v.Attributes["occi.compute.state"] != "inactive" {
		t.Errorf("state after recovery: %v", v.Attributes["occi.compute.state"])
	}
}

// The VIM made the object but the answer was lost: the engine finds and
// removes it at once, so the client's error leaves nothing behind.
func TestLostAnswerLeavesNothing(t *testing.T) {
	w := newWorld(t, map[string]any{"fail_after": []any{"create"}})
	_, err := w.eng.Create(context.Background(), compute("vm1"), Placement{})
	if !errors.Is(err, occi.ErrUnavailable) {
		t.Fatalf("Create = %v, want Unavailable", err)
	}
	if locs, ids := w.entityLocations(), w.vimIDs(); len(locs)+len(ids) != 0 {
		t.Errorf("left behind: entities %v, VIM %v", locs, ids)
	}
	if intents, _ := w.db.Intents(); len(intents) != 0 {
		t.Errorf("intents left: %v", intents)
	}
}

// A resource with inline links whose second link fails: the resource and
// the first link are undone.
func TestFailedInlineLinkUndoesTheResource(t *testing.T) {
	w := newWorld(t, nil)
	ctx := context.Background()
	if _, err := w.eng.Create(ctx, &Input{Kind: occi.NetworkKindID, ID: "net1"}, Placement{}); err != nil {
		t.Fatal(err)
	}
	nic := func(name string) *Input {
		return &Input{Kind: occi.NetworkInterfaceID, Target: &occi.LinkEnd{Location: "/network/net1"},
			Attributes: map[string]any{"occi.networkinterface.interface": name}}
	}
	in := compute("vm1")
	in.Links = []*Input{nic("eth0"), nic("eth1")}
	// The VIM refuses the second link: it holds an object of that id
	// already (a clash the store cannot see).
	if _, err := w.vim.Create(ctx, &backends.Object{ID: "clash", Instance: w.db.Instance(), Location: "/networkinterface/clash", Kind: occi.NetworkInterfaceID,
		Source: "/compute/x", Target: "/network/net1", Attributes: map[string]any{}}); err != nil {
		t.Fatal(err)
	}
	in.Links[1].ID = "clash"
	_, err := w.eng.Create(ctx, in, Placement{})
	if !errors.Is(err, occi.ErrAlreadyExists) {
		t.Fatalf("create with a clashing link = %v, want AlreadyExists", err)
	}
	if locs := w.entityLocations(); !slices.Equal(locs, []string{"/network/net1"}) {
		t.Errorf("entities left: %v", locs)
	}
	if ids := w.vimIDs(); !slices.Equal(ids, []string{"clash", "net1"}) {
		t.Errorf("VIM holds %v: the compute and its first link were not undone", ids)
	}
	if intents, _ := w.db.Intents(); len(intents) != 0 {
		t.Errorf("intents left: %v", intents)
	}
}

// What a provider holds that no entity or intent accounts for is removed.
func TestRecoveryRemovesOrphans(t *testing.T) {
	w := newWorld(t, nil)
	ctx := context.Background()
	if _, err := w.eng.Create(ctx, compute("keep"), Placement{}); err != nil {
		t.Fatal(err)
	}
	orphan := &backends.Object{ID: "lost", Instance: w.db.Instance(), Location: "/compute/lost", Kind: occi.ComputeKindID}
	if _, err := w.vim.Create(ctx, orphan); err != nil {
		t.Fatal(err)
	}
	// Another ocni's object on the same VIM is not ours to remove.
	foreign := &backends.Object{ID: "theirs", Instance: "another-instance", Location: "/compute/theirs", Kind: occi.ComputeKindID}
	if _, err := w.vim.Create(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	rep := w.restart(nil)
	if !slices.Equal(rep.Orphans, []string{"dummy:lost"}) {
		t.Errorf("report %+v", rep)
	}
	if ids := w.vimIDs(); !slices.Equal(ids, []string{"keep"}) {
		t.Errorf("VIM holds %v", ids)
	}
	if theirs, _ := w.vim.List(ctx, "another-instance"); !slices.Equal(theirs, []string{"theirs"}) {
		t.Errorf("another instance's objects: %v, want [theirs]", theirs)
	}
}

// When the VIM cannot answer, the intent waits for the next start.
func TestRecoveryWaitsForAnUnreachableVIM(t *testing.T) {
	w := newWorld(t, nil)
	p, err := w.eng.prepare(w.reg.Snapshot(), compute("vm1"), Placement{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.putIntent(&store.Intent{Op: store.OpCreate, Entity: p.ent, Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	rep := w.restart(map[string]any{"fail": []any{"retrieve", "list"}})
	if !slices.Equal(rep.Unresolved, []string{"/compute/vm1"}) {
		t.Fatalf("report %+v", rep)
	}
	// While it waits, the location is busy, not free.
	if _, err := w.eng.Create(context.Background(), compute("vm1"), Placement{}); occi.CodeOf(err) != occi.AlreadyExists && occi.CodeOf(err) != occi.Conflict {
		t.Errorf("create over an unresolved intent: %v", err)
	}
	rep = w.restart(nil)
	if !slices.Equal(rep.Dropped, []string{"/compute/vm1"}) {
		t.Errorf("second start: %+v", rep)
	}
}

// Operations on one location are serialised: a second one while the first
// is in flight waits for it, up to the lock wait, and is then refused
// with what holds the entity; it is never interleaved.
func TestConcurrentOperationOnOneEntityIsRefused(t *testing.T) {
	w := newWorld(t, map[string]any{"latency": "200ms"})
	w.eng.lockWait = 20 * time.Millisecond
	ctx := context.Background()
	if _, err := w.eng.Create(ctx, compute("vm1"), Placement{}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := w.eng.Action(ctx, "/compute/vm1", &occi.ActionInvocation{Action: occi.StopActionID})
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	err := w.eng.Delete(ctx, "/compute/vm1")
	if !errors.Is(err, occi.ErrConflict) || !strings.Contains(err.Error(), "action "+occi.StopActionID+" on /compute/vm1") {
		t.Errorf("delete during an action = %v, want Conflict naming the action", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// With time to wait, the second operation runs after the first.
	w.eng.lockWait = 5 * time.Second
	go func() {
		_, err := w.eng.Action(ctx, "/compute/vm1", &occi.ActionInvocation{Action: occi.StartActionID})
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := w.eng.Delete(ctx, "/compute/vm1"); err != nil {
		t.Errorf("delete after an action = %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// The VIM changes behind ocni's back: a refresh commits what it reports,
// and an object that vanished marks its entity in error instead of
// dropping it.
func TestRefresh(t *testing.T) {
	w := newWorld(t, nil)
	ctx := context.Background()
	for _, id := range []string{"vm1", "vm2", "vm3"} {
		if _, err := w.eng.Create(ctx, compute(id), Placement{}); err != nil {
			t.Fatal(err)
		}
	}
	snap := w.reg.Snapshot()
	vm1, _ := w.db.Entity("/compute/vm1")
	vm2, _ := w.db.Entity("/compute/vm2")
	if _, err := w.vim.Action(ctx, w.eng.object(snap, vm1), occi.ComputeActionScheme+"stop", map[string]any{"method": "poweroff"}); err != nil {
		t.Fatal(err)
	}
	if err := w.vim.Delete(ctx, w.eng.object(snap, vm2)); err != nil {
		t.Fatal(err)
	}
	rep, err := w.eng.Refresh(ctx, "dummy")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Checked != 3 || rep.Changed != 1 || rep.Lost != 1 {
		t.Errorf("report %+v", rep)
	}
	get := func(loc string) map[string]any {
		v, err := w.eng.Get(ctx, loc)
		if err != nil {
			t.Fatal(err)
		}
		return v.Attributes
	}
	if s := get("/compute/vm1")["occi.compute.state"]; s != "inactive" {
		t.Errorf("vm1 stopped on the VIM reads %v", s)
	}
	a := get("/compute/vm2")
	if a["occi.compute.state"] != "error" || !strings.Contains(fmt.Sprint(a["occi.compute.state.message"]), "removed outside") {
		t.Errorf("vm2 removed from the VIM reads %v", a)
	}
	if s := get("/compute/vm3")["occi.compute.state"]; s != "active" {
		t.Errorf("vm3 reads %v", s)
	}
	// A second pass finds nothing new.
	if rep, _ := w.eng.Refresh(ctx, "dummy"); rep.Changed != 0 {
		t.Errorf("second pass %+v", rep)
	}
}

// Templates a VIM offers become mixins at start, and an entity can use
// them; registering again changes nothing.
func TestRegisterTemplates(t *testing.T) {
	w := newWorld(t, map[string]any{"os_templates": []any{"debian12", "alpine"}})
	ctx := context.Background()
	n, err := w.eng.RegisterTemplates(ctx)
	if err != nil || n != 2 {
		t.Fatalf("RegisterTemplates = %d, %v", n, err)
	}
	id := "http://schemas.ocni.org/dummy/dummy/os_tpl#debian12"
	if _, ok := w.reg.Snapshot().Mixin(id); !ok {
		t.Fatalf("%s not registered", id)
	}
	in := compute("vm1")
	in.Mixins = append(in.Mixins, id)
	if _, err := w.eng.Create(ctx, in, Placement{}); err != nil {
		t.Fatalf("create with the template: %v", err)
	}
	if n, err := w.eng.RegisterTemplates(ctx); err != nil || n != 0 {
		t.Errorf("second registration = %d, %v", n, err)
	}
}
