// Package backendtest is the conformance suite every backend driver passes.
// A driver's test file adapts the driver with a Harness and calls Run:
//
//	func TestConformance(t *testing.T) {
//		backendtest.Run(t, backendtest.Harness{New: func(t *testing.T) backends.Provider {
//			p, err := backends.Open("test", "mydriver", map[string]any{...})
//			if err != nil {
//				t.Fatal(err)
//			}
//			return p
//		}})
//	}
//
// The suite tests what the provider declares in its Capabilities, and
// skips, saying which capability is missing, what it does not declare; it
// never looks at a driver's name.
package backendtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sync"
	"testing"

	"github.com/ocni/ocni/backends"
	"github.com/ocni/ocni/occi"
)

// Harness adapts a driver to the suite.
type Harness struct {
	// New returns a fresh, empty provider for one test; the suite closes it.
	New func(t *testing.T) backends.Provider
	// Object returns a valid object of the kind for this provider to
	// create, or nil to use the suite's default (optional). For links, the
	// suite replaces Source and Target (and their kinds) with resources it
	// has created on the provider whenever it serves their kinds.
	Object func(kindID, id string) *backends.Object
}

// kindSpec is what the suite knows of one infrastructure kind.
type kindSpec struct {
	id        string
	term      string
	stateAttr string
	states    []string // the valid values of the state attribute
	link      bool
	// source and target are the kinds of a link's ends.
	source, target string
	// attrs are the attributes of a default object, besides the core ones.
	attrs map[string]any
	// mutable is an attribute an Update changes, with its new value.
	mutable  string
	newValue any
	// steps walk the kind's actions through its state machine.
	steps []step
	// invalid is an action that fails from the state invalidFrom.
	invalid, invalidFrom string
}

// step is one action of a walk through a state machine: it is taken when
// the action is declared and the current state is one of from, and leads
// to the state to ("" keeps the state).
type step struct {
	action string
	params map[string]any
	from   []string
	to     string
}

// undeclaredAction is an action no provider declares.
const undeclaredAction = "http://schemas.ocni.example/backendtest/action#undeclared"

var (
	computeStates = []string{"active", "inactive", "suspended", "error"}
	linkStates    = []string{"active", "inactive", "error"}
	storageStates = []string{"online", "offline", "error"}
	macPattern    = regexp.MustCompile(`^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$`)
)

var (
	compute = &kindSpec{
		id: occi.ComputeKindID, term: "compute", stateAttr: "occi.compute.state", states: computeStates,
		attrs:   map[string]any{"occi.compute.cores": 1.0, "occi.compute.memory": 1.0, "occi.compute.state": "inactive"},
		mutable: "occi.compute.hostname", newValue: "renamed.backendtest.example.org",
		steps: []step{
			{action: occi.StartActionID, from: []string{"inactive", "suspended"}, to: "active"},
			{action: occi.StopActionID, params: map[string]any{"method": "poweroff"}, from: []string{"active"}, to: "inactive"},
			{action: occi.StartActionID, from: []string{"inactive"}, to: "active"},
			{action: occi.SuspendActionID, params: map[string]any{"method": "suspend"}, from: []string{"active"}, to: "suspended"},
			{action: occi.StartActionID, from: []string{"suspended"}, to: "active"},
			{action: occi.RestartActionID, params: map[string]any{"method": "cold"}, from: []string{"active"}, to: "active"},
			{action: occi.SaveActionID, params: map[string]any{"method": "hot", "name": "backendtest-saved"}, from: []string{"active", "inactive", "suspended"}},
		},
		invalid: occi.SuspendActionID, invalidFrom: "inactive",
	}
	network = &kindSpec{
		id: occi.NetworkKindID, term: "network", stateAttr: "occi.network.state", states: linkStates,
		attrs:   map[string]any{"occi.network.label": "backendtest", "occi.network.state": "inactive"},
		mutable: "occi.network.label", newValue: "backendtest-renamed",
		steps: []step{
			{action: occi.UpActionID, from: []string{"inactive"}, to: "active"},
			{action: occi.DownActionID, from: []string{"active"}, to: "inactive"},
			{action: occi.UpActionID, from: []string{"inactive"}, to: "active"},
		},
	}
	storage = &kindSpec{
		id: occi.StorageKindID, term: "storage", stateAttr: "occi.storage.state", states: storageStates,
		attrs:   map[string]any{"occi.storage.size": 1.0, "occi.storage.state": "offline"},
		mutable: occi.AttrTitle, newValue: "backendtest storage, renamed",
		steps: []step{
			{action: occi.OnlineActionID, from: []string{"offline"}, to: "online"},
			{action: occi.OfflineActionID, from: []string{"online"}, to: "offline"},
			{action: occi.OnlineActionID, from: []string{"offline"}, to: "online"},
		},
	}
	networkInterface = &kindSpec{
		id: occi.NetworkInterfaceID, term: "networkinterface", stateAttr: "occi.networkinterface.state", states: linkStates,
		link: true, source: occi.ComputeKindID, target: occi.NetworkKindID,
		attrs:   map[string]any{"occi.networkinterface.interface": "eth0", "occi.networkinterface.state": "inactive"},
		mutable: occi.AttrTitle, newValue: "backendtest network interface, renamed",
	}
	storageLink = &kindSpec{
		id: occi.StorageLinkKindID, term: "storagelink", stateAttr: "occi.storagelink.state", states: linkStates,
		link: true, source: occi.ComputeKindID, target: occi.StorageKindID,
		attrs:   map[string]any{"occi.storagelink.deviceid": "vda", "occi.storagelink.state": "inactive"},
		mutable: "occi.storagelink.mountpoint", newValue: "/mnt/backendtest",
	}

	kinds = []*kindSpec{compute, network, storage, networkInterface, storageLink}
)

func specOf(kindID string) *kindSpec {
	for _, k := range kinds {
		if k.id == kindID {
			return k
		}
	}
	return nil
}

// Run runs the conformance suite against the provider the harness makes.
// Subtests, by name:
//
//	<kind>/CRUD      create, retrieve, create again, update, list, delete, and the calls after delete
//	<kind>/Actions   the kind's declared actions through its state machine, an invalid transition, an undeclared action
//	<kind>/Context   a create with a cancelled context leaves nothing behind
//	Links            computes, networks and storages joined by network interfaces and storage links
//	Concurrency      16 goroutines creating, retrieving and deleting at once
//
// where <kind> is compute, network, storage, networkinterface and storagelink.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil {
		t.Fatal("backendtest: Harness.New is nil")
	}
	for _, k := range kinds {
		t.Run(k.term, func(t *testing.T) {
			t.Run("CRUD", func(t *testing.T) { testCRUD(t, h, k) })
			t.Run("Actions", func(t *testing.T) { testActions(t, h, k) })
			t.Run("Context", func(t *testing.T) { testContext(t, h, k) })
		})
	}
	t.Run("Links", func(t *testing.T) { testLinks(t, h) })
	t.Run("Concurrency", func(t *testing.T) { testConcurrency(t, h) })
}

// suite is one test's provider and helpers.
type suite struct {
	t    *testing.T
	h    Harness
	p    backends.Provider
	caps backends.Capabilities
}

func newSuite(t *testing.T, h Harness) *suite {
	t.Helper()
	p := h.New(t)
	if p == nil {
		t.Fatal("Harness.New returned a nil provider")
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &suite{t: t, h: h, p: p, caps: p.Capabilities()}
}

// requireKind skips the test when the provider does not serve the kind.
func (s *suite) requireKind(k *kindSpec) {
	s.t.Helper()
	if !s.caps.ServesKind(k.id) {
		s.t.Skipf("the provider does not serve %s (Capabilities.Kinds)", k.id)
	}
}

// Instance is the instance id the suite's objects carry; OtherInstance is
// another ocni's, whose List must not see them.
const (
	Instance      = "6f1c5a52-backendtest-instance"
	OtherInstance = "0b9d7e3a-backendtest-other-instance"
)

// NewID returns a fresh random id shaped like a UUID.
func NewID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("backendtest: no randomness: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// DefaultObject returns the suite's default object of one of the five
// infrastructure kinds: its location, kind and ancestors, and attributes as
// the engine hands them to a provider (the required ones set, defaults
// applied). Links point at placeholder locations until SetEnds is called.
// It returns nil for other kinds.
func DefaultObject(kindID, id string) *backends.Object {
	k := specOf(kindID)
	if k == nil {
		return nil
	}
	o := &backends.Object{
		ID:       id,
		Instance: Instance,
		Location: "/" + k.term + "/" + id,
		Kind:     k.id,
		Attributes: map[string]any{
			occi.AttrID:    id,
			occi.AttrTitle: "backendtest " + k.term,
		},
	}
	if k.link {
		o.Ancestors = []string{occi.LinkKindID, occi.EntityKindID}
		SetEnds(o, "/"+specOf(k.source).term+"/"+NewID(), k.source, "/"+specOf(k.target).term+"/"+NewID(), k.target)
	} else {
		o.Ancestors = []string{occi.ResourceKindID, occi.EntityKindID}
		o.Attributes[occi.AttrSummary] = "made by the backend conformance suite"
	}
	for a, v := range k.attrs {
		o.Attributes[a] = v
	}
	return o
}

// SetEnds points a link at its source and target, in its fields and in its
// core attributes.
func SetEnds(o *backends.Object, source, sourceKind, target, targetKind string) {
	o.Source, o.SourceKind, o.Target, o.TargetKind = source, sourceKind, target, targetKind
	if o.Attributes == nil {
		o.Attributes = map[string]any{}
	}
	o.Attributes[occi.AttrSource] = source
	o.Attributes[occi.AttrSourceKind] = sourceKind
	o.Attributes[occi.AttrTarget] = target
	o.Attributes[occi.AttrTargetKind] = targetKind
}

// object returns a new object of the kind with a fresh id, from the harness
// if it has one.
func (s *suite) object(k *kindSpec) *backends.Object {
	id := NewID()
	if s.h.Object != nil {
		if o := s.h.Object(k.id, id); o != nil {
			if o.Instance == "" {
				o.Instance = Instance
			}
			return o
		}
	}
	return DefaultObject(k.id, id)
}

func describe(k *kindSpec, o *backends.Object) string { return k.term + " " + o.ID }

// create creates the object and registers its deletion at the end of the
// test, in case the test does not get there.
func (s *suite) create(ctx context.Context, k *kindSpec, o *backends.Object) map[string]any {
	s.t.Helper()
	attrs, err := s.p.Create(ctx, o)
	if err != nil {
		s.t.Fatalf("Create(%s): %v", describe(k, o), err)
	}
	if v, ok := attrs[k.stateAttr]; ok {
		s.checkState("Create", k, o, v)
	}
	s.t.Cleanup(func() { s.cleanup(k, o) })
	return attrs
}

// cleanup deletes what a failed test left behind.
func (s *suite) cleanup(k *kindSpec, o *backends.Object) {
	err := s.p.Delete(context.Background(), o)
	if err != nil && !errors.Is(err, occi.ErrNotFound) {
		s.t.Errorf("cleanup: Delete(%s): %v", describe(k, o), err)
	}
}

// makeEnds creates the ends of a link when the provider serves their kinds,
// and points o at them.
func (s *suite) makeEnds(ctx context.Context, k *kindSpec, o *backends.Object) {
	s.t.Helper()
	if !k.link {
		return
	}
	src, dst := specOf(k.source), specOf(k.target)
	for _, end := range []*kindSpec{src, dst} {
		if !s.caps.ServesKind(end.id) {
			s.t.Logf("the provider does not serve %s (Capabilities.Kinds): %s %s points at locations that are not on it", end.id, k.term, o.ID)
			return
		}
	}
	so, do := s.object(src), s.object(dst)
	s.create(ctx, src, so)
	s.create(ctx, dst, do)
	SetEnds(o, so.Location, so.Kind, do.Location, do.Kind)
}

func (s *suite) checkState(op string, k *kindSpec, o *backends.Object, v any) string {
	s.t.Helper()
	state, ok := v.(string)
	if !ok || !slices.Contains(k.states, state) {
		s.t.Errorf("%s(%s): %s = %#v, want one of %v", op, describe(k, o), k.stateAttr, v, k.states)
	}
	return state
}

// retrieve reads the object and checks that its state is valid.
func (s *suite) retrieve(ctx context.Context, k *kindSpec, o *backends.Object) string {
	s.t.Helper()
	attrs, err := s.p.Retrieve(ctx, o)
	if err != nil {
		s.t.Fatalf("Retrieve(%s): %v", describe(k, o), err)
	}
	v, ok := attrs[k.stateAttr]
	if !ok {
		s.t.Errorf("Retrieve(%s) = %v: no %s", describe(k, o), attrs, k.stateAttr)
		return ""
	}
	if mac, ok := attrs["occi.networkinterface.mac"]; ok && k == networkInterface {
		if str, _ := mac.(string); !macPattern.MatchString(str) {
			s.t.Errorf("Retrieve(%s): occi.networkinterface.mac = %#v, not a MAC address", describe(k, o), mac)
		}
	}
	return s.checkState("Retrieve", k, o, v)
}

// listed reports whether List has the id among the suite's objects, and
// checks that another instance's List does not.
func (s *suite) listed(ctx context.Context, id string) bool {
	s.t.Helper()
	ids, err := s.p.List(ctx, Instance)
	if err != nil {
		s.t.Fatalf("List: %v", err)
	}
	others, err := s.p.List(ctx, OtherInstance)
	if err != nil {
		s.t.Fatalf("List of another instance: %v", err)
	}
	if slices.Contains(others, id) {
		s.t.Errorf("List of another instance (%s) has %s, made for instance %s", OtherInstance, id, Instance)
	}
	return slices.Contains(ids, id)
}

func (s *suite) wantCode(op string, k *kindSpec, o *backends.Object, err error, want *occi.Error) {
	s.t.Helper()
	if !errors.Is(err, want) {
		s.t.Errorf("%s(%s) = %v (%s), want %s", op, describe(k, o), err, codeOf(err), want.Code)
	}
}

func codeOf(err error) string {
	if err == nil {
		return "no error"
	}
	return occi.CodeOf(err).String()
}

// declaredAction returns an action of the kind that the provider declares,
// or "".
func (s *suite) declaredAction(k *kindSpec) (string, map[string]any) {
	for _, st := range k.steps {
		if s.caps.ServesAction(st.action) {
			return st.action, st.params
		}
	}
	return "", nil
}

func testCRUD(t *testing.T, h Harness, k *kindSpec) {
	s := newSuite(t, h)
	s.requireKind(k)
	ctx := t.Context()
	o := s.object(k)
	s.makeEnds(ctx, k, o)

	s.create(ctx, k, o)
	s.retrieve(ctx, k, o)

	_, err := s.p.Create(ctx, o.Clone())
	s.wantCode("Create again", k, o, err, occi.ErrAlreadyExists)

	old, changed := o.Clone(), o.Clone()
	changed.Attributes[k.mutable] = k.newValue
	if attrs, err := s.p.Update(ctx, old, changed); err != nil {
		t.Errorf("Update(%s) setting %s: %v", describe(k, o), k.mutable, err)
	} else if v, ok := attrs[k.stateAttr]; ok {
		s.checkState("Update", k, o, v)
	}
	s.retrieve(ctx, k, changed)

	if !s.listed(ctx, o.ID) {
		t.Errorf("List after Create(%s): the id is missing", describe(k, o))
	}

	if err := s.p.Delete(ctx, changed); err != nil {
		t.Fatalf("Delete(%s): %v", describe(k, o), err)
	}

	_, err = s.p.Retrieve(ctx, o)
	s.wantCode("Retrieve after Delete", k, o, err, occi.ErrNotFound)
	_, err = s.p.Update(ctx, changed, o.Clone())
	s.wantCode("Update after Delete", k, o, err, occi.ErrNotFound)
	err = s.p.Delete(ctx, o)
	s.wantCode("Delete after Delete", k, o, err, occi.ErrNotFound)
	if action, params := s.declaredAction(k); action != "" {
		_, err = s.p.Action(ctx, o, action, params)
		s.wantCode("Action "+action+" after Delete", k, o, err, occi.ErrNotFound)
	}
	if s.listed(ctx, o.ID) {
		t.Errorf("List after Delete(%s): the id is still there", describe(k, o))
	}
}

// action invokes an action and checks the state it leads to, in its answer
// and in a Retrieve after; it returns the state.
func (s *suite) action(ctx context.Context, k *kindSpec, o *backends.Object, st step, from string) string {
	s.t.Helper()
	op := "Action " + st.action
	want := st.to
	if want == "" {
		want = from
	}
	attrs, err := s.p.Action(ctx, o, st.action, st.params)
	if err != nil {
		s.t.Fatalf("%s(%s) from %s: %v", op, describe(k, o), from, err)
	}
	if v, ok := attrs[k.stateAttr]; ok && v != want {
		s.t.Errorf("%s(%s) from %s: %s = %#v, want %q", op, describe(k, o), from, k.stateAttr, v, want)
	}
	if got := s.retrieve(ctx, k, o); got != want {
		s.t.Errorf("Retrieve(%s) after %s from %s: %s = %q, want %q", describe(k, o), st.action, from, k.stateAttr, got, want)
	}
	return want
}

func testActions(t *testing.T, h Harness, k *kindSpec) {
	s := newSuite(t, h)
	s.requireKind(k)
	ctx := t.Context()
	o := s.object(k)
	s.makeEnds(ctx, k, o)
	s.create(ctx, k, o)
	state := s.retrieve(ctx, k, o)

	done, logged := map[string]bool{}, map[string]bool{}
	for _, st := range k.steps {
		if !s.caps.ServesAction(st.action) {
			if !logged[st.action] {
				t.Logf("the provider does not declare %s (Capabilities.Actions): not tested", st.action)
				logged[st.action] = true
			}
			continue
		}
		if !slices.Contains(st.from, state) {
			continue
		}
		state = s.action(ctx, k, o, st, state)
		done[st.action] = true
	}
	for _, st := range k.steps {
		if s.caps.ServesAction(st.action) && !done[st.action] {
			t.Errorf("%s(%s): declared, but never reachable from the state after Create", st.action, describe(k, o))
		}
	}

	if k.invalid != "" {
		t.Run("InvalidTransition", func(t *testing.T) {
			s := *s
			s.t = t
			// Reaching the state the invalid action fails from takes the
			// action leading there.
			var into *step
			for i := range k.steps {
				if k.steps[i].to == k.invalidFrom {
					into = &k.steps[i]
				}
			}
			if into == nil {
				t.Fatalf("backendtest: no action of %s leads to %s", k.term, k.invalidFrom)
			}
			if !s.caps.ServesAction(k.invalid) || !s.caps.ServesAction(into.action) {
				t.Skipf("needs both %s and %s declared (Capabilities.Actions)", into.action, k.invalid)
			}
			if state != k.invalidFrom {
				if !slices.Contains(into.from, state) {
					t.Skipf("%s cannot be reached from %s", k.invalidFrom, state)
				}
				state = s.action(ctx, k, o, *into, state)
			}
			_, err := s.p.Action(ctx, o, k.invalid, nil)
			s.wantCode("Action "+k.invalid+" from "+state, k, o, err, occi.ErrFailedPrecondition)
			if got := s.retrieve(ctx, k, o); got != state {
				t.Errorf("Retrieve(%s) after a refused %s: %s = %q, want %q unchanged", describe(k, o), k.invalid, k.stateAttr, got, state)
			}
		})
	}

	t.Run("Undeclared", func(t *testing.T) {
		if s.caps.ServesAction(undeclaredAction) {
			t.Skipf("the provider declares %s", undeclaredAction)
		}
		_, err := s.p.Action(ctx, o, undeclaredAction, nil)
		if !errors.Is(err, occi.ErrUnimplemented) {
			t.Errorf("Action %s(%s) = %v (%s), want Unimplemented", undeclaredAction, describe(k, o), err, codeOf(err))
		}
	})
}

func testContext(t *testing.T, h Harness, k *kindSpec) {
	s := newSuite(t, h)
	s.requireKind(k)
	o := s.object(k)
	s.makeEnds(t.Context(), k, o)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.p.Create(ctx, o)
	if err == nil {
		s.cleanup(k, o)
		t.Fatalf("Create(%s) with a cancelled context succeeded", describe(k, o))
	}
	t.Logf("Create(%s) with a cancelled context: %v (%s)", describe(k, o), err, codeOf(err))
	if s.listed(t.Context(), o.ID) {
		s.cleanup(k, o)
		t.Errorf("List after Create(%s) with a cancelled context: the id is there", describe(k, o))
	}
}

func testLinks(t *testing.T, h Harness) {
	s := newSuite(t, h)
	var links []*kindSpec
	for _, k := range []*kindSpec{networkInterface, storageLink} {
		if s.caps.ServesKind(k.id) {
			links = append(links, k)
		}
	}
	if len(links) == 0 {
		t.Skipf("the provider serves neither %s nor %s (Capabilities.Kinds)", networkInterface.id, storageLink.id)
	}
	ctx := t.Context()

	// The resources: one compute, joined to a network and a storage.
	type made struct {
		k *kindSpec
		o *backends.Object
	}
	resources := map[string]made{}
	for _, k := range []*kindSpec{compute, network, storage} {
		if !s.caps.ServesKind(k.id) {
			t.Logf("the provider does not serve %s (Capabilities.Kinds): links to it point at a location that is not on it", k.id)
			continue
		}
		o := s.object(k)
		s.create(ctx, k, o)
		resources[k.id] = made{k, o}
	}

	var linkObjects []made
	for _, k := range links {
		o := s.object(k)
		src, srcOK := resources[k.source]
		dst, dstOK := resources[k.target]
		if srcOK && dstOK {
			SetEnds(o, src.o.Location, src.o.Kind, dst.o.Location, dst.o.Kind)
		}
		s.create(ctx, k, o)
		s.retrieve(ctx, k, o)
		linkObjects = append(linkObjects, made{k, o})
	}
	for _, m := range linkObjects {
		if !s.listed(ctx, m.o.ID) {
			t.Errorf("List: %s is missing", describe(m.k, m.o))
		}
	}

	// Links go first, then the resources they join.
	for _, m := range linkObjects {
		if err := s.p.Delete(ctx, m.o); err != nil {
			t.Errorf("Delete(%s): %v", describe(m.k, m.o), err)
		}
		_, err := s.p.Retrieve(ctx, m.o)
		s.wantCode("Retrieve after Delete", m.k, m.o, err, occi.ErrNotFound)
	}
	for _, k := range []*kindSpec{compute, network, storage} {
		m, ok := resources[k.id]
		if !ok {
			continue
		}
		s.retrieve(ctx, m.k, m.o)
		if err := s.p.Delete(ctx, m.o); err != nil {
			t.Errorf("Delete(%s) after its links: %v", describe(m.k, m.o), err)
		}
		_, err := s.p.Retrieve(ctx, m.o)
		s.wantCode("Retrieve after Delete", m.k, m.o, err, occi.ErrNotFound)
	}
}

// concurrency is how many goroutines the Concurrency test runs.
const concurrency = 16

func testConcurrency(t *testing.T, h Harness) {
	s := newSuite(t, h)
	var k *kindSpec
	for _, c := range []*kindSpec{compute, network, storage} {
		if s.caps.ServesKind(c.id) {
			k = c
			break
		}
	}
	if k == nil {
		t.Skipf("the provider serves none of %s, %s, %s (Capabilities.Kinds)", compute.id, network.id, storage.id)
	}
	ctx := t.Context()
	objects := make([]*backends.Object, concurrency)
	for i := range objects {
		objects[i] = s.object(k)
		t.Cleanup(func() { s.cleanup(k, objects[i]) })
	}
	var wg sync.WaitGroup
	for _, o := range objects {
		wg.Go(func() {
			if _, err := s.p.Create(ctx, o); err != nil {
				t.Errorf("concurrent Create(%s): %v", describe(k, o), err)
				return
			}
			attrs, err := s.p.Retrieve(ctx, o)
			if err != nil {
				t.Errorf("concurrent Retrieve(%s): %v", describe(k, o), err)
				return
			}
			if v := attrs[k.stateAttr]; !slices.Contains(k.states, fmt.Sprint(v)) {
				t.Errorf("concurrent Retrieve(%s): %s = %#v, want one of %v", describe(k, o), k.stateAttr, v, k.states)
			}
			if err := s.p.Delete(ctx, o); err != nil {
				t.Errorf("concurrent Delete(%s): %v", describe(k, o), err)
			}
		})
	}
	wg.Wait()
	ids, err := s.p.List(ctx, Instance)
	if err != nil {
		t.Fatalf("List after the concurrent calls: %v", err)
	}
	for _, o := range objects {
		if slices.Contains(ids, o.ID) {
			t.Errorf("List after the concurrent Create and Delete of %s: the id is still there", describe(k, o))
		}
	}
}
