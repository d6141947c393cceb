package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/ocni/ocni/backends"
	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/store"
)

// wantCode fails unless err has the code and says every one of subs.
func wantCode(t *testing.T, what string, err error, code occi.Code, subs ...string) {
	t.Helper()
	if occi.CodeOf(err) != code || err == nil {
		t.Errorf("%s: %v (%v), want %v", what, err, occi.CodeOf(err), code)
		return
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("%s: %q does not say %q", what, err, s)
		}
	}
}

// small returns an engine on the world's file and VIM with small limits.
func (w *world) small(maxPage, budget int) *Engine {
	return New(w.reg, w.db, Options{Providers: map[string]backends.Provider{"dummy": w.vim}, MaxPage: maxPage, ScanBudget: budget,
		Logger: slog.New(slog.DiscardHandler)})
}

func nic(id, source, target string) *Input {
	return &Input{Kind: occi.NetworkInterfaceID, ID: id, Source: &occi.LinkEnd{Location: source}, Target: &occi.LinkEnd{Location: target},
		Attributes: map[string]any{"occi.networkinterface.interface": "eth0"}}
}

// GFD.224 fixes the ends of a network interface (compute to network) and
// of a storage link (compute to storage); a link kind derived from one
// inherits them, and no link joins a resource to itself. Nothing refused
// is left behind.
func TestLinkEndsFollowTheKind(t *testing.T) {
	w := newWorld(t, nil)
	ctx := context.Background()
	w.create(compute("vm1"))
	w.create(compute("vm2"))
	w.create(network("net1"))
	w.create(storage("disk1"))
	userNIC := &occi.Kind{Category: occi.Category{Scheme: "http://example.com/occi#", Term: "vnic"}, Parent: occi.NetworkInterfaceID, Location: "/vnic/"}
	if _, err := w.eng.ChangeCategories(ctx, &CategoryChange{Add: occi.Categories{Kinds: []*occi.Kind{userNIC}}}); err != nil {
		t.Fatal(err)
	}
	before := w.dump()
	for _, tc := range []struct {
		name string
		in   *Input
		subs []string
	}{
		{"nic to a storage", nic("n1", "/compute/vm1", "/storage/disk1"), []string{"its target /storage/disk1 is a " + occi.StorageKindID}},
		{"nic to a compute", nic("n2", "/compute/vm1", "/compute/vm2"), []string{"its target /compute/vm2"}},
		{"nic from a network", nic("n3", "/network/net1", "/network/net1"), []string{"both /network/net1"}},
		{"nic from a storage", nic("n4", "/storage/disk1", "/network/net1"), []string{"its source /storage/disk1 is a " + occi.StorageKindID}},
		{"storage link to a network", storageLink("s1", "/compute/vm1", "/network/net1"), []string{"joins a " + occi.ComputeKindID + " to a " + occi.StorageKindID}},
		{"derived kind to a storage", &Input{Kind: userNIC.ID(), ID: "v1", Source: &occi.LinkEnd{Location: "/compute/vm1"}, Target: &occi.LinkEnd{Location: "/storage/disk1"},
			Attributes: map[string]any{"occi.networkinterface.interface": "eth0"}}, []string{"(a " + occi.NetworkInterfaceID + ")"}},
		{"self-loop", nic("n5", "/compute/vm1", "/compute/vm1"), []string{"both /compute/vm1"}},
		{"remote target of the wrong kind", &Input{Kind: occi.NetworkInterfaceID, ID: "n6", Source: &occi.LinkEnd{Location: "/compute/vm1"},
			Target:     &occi.LinkEnd{Location: "http://peer.example.org/storage/x", Kind: occi.StorageKindID},
			Attributes: map[string]any{"occi.networkinterface.interface": "eth0"}}, []string{"its target http://peer.example.org/storage/x"}},
		{"inline nic of a storage", &Input{Kind: occi.StorageKindID, ID: "disk2", Attributes: map[string]any{"occi.storage.size": 1.0},
			Links: []*Input{{Kind: occi.NetworkInterfaceID, Target: &occi.LinkEnd{Location: "/network/net1"}, Attributes: map[string]any{"occi.networkinterface.interface": "eth0"}}}},
			[]string{"its source /storage/disk2 is a " + occi.StorageKindID}},
	} {
		_, err := w.eng.Create(ctx, tc.in, Placement{})
		wantCode(t, tc.name, err, occi.InvalidArgument, tc.subs...)
	}
	if after := w.dump(); after != before {
		t.Errorf("refused links changed the store:\n%s", diffLines(before, after))
	}
	// What GFD.224 allows still works, the derived kind and a remote
	// network included.
	w.create(nic("ok1", "/compute/vm1", "/network/net1"))
	w.create(storageLink("ok2", "/compute/vm1", "/storage/disk1"))
	w.create(&Input{Kind: userNIC.ID(), ID: "ok3", Source: &occi.LinkEnd{Location: "/compute/vm2"}, Target: &occi.LinkEnd{Location: "/network/net1"},
		Attributes: map[string]any{"occi.networkinterface.interface": "eth1"}})
	w.create(nic("ok4", "/compute/vm2", "HTTP://peer.example.org/network/lan"))
	if v, err := w.eng.Get(ctx, "/networkinterface/ok4"); err != nil || v.Target.Location != "http://peer.example.org/network/lan" {
		t.Errorf("remote target: %v, %v", v, err)
	}
	w.checkInvariants()
}

// The commit checks a new link's shape again, under the model it commits
// to: a link prepared under one model does not commit into a model where
// its kind asks for other ends.
func TestLinkShapeCheckedAtCommit(t *testing.T) {
	w := newWorld(t, nil)
	w.create(compute("vm1"))
	w.create(storage("disk1"))
	link := &store.Entity{Location: "/networkinterface/bad", ID: "bad", Kind: occi.NetworkInterfaceID, Provider: "dummy",
		Source:     &occi.LinkEnd{Location: "/compute/vm1", Kind: occi.ComputeKindID},
		Target:     &occi.LinkEnd{Location: "/storage/disk1", Kind: occi.NetworkKindID}, // as a stale read would have it
		Attributes: map[string]any{occi.AttrID: "bad"}}
	err := w.eng.commit(&change{put: []*store.Entity{link}, created: map[string]bool{link.Location: true}, model: w.reg.Snapshot().Version()})
	wantCode(t, "commit", err, occi.InvalidArgument, "its target /storage/disk1 is a "+occi.StorageKindID)
	if _, err := w.eng.Get(context.Background(), link.Location); occi.CodeOf(err) != occi.NotFound {
		t.Errorf("the refused link was committed: %v", err)
	}
}

// A link end is parsed as a URI: one that would break a rendering, or an
// http URL with no host, is refused.
func TestLinkEndsAreURIs(t *testing.T) {
	w := newWorld(t, nil)
	w.create(compute("vm1"))
	for _, target := range []string{
		"http://x/>; rel=\"r\"\nX-OCCI-Attribute: occi.compute.state=\"error\"\nLink: <http://y",
		"http://",
		"http:///network/x",
		"/network/a b",
		"ftp://peer/network/x",
	} {
		_, err := w.eng.Create(context.Background(), nic("", "/compute/vm1", target), Placement{})
		wantCode(t, fmt.Sprintf("target %q", target), err, occi.InvalidArgument, "link target")
	}
	_, err := w.eng.Create(context.Background(), nic("", "/compute/vm1\n", "/network/x"), Placement{})
	wantCode(t, "source with a newline", err, occi.InvalidArgument, "link source")
}

// A path given with PUT follows the id rule of a POST: its last segment is
// 1 to 128 characters starting with a letter or a digit. /templates/ is
// the providers'.
func TestPathFollowsTheIDRule(t *testing.T) {
	w := newWorld(t, nil)
	ctx := context.Background()
	for _, p := range []string{"/lab/" + strings.Repeat("a", 129), "/lab/-x", "/lab/.x", "/lab/~x", "/lab/_x"} {
		_, _, err := w.eng.Put(ctx, p, &Input{Kind: occi.ComputeKindID})
		wantCode(t, "PUT "+p[:min(len(p), 20)], err, occi.InvalidArgument, "is not valid: 1 to 128")
		in := &Input{Kind: occi.ComputeKindID, ID: p[len("/lab/"):]}
		_, err = w.eng.Create(ctx, in, Placement{Collection: "/compute/"})
		wantCode(t, "POST id "+p[:min(len(p), 20)], err, occi.InvalidArgument, "is not valid: 1 to 128")
	}
	_, _, err := w.eng.Put(ctx, "/templates/dummy/os/x", &Input{Kind: occi.ComputeKindID})
	wantCode(t, "PUT under /templates/", err, occi.Forbidden, "reserved for the providers' templates")
	if _, _, err := w.eng.Put(ctx, "/lab/"+strings.Repeat("a", 128), &Input{Kind: occi.ComputeKindID}); err != nil {
		t.Errorf("a 128-character id: %v", err)
	}
	if got := w.entityLocations(); len(got) != 1 {
		t.Errorf("entities: %v", got)
	}
}

func TestPageOverflow(t *testing.T) {
	w := newWorld(t, nil)
	w.create(compute("vm1"))
	for _, q := range []*Query{
		{Index: store.ByPrefix, Value: "/", Page: 9223372036854775807, Number: 1000},
		{Index: store.ByKind, Value: occi.ComputeKindID, Page: MaxOffset/10 + 2, Number: 10},
		{Index: store.ByKind, Value: occi.ComputeKindID, Page: 1 << 40, Number: 1 << 9, Categories: []string{occi.ComputeKindID}},
	} {
		_, err := w.eng.List(context.Background(), q)
		wantCode(t, fmt.Sprintf("page %d of %d", q.Page, q.Number), err, occi.InvalidArgument, "?after=")
	}
	if ents, err := w.eng.List(context.Background(), &Query{Index: store.ByPrefix, Value: "/", Page: MaxOffset/10 + 1, Number: 10}); err != nil || len(ents) != 0 {
		t.Errorf("the furthest page: %v, %v", ents, err)
	}
}

// Templates are the provider's: a client cannot take their locations nor
// remove or redefine them, and a data file holding a client's category
// where a template goes still starts, the template being skipped with a
// warning while the others register.
func TestTemplatesAreTheProviders(t *testing.T) {
	opts := map[string]any{"os_templates": []any{"ubuntu24", "debian12"}}
	w := newWorld(t, opts)
	ctx := context.Background()
	if n, err := w.eng.RegisterTemplates(ctx); err != nil || n != 2 {
		t.Fatalf("RegisterTemplates = %d, %v", n, err)
	}
	const tpl = "http://schemas.ocni.org/dummy/dummy/os_tpl#"
	squat := &occi.Mixin{Category: occi.Category{Scheme: "http://evil.example.org/x#", Term: "ubuntu24"}, Location: "/templates/dummy/os/ubuntu24/"}
	before := w.dump()
	for _, tc := range []struct {
		name string
		ch   *CategoryChange
		subs []string
	}{
		{"squat a template's location", &CategoryChange{Add: occi.Categories{Mixins: []*occi.Mixin{squat}}}, []string{"reserved for the providers' templates"}},
		{"squat a future template's location", &CategoryChange{Add: occi.Categories{Mixins: []*occi.Mixin{{Category: squat.Category, Location: "/templates/dummy/os/fedora/"}}}}, []string{"reserved"}},
		{"take the templates' scheme", &CategoryChange{Add: occi.Categories{Mixins: []*occi.Mixin{{Category: occi.Category{Scheme: tpl, Term: "fedora"}, Location: "/fedora/"}}}}, []string{"provider dummy's templates"}},
		{"remove a template", &CategoryChange{Remove: []string{tpl + "ubuntu24"}}, []string{"template of provider dummy"}},
		{"redefine a template", &CategoryChange{Replace: occi.Categories{Mixins: []*occi.Mixin{{Category: occi.Category{Scheme: tpl, Term: "ubuntu24"}, Location: "/templates/dummy/os/ubuntu24/"}}}}, []string{"template of provider dummy"}},
	} {
		_, err := w.eng.ChangeCategories(ctx, tc.ch)
		wantCode(t, tc.name, err, occi.Forbidden, tc.subs...)
	}
	if after := w.dump(); after != before {
		t.Errorf("refused changes wrote:\n%s", diffLines(before, after))
	}

	// A data file from before the reservation: a client's mixin where
	// ubuntu24 goes, written as the registry wrote it then.
	w.stop()
	w2 := &world{t: t, path: w.path, state: w.state}
	raw, _ := json.Marshal(squat)
	db, err := store.Open(w.path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Write(func(tx *store.Tx) error {
		if err := tx.DeleteCategory(tpl + "ubuntu24"); err != nil {
			return err
		}
		return tx.PutCategory(squat.ID(), store.CategoryRecord{Class: "mixin", Define: raw})
	}); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	w2.start(opts)
	t.Cleanup(w2.stop)
	var logs bytes.Buffer
	w2.eng.log = slog.New(slog.NewTextHandler(&logs, nil))
	if _, err := w2.eng.RegisterTemplates(ctx); err != nil {
		t.Fatalf("a start with a squatted location: %v", err)
	}
	snap := w2.reg.Snapshot()
	if id, _ := snap.AtLocation(squat.Location); id != squat.ID() {
		t.Errorf("the client's mixin is not kept: %s is %q", squat.Location, id)
	}
	if _, ok := snap.Mixin(tpl + "ubuntu24"); ok {
		t.Error("the clashing template was registered")
	}
	if _, ok := snap.ProvidedBy(tpl + "debian12"); !ok {
		t.Error("the other template is not the provider's")
	}
	if !strings.Contains(logs.String(), "template skipped") || !strings.Contains(logs.String(), "ubuntu24") {
		t.Errorf("no warning about the skipped template: %s", logs.String())
	}
	// The operator removes the squatter; the next start has the template.
	if _, err := w2.eng.ChangeCategories(ctx, &CategoryChange{Remove: []string{squat.ID()}}); err != nil {
		t.Fatal(err)
	}
	if n, err := w2.eng.RegisterTemplates(ctx); err != nil || n != 1 {
		t.Errorf("after the squatter went: %d, %v", n, err)
	}
}

// Bulk operations act on at most max_page entities per call and say
// whether more remain; a filter no index answers reads at most the scan
// budget; one the index answers reads only what it finds.
func TestBulkWorkIsBounded(t *testing.T) {
	w := newWorld(t, nil)
	ctx := context.Background()
	for i := range 7 {
		in := compute(fmt.Sprintf("vm%d", i))
		in.Title = fmt.Sprintf("vm %d", i)
		w.create(in)
	}
	e := w.small(3, 4)
	q := func() *Query { return &Query{Index: store.ByKind, Value: occi.ComputeKindID} }

	stop := &occi.ActionInvocation{Action: occi.StopActionID}
	done, more, err := e.ActionAll(ctx, q(), stop)
	if err != nil || len(done) != 3 || !more || done[2] != "/compute/vm2" {
		t.Fatalf("first action batch: %v %v %v", done, more, err)
	}
	next := q()
	next.After = done[2]
	if done, more, err = e.ActionAll(ctx, next, stop); err != nil || len(done) != 3 || !more || done[0] != "/compute/vm3" {
		t.Fatalf("second action batch: %v %v %v", done, more, err)
	}

	// Unindexed filter: more than the budget rejected is a 413.
	reads := w.db.EntitiesRead()
	_, err = e.List(ctx, &Query{Index: store.ByKind, Value: occi.ComputeKindID, Attributes: map[string]string{"occi.compute.hostname": "nope"}, Number: 3})
	wantCode(t, "unindexed filter", err, occi.TooLarge, "scan_budget", "indexed_attributes")
	if n := w.db.EntitiesRead() - reads; n != 5 {
		t.Errorf("the unindexed filter read %d entities, want the budget (4) and one", n)
	}
	// Indexed: only what matches is read.
	reads = w.db.EntitiesRead()
	ents, err := e.List(ctx, &Query{Index: store.ByKind, Value: occi.ComputeKindID, Attributes: map[string]string{occi.AttrTitle: "vm 5"}, Number: 3})
	if err != nil || len(ents) != 1 || ents[0].ID != "vm5" {
		t.Errorf("indexed filter: %v, %v", ents, err)
	}
	if n := w.db.EntitiesRead() - reads; n != 1 {
		t.Errorf("the indexed filter read %d entities, want 1", n)
	}
	// An indexed value outside the collection is not answered.
	if ents, err := e.List(ctx, &Query{Index: store.ByKind, Value: occi.NetworkKindID, Attributes: map[string]string{occi.AttrTitle: "vm 5"}}); err != nil || len(ents) != 0 {
		t.Errorf("indexed filter on another collection: %v, %v", ents, err)
	}

	// Mixin memberships: a step names and changes at most max_page.
	tag := &occi.Mixin{Category: occi.Category{Scheme: "http://example.com/tags#", Term: "t"}, Location: "/tags/t/"}
	if _, err := e.ChangeCategories(ctx, &CategoryChange{Add: occi.Categories{Mixins: []*occi.Mixin{tag}}}); err != nil {
		t.Fatal(err)
	}
	all := []string{"/compute/vm0", "/compute/vm1", "/compute/vm2", "/compute/vm3"}
	_, err = e.MembersStep(ctx, tag.ID(), all, Associate)
	wantCode(t, "associate four", err, occi.TooLarge, "max_page")
	for _, part := range [][]string{all[:3], all[3:]} {
		if more, err := e.MembersStep(ctx, tag.ID(), part, Associate); err != nil || more {
			t.Fatalf("associate %v: %v %v", part, more, err)
		}
	}
	// Removing the mixin would dissociate four in one step: refused.
	_, err = e.ChangeCategories(ctx, &CategoryChange{Remove: []string{tag.ID()}})
	wantCode(t, "remove a mixin of four members", err, occi.Conflict, "max_page", "DELETE /tags/t/")
	// Setting the members to one dissociates the others in steps.
	steps := 0
	for more := true; more; steps++ {
		if more, err = e.MembersStep(ctx, tag.ID(), []string{"/compute/vm6"}, SetMembers); err != nil {
			t.Fatal(err)
		}
	}
	members, _, err := e.otherMembers(tag.ID(), nil, 10)
	if err != nil || len(members) != 1 || members[0] != "/compute/vm6" || steps != 2 {
		t.Errorf("after %d steps of PUT: %v, %v", steps, members, err)
	}

	// Deleting the collection: three per call.
	var deleted []string
	for more := true; more; {
		var d []string
		if d, more, err = e.DeleteAll(ctx, q()); err != nil {
			t.Fatal(err)
		}
		if len(d) > 3 {
			t.Errorf("one DeleteAll deleted %d", len(d))
		}
		deleted = append(deleted, d...)
	}
	if len(deleted) != 7 || len(w.entityLocations()) != 0 {
		t.Errorf("deleted %v; left %v", deleted, w.entityLocations())
	}
	// A batch create of more than max_page entities is refused.
	_, err = e.CreateAll(ctx, []*Input{compute("a"), compute("b"), {Kind: occi.ComputeKindID, Links: []*Input{nic("", "", "/network/x"), nic("", "", "/network/y")}}}, Placement{})
	wantCode(t, "create five", err, occi.TooLarge, "max_page")
	w.checkInvariants()
}
