package dummy

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ocni/ocni/backends"
	"github.com/ocni/ocni/backends/backendtest"
	"github.com/ocni/ocni/occi"
)

// open builds a dummy provider through the registry, as the server does,
// and closes it at the end of the test.
func open(t *testing.T, opts map[string]any) backends.Provider {
	t.Helper()
	p, err := backends.Open("test", DriverName, opts)
	if err != nil {
		t.Fatalf("Open(dummy, %v): %v", opts, err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestConformance(t *testing.T) {
	backendtest.Run(t, backendtest.Harness{New: func(t *testing.T) backends.Provider {
		p, err := backends.Open("test", DriverName, nil)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}})
}

// The suite also passes with the state kept in a file.
func TestConformanceStateFile(t *testing.T) {
	backendtest.Run(t, backendtest.Harness{New: func(t *testing.T) backends.Provider {
		p, err := backends.Open("test", DriverName, map[string]any{"state_file": filepath.Join(t.TempDir(), "vim.json")})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}})
}

func computeObject() *backends.Object {
	return backendtest.DefaultObject(occi.ComputeKindID, backendtest.NewID())
}

func mustList(t *testing.T, p backends.Provider) []string {
	t.Helper()
	ids, err := p.List(context.Background(), backendtest.Instance)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return ids
}

func TestDriverDeclaresOptions(t *testing.T) {
	d, ok := backends.Lookup(DriverName)
	if !ok {
		t.Fatal("the dummy driver is not registered")
	}
	if d.New == nil {
		t.Error("the dummy driver has no New")
	}
	var names []string
	for _, o := range d.Options {
		names = append(names, o.Name)
		if o.Help == "" {
			t.Errorf("option %s has no help", o.Name)
		}
	}
	for _, want := range []string{"latency", "fail", "fail_after", "exit_after", "state_file"} {
		if !slices.Contains(names, want) {
			t.Errorf("option %s is not declared (declared: %v)", want, names)
		}
	}
}

func TestBadOptions(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts map[string]any
		want string
	}{
		{"unknown operation", map[string]any{"fail": []any{"create", "reboot"}}, `option fail: unknown operation "reboot"`},
		{"unknown operation after", map[string]any{"fail_after": []any{"explode"}}, "option fail_after"},
		{"negative latency", map[string]any{"latency": "-1s"}, "option latency"},
		{"latency not a duration", map[string]any{"latency": "soon"}, "option latency"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := backends.Open("test", DriverName, tt.opts)
			if err == nil {
				p.Close()
				t.Fatalf("Open(%v) succeeded", tt.opts)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open(%v) = %v, want it to say %q", tt.opts, err, tt.want)
			}
		})
	}
}

func TestCreateAnswers(t *testing.T) {
	p := open(t, nil)
	ctx := context.Background()

	nic := backendtest.DefaultObject(occi.NetworkInterfaceID, backendtest.NewID())
	attrs, err := p.Create(ctx, nic)
	if err != nil {
		t.Fatal(err)
	}
	mac, _ := attrs[attrMAC].(string)
	if !regexp.MustCompile(`^02(:[0-9a-f]{2}){5}$`).MatchString(mac) {
		t.Errorf("Create(networkinterface) mac = %#v, want a locally administered 02:xx:xx:xx:xx:xx", attrs[attrMAC])
	}
	if len(attrs) != 2 || attrs["occi.networkinterface.state"] != "active" {
		t.Errorf("Create(networkinterface) = %v, want the state and the mac only", attrs)
	}
	if got, _ := p.Retrieve(ctx, nic); got[attrMAC] != mac {
		t.Errorf("Retrieve(networkinterface) = %v, want mac %s", got, mac)
	}
	// The VIM keeps its own MAC address and state across updates.
	changed := nic.Clone()
	changed.Attributes[attrMAC] = "aa:bb:cc:dd:ee:ff"
	changed.Attributes["occi.networkinterface.state"] = "error"
	if got, err := p.Update(ctx, nic, changed); err != nil || got[attrMAC] != mac || got["occi.networkinterface.state"] != "active" {
		t.Errorf("Update(networkinterface) = %v, %v, want the VIM's mac and state kept", got, err)
	}

	given := backendtest.DefaultObject(occi.NetworkInterfaceID, backendtest.NewID())
	given.Attributes[attrMAC] = "52:54:00:12:34:56"
	if attrs, err := p.Create(ctx, given); err != nil || len(attrs) != 1 {
		t.Errorf("Create(networkinterface with a mac) = %v, %v, want the state only", attrs, err)
	}
	if got, _ := p.Retrieve(ctx, given); got[attrMAC] != "52:54:00:12:34:56" {
		t.Errorf("Retrieve(networkinterface with a mac) = %v, want the given mac", got)
	}

	for kind, want := range map[string]map[string]any{
		occi.ComputeKindID:     {"occi.compute.state": "active"},
		occi.NetworkKindID:     {"occi.network.state": "active"},
		occi.StorageKindID:     {"occi.storage.state": "online"},
		occi.StorageLinkKindID: {"occi.storagelink.state": "active"},
	} {
		attrs, err := p.Create(ctx, backendtest.DefaultObject(kind, backendtest.NewID()))
		if err != nil || len(attrs) != 1 || attrs[firstKey(want)] != want[firstKey(want)] {
			t.Errorf("Create(%s) = %v, %v, want %v", kind, attrs, err, want)
		}
	}
}

func firstKey(m map[string]any) string {
	for k := range m {
		return k
	}
	return ""
}

// A user kind derived from compute is a compute; other kinds have no state
// and no actions.
func TestFamilies(t *testing.T) {
	p := open(t, nil)
	ctx := context.Background()
	vm := computeObject()
	vm.Kind = "http://example.org/occi#vm"
	vm.Ancestors = []string{occi.ComputeKindID, occi.ResourceKindID, occi.EntityKindID}
	if attrs, err := p.Create(ctx, vm); err != nil || attrs["occi.compute.state"] != "active" {
		t.Errorf("Create(vm) = %v, %v, want a compute state", attrs, err)
	}
	if attrs, err := p.Action(ctx, vm, occi.ComputeActionScheme+"stop", nil); err != nil || attrs["occi.compute.state"] != "inactive" {
		t.Errorf("stop vm = %v, %v, want inactive", attrs, err)
	}

	other := &backends.Object{
		ID: backendtest.NewID(), Kind: "http://example.org/occi#printer",
		Ancestors: []string{occi.ResourceKindID, occi.EntityKindID}, Attributes: map[string]any{"org.example.ppm": 12.0},
	}
	if attrs, err := p.Create(ctx, other); err != nil || len(attrs) != 0 {
		t.Errorf("Create(printer) = %v, %v, want nothing decided", attrs, err)
	}
	if attrs, err := p.Retrieve(ctx, other); err != nil || len(attrs) != 0 {
		t.Errorf("Retrieve(printer) = %v, %v, want nothing observed", attrs, err)
	}
	_, err := p.Action(ctx, other, occi.ComputeActionScheme+"start", nil)
	if occi.CodeOf(err) != occi.Unimplemented {
		t.Errorf("start printer = %v, want Unimplemented", err)
	}
	// An action of another family is not implemented for the kind either.
	_, err = p.Action(ctx, vm, occi.NetworkActionScheme+"up", nil)
	if occi.CodeOf(err) != occi.Unimplemented {
		t.Errorf("network up on a compute = %v, want Unimplemented", err)
	}
}

func TestComputeStateMachine(t *testing.T) {
	p := open(t, nil)
	ctx := context.Background()
	o := computeObject()
	if _, err := p.Create(ctx, o); err != nil {
		t.Fatal(err)
	}
	act := func(action, wantState string, wantCode *occi.Error) {
		t.Helper()
		attrs, err := p.Action(ctx, o, occi.ComputeActionScheme+action, nil)
		if wantCode != nil {
			if !errors.Is(err, wantCode) {
				t.Fatalf("%s = %v, want %s", action, err, wantCode.Code)
			}
			return
		}
		if err != nil || attrs["occi.compute.state"] != wantState {
			t.Fatalf("%s = %v, %v, want %s", action, attrs, err, wantState)
		}
	}
	act("start", "", occi.ErrFailedPrecondition) // already active
	act("suspend", "suspended", nil)
	act("restart", "", occi.ErrFailedPrecondition)
	act("suspend", "", occi.ErrFailedPrecondition)
	act("stop", "inactive", nil) // stop works from suspended
	act("stop", "", occi.ErrFailedPrecondition)
	act("restart", "", occi.ErrFailedPrecondition)
	act("save", "inactive", nil)
	act("start", "active", nil)
	act("restart", "active", nil)

	// The refusal names the action and the state.
	_, err := p.Action(ctx, o, occi.ComputeActionScheme+"start", nil)
	if msg := err.Error(); !strings.Contains(msg, "start") || !strings.Contains(msg, "active") {
		t.Errorf("refused start says %q, want the action and the state", msg)
	}

	if _, err := p.Action(ctx, o, occi.ComputeActionScheme+"save", map[string]any{"method": "hot", "name": "golden"}); err != nil {
		t.Fatal(err)
	}
	saved := p.(*Provider).Saved(o.ID)
	if len(saved) != 2 || saved[1] != "golden" || !strings.HasPrefix(saved[0], o.ID+"-") {
		t.Errorf("saved names = %v, want a generated one then golden", saved)
	}
}

func TestCloneOnStoreAndReturn(t *testing.T) {
	p := open(t, nil)
	ctx := context.Background()
	o := computeObject()
	if _, err := p.Create(ctx, o); err != nil {
		t.Fatal(err)
	}
	o.Attributes["occi.compute.hostname"] = "changed.behind.its.back"
	o.Mixins = append(o.Mixins, "http://example.org/occi#tpl")
	stored := p.(*Provider).objects[o.ID].obj
	if _, ok := stored.Attributes["occi.compute.hostname"]; ok || len(stored.Mixins) != 0 {
		t.Errorf("the provider keeps the caller's maps: %+v", stored)
	}
	attrs, _ := p.Retrieve(ctx, o)
	attrs["occi.compute.state"] = "error"
	if again, _ := p.Retrieve(ctx, o); again["occi.compute.state"] != "active" {
		t.Errorf("a returned map changed the stored state: %v", again)
	}
}

func TestLatency(t *testing.T) {
	p := open(t, map[string]any{"latency": "50ms"})
	start := time.Now()
	if _, err := p.Create(context.Background(), computeObject()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("Create took %s with latency 50ms", d)
	}

	slow := open(t, map[string]any{"latency": "10s"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	o := computeObject()
	start = time.Now()
	_, err := slow.Create(ctx, o)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Create with a 20ms deadline took %s", d)
	}
	if occi.CodeOf(err) != occi.Unavailable || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Create past its deadline = %v, want Unavailable wrapping the context's error", err)
	}
	if ids := slow.(*Provider).objects; len(ids) != 0 {
		t.Errorf("an interrupted Create left %v", ids)
	}
}

func TestCancelledDoesNothing(t *testing.T) {
	p := open(t, nil)
	o := computeObject()
	if _, err := p.Create(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Delete(ctx, o); !errors.Is(err, occi.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("Delete with a cancelled context = %v, want Unavailable wrapping context.Canceled", err)
	}
	if _, err := p.List(ctx, ""); !errors.Is(err, occi.ErrUnavailable) {
		t.Errorf("List with a cancelled context = %v, want Unavailable", err)
	}
	if !slices.Contains(mustList(t, p), o.ID) {
		t.Error("a Delete with a cancelled context deleted")
	}
}

func TestFail(t *testing.T) {
	p := open(t, map[string]any{"fail": []any{"create"}})
	ctx := context.Background()
	o := computeObject()
	_, err := p.Create(ctx, o)
	if occi.CodeOf(err) != occi.Unavailable || !strings.Contains(err.Error(), "simulated failure") {
		t.Errorf("Create = %v, want Unavailable: simulated failure", err)
	}
	if ids := mustList(t, p); len(ids) != 0 {
		t.Errorf("List after a failed Create = %v, want nothing", ids)
	}

	p = open(t, map[string]any{"fail": []any{"delete", "action", "update"}})
	if _, err := p.Create(ctx, o); err != nil {
		t.Fatal(err)
	}
	if err := p.Delete(ctx, o); occi.CodeOf(err) != occi.Unavailable {
		t.Errorf("Delete = %v, want Unavailable", err)
	}
	if _, err := p.Action(ctx, o, occi.ComputeActionScheme+"stop", nil); occi.CodeOf(err) != occi.Unavailable {
		t.Errorf("stop = %v, want Unavailable", err)
	}
	changed := o.Clone()
	changed.Attributes[occi.AttrTitle] = "changed"
	if _, err := p.Update(ctx, o, changed); occi.CodeOf(err) != occi.Unavailable {
		t.Errorf("Update = %v, want Unavailable", err)
	}
	if attrs, err := p.Retrieve(ctx, o); err != nil || attrs["occi.compute.state"] != "active" {
		t.Errorf("Retrieve after failed calls = %v, %v, want the compute still active", attrs, err)
	}
	if got := p.(*Provider).objects[o.ID].obj.Attributes[occi.AttrTitle]; got != o.Attributes[occi.AttrTitle] {
		t.Errorf("a failed Update changed the title to %v", got)
	}
}

func TestFailAfter(t *testing.T) {
	p := open(t, map[string]any{"fail_after": []any{"create", "action"}})
	ctx := context.Background()
	o := computeObject()
	_, err := p.Create(ctx, o)
	if !errors.Is(err, occi.ErrUnavailable) {
		t.Errorf("Create = %v, want Unavailable", err)
	}
	if !slices.Contains(mustList(t, p), o.ID) {
		t.Error("List after a Create whose answer was lost does not have the object")
	}
	if _, err := p.Action(ctx, o, occi.ComputeActionScheme+"stop", nil); !errors.Is(err, occi.ErrUnavailable) {
		t.Errorf("stop = %v, want Unavailable", err)
	}
	if attrs, err := p.Retrieve(ctx, o); err != nil || attrs["occi.compute.state"] != "inactive" {
		t.Errorf("Retrieve after a stop whose answer was lost = %v, %v, want inactive", attrs, err)
	}
	// A call that fails on its own merits is not a lost answer.
	if _, err := p.Create(ctx, o); !errors.Is(err, occi.ErrAlreadyExists) {
		t.Errorf("Create again = %v, want AlreadyExists", err)
	}
}

func TestClose(t *testing.T) {
	p, err := backends.Open("test", DriverName, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := p.List(context.Background(), ""); !errors.Is(err, occi.ErrUnavailable) {
		t.Errorf("List after Close = %v, want Unavailable", err)
	}
}

// onlyFile checks that the directory holds the state file and nothing else,
// no temporary file in particular.
func onlyFile(t *testing.T, dir, name string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 1 || names[0] != name {
		t.Errorf("the state directory holds %v, want only %s", names, name)
	}
}

func TestStateFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "vim.json")
	ctx := context.Background()

	p := open(t, map[string]any{"state_file": file})
	vm := computeObject()
	if _, err := p.Create(ctx, vm); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Action(ctx, vm, occi.ComputeActionScheme+"save", map[string]any{"name": "golden"}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Action(ctx, vm, occi.ComputeActionScheme+"stop", nil); err != nil {
		t.Fatal(err)
	}
	nic := backendtest.DefaultObject(occi.NetworkInterfaceID, backendtest.NewID())
	created, err := p.Create(ctx, nic)
	if err != nil {
		t.Fatal(err)
	}
	gone := computeObject()
	if _, err := p.Create(ctx, gone); err != nil {
		t.Fatal(err)
	}
	if err := p.Delete(ctx, gone); err != nil {
		t.Fatal(err)
	}
	p.Close()
	onlyFile(t, dir, "vim.json")

	// The VIM outlives the provider.
	q := open(t, map[string]any{"state_file": file})
	if attrs, err := q.Retrieve(ctx, vm); err != nil || attrs["occi.compute.state"] != "inactive" {
		t.Errorf("Retrieve from a new provider = %v, %v, want the compute inactive", attrs, err)
	}
	if attrs, err := q.Retrieve(ctx, nic); err != nil || attrs[attrMAC] != created[attrMAC] {
		t.Errorf("Retrieve(networkinterface) from a new provider = %v, %v, want mac %v", attrs, err, created[attrMAC])
	}
	if ids := mustList(t, q); !slices.Equal(ids, sorted(vm.ID, nic.ID)) {
		t.Errorf("List from a new provider = %v, want %v", ids, sorted(vm.ID, nic.ID))
	}
	if saved := q.(*Provider).Saved(vm.ID); !slices.Equal(saved, []string{"golden"}) {
		t.Errorf("saved names from a new provider = %v, want [golden]", saved)
	}
	got := q.(*Provider).objects[nic.ID].obj
	if got.Source != nic.Source || got.TargetKind != nic.TargetKind || !slices.Equal(got.Ancestors, nic.Ancestors) {
		t.Errorf("networkinterface read back as %+v, want %+v", got, nic)
	}
}

func sorted(ids ...string) []string {
	slices.Sort(ids)
	return ids
}

func TestStateFileCorrupt(t *testing.T) {
	for name, content := range map[string]string{
		"not json":      "{not json",
		"wrong version": `{"version": 99, "objects": {}}`,
		"key mismatch":  `{"version": 1, "objects": {"a": {"id": "b", "kind": "k"}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "vim.json")
			if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			p, err := backends.Open("test", DriverName, map[string]any{"state_file": file})
			if err == nil {
				p.Close()
				t.Fatal("Open on a corrupt state file succeeded")
			}
			if !strings.Contains(err.Error(), file) {
				t.Errorf("Open on a corrupt state file = %v, want it to name %s", err, file)
			}
		})
	}
}

func TestStateFileMissingOrEmpty(t *testing.T) {
	dir := t.TempDir()
	p := open(t, map[string]any{"state_file": filepath.Join(dir, "new.json")})
	if ids := mustList(t, p); len(ids) != 0 {
		t.Errorf("List on a new state file = %v", ids)
	}
	empty := filepath.Join(dir, "empty.json")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	p = open(t, map[string]any{"state_file": empty})
	if ids := mustList(t, p); len(ids) != 0 {
		t.Errorf("List on an empty state file = %v", ids)
	}
}

// A change that cannot be saved is not made.
func TestStateFileUnwritable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vim")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	p := open(t, map[string]any{"state_file": filepath.Join(dir, "vim.json")})
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	o := computeObject()
	if _, err := p.Create(context.Background(), o); !errors.Is(err, occi.ErrUnavailable) {
		t.Errorf("Create with an unwritable state file = %v, want Unavailable", err)
	}
	if ids := mustList(t, p); len(ids) != 0 {
		t.Errorf("List after a Create that could not be saved = %v", ids)
	}
}

// exitEnv tells TestExitAfterHelper, run in a child process, where the state
// file is and which id to create.
const exitEnv = "OCNI_DUMMY_EXIT_AFTER"

// TestExitAfterHelper is the child process of TestExitAfter; it does nothing
// in a normal run.
func TestExitAfterHelper(t *testing.T) {
	spec := os.Getenv(exitEnv)
	if spec == "" {
		t.Skip("runs as the child process of TestExitAfter")
	}
	file, id, _ := strings.Cut(spec, "|")
	p, err := backends.Open("crash", DriverName, map[string]any{"state_file": file, "exit_after": []any{"create"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Create(context.Background(), backendtest.DefaultObject(occi.ComputeKindID, id))
	t.Fatalf("Create returned (%v) instead of exiting", err)
}

func TestExitAfter(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	file := filepath.Join(t.TempDir(), "vim.json")
	id := backendtest.NewID()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestExitAfterHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), exitEnv+"="+file+"|"+id)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != ExitCode {
		t.Fatalf("the child ended with %v, want exit status %d; output:\n%s", err, ExitCode, out)
	}

	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("the child left no state file: %v", err)
	}
	var doc stateDoc
	if err := json.Unmarshal(data, &doc); err != nil || doc.Objects[id] == nil {
		t.Fatalf("the state file does not hold %s (%v):\n%s", id, err, data)
	}
	p := open(t, map[string]any{"state_file": file})
	if attrs, err := p.Retrieve(context.Background(), &backends.Object{ID: id}); err != nil || attrs["occi.compute.state"] != "active" {
		t.Errorf("Retrieve after the crash = %v, %v, want the compute active", attrs, err)
	}
}

// restricted is a dummy that declares less than it can do, as a driver for a
// narrower VIM would: the suite tests only what is declared.
type restricted struct {
	backends.Provider
	caps backends.Capabilities
}

func (r restricted) Capabilities() backends.Capabilities { return r.caps }

func (r restricted) Action(ctx context.Context, o *backends.Object, action string, params map[string]any) (map[string]any, error) {
	if !r.caps.ServesAction(action) {
		return nil, occi.Errorf(occi.Unimplemented, "action %s is not implemented", action)
	}
	return r.Provider.Action(ctx, o, action, params)
}

func TestConformanceRestricted(t *testing.T) {
	backendtest.Run(t, backendtest.Harness{New: func(t *testing.T) backends.Provider {
		p, err := backends.Open("test", DriverName, nil)
		if err != nil {
			t.Fatal(err)
		}
		return restricted{Provider: p, caps: backends.Capabilities{
			Kinds:   []string{occi.ComputeKindID, occi.NetworkInterfaceID},
			Actions: []string{occi.StartActionID, occi.StopActionID},
		}}
	}})
}
