package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/store"
)

const userScheme = "http://example.com/occi#"

func openTest(t *testing.T, path string, opts Options) (*Registry, *store.DB) {
	t.Helper()
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Providers == nil {
		opts.Providers = []string{"dummy", "lab"}
	}
	r, err := New(db, opts)
	if err != nil {
		_ = db.Close()
		t.Fatal(err)
	}
	return r, db
}

func newTest(t *testing.T) *Registry {
	t.Helper()
	r, db := openTest(t, filepath.Join(t.TempDir(), "ocni.db"), Options{})
	t.Cleanup(func() { _ = db.Close() })
	return r
}

func mustJSON[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad test JSON %s: %v", s, err)
	}
	return v
}

func userKind(term, parent, location string) *occi.Kind {
	return &occi.Kind{Category: occi.Category{Scheme: userScheme, Term: term}, Parent: parent, Location: location}
}

func userMixin(term, location string) *occi.Mixin {
	return &occi.Mixin{Category: occi.Category{Scheme: userScheme, Term: term}, Location: location}
}

func TestBuiltinsLoaded(t *testing.T) {
	s := newTest(t).Snapshot()
	for _, id := range []string{occi.EntityKindID, occi.ComputeKindID, occi.StorageLinkKindID} {
		if _, ok := s.Kind(id); !ok {
			t.Errorf("kind %s missing", id)
		}
		if !s.IsBuiltin(id) {
			t.Errorf("%s not marked built-in", id)
		}
	}
	if id, ok := s.AtLocation("/compute/"); !ok || id != occi.ComputeKindID {
		t.Errorf("AtLocation(/compute/) = %q, %v", id, ok)
	}
	if _, ok := s.AtLocation("/nothing/"); ok {
		t.Error("AtLocation found a location nobody has")
	}
	if !s.IsKindOf(occi.ComputeKindID, occi.EntityKindID) || s.IsKindOf(occi.ComputeKindID, occi.LinkKindID) {
		t.Error("IsKindOf is wrong for compute")
	}
	if n := len(s.All().Kinds) + len(s.All().Mixins) + len(s.All().Actions); n != occi.Builtins().Len() {
		t.Errorf("All() has %d categories, built-ins are %d", n, occi.Builtins().Len())
	}
}

// The round trip an operator relies on: what is registered is what the
// query interface shows, before and after a restart, and it can be removed.
func TestRuntimeCategoriesSurviveRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ocni.db")
	r, db := openTest(t, path, Options{})
	change := mustJSON[occi.Categories](t, `{
	  "kinds": [{"scheme": "http://example.com/occi#", "term": "vm", "title": "Custom VM",
	    "parent": "http://schemas.ogf.org/occi/infrastructure#compute", "location": "/vm/",
	    "attributes": {"com.example.vm.flavour": {"type": "string", "mutable": true, "required": true,
	      "pattern": "tiny|huge", "description": "size"}},
	    "actions": ["http://example.com/occi/action#reboot"]}],
	  "mixins": [{"scheme": "http://example.com/occi#", "term": "gold", "location": "/gold/",
	    "applies": ["http://example.com/occi#vm"],
	    "attributes": {"com.example.sla": {"type": "number", "default": 99.9,
	      "pattern": {"type": "number", "maximum": 100}}}}],
	  "actions": [{"scheme": "http://example.com/occi/action#", "term": "reboot",
	    "attributes": {"force": {"type": "boolean", "default": false}}}]
	}`)
	want, _ := json.Marshal(change)
	if err := r.Apply(context.Background(), &Change{Add: change}); err != nil {
		t.Fatal(err)
	}
	check := func(s *Snapshot, stage string) {
		t.Helper()
		got, err := s.Select([]string{userScheme + "vm", userScheme + "gold", "http://example.com/occi/action#reboot"})
		if err != nil {
			t.Fatalf("%s: %v", stage, err)
		}
		b, _ := json.Marshal(got)
		if !bytes.Equal(b, want) {
			t.Errorf("%s:\n got %s\nwant %s", stage, b, want)
		}
	}
	check(r.Snapshot(), "after registration")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	r, db = openTest(t, path, Options{})
	check(r.Snapshot(), "after restart")
	// Patterns work again after loading: they are compiled on load.
	vm, _ := r.Snapshot().Kind(userScheme + "vm")
	if err := vm.Attributes["com.example.vm.flavour"].Check("medium"); !errors.Is(err, occi.ErrInvalidArgument) {
		t.Errorf("pattern not enforced after restart: %v", err)
	}
	remove := &Change{Remove: []string{userScheme + "gold", userScheme + "vm", "http://example.com/occi/action#reboot"}}
	if err := r.Apply(context.Background(), remove); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	r, db = openTest(t, path, Options{})
	defer db.Close()
	if _, ok := r.Snapshot().ClassOf(userScheme + "vm"); ok {
		t.Error("removed kind is back after restart")
	}
}

func TestApplyRejects(t *testing.T) {
	resourceKind := func(term, location string) *occi.Kind { return userKind(term, occi.ResourceKindID, location) }
	tests := []struct {
		name  string
		setup *Change // applied first, must succeed
		ch    Change
		code  occi.Code
		want  string
	}{
		{name: "builtin id taken", ch: Change{Add: occi.Categories{Mixins: []*occi.Mixin{{Category: occi.Category{Scheme: occi.InfraScheme, Term: "os_tpl"}, Location: "/x/"}}}},
			code: occi.Forbidden, want: "reserved for OGF"},
		{name: "OGF scheme", ch: Change{Add: occi.Categories{Mixins: []*occi.Mixin{{Category: occi.Category{Scheme: occi.InfraScheme, Term: "mine"}, Location: "/mine/"}}}},
			code: occi.Forbidden, want: "reserved for OGF"},
		{name: "attribute part starting with an underscore", ch: Change{Add: occi.Categories{Mixins: []*occi.Mixin{{Category: occi.Category{Scheme: userScheme, Term: "m"}, Location: "/m/",
			Attributes: occi.Attributes{"com.example._x": {}}}}}}, code: occi.InvalidArgument, want: "must start with a letter or a digit"},
		{name: "id taken", setup: &Change{Add: occi.Categories{Mixins: []*occi.Mixin{userMixin("m", "/m/")}}},
			ch: Change{Add: occi.Categories{Mixins: []*occi.Mixin{userMixin("m", "/m2/")}}}, code: occi.AlreadyExists, want: "already registered"},
		{name: "id twice in one request", ch: Change{Add: occi.Categories{Mixins: []*occi.Mixin{userMixin("m", "/m/"), userMixin("m", "/m2/")}}},
			code: occi.AlreadyExists, want: "names this category twice"},
		{name: "kind and mixin same id", ch: Change{Add: occi.Categories{Kinds: []*occi.Kind{resourceKind("x", "/x/")}, Mixins: []*occi.Mixin{userMixin("x", "/y/")}}},
			code: occi.AlreadyExists, want: "names this category twice"},
		{name: "location of a builtin", ch: Change{Add: occi.Categories{Mixins: []*occi.Mixin{userMixin("m", "/compute/")}}},
			code: occi.AlreadyExists, want: `"/compute/" is already bound to http://schemas.ogf.org/occi/infrastructure#compute`},
		{name: "location inside another", ch: Change{Add: occi.Categories{Mixins: []*occi.Mixin{userMixin("m", "/compute/gold/")}}},
			code: occi.Conflict, want: `inside "/compute/"`},
		{name: "location containing another", ch: Change{Add: occi.Categories{Mixins: []*occi.Mixin{userMixin("m", "/os_tpl/")}}},
			code: occi.AlreadyExists, want: "already bound"},
		{name: "location of the templates", ch: Change{Add: occi.Categories{Mixins: []*occi.Mixin{userMixin("m", "/templates/")}}},
			code: occi.Forbidden, want: "reserved for the providers' templates"},
		{name: "location containing two", setup: &Change{Add: occi.Categories{Mixins: []*occi.Mixin{userMixin("b", "/x/b/"), userMixin("c", "/x/c/")}}},
			ch: Change{Add: occi.Categories{Mixins: []*occi.Mixin{userMixin("x", "/x/")}}}, code: occi.Conflict, want: `would contain "/x/b/"`},
		{name: "location deep inside another", setup: &Change{Add: occi.Categories{Mixins: []*occi.Mixin{userMixin("x", "/x/"), userMixin("y", "/y/")}}},
			ch: Change{Add: occi.Categories{Mixins: []*occi.Mixin{userMixin("c", "/x/b/c/")}}}, code: occi.Conflict, want: `inside "/x/"`},
		{name: "location of the query interface", ch: Change{Add: occi.Categories{Mixins: []*occi.Mixin{userMixin("m", "/-/")}}},
			code: occi.Conflict, want: "reserves"},
		{name: "location under well-known", ch: Change{Add: occi.Categories{Mixins: []*occi.Mixin{userMixin("m", "/.well-known/x/")}}},
			code: occi.Conflict, want: "reserves"},
		{name: "malformed location", ch: Change{Add: occi.Categories{Mixins: []*occi.Mixin{userMixin("m", "m/")}}},
			code: occi.InvalidArgument, want: "mixins[0] http://example.com/occi#m: location"},
		{name: "kind without parent", ch: Change{Add: occi.Categories{Kinds: []*occi.Kind{userKind("k", "", "/k/")}}},
			code: occi.InvalidArgument, want: "parent is missing"},
		{name: "unknown parent", ch: Change{Add: occi.Categories{Kinds: []*occi.Kind{userKind("k", userScheme+"nope", "/k/")}}},
			code: occi.InvalidArgument, want: "not a registered kind"},
		{name: "parent is a mixin", ch: Change{Add: occi.Categories{Kinds: []*occi.Kind{userKind("k", occi.OSTplMixinID, "/k/")}}},
			code: occi.InvalidArgument, want: "not a registered kind"},
		{name: "kind directly under entity", ch: Change{Add: occi.Categories{Kinds: []*occi.Kind{userKind("k", occi.EntityKindID, "/k/")}}},
			code: occi.InvalidArgument, want: "must descend from"},
		{name: "parent cycle", ch: Change{Add: occi.Categories{Kinds: []*occi.Kind{userKind("a", userScheme+"b", "/a/"), userKind("b", userScheme+"a", "/b/")}}},
			code: occi.InvalidArgument, want: "cycle"},
		{name: "unknown action", ch: Change{Add: occi.Categories{Kinds: []*occi.Kind{{Category: occi.Category{Scheme: userScheme, Term: "k"}, Parent: occi.ResourceKindID, Location: "/k/", Actions: []string{userScheme + "go"}}}}},
			code: occi.InvalidArgument, want: `action "http://example.com/occi#go" is not a registered action`},
		{name: "unknown depends", ch: Change{Add: occi.Categories{Mixins: []*occi.Mixin{{Category: occi.Category{Scheme: userScheme, Term: "m"}, Location: "/m/", Depends: []string{userScheme + "z"}}}}},
			code: occi.InvalidArgument, want: "not a registered mixin"},
		{name: "applies to a mixin", ch: Change{Add: occi.Categories{Mixins: []*occi.Mixin{{Category: occi.Category{Scheme: userScheme, Term: "m"}, Location: "/m/", Applies: []string{occi.OSTplMixinID}}}}},
			code: occi.InvalidArgument, want: "not a registered kind"},
		{name: "depends cycle", ch: Change{Add: occi.Categories{Mixins: []*occi.Mixin{
			{Category: occi.Category{Scheme: userScheme, Term: "a"}, Location: "/a/", Depends: []string{userScheme + "b"}},
			{Category: occi.Category{Scheme: userScheme, Term: "b"}, Location: "/b/", Depends: []string{userScheme + "a"}}}}},
			code: occi.InvalidArgument, want: "leads back to itself"},
		{name: "reserved attribute prefix", ch: Change{Add: occi.Categories{Mixins: []*occi.Mixin{{Category: occi.Category{Scheme: userScheme, Term: "m"}, Location: "/m/",
			Attributes: occi.Attributes{"occi.compute.turbo": {Type: occi.TypeBoolean}}}}}},
			code: occi.InvalidArgument, want: `"occi.compute.turbo"`},
		{name: "OGF scheme in capitals", ch: Change{Add: occi.Categories{Mixins: []*occi.Mixin{{Category: occi.Category{Scheme: "HTTP://SCHEMAS.OGF.ORG/occi/infrastructure#", Term: "mine"}, Location: "/mine/"}}}},
			code: occi.Forbidden, want: "reserved for OGF"},
		{name: "OGF scheme over https", ch: Change{Add: occi.Categories{Kinds: []*occi.Kind{{Category: occi.Category{Scheme: "https://schemas.ogf.org/occi/infrastructure#", Term: "compute"}, Parent: occi.ResourceKindID, Location: "/c2/"}}}},
			code: occi.Forbidden, want: "reserved for OGF"},
		{name: "OGF scheme with its port", ch: Change{Add: occi.Categories{Actions: []*occi.Action{{Category: occi.Category{Scheme: "http://schemas.ogf.org:80/OCCI/core#", Term: "go"}}}}},
			code: occi.Forbidden, want: "reserved for OGF"},
		{name: "reserved attribute prefix in capitals", ch: Change{Add: occi.Categories{Kinds: []*occi.Kind{{Category: occi.Category{Scheme: userScheme, Term: "k"}, Parent: occi.ComputeKindID, Location: "/k/",
			Attributes: occi.Attributes{"OCCI.compute.cores": {Type: occi.TypeNumber}}}}}},
			code: occi.InvalidArgument, want: `"OCCI.compute.cores"`},
		{name: "kind too deep", ch: Change{Add: occi.Categories{Kinds: deepKinds(MaxKindDepth)}},
			code: occi.InvalidArgument, want: "more than 64 ancestors"},
		{name: "replace pushing a kind too deep", setup: &Change{Add: occi.Categories{Kinds: deepKinds(MaxKindDepth - 1)}},
			ch: Change{Replace: occi.Categories{Kinds: []*occi.Kind{userKind("d0", occi.ComputeKindID, "/d0/")}}}, code: occi.InvalidArgument, want: "more than 64 ancestors"},
		{name: "replace builtin", ch: Change{Replace: occi.Categories{Kinds: []*occi.Kind{{Category: occi.Category{Scheme: occi.InfraScheme, Term: "compute"}, Parent: occi.ResourceKindID, Location: "/compute/"}}}},
			code: occi.Forbidden, want: "cannot be replaced"},
		{name: "replace unknown", ch: Change{Replace: occi.Categories{Mixins: []*occi.Mixin{userMixin("ghost", "/ghost/")}}},
			code: occi.NotFound, want: "no such category to replace"},
		{name: "replace with another class", setup: &Change{Add: occi.Categories{Mixins: []*occi.Mixin{userMixin("m", "/m/")}}},
			ch: Change{Replace: occi.Categories{Kinds: []*occi.Kind{resourceKind("m", "/m/")}}}, code: occi.Conflict, want: "registered as a mixin"},
		{name: "replace closing a parent cycle", setup: &Change{Add: occi.Categories{Kinds: []*occi.Kind{resourceKind("a", "/a/"), userKind("b", userScheme+"a", "/b/")}}},
			ch: Change{Replace: occi.Categories{Kinds: []*occi.Kind{userKind("a", userScheme+"b", "/a/")}}}, code: occi.InvalidArgument, want: "cycle"},
		{name: "remove builtin", ch: Change{Remove: []string{occi.ComputeKindID}}, code: occi.Forbidden, want: "OGF built-in"},
		{name: "remove unknown", ch: Change{Remove: []string{userScheme + "ghost"}}, code: occi.NotFound, want: "no such category"},
		{name: "remove a parent", setup: &Change{Add: occi.Categories{Kinds: []*occi.Kind{resourceKind("a", "/a/"), userKind("b", userScheme+"a", "/b/")}}},
			ch: Change{Remove: []string{userScheme + "a"}}, code: occi.Conflict, want: "has it as parent"},
		{name: "remove a listed action", setup: &Change{Add: occi.Categories{
			Actions: []*occi.Action{{Category: occi.Category{Scheme: userScheme, Term: "go"}}},
			Mixins:  []*occi.Mixin{{Category: occi.Category{Scheme: userScheme, Term: "m"}, Location: "/m/", Actions: []string{userScheme + "go"}}}}},
			ch: Change{Remove: []string{userScheme + "go"}}, code: occi.Conflict, want: "mixin http://example.com/occi#m refers to"},
		{name: "bind unknown provider", ch: Change{Bind: []occi.Binding{{Kind: occi.ComputeKindID, Provider: "aws"}}},
			code: occi.InvalidArgument, want: `providers[0]: provider "aws" is not configured`},
		{name: "bind unknown kind", ch: Change{Bind: []occi.Binding{{Kind: userScheme + "nope", Provider: "lab"}}},
			code: occi.InvalidArgument, want: "is not registered"},
		{name: "bind abstract entity", ch: Change{Bind: []occi.Binding{{Kind: occi.EntityKindID, Provider: "lab"}}},
			code: occi.InvalidArgument, want: "cannot be instantiated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, db := openTest(t, filepath.Join(t.TempDir(), "ocni.db"), Options{})
			defer db.Close()
			if tt.setup != nil {
				if err := r.Apply(context.Background(), tt.setup); err != nil {
					t.Fatalf("setup: %v", err)
				}
			}
			before := r.Snapshot()
			stored := dump(t, db)
			err := r.Apply(context.Background(), &tt.ch)
			if occi.CodeOf(err) != tt.code || err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Apply() = %v (%v), want %v containing %q", err, occi.CodeOf(err), tt.code, tt.want)
			}
			if r.Snapshot() != before {
				t.Error("a rejected change was published")
			}
			if after := dump(t, db); after != stored {
				t.Errorf("a rejected change was written:\nbefore %s\nafter  %s", stored, after)
			}
		})
	}
}

// deepKinds returns a chain of n kinds below resource: d0's parent is
// resource, and d(n-1) has n+1 ancestors.
func deepKinds(n int) []*occi.Kind {
	out := []*occi.Kind{userKind("d0", occi.ResourceKindID, "/d0/")}
	for i := 1; i < n; i++ {
		out = append(out, userKind(fmt.Sprintf("d%d", i), fmt.Sprintf("%sd%d", userScheme, i-1), fmt.Sprintf("/d%d/", i)))
	}
	return out
}

// The deepest kind that can be served registers.
func TestKindDepthLimit(t *testing.T) {
	r := newTest(t)
	// d0 has two ancestors (resource, entity): d(n-1) has n+1.
	if err := r.Apply(context.Background(), &Change{Add: occi.Categories{Kinds: deepKinds(MaxKindDepth - 1)}}); err != nil {
		t.Fatalf("a kind of %d ancestors: %v", MaxKindDepth, err)
	}
	last := fmt.Sprintf("%sd%d", userScheme, MaxKindDepth-2)
	if !r.Snapshot().IsKindOf(last, occi.ResourceKindID) {
		t.Error("the deepest kind does not descend from resource")
	}
}

// A provider's templates are its own: a client can neither remove nor
// redefine them, nor register in their scheme or under /templates/. A
// template registered as it is already is claimed without a write.
func TestProviderTemplatesAreReserved(t *testing.T) {
	r, db := openTest(t, filepath.Join(t.TempDir(), "ocni.db"), Options{})
	defer db.Close()
	ctx := context.Background()
	const scheme = "http://example.org/lab/os_tpl#"
	tpl := func(term string) *occi.Mixin {
		return &occi.Mixin{Category: occi.Category{Scheme: scheme, Term: term}, Depends: []string{occi.OSTplMixinID},
			Applies: []string{occi.ComputeKindID}, Location: "/templates/lab/os/" + term + "/"}
	}
	if err := r.Apply(ctx, &Change{Origin: FromProvider, Provider: "lab", Add: occi.Categories{Mixins: []*occi.Mixin{tpl("debian")}}}); err != nil {
		t.Fatal(err)
	}
	if p, ok := r.Snapshot().ProvidedBy(scheme + "debian"); !ok || p != "lab" {
		t.Errorf("ProvidedBy = %q, %v", p, ok)
	}
	for _, tt := range []struct {
		name string
		ch   Change
		want string
	}{
		{"remove", Change{Remove: []string{scheme + "debian"}}, "template of provider lab"},
		{"redefine", Change{Replace: occi.Categories{Mixins: []*occi.Mixin{tpl("debian")}}}, "template of provider lab"},
		{"its scheme", Change{Add: occi.Categories{Mixins: []*occi.Mixin{{Category: occi.Category{Scheme: scheme, Term: "ubuntu"}, Location: "/mine/"}}}}, "provider lab's templates"},
		{"under /templates/", Change{Add: occi.Categories{Mixins: []*occi.Mixin{userMixin("u", "/templates/lab/os/ubuntu/")}}}, "reserved for the providers' templates"},
	} {
		if err := r.Apply(ctx, &tt.ch); occi.CodeOf(err) != occi.Forbidden || !strings.Contains(fmt.Sprint(err), tt.want) {
			t.Errorf("%s: %v, want Forbidden containing %q", tt.name, err, tt.want)
		}
	}
	// After a restart nothing is marked until the provider claims its
	// templates again; a claim alone writes nothing.
	_ = db.Close()
	r, db = openTest(t, db.Path(), Options{})
	defer db.Close()
	if _, ok := r.Snapshot().ProvidedBy(scheme + "debian"); ok {
		t.Error("a template is marked before its provider declared it")
	}
	before, version := dump(t, db), r.Snapshot().Version()
	if err := r.Apply(ctx, &Change{Origin: FromProvider, Provider: "lab", Claim: []string{scheme + "debian"}}); err != nil {
		t.Fatal(err)
	}
	if dump(t, db) != before || r.Snapshot().Version() != version {
		t.Error("a claim wrote to the data file or changed the model's version")
	}
	if err := r.Apply(ctx, &Change{Remove: []string{scheme + "debian"}}); occi.CodeOf(err) != occi.Forbidden {
		t.Errorf("remove after the claim: %v", err)
	}
}

// What a client stored under older rules loads: a category at a location
// now reserved, with a look-alike OGF scheme and attribute, and a pattern
// referring outside itself, which is left out rather than fetched.
func TestStoredCategoriesLoadUnderTheirRules(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ocni.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	const id = "HTTPS://schemas.ogf.org/occi/x#squat"
	rec := store.CategoryRecord{Class: "mixin", Define: json.RawMessage(`{"scheme":"HTTPS://schemas.ogf.org/occi/x#","term":"squat",
		"location":"/templates/dummy/os/ubuntu24/","attributes":{"OCCI.x":{"type":"string","pattern":{"$ref":"http://127.0.0.1:9/x"}}}}`)}
	if err := db.Write(func(tx *store.Tx) error { return tx.PutCategory(id, rec) }); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	var logs bytes.Buffer
	r, db := openTest(t, path, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	defer db.Close()
	m, ok := r.Snapshot().Mixin(id)
	if !ok {
		t.Fatal("the stored mixin is not loaded")
	}
	if p := m.Attributes["OCCI.x"].Pattern; p != nil {
		t.Errorf("the pattern referring outside itself is loaded: %s", p)
	}
	if !strings.Contains(logs.String(), "stored pattern not loaded") {
		t.Errorf("no warning about the pattern: %s", logs.String())
	}
}

// dump renders the data file, to compare before/after.
func dump(t *testing.T, db *store.DB) string {
	t.Helper()
	var b strings.Builder
	if err := db.Dump(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestReplaceAndRemove(t *testing.T) {
	r := newTest(t)
	ctx := context.Background()
	m := userMixin("gold", "/gold/")
	if err := r.Apply(ctx, &Change{Add: occi.Categories{Mixins: []*occi.Mixin{m}}}); err != nil {
		t.Fatal(err)
	}
	m2 := userMixin("gold", "/premium/")
	m2.Title = "Gold SLA"
	if err := r.Apply(ctx, &Change{Replace: occi.Categories{Mixins: []*occi.Mixin{m2}}}); err != nil {
		t.Fatal(err)
	}
	s := r.Snapshot()
	if got, _ := s.Mixin(userScheme + "gold"); got.Title != "Gold SLA" {
		t.Errorf("replace did not take: %+v", got)
	}
	if _, ok := s.AtLocation("/gold/"); ok {
		t.Error("the old location is still bound after replace")
	}
	if id, _ := s.AtLocation("/premium/"); id != userScheme+"gold" {
		t.Error("the new location is not bound")
	}
	if err := r.Apply(ctx, &Change{Remove: []string{userScheme + "gold", userScheme + "gold"}}); err != nil {
		t.Fatalf("removing with a repeated id: %v", err)
	}
	if _, ok := r.Snapshot().AtLocation("/premium/"); ok {
		t.Error("location still bound after removal")
	}
}

func TestBindings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ocni.db")
	defaults := map[string]string{occi.ComputeKindID: "dummy", occi.StorageKindID: "dummy"}
	r, db := openTest(t, path, Options{Defaults: defaults})
	ctx := context.Background()
	s := r.Snapshot()
	if p, _ := s.Binding(occi.ComputeKindID); p != "dummy" {
		t.Errorf("default binding of compute = %q", p)
	}
	if _, ok := s.Binding(occi.NetworkKindID); ok {
		t.Error("network is bound though nothing binds it")
	}
	// A user kind derived from compute is served where compute is.
	if err := r.Apply(ctx, &Change{Add: occi.Categories{Kinds: []*occi.Kind{userKind("vm", occi.ComputeKindID, "/vm/")}}}); err != nil {
		t.Fatal(err)
	}
	if p, _ := r.Snapshot().Binding(userScheme + "vm"); p != "dummy" {
		t.Errorf("inherited binding = %q, want dummy", p)
	}
	if err := r.Apply(ctx, &Change{Bind: []occi.Binding{{Kind: occi.ComputeKindID, Provider: "lab"}}}); err != nil {
		t.Fatal(err)
	}
	if got := r.Snapshot().Bindings(); got[occi.ComputeKindID] != "lab" || got[userScheme+"vm"] != "lab" {
		t.Errorf("after rebinding compute: %v", got)
	}
	_ = db.Close()

	// The runtime binding outlives a restart and wins over the config.
	r, db = openTest(t, path, Options{Defaults: defaults})
	if p, _ := r.Snapshot().Binding(occi.ComputeKindID); p != "lab" {
		t.Errorf("after restart compute is bound to %q, want lab", p)
	}
	_ = db.Close()

	// A config that no longer declares "lab": the stored binding is
	// reported and left out, and the server still starts.
	var logs bytes.Buffer
	r, db = openTest(t, path, Options{Providers: []string{"dummy"}, Defaults: defaults, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	defer db.Close()
	if p, _ := r.Snapshot().Binding(occi.ComputeKindID); p != "dummy" {
		t.Errorf("with lab gone compute is bound to %q, want the default dummy", p)
	}
	if !strings.Contains(logs.String(), "binding ignored") || !strings.Contains(logs.String(), "lab") {
		t.Errorf("no warning about the dropped binding; log: %s", logs.String())
	}
}

func TestSelect(t *testing.T) {
	s := newTest(t).Snapshot()
	got, err := s.Select([]string{occi.ComputeKindID, occi.SSHKeyMixinID, occi.StartActionID})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Kinds) != 1 || len(got.Mixins) != 1 || len(got.Actions) != 1 {
		t.Errorf("Select = %d kinds, %d mixins, %d actions", len(got.Kinds), len(got.Mixins), len(got.Actions))
	}
	if _, err := s.Select([]string{userScheme + "typo"}); !errors.Is(err, occi.ErrNotFound) || !strings.Contains(err.Error(), "typo") {
		t.Errorf("Select(unknown) = %v, want NotFound naming it", err)
	}
}

func TestConcurrentApply(t *testing.T) {
	r := newTest(t)
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			m := userMixin(fmt.Sprintf("m%d", i), fmt.Sprintf("/m%d/", i))
			errs <- r.Apply(context.Background(), &Change{Add: occi.Categories{Mixins: []*occi.Mixin{m}}})
		}()
		go func() { // readers never block and always see a whole snapshot
			defer wg.Done()
			s := r.Snapshot()
			if len(s.All().Mixins) != len(s.mixins) {
				errs <- errors.New("a snapshot's index and maps disagree")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	s := r.Snapshot()
	for i := range n {
		if _, ok := s.Mixin(fmt.Sprintf("%sm%d", userScheme, i)); !ok {
			t.Errorf("mixin m%d missing", i)
		}
	}
	if s.Version() != n+1 {
		t.Errorf("version = %d after %d changes, want %d", s.Version(), n, n+1)
	}
}

func TestCancelledApplyChangesNothing(t *testing.T) {
	r := newTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := r.Apply(ctx, &Change{Add: occi.Categories{Mixins: []*occi.Mixin{userMixin("m", "/m/")}}})
	if !errors.Is(err, occi.ErrUnavailable) {
		t.Errorf("Apply(cancelled) = %v", err)
	}
	if _, ok := r.Snapshot().Mixin(userScheme + "m"); ok {
		t.Error("a cancelled change was applied")
	}
}

func TestDamagedRecordFailsLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ocni.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Write(func(tx *store.Tx) error {
		return tx.PutCategory(userScheme+"m", store.CategoryRecord{Class: "mixin", Define: json.RawMessage(`{"scheme":"` + userScheme + `","term":"m","location":"bad"}`)})
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(db, Options{}); err == nil || !strings.Contains(err.Error(), "location") {
		t.Errorf("New over an invalid stored category = %v", err)
	}
}

func BenchmarkKindLookup(b *testing.B) {
	db, err := store.Open(filepath.Join(b.TempDir(), "ocni.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	r, err := New(db, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s := r.Snapshot()
		if _, ok := s.Kind(occi.ComputeKindID); !ok {
			b.Fatal("missing")
		}
		if _, ok := s.AtLocation("/storage/"); !ok {
			b.Fatal("missing")
		}
	}
}

func BenchmarkApplyMixin(b *testing.B) {
	db, err := store.Open(filepath.Join(b.TempDir(), "ocni.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	r, err := New(db, Options{})
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		m := userMixin(fmt.Sprintf("m%d", i), fmt.Sprintf("/m%d/", i))
		if err := r.Apply(context.Background(), &Change{Add: occi.Categories{Mixins: []*occi.Mixin{m}}}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
