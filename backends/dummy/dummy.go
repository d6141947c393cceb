// Package dummy is a backend that simulates a VIM in memory, for demos and
// tests. It serves every kind: computes, networks, storages and their links
// get a state that the infrastructure actions move through the OCCI state
// machines; other kinds are stored as they are, without state or actions.
//
// Options make it misbehave on purpose: latency slows every call, fail makes
// operations fail before they change anything, fail_after makes them fail
// after (the answer is lost, the change is not), exit_after kills the process
// right after an operation, and state_file keeps the simulated VIM on disk so
// that it outlives the server, as a real VIM does.
package dummy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ocni/ocni/backends"
	"github.com/ocni/ocni/occi"
)

// DriverName is the name provider configurations use for this driver.
const DriverName = "dummy"

// The operations that the fail, fail_after and exit_after options name.
const (
	opCreate   = "create"
	opRetrieve = "retrieve"
	opUpdate   = "update"
	opDelete   = "delete"
	opAction   = "action"
	opList     = "list"
)

var operations = []string{opCreate, opRetrieve, opUpdate, opDelete, opAction, opList}

// ExitCode is the status the process exits with after an operation named in
// the exit_after option.
const ExitCode = 3

// The attribute the VIM assigns to network interfaces.
const (
	attrMAC      = "occi.networkinterface.mac"
	attrDeviceID = "occi.storagelink.deviceid"
)

func init() {
	backends.Register(&backends.Driver{
		Name:        DriverName,
		Description: "in-memory simulation of a VIM, for demos and tests",
		Options: []backends.Option{
			{
				Name: "latency", Type: backends.Duration, Default: time.Duration(0),
				Help: "how long every call takes (e.g. 200ms); a call gives up with Unavailable when its request is cancelled",
			},
			{
				Name: "fail", Type: backends.Strings,
				Help: "operations (" + strings.Join(operations, ", ") + ") that fail with Unavailable before changing anything",
			},
			{
				Name: "fail_after", Type: backends.Strings,
				Help: "operations that change the simulated VIM and then fail with Unavailable, as when the VIM's answer is lost",
			},
			{
				Name: "exit_after", Type: backends.Strings,
				Help: fmt.Sprintf("operations after which the whole process exits at once with status %d, once the change is saved; "+
					"simulates a crash between the VIM call and the server's commit; for crash tests only", ExitCode),
			},
			{
				Name: "os_templates", Type: backends.Strings, Default: []string{"debian-12", "ubuntu-24.04", "alpine-3.20"},
				Help: "names of the OS images the simulated VIM offers; each becomes an os_tpl mixin of the query interface, at /templates/<provider>/os/<name>/ ([] for none)",
			},
			{
				Name: "state_file", Type: backends.String, Default: "",
				Help: "JSON file the simulated VIM is loaded from and saved to after every change, so that it outlives the server; empty keeps it in memory only",
			},
		},
		New: New,
	})
}

// family is what the simulated VIM knows of one infrastructure kind: the
// attribute holding its state, the state it is created in and its actions.
type family struct {
	kind      string
	stateAttr string
	initial   string
	// machine is the kind's OCCI state machine (nil for links, which have
	// no actions): the simulation follows it exactly.
	machine *occi.StateMachine
}

var families = []*family{
	{kind: occi.ComputeKindID, stateAttr: "occi.compute.state", initial: "active", machine: occi.StateMachineOf(occi.ComputeKindID)},
	{kind: occi.NetworkKindID, stateAttr: "occi.network.state", initial: "active", machine: occi.StateMachineOf(occi.NetworkKindID)},
	{kind: occi.StorageKindID, stateAttr: "occi.storage.state", initial: "online", machine: occi.StateMachineOf(occi.StorageKindID)},
	{kind: occi.NetworkInterfaceID, stateAttr: "occi.networkinterface.state", initial: "active"},
	{kind: occi.StorageLinkKindID, stateAttr: "occi.storagelink.state", initial: "active"},
}

// familyOf returns the family of an object's kind, or nil for kinds the
// simulation gives no state.
func familyOf(o *backends.Object) *family {
	for _, f := range families {
		if o.Is(f.kind) {
			return f
		}
	}
	return nil
}

// Capabilities of every dummy provider: any kind, every infrastructure action.
func capabilities() backends.Capabilities {
	var actions []string
	for _, f := range families {
		if f.machine != nil {
			for a := range f.machine.Actions {
				actions = append(actions, a)
			}
		}
	}
	sort.Strings(actions)
	return backends.Capabilities{Actions: actions}
}

// entry is one object on the simulated VIM. Entries are never modified once
// stored: a change stores a new entry, so that the old one can be put back.
type entry struct {
	obj *backends.Object
	// saved lists the names the compute was saved under by the save action.
	saved []string
}

// Provider is a simulated VIM. It is safe for concurrent use.
type Provider struct {
	name      string
	latency   atomic.Int64 // time.Duration
	failures  atomic.Pointer[failures]
	exitAfter map[string]bool
	stateFile string
	images    []string
	caps      backends.Capabilities

	countMu   sync.Mutex
	countdown map[string]*countdown // by operation

	mu      sync.Mutex
	objects map[string]*entry
	closed  bool
}

var _ backends.Provider = (*Provider)(nil)

// New builds a dummy provider from validated options; it loads the state
// file when one is configured and exists.
func New(name string, opts backends.Options) (backends.Provider, error) {
	p := &Provider{
		name:      name,
		stateFile: opts.String("state_file"),
		images:    opts.Strings("os_templates"),
		caps:      capabilities(),
		objects:   map[string]*entry{},
	}
	if d := opts.Duration("latency"); d < 0 {
		return nil, fmt.Errorf("option latency: %s is negative", d)
	}
	p.latency.Store(int64(opts.Duration("latency")))
	if err := p.SetFailures(opts.Strings("fail"), opts.Strings("fail_after")); err != nil {
		return nil, err
	}
	var err error
	if p.exitAfter, err = operationSet("exit_after", opts.Strings("exit_after")); err != nil {
		return nil, err
	}
	if p.stateFile != "" {
		if err := p.load(); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Templates offers the configured images as OS templates.
func (p *Provider) Templates(context.Context) ([]*occi.Mixin, error) {
	scheme := "http://schemas.ocni.org/dummy/" + p.name + "/os_tpl#"
	var out []*occi.Mixin
	for _, img := range p.images {
		m := &occi.Mixin{
			Category: occi.Category{Scheme: scheme, Term: img, Title: "OS image " + img + " on " + p.name},
			Depends:  []string{occi.OSTplMixinID},
			Applies:  []string{occi.ComputeKindID},
			Location: "/templates/" + p.name + "/os/" + img + "/",
		}
		if err := m.Validate(); err != nil {
			return nil, fmt.Errorf("os template %q: %w", img, err)
		}
		out = append(out, m)
	}
	return out, nil
}

var _ backends.TemplateSource = (*Provider)(nil)

func operationSet(option string, names []string) (map[string]bool, error) {
	set := map[string]bool{}
	for _, n := range names {
		if !slices.Contains(operations, n) {
			return nil, fmt.Errorf("option %s: unknown operation %q (known: %s)", option, n, strings.Join(operations, ", "))
		}
		set[n] = true
	}
	return set, nil
}

// Capabilities implements backends.Provider.
func (p *Provider) Capabilities() backends.Capabilities {
	// Without a state file the simulated VIM dies with the provider.
	return backends.Capabilities{Kinds: slices.Clone(p.caps.Kinds), Actions: slices.Clone(p.caps.Actions), Volatile: p.stateFile == ""}
}

// failures are the operations that fail before (fail) or after (failAfter)
// changing the simulated VIM.
type failures struct{ fail, failAfter map[string]bool }

// SetLatency changes, while the provider runs, how long every call takes.
func (p *Provider) SetLatency(d time.Duration) { p.latency.Store(int64(max(d, 0))) }

// FailNth makes the n-th call of op from now on (counting from 1) refuse,
// once, with a definite FailedPrecondition and before changing anything: a
// VIM that refuses in the middle of a series of calls.
func (p *Provider) FailNth(op string, n int) error {
	return p.FailNthWith(op, n, occi.Errorf(occi.FailedPrecondition, "dummy provider %s: %s: simulated refusal", p.name, op))
}

// FailNthWith is FailNth with the error the call returns.
func (p *Provider) FailNthWith(op string, n int, err error) error {
	if !slices.Contains(operations, op) || n < 1 {
		return fmt.Errorf("FailNth(%q, %d): want one of %v and n ≥ 1", op, n, operations)
	}
	p.countMu.Lock()
	defer p.countMu.Unlock()
	if p.countdown == nil {
		p.countdown = map[string]*countdown{}
	}
	p.countdown[op] = &countdown{calls: n, err: err}
	return nil
}

// countdown is a failure FailNth set up: calls until it, and its error.
type countdown struct {
	calls int
	err   error
}

// failNow counts a call of op down to the failure FailNth asked for, and
// returns it when it is due.
func (p *Provider) failNow(op string) error {
	p.countMu.Lock()
	defer p.countMu.Unlock()
	c, ok := p.countdown[op]
	if !ok {
		return nil
	}
	if c.calls <= 1 {
		delete(p.countdown, op)
		return c.err
	}
	c.calls--
	return nil
}

// SetFailures changes, while the provider runs, which operations fail
// before changing anything and which fail after the change (as the fail and
// fail_after options do): a VIM that breaks down and comes back.
func (p *Provider) SetFailures(fail, failAfter []string) error {
	f := &failures{}
	var err error
	if f.fail, err = operationSet("fail", fail); err != nil {
		return err
	}
	if f.failAfter, err = operationSet("fail_after", failAfter); err != nil {
		return err
	}
	p.failures.Store(f)
	return nil
}

// begin is the start of every call: it gives up at once on a done context,
// waits the configured latency, and simulates a failure when asked to.
func (p *Provider) begin(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return p.unavailable(op, err)
	}
	if latency := time.Duration(p.latency.Load()); latency > 0 {
		timer := time.NewTimer(latency)
		defer timer.Stop()
		select {
		case <-ctx.Done():
			return p.unavailable(op, ctx.Err())
		case <-timer.C:
		}
	}
	if err := p.failNow(op); err != nil {
		return err
	}
	if p.failures.Load().fail[op] {
		return occi.Errorf(occi.Unavailable, "dummy provider %s: %s: simulated failure", p.name, op)
	}
	return nil
}

func (p *Provider) unavailable(op string, err error) error {
	return occi.Errorf(occi.Unavailable, "dummy provider %s: %s: %w", p.name, op, err)
}

// lock takes the provider's lock, unless it is closed.
func (p *Provider) lock(op string) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return occi.Errorf(occi.Unavailable, "dummy provider %s: %s: provider is closed", p.name, op)
	}
	return nil
}

// done ends an operation that succeeded on the simulated VIM: the process
// exits when exit_after names it, and the answer is lost when fail_after
// does. It is called with the lock held, after the state is saved.
func (p *Provider) done(op string) error {
	if p.exitAfter[op] {
		os.Exit(ExitCode)
	}
	if p.failures.Load().failAfter[op] {
		return occi.Errorf(occi.Unavailable, "dummy provider %s: %s: simulated failure after the change", p.name, op)
	}
	return nil
}

// store replaces the entry of id (nil deletes it) and saves the state; when
// saving fails the previous entry is put back. It is called with the lock
// held.
func (p *Provider) store(op, id string, e *entry) error {
	prev, existed := p.objects[id]
	if e == nil {
		delete(p.objects, id)
	} else {
		p.objects[id] = e
	}
	if p.stateFile == "" {
		return nil
	}
	if err := p.save(); err != nil {
		if existed {
			p.objects[id] = prev
		} else {
			delete(p.objects, id)
		}
		return occi.Errorf(occi.Unavailable, "dummy provider %s: %s: %w", p.name, op, err)
	}
	return nil
}

func (p *Provider) notFound(o *backends.Object) error {
	return occi.Errorf(occi.NotFound, "dummy provider %s: no object %s", p.name, o.ID)
}

// observed returns what the VIM decides for an object: its state, and the
// MAC address of a network interface.
func observed(e *entry) map[string]any {
	out := map[string]any{}
	f := familyOf(e.obj)
	if f == nil {
		return out
	}
	if s, ok := e.obj.Attributes[f.stateAttr]; ok {
		out[f.stateAttr] = s
	}
	if f.kind == occi.NetworkInterfaceID {
		if mac, ok := e.obj.Attributes[attrMAC]; ok {
			out[attrMAC] = mac
		}
	}
	return out
}

func stateOf(e *entry, f *family) string {
	s, _ := e.obj.Attributes[f.stateAttr].(string)
	return s
}

// Create implements backends.Provider. The object starts in its family's
// initial state; a network interface without a MAC address gets a locally
// administered one.
func (p *Provider) Create(ctx context.Context, o *backends.Object) (map[string]any, error) {
	if err := p.begin(ctx, opCreate); err != nil {
		return nil, err
	}
	if err := p.lock(opCreate); err != nil {
		return nil, err
	}
	defer p.mu.Unlock()
	if _, ok := p.objects[o.ID]; ok {
		return nil, occi.Errorf(occi.AlreadyExists, "dummy provider %s: object %s already exists", p.name, o.ID)
	}
	e := &entry{obj: o.Clone()}
	decided := map[string]any{}
	if f := familyOf(e.obj); f != nil {
		e.obj.Attributes[f.stateAttr] = f.initial
		decided[f.stateAttr] = f.initial
		if f.kind == occi.NetworkInterfaceID {
			if given, _ := e.obj.Attributes[attrMAC].(string); given == "" {
				mac, err := newMAC()
				if err != nil {
					return nil, occi.Errorf(occi.Internal, "dummy provider %s: create %s: %w", p.name, o.ID, err)
				}
				e.obj.Attributes[attrMAC] = mac
				decided[attrMAC] = mac
			}
		}
		if f.kind == occi.StorageLinkKindID {
			if given, _ := e.obj.Attributes[attrDeviceID].(string); given == "" {
				dev, ok := p.freeDevice(e.obj.Source)
				if !ok {
					return nil, occi.Errorf(occi.FailedPrecondition, "dummy provider %s: compute %s has no free device name left (vdb to vdz are used)", p.name, e.obj.Source)
				}
				e.obj.Attributes[attrDeviceID] = dev
				decided[attrDeviceID] = dev
			}
		}
	}
	if err := p.store(opCreate, o.ID, e); err != nil {
		return nil, err
	}
	if err := p.done(opCreate); err != nil {
		return nil, err
	}
	return decided, nil
}

// Retrieve implements backends.Provider.
func (p *Provider) Retrieve(ctx context.Context, o *backends.Object) (map[string]any, error) {
	if err := p.begin(ctx, opRetrieve); err != nil {
		return nil, err
	}
	if err := p.lock(opRetrieve); err != nil {
		return nil, err
	}
	defer p.mu.Unlock()
	e, ok := p.objects[o.ID]
	if !ok {
		return nil, p.notFound(o)
	}
	if err := p.done(opRetrieve); err != nil {
		return nil, err
	}
	return observed(e), nil
}

// Update implements backends.Provider: the stored attributes and mixins
// become o's, except the state and MAC address, which the VIM owns.
func (p *Provider) Update(ctx context.Context, _, o *backends.Object) (map[string]any, error) {
	if err := p.begin(ctx, opUpdate); err != nil {
		return nil, err
	}
	if err := p.lock(opUpdate); err != nil {
		return nil, err
	}
	defer p.mu.Unlock()
	cur, ok := p.objects[o.ID]
	if !ok {
		return nil, p.notFound(o)
	}
	n := &entry{obj: cur.obj.Clone(), saved: cur.saved}
	in := o.Clone()
	n.obj.Mixins = in.Mixins
	n.obj.Attributes = in.Attributes
	if f := familyOf(cur.obj); f != nil {
		owned := []string{f.stateAttr}
		if f.kind == occi.NetworkInterfaceID {
			owned = append(owned, attrMAC)
		}
		for _, a := range owned {
			if v, ok := cur.obj.Attributes[a]; ok {
				n.obj.Attributes[a] = v
			} else {
				delete(n.obj.Attributes, a)
			}
		}
	}
	if err := p.store(opUpdate, o.ID, n); err != nil {
		return nil, err
	}
	if err := p.done(opUpdate); err != nil {
		return nil, err
	}
	return observed(n), nil
}

// Delete implements backends.Provider.
func (p *Provider) Delete(ctx context.Context, o *backends.Object) error {
	if err := p.begin(ctx, opDelete); err != nil {
		return err
	}
	if err := p.lock(opDelete); err != nil {
		return err
	}
	defer p.mu.Unlock()
	if _, ok := p.objects[o.ID]; !ok {
		return p.notFound(o)
	}
	if err := p.store(opDelete, o.ID, nil); err != nil {
		return err
	}
	return p.done(opDelete)
}

// Action implements backends.Provider. A transition the current state does
// not allow is a FailedPrecondition; save keeps the state and records the
// name the compute was saved under.
func (p *Provider) Action(ctx context.Context, o *backends.Object, action string, params map[string]any) (map[string]any, error) {
	if err := p.begin(ctx, opAction); err != nil {
		return nil, err
	}
	if err := p.lock(opAction); err != nil {
		return nil, err
	}
	defer p.mu.Unlock()
	cur, ok := p.objects[o.ID]
	if !ok {
		return nil, p.notFound(o)
	}
	f := familyOf(cur.obj)
	var tr occi.Transition
	if f != nil && f.machine != nil {
		tr, ok = f.machine.Actions[action]
	}
	if f == nil || f.machine == nil || !ok {
		return nil, occi.Errorf(occi.Unimplemented, "dummy provider %s: action %s is not implemented for kind %s", p.name, action, cur.obj.Kind)
	}
	state := stateOf(cur, f)
	if !slices.Contains(tr.From, state) {
		return nil, occi.Errorf(occi.FailedPrecondition, "cannot %s %s %s: it is %s", actionTerm(action), term(f.kind), o.ID, state)
	}
	n := &entry{obj: cur.obj.Clone(), saved: slices.Clone(cur.saved)}
	if tr.To != "" {
		n.obj.Attributes[f.stateAttr] = tr.To
	}
	if action == occi.ComputeActionScheme+"save" {
		name, _ := params["name"].(string)
		if name == "" {
			suffix, err := randomHex(4)
			if err != nil {
				return nil, occi.Errorf(occi.Internal, "dummy provider %s: save %s: %w", p.name, o.ID, err)
			}
			name = o.ID + "-" + suffix
		}
		n.saved = append(n.saved, name)
	}
	if err := p.store(opAction, o.ID, n); err != nil {
		return nil, err
	}
	if err := p.done(opAction); err != nil {
		return nil, err
	}
	return observed(n), nil
}

func actionTerm(id string) string {
	if i := strings.LastIndexByte(id, '#'); i >= 0 {
		return id[i+1:]
	}
	return id
}

func term(kindID string) string { return actionTerm(kindID) }

// List implements backends.Provider: the ids of the instance's objects,
// sorted.
func (p *Provider) List(ctx context.Context, instance string) ([]string, error) {
	if err := p.begin(ctx, opList); err != nil {
		return nil, err
	}
	if err := p.lock(opList); err != nil {
		return nil, err
	}
	defer p.mu.Unlock()
	ids := make([]string, 0, len(p.objects))
	for id, e := range p.objects {
		if e.obj.Instance == instance {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	if err := p.done(opList); err != nil {
		return nil, err
	}
	return ids, nil
}

// Close implements backends.Provider. Calls after Close fail with
// Unavailable; the state file, if any, is already up to date.
func (p *Provider) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	return nil
}

// Attributes returns a copy of the attributes the simulated VIM holds for an
// object (nil when it has none), for tests that compare the VIM with the
// store.
func (p *Provider) Attributes(id string) map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.objects[id]; ok {
		return e.obj.Clone().Attributes
	}
	return nil
}

// Saved returns the names the object was saved under by the save action, for
// tests and demos.
func (p *Provider) Saved(id string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.objects[id]; ok {
		return slices.Clone(e.saved)
	}
	return nil
}

// freeDevice returns the first device name (vdb, vdc, ...; vda is the root
// disk's) that no storage link of the compute at source uses. It is called
// with the lock held.
func (p *Provider) freeDevice(source string) (string, bool) {
	used := map[string]bool{"vda": true}
	for _, e := range p.objects {
		if e.obj.Source == source && e.obj.Is(occi.StorageLinkKindID) {
			if dev, ok := e.obj.Attributes[attrDeviceID].(string); ok {
				used[dev] = true
			}
		}
	}
	for c := 'b'; c <= 'z'; c++ {
		if name := "vd" + string(c); !used[name] {
			return name, true
		}
	}
	return "", false
}

func newMAC() (string, error) {
	b := make([]byte, 5)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	// 02 is a locally administered, unicast first octet.
	return fmt.Sprintf("02:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4]), nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// The state file.

const stateVersion = 1

type stateDoc struct {
	Version int                `json:"version"`
	Objects map[string]*record `json:"objects"`
}

// record is an entry as saved in the state file.
type record struct {
	ID         string         `json:"id"`
	Instance   string         `json:"instance,omitempty"`
	Location   string         `json:"location,omitempty"`
	Kind       string         `json:"kind"`
	Ancestors  []string       `json:"ancestors,omitempty"`
	Mixins     []string       `json:"mixins,omitempty"`
	Attributes map[string]any `json:"attributes,omitempty"`
	Source     string         `json:"source,omitempty"`
	SourceKind string         `json:"source_kind,omitempty"`
	Target     string         `json:"target,omitempty"`
	TargetKind string         `json:"target_kind,omitempty"`
	Saved      []string       `json:"saved,omitempty"`
}

// load reads the state file; a missing or empty file is an empty VIM.
func (p *Provider) load() error {
	data, err := os.ReadFile(p.stateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("state file %s: %w", p.stateFile, err)
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil
	}
	var doc stateDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("state file %s is corrupt: %w", p.stateFile, err)
	}
	if doc.Version != stateVersion {
		return fmt.Errorf("state file %s: version %d, this driver reads version %d", p.stateFile, doc.Version, stateVersion)
	}
	for id, r := range doc.Objects {
		if r == nil || r.ID != id {
			return fmt.Errorf("state file %s is corrupt: object %q does not match its key", p.stateFile, id)
		}
		o := &backends.Object{
			ID: r.ID, Instance: r.Instance, Location: r.Location, Kind: r.Kind, Ancestors: r.Ancestors, Mixins: r.Mixins,
			Attributes: r.Attributes, Source: r.Source, SourceKind: r.SourceKind, Target: r.Target, TargetKind: r.TargetKind,
		}
		if o.Attributes == nil {
			o.Attributes = map[string]any{}
		}
		p.objects[id] = &entry{obj: o, saved: r.Saved}
	}
	return nil
}

// save writes the state file atomically: a temporary file in the same
// directory, synced, renamed over the old one, and the directory synced.
// It is called with the lock held.
func (p *Provider) save() error {
	doc := stateDoc{Version: stateVersion, Objects: make(map[string]*record, len(p.objects))}
	for id, e := range p.objects {
		o := e.obj
		doc.Objects[id] = &record{
			ID: o.ID, Instance: o.Instance, Location: o.Location, Kind: o.Kind, Ancestors: o.Ancestors, Mixins: o.Mixins,
			Attributes: o.Attributes, Source: o.Source, SourceKind: o.SourceKind, Target: o.Target, TargetKind: o.TargetKind,
			Saved: e.saved,
		}
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding state: %w", err)
	}
	dir, base := filepath.Split(p.stateFile)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("saving state file %s: %w", p.stateFile, err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("saving state file %s: %w", p.stateFile, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("saving state file %s: %w", p.stateFile, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("saving state file %s: %w", p.stateFile, err)
	}
	if err := os.Rename(tmp.Name(), p.stateFile); err != nil {
		return fmt.Errorf("saving state file %s: %w", p.stateFile, err)
	}
	committed = true
	// The rename is durable once the directory is synced; some systems
	// cannot sync a directory, and the file itself is complete anyway.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
