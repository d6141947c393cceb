package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocni/ocni/backends/dummy"
	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/store"
)

// The tests of this file try to break the engine's contract: one consistent
// step per request, intents that always end, deletes that cannot lose data.
// The dummy VIM keeps a state file, so it is a durable provider: the engine
// writes intents for it, as for every real VIM.

func (w *world) dummy() *dummy.Provider {
	w.t.Helper()
	d, ok := w.vim.(*dummy.Provider)
	if !ok {
		w.t.Fatalf("the VIM is a %T, not the dummy", w.vim)
	}
	return d
}

func (w *world) setFailures(fail, failAfter []string) {
	w.t.Helper()
	if err := w.dummy().SetFailures(fail, failAfter); err != nil {
		w.t.Fatal(err)
	}
}

// registerMixin registers a user mixin of that term, at /<term>/.
func (w *world) registerMixin(term string) *occi.Mixin {
	w.t.Helper()
	m := &occi.Mixin{Category: occi.Category{Scheme: "http://example.com/occi#", Term: term}, Location: "/" + term + "/"}
	if _, err := w.eng.ChangeCategories(context.Background(), &CategoryChange{Add: occi.Categories{Mixins: []*occi.Mixin{m}}}); err != nil {
		w.t.Fatal(err)
	}
	return m
}

func (w *world) intents() map[string]*store.Intent {
	w.t.Helper()
	in, err := w.db.Intents()
	if err != nil {
		w.t.Fatal(err)
	}
	return in
}

func (w *world) create(in *Input) *View {
	w.t.Helper()
	v, err := w.eng.Create(context.Background(), in, Placement{})
	if err != nil {
		w.t.Fatalf("create %s: %v", in.Kind, err)
	}
	return v
}

func storage(id string) *Input {
	return &Input{Kind: occi.StorageKindID, ID: id, Attributes: map[string]any{"occi.storage.size": 1.0}}
}

func network(id string) *Input { return &Input{Kind: occi.NetworkKindID, ID: id} }

func storageLink(id, source, target string) *Input {
	return &Input{Kind: occi.StorageLinkKindID, ID: id, Source: &occi.LinkEnd{Location: source}, Target: &occi.LinkEnd{Location: target},
		Attributes: map[string]any{"occi.storagelink.deviceid": "vdb"}}
}

// A refresh changes nothing on the VIM: it leaves no intent, and the entity
// can be updated, acted on and deleted right after.
func TestRefreshLeavesEntitiesFree(t *testing.T) {
	w := newWorld(t, nil)
	if w.vim.Capabilities().Volatile {
		t.Fatal("the test needs a durable provider")
	}
	ctx := context.Background()
	w.create(storage("probe"))
	w.create(compute("vm1"))
	if _, err := w.eng.Refresh(ctx, "dummy"); err != nil {
		t.Fatal(err)
	}
	if in := w.intents(); len(in) != 0 {
		t.Fatalf("a refresh left intents: %v", in)
	}
	if _, err := w.eng.Update(ctx, "/compute/vm1", &Input{Attributes: map[string]any{occi.AttrTitle: "after refresh"}}); err != nil {
		t.Errorf("update after a refresh: %v", err)
	}
	if _, err := w.eng.Action(ctx, "/compute/vm1", &occi.ActionInvocation{Action: occi.StopActionID}); err != nil {
		t.Errorf("action after a refresh: %v", err)
	}
	if err := w.eng.Delete(ctx, "/storage/probe"); err != nil {
		t.Errorf("delete after a refresh: %v", err)
	}
}

// A VIM call whose answer is lost leaves its intent pending: the entity says
// so, a second operation is refused with what is pending since when, and
// the reconciler finishes the call once the VIM answers again.
func TestReconcilerFinishesAPendingDelete(t *testing.T) {
	w := newWorld(t, nil)
	ctx := context.Background()
	w.create(compute("vm1"))
	w.setFailures(nil, []string{"delete"})
	if err := w.eng.Delete(ctx, "/compute/vm1"); !errors.Is(err, occi.ErrUnavailable) {
		t.Fatalf("delete with a lost answer = %v, want Unavailable", err)
	}
	if in := w.intents()["/compute/vm1"]; in == nil || in.LastError == "" || in.Attempts != 1 {
		t.Fatalf("pending intent: %+v", in)
	}
	v, err := w.eng.Get(ctx, "/compute/vm1")
	if err != nil {
		t.Fatal(err)
	}
	if msg := fmt.Sprint(v.Attributes["occi.compute.state.message"]); !strings.Contains(msg, "delete of /compute/vm1 started at") || !strings.Contains(msg, "pending") {
		t.Errorf("state message while pending: %q", msg)
	}
	_, err = w.eng.Update(ctx, "/compute/vm1", &Input{Attributes: map[string]any{occi.AttrTitle: "x"}})
	if !errors.Is(err, occi.ErrConflict) || !strings.Contains(err.Error(), "delete of /compute/vm1 started at") {
		t.Errorf("update while a delete is pending = %v, want a 409 naming the delete", err)
	}
	// The VIM still fails: the reconciler backs off.
	w.setFailures([]string{"delete"}, nil)
	rep, err := w.eng.Reconcile(ctx, true)
	if err != nil || len(rep.Unresolved) != 1 {
		t.Fatalf("reconcile while the VIM fails: %+v, %v", rep, err)
	}
	in := w.intents()["/compute/vm1"]
	if in == nil || in.Attempts != 2 || !in.NextTry.After(time.Now()) {
		t.Fatalf("after a failed retry: %+v", in)
	}
	// The VIM is back: the background reconciler finishes the delete.
	w.setFailures(nil, nil)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w.eng.RunReconciler(rctx, 20*time.Millisecond)
	waitFor(t, 10*time.Second, "the reconciler to finish the delete", func() bool { return len(w.intents()) == 0 })
	if _, err := w.eng.Get(ctx, "/compute/vm1"); !errors.Is(err, occi.ErrNotFound) {
		t.Errorf("entity after the reconciled delete: %v", err)
	}
	if ids := w.vimIDs(); len(ids) != 0 {
		t.Errorf("VIM after the reconciled delete: %v", ids)
	}
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// An update the client was told failed is reversed on the VIM by the
// reconciler: the store and the VIM end as they were.
func TestReconcilerReversesAFailedUpdate(t *testing.T) {
	w := newWorld(t, nil)
	ctx := context.Background()
	w.create(compute("vm1"))
	w.setFailures(nil, []string{"update"})
	if _, err := w.eng.Update(ctx, "/compute/vm1", &Input{Attributes: map[string]any{occi.AttrTitle: "lost"}}); !errors.Is(err, occi.ErrUnavailable) {
		t.Fatalf("update with a lost answer = %v", err)
	}
	w.setFailures(nil, nil)
	if rep, err := w.eng.Reconcile(ctx, true); err != nil || len(rep.Completed) != 1 {
		t.Fatalf("reconcile: %+v, %v", rep, err)
	}
	ent, _ := w.db.Entity("/compute/vm1")
	if ent.Attributes[occi.AttrTitle] == "lost" {
		t.Errorf("the failed update stayed in the store: %v", ent.Attributes)
	}
	if title := w.dummy().Attributes("vm1")[occi.AttrTitle]; title == "lost" {
		t.Errorf("the failed update stayed on the VIM: title %v", title)
	}
	if len(w.intents()) != 0 {
		t.Errorf("intents left: %v", w.intents())
	}
	// A definite refusal changes nothing and leaves no intent at all.
	if err := w.dummy().FailNth("update", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := w.eng.Update(ctx, "/compute/vm1", &Input{Attributes: map[string]any{occi.AttrTitle: "refused"}}); !errors.Is(err, occi.ErrFailedPrecondition) {
		t.Fatalf("update the VIM refuses = %v", err)
	}
	if in := w.intents(); len(in) != 0 {
		t.Errorf("intents after a refused update: %v", in)
	}
}

// Lost updates: concurrent partial updates of different attributes of one
// entity each survive; the last acknowledged value of each is what the
// entity holds.
func TestConcurrentPartialUpdatesAreNotLost(t *testing.T) {
	w := newWorld(t, nil)
	ctx := context.Background()
	w.create(compute("lu"))
	attrs := []string{occi.AttrTitle, occi.AttrSummary, "occi.compute.hostname"}
	last := make([]string, len(attrs))
	var wg sync.WaitGroup
	for i, name := range attrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range 40 {
				value := fmt.Sprintf("%s-%d", strings.ReplaceAll(name, ".", "-"), n)
				if _, err := w.eng.Update(ctx, "/compute/lu", &Input{Attributes: map[string]any{name: value}}); err == nil {
					last[i] = value
				} else if !errors.Is(err, occi.ErrConflict) {
					t.Errorf("update %s: %v", name, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	v, err := w.eng.Get(ctx, "/compute/lu")
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range attrs {
		if last[i] == "" {
			t.Errorf("no update of %s was acknowledged", name)
		} else if v.Attributes[name] != last[i] {
			t.Errorf("%s = %v, but %q was acknowledged last", name, v.Attributes[name], last[i])
		}
	}
}

// race runs two operations at once on a slow VIM and returns their errors.
func race(a, b func() error) (errA, errB error) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); errA = a() }()
	time.Sleep(100 * time.Millisecond) // a is inside its VIM call
	errB = b()
	wg.Wait()
	return errA, errB
}

// Check-then-commit races: with a slow VIM, two requests that cannot both
// succeed never both answer success, and the store stays consistent.
func TestRacesEndInASerialOrder(t *testing.T) {
	ctx := context.Background()
	userKind := &occi.Kind{Category: occi.Category{Scheme: "http://example.com/occi#", Term: "vm"}, Parent: occi.ComputeKindID, Location: "/vm/"}
	userMixin := &occi.Mixin{Category: occi.Category{Scheme: "http://example.com/occi#", Term: "tag"}, Location: "/tag/"}
	tests := []struct {
		name  string
		setup func(w *world)
		a, b  func(w *world) error
	}{
		{
			name: "link to a storage being deleted",
			setup: func(w *world) {
				w.create(compute("vm1"))
				w.create(storage("disk"))
			},
			a: func(w *world) error {
				_, err := w.eng.Create(ctx, storageLink("sl", "/compute/vm1", "/storage/disk"), Placement{})
				return err
			},
			b: func(w *world) error { return w.eng.Delete(ctx, "/storage/disk") },
		},
		{
			name: "storage deleted while a link to it is made",
			setup: func(w *world) {
				w.create(compute("vm1"))
				w.create(storage("disk"))
			},
			a: func(w *world) error { return w.eng.Delete(ctx, "/storage/disk") },
			b: func(w *world) error {
				_, err := w.eng.Create(ctx, storageLink("sl", "/compute/vm1", "/storage/disk"), Placement{})
				return err
			},
		},
		{
			name: "create while its kind is removed",
			setup: func(w *world) {
				if _, err := w.eng.ChangeCategories(ctx, &CategoryChange{Add: occi.Categories{Kinds: []*occi.Kind{userKind}}}); err != nil {
					w.t.Fatal(err)
				}
			},
			a: func(w *world) error {
				_, err := w.eng.Create(ctx, &Input{Kind: userKind.ID(), ID: "v1"}, Placement{})
				return err
			},
			b: func(w *world) error {
				_, err := w.eng.ChangeCategories(ctx, &CategoryChange{Remove: []string{userKind.ID()}})
				return err
			},
		},
		{
			name: "association while the mixin is removed",
			setup: func(w *world) {
				w.create(compute("vm1"))
				if _, err := w.eng.ChangeCategories(ctx, &CategoryChange{Add: occi.Categories{Mixins: []*occi.Mixin{userMixin}}}); err != nil {
					w.t.Fatal(err)
				}
			},
			a: func(w *world) error { return w.eng.Members(ctx, userMixin.ID(), []string{"/compute/vm1"}, Associate) },
			b: func(w *world) error {
				_, err := w.eng.ChangeCategories(ctx, &CategoryChange{Remove: []string{userMixin.ID()}})
				return err
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, nil)
			tt.setup(w)
			w.dummy().SetLatency(300 * time.Millisecond)
			errA, errB := race(func() error { return tt.a(w) }, func() error { return tt.b(w) })
			if errA == nil && errB == nil {
				t.Errorf("both succeeded")
			}
			if errA != nil && errB != nil {
				t.Errorf("both failed: %v / %v", errA, errB)
			}
			for _, err := range []error{errA, errB} {
				if err != nil && occi.CodeOf(err) != occi.Conflict && occi.CodeOf(err) != occi.InvalidArgument && occi.CodeOf(err) != occi.NotFound {
					t.Errorf("the loser's error is %v (%s), want a 4xx", err, occi.CodeOf(err))
				}
			}
			w.checkInvariants()
		})
	}
}

// A resource deleted and put again at its path comes back without the
// links of the old one.
func TestPutAfterDeleteHasNoOldLinks(t *testing.T) {
	w := newWorld(t, nil)
	ctx := context.Background()
	w.create(storage("disk"))
	in := compute("vm1")
	in.Links = []*Input{storageLink("", "", "/storage/disk")}
	in.Links[0].Source = nil
	w.create(in)
	if err := w.eng.Delete(ctx, "/compute/vm1"); err != nil {
		t.Fatal(err)
	}
	v, created, err := w.eng.Put(ctx, "/compute/vm1", compute("vm1"))
	if err != nil || !created {
		t.Fatalf("put again: created %v, %v", created, err)
	}
	if len(v.Links) != 0 {
		t.Errorf("the new resource has old links: %v", v.Links)
	}
	w.checkInvariants()
}

// A resource that other resources link to is not deleted; its own links go
// with it.
func TestDeleteRefusesAResourceLinkedTo(t *testing.T) {
	w := newWorld(t, nil)
	ctx := context.Background()
	w.create(storage("disk"))
	w.create(compute("vm1"))
	w.create(storageLink("sl", "/compute/vm1", "/storage/disk"))
	err := w.eng.Delete(ctx, "/storage/disk")
	if !errors.Is(err, occi.ErrConflict) || !strings.Contains(err.Error(), "/storagelink/sl") {
		t.Fatalf("delete of a link target = %v, want a 409 naming the link", err)
	}
	if err := w.eng.Delete(ctx, "/compute/vm1"); err != nil {
		t.Fatalf("delete of the link's source: %v", err)
	}
	if _, err := w.eng.Get(ctx, "/storagelink/sl"); !errors.Is(err, occi.ErrNotFound) {
		t.Errorf("the source's link survived: %v", err)
	}
	if err := w.eng.Delete(ctx, "/storage/disk"); err != nil {
		t.Errorf("delete once nothing links to it: %v", err)
	}
	w.checkInvariants()
}

// Rejected requests change nothing: the data file and the VIM are the same
// before and after.
func TestRejectedRequestsChangeNothing(t *testing.T) {
	ctx := context.Background()
	required := &occi.Mixin{Category: occi.Category{Scheme: "http://example.com/occi#", Term: "req"}, Location: "/req/",
		Attributes: occi.Attributes{"com.example.needed": {Type: occi.TypeString, Required: true, Mutable: true}}}
	tests := []struct {
		name  string
		setup func(w *world)
		run   func(w *world) error
	}{
		{
			name: "set members where one lacks a required attribute",
			setup: func(w *world) {
				if _, err := w.eng.ChangeCategories(ctx, &CategoryChange{Add: occi.Categories{Mixins: []*occi.Mixin{required}}}); err != nil {
					w.t.Fatal(err)
				}
				w.create(compute("mA"))
				w.create(compute("mB"))
				if _, err := w.eng.Update(ctx, "/compute/mA", &Input{Mixins: []string{required.ID()}, Attributes: map[string]any{"com.example.needed": "yes"}}); err != nil {
					w.t.Fatal(err)
				}
			},
			run: func(w *world) error { return w.eng.Members(ctx, required.ID(), []string{"/compute/mB"}, SetMembers) },
		},
		{
			name: "batch create whose second entity is invalid",
			run: func(w *world) error {
				_, err := w.eng.CreateAll(ctx, []*Input{compute("ok"), {Kind: occi.ComputeKindID, ID: "bad", Attributes: map[string]any{"occi.compute.cores": "many"}}}, Placement{})
				return err
			},
		},
		{
			name: "batch create whose second entity the VIM refuses",
			setup: func(w *world) {
				w.create(compute("taken"))
			},
			run: func(w *world) error {
				_, err := w.eng.CreateAll(ctx, []*Input{compute("fresh"), compute("taken")}, Placement{})
				return err
			},
		},
		{
			name: "batch create whose second entity fails on the VIM",
			setup: func(w *world) {
				w.create(network("net"))
			},
			run: func(w *world) error {
				// The second create fails on the VIM: the first is undone.
				if err := w.dummy().FailNth("create", 2); err != nil {
					w.t.Fatal(err)
				}
				_, err := w.eng.CreateAll(ctx, []*Input{compute("c1"), compute("c2")}, Placement{})
				return err
			},
		},
		{
			name: "remove a mixin while a member's dissociation fails on the VIM",
			setup: func(w *world) {
				if _, err := w.eng.ChangeCategories(ctx, &CategoryChange{Add: occi.Categories{Mixins: []*occi.Mixin{required}}}); err != nil {
					w.t.Fatal(err)
				}
				for _, id := range []string{"m1", "m2"} {
					in := compute(id)
					in.Mixins = append(in.Mixins, required.ID())
					in.Attributes = map[string]any{"com.example.needed": "yes"}
					w.create(in)
				}
			},
			run: func(w *world) error {
				// The second member's update fails: the first is reversed.
				if err := w.dummy().FailNth("update", 2); err != nil {
					w.t.Fatal(err)
				}
				_, err := w.eng.ChangeCategories(ctx, &CategoryChange{Remove: []string{required.ID()}})
				return err
			},
		},
		{
			name: "remove a kind in use",
			setup: func(w *world) {
				k := &occi.Kind{Category: occi.Category{Scheme: "http://example.com/occi#", Term: "vm"}, Parent: occi.ComputeKindID, Location: "/vm/"}
				if _, err := w.eng.ChangeCategories(ctx, &CategoryChange{Add: occi.Categories{Kinds: []*occi.Kind{k}}}); err != nil {
					w.t.Fatal(err)
				}
				w.create(&Input{Kind: k.ID(), ID: "v1"})
			},
			run: func(w *world) error {
				_, err := w.eng.ChangeCategories(ctx, &CategoryChange{Remove: []string{"http://example.com/occi#vm"}})
				return err
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, nil)
			if tt.setup != nil {
				tt.setup(w)
			}
			before, vimBefore := w.dump(), w.vimIDs()
			err := tt.run(w)
			if err == nil {
				t.Fatal("the request succeeded")
			}
			if after := w.dump(); after != before {
				t.Errorf("a rejected request (%v) changed the data file:\n%s", err, diffLines(before, after))
			}
			if vimAfter := w.vimIDs(); fmt.Sprint(vimAfter) != fmt.Sprint(vimBefore) {
				t.Errorf("a rejected request (%v) changed the VIM: %v → %v", err, vimBefore, vimAfter)
			}
		})
	}
}

func (w *world) dump() string {
	w.t.Helper()
	var b strings.Builder
	if err := w.db.Dump(&b); err != nil {
		w.t.Fatal(err)
	}
	return b.String()
}

func diffLines(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	seen := map[string]int{}
	for _, l := range al {
		seen[l]++
	}
	var out []string
	for _, l := range bl {
		if seen[l] > 0 {
			seen[l]--
			continue
		}
		out = append(out, "+ "+l)
	}
	for l, n := range seen {
		for range n {
			out = append(out, "- "+l)
		}
	}
	return strings.Join(out, "\n")
}

// Category changes that would leave entities the model no longer accepts
// are refused with a count and an example; the same changes are accepted
// while nothing uses the category.
func TestCategoryChangesRespectEntities(t *testing.T) {
	ctx := context.Background()
	const scheme = "http://example.com/occi#"
	kind := func(parent, location string, attrs occi.Attributes) *occi.Kind {
		return &occi.Kind{Category: occi.Category{Scheme: scheme, Term: "vm"}, Parent: parent, Location: location, Attributes: attrs}
	}
	mixin := func(location string, applies []string, attrs occi.Attributes) *occi.Mixin {
		return &occi.Mixin{Category: occi.Category{Scheme: scheme, Term: "tag"}, Location: location, Applies: applies, Attributes: attrs}
	}
	needed := occi.Attributes{"com.example.needed": {Type: occi.TypeString, Required: true, Mutable: true}}
	withDefault := occi.Attributes{"com.example.needed": {Type: occi.TypeString, Required: true, Mutable: true, Default: "d"}}
	tests := []struct {
		name   string
		change *CategoryChange
		want   string // in the 409's message; "" when accepted
	}{
		{"new parent", &CategoryChange{Replace: occi.Categories{Kinds: []*occi.Kind{kind(occi.ResourceKindID, "/vm/", nil)}}}, "its parent cannot change"},
		{"new location", &CategoryChange{Replace: occi.Categories{Kinds: []*occi.Kind{kind(occi.ComputeKindID, "/vms/", nil)}}}, "its location cannot change"},
		{"new required attribute", &CategoryChange{Replace: occi.Categories{Kinds: []*occi.Kind{kind(occi.ComputeKindID, "/vm/", needed)}}}, `does not fit 1 entity (/vm/v1): /vm/v1: attribute "com.example.needed" is required`},
		{"new required attribute with a default", &CategoryChange{Replace: occi.Categories{Kinds: []*occi.Kind{kind(occi.ComputeKindID, "/vm/", withDefault)}}}, ""},
		{"mixin no longer applies", &CategoryChange{Replace: occi.Categories{Mixins: []*occi.Mixin{mixin("/tag/", []string{occi.NetworkKindID}, nil)}}}, "does not fit 1 entity"},
		{"mixin gains a required attribute", &CategoryChange{Replace: occi.Categories{Mixins: []*occi.Mixin{mixin("/tag/", nil, needed)}}}, "is required"},
		{"mixin moves", &CategoryChange{Replace: occi.Categories{Mixins: []*occi.Mixin{mixin("/tags/", nil, nil)}}}, ""},
		{"location where entities live", &CategoryChange{Add: occi.Categories{Mixins: []*occi.Mixin{{Category: occi.Category{Scheme: scheme, Term: "lab"}, Location: "/lab2/"}}}}, "cannot take the location /lab2/: 1 entity (/lab2/e)"},
	}
	for _, tt := range tests {
		for _, inUse := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/in use %v", tt.name, inUse), func(t *testing.T) {
				w := newWorld(t, nil)
				if _, err := w.eng.ChangeCategories(ctx, &CategoryChange{Add: occi.Categories{Kinds: []*occi.Kind{kind(occi.ComputeKindID, "/vm/", nil)}, Mixins: []*occi.Mixin{mixin("/tag/", []string{occi.ComputeKindID}, nil)}}}); err != nil {
					t.Fatal(err)
				}
				if inUse {
					in := &Input{Kind: scheme + "vm", ID: "v1", Mixins: []string{scheme + "tag"}}
					w.create(in)
					if _, err := w.eng.Create(ctx, compute("e"), Placement{Path: "/lab2/e"}); err != nil {
						t.Fatal(err)
					}
				}
				before := w.dump()
				_, err := w.eng.ChangeCategories(ctx, tt.change)
				switch {
				case tt.want == "" || !inUse:
					if err != nil {
						t.Fatalf("refused: %v", err)
					}
				case err == nil:
					t.Fatalf("accepted, want a 409 with %q", tt.want)
				case !errors.Is(err, occi.ErrConflict) || !strings.Contains(err.Error(), tt.want):
					t.Fatalf("= %v, want a 409 with %q", err, tt.want)
				default:
					if after := w.dump(); after != before {
						t.Errorf("a refused change was written:\n%s", diffLines(before, after))
					}
				}
				w.checkInvariants()
			})
		}
	}
}

// checkInvariants checks the whole store: every entity's kind and mixins
// are registered and it validates against the model, every link has both
// ends, every index agrees with the entities, and no intent is left.
func (w *world) checkInvariants() {
	w.t.Helper()
	snap := w.reg.Snapshot()
	err := w.db.View(func(tx *store.Tx) error {
		for _, p := range tx.CheckInvariants(func(id string) bool { _, ok := snap.ClassOf(id); return ok }) {
			w.t.Errorf("invariant: %s", p)
		}
		return tx.Scan(store.ByPrefix, "/", "", 0, func(ent *store.Entity) bool {
			if err := validEntity(snap, ent); err != nil {
				w.t.Errorf("invariant: %s does not validate: %v", ent.Location, err)
			}
			return true
		})
	})
	if err != nil {
		w.t.Fatal(err)
	}
	if in := w.intents(); len(in) != 0 {
		w.t.Errorf("invariant: intents left: %v", in)
	}
}

// An orphan the VIM refuses to delete is retried, and it never blocks
// making its id again: the create removes it first.
func TestLeftoverOrphanNeverBlocksItsID(t *testing.T) {
	w := newWorld(t, nil)
	ctx := context.Background()
	orphan := w.eng.object(w.reg.Snapshot(), &store.Entity{ID: "old", Location: "/compute/old", Kind: occi.ComputeKindID, Attributes: map[string]any{}})
	if _, err := w.vim.Create(ctx, orphan); err != nil {
		t.Fatal(err)
	}
	w.stop()
	w.start(nil)
	if err := w.dummy().FailNth("delete", 1); err != nil {
		t.Fatal(err)
	}
	rep, err := w.eng.Recover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Orphans) != 0 || fmt.Sprint(w.eng.PendingOrphans()) != "[dummy:old]" {
		t.Fatalf("a refused orphan delete: report %+v, pending %v", rep, w.eng.PendingOrphans())
	}
	if _, err := w.eng.Create(ctx, compute("old"), Placement{}); err != nil {
		t.Fatalf("create of the leftover's id: %v", err)
	}
	if len(w.eng.PendingOrphans()) != 0 {
		t.Errorf("the leftover is still pending: %v", w.eng.PendingOrphans())
	}
	w.checkInvariants()
}

// While a resource's delete is pending on the VIM, no link to it can be
// made: the reconciler's delete would otherwise never commit.
func TestNoLinkToAResourcePendingDelete(t *testing.T) {
	w := newWorld(t, nil)
	ctx := context.Background()
	w.create(compute("vm1"))
	w.create(storage("disk"))
	w.setFailures(nil, []string{"delete"})
	if err := w.eng.Delete(ctx, "/storage/disk"); !errors.Is(err, occi.ErrUnavailable) {
		t.Fatalf("delete with a lost answer = %v", err)
	}
	w.setFailures(nil, nil)
	_, err := w.eng.Create(ctx, storageLink("sl", "/compute/vm1", "/storage/disk"), Placement{})
	if !errors.Is(err, occi.ErrConflict) || !strings.Contains(err.Error(), "delete of /storage/disk") {
		t.Fatalf("link to a resource pending delete = %v, want a 409 naming the delete", err)
	}
	if _, err := w.eng.Reconcile(ctx, true); err != nil {
		t.Fatal(err)
	}
	w.checkInvariants()
}

// A refresh pass logs its summary at debug level, and a warning naming an
// object lost from the VIM.
func TestRefreshLogs(t *testing.T) {
	w := newWorld(t, nil)
	var logs strings.Builder
	var mu sync.Mutex
	w.eng.log = slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := context.Background()
	w.create(compute("vm1"))
	ent, _ := w.db.Entity("/compute/vm1")
	if err := w.vim.Delete(ctx, w.eng.object(w.reg.Snapshot(), ent)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.eng.Refresh(ctx, "dummy"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if l := logs.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, "object lost from the VIM") || !strings.Contains(l, "/compute/vm1") {
		t.Errorf("no warning for the lost object:\n%s", l)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
