package occi

import (
	"encoding/json"
	"maps"
	"reflect"
	"testing"
)

func TestMerge(t *testing.T) {
	kindDef := func() *AttributeDef {
		return &AttributeDef{Type: TypeNumber, Mutable: true, Required: true, Pattern: json.RawMessage(`{"type":"integer","minimum":1}`), Default: 1.0, Description: "from the kind"}
	}
	const x = "com.example.x"
	tests := []struct {
		name string
		defs func() []Attributes
		want map[string]AttributeDef // compared without the compiled check
	}{
		{"nothing", func() []Attributes { return nil }, map[string]AttributeDef{}},
		{"one set", func() []Attributes { return []Attributes{{x: kindDef()}} }, map[string]AttributeDef{x: *kindDef()}},
		{"later default wins, the rest stays", func() []Attributes {
			return []Attributes{
				{x: kindDef()},
				{x: {Type: TypeString, Mutable: false, Required: false, Default: 5.0, Description: "from the mixin"}},
			}
		}, map[string]AttributeDef{x: func() AttributeDef { d := *kindDef(); d.Default = 5.0; return d }()}},
		{"last default of several wins", func() []Attributes {
			return []Attributes{{x: kindDef()}, {x: {Type: TypeNumber, Default: 5.0}}, {x: {Type: TypeNumber, Default: 7.0}}}
		}, map[string]AttributeDef{x: func() AttributeDef { d := *kindDef(); d.Default = 7.0; return d }()}},
		{"a later definition without default changes nothing", func() []Attributes {
			return []Attributes{{x: kindDef()}, {x: {Type: TypeNumber, Default: 5.0}}, {x: {Type: TypeString, Required: false}}}
		}, map[string]AttributeDef{x: func() AttributeDef { d := *kindDef(); d.Default = 5.0; return d }()}},
		{"a default where the first definer had none", func() []Attributes {
			return []Attributes{{x: {Type: TypeNumber, Mutable: true}}, {x: {Type: TypeNumber, Default: 3.0}}}
		}, map[string]AttributeDef{x: {Type: TypeNumber, Mutable: true, Default: 3.0}}},
		{"later sets add attributes", func() []Attributes {
			return []Attributes{{x: kindDef()}, {"com.example.y": {Type: TypeBoolean}}, nil}
		}, map[string]AttributeDef{x: *kindDef(), "com.example.y": {Type: TypeBoolean}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defs := tc.defs()
			before, _ := json.Marshal(defs)
			set := Merge(defs...)
			if set == nil {
				t.Fatal("Merge returned nil")
			}
			if len(set) != len(tc.want) {
				t.Errorf("Merge has %d attributes, want %d", len(set), len(tc.want))
			}
			for name, want := range tc.want {
				got, ok := set[name]
				if !ok || got == nil {
					t.Errorf("%s missing", name)
					continue
				}
				g := *got
				g.check = nil
				if !reflect.DeepEqual(g, want) {
					t.Errorf("%s:\n got %+v\nwant %+v", name, g, want)
				}
			}
			if after, _ := json.Marshal(defs); string(before) != string(after) {
				t.Errorf("Merge modified its arguments:\n%s\n%s", before, after)
			}
		})
	}
}

// The merged definition keeps the first definer's compiled pattern.
func TestMergeKeepsTheKindsPattern(t *testing.T) {
	set := builtinSet(t, ComputeKindID, ResourceTplScheme+"large")
	cores := set["occi.compute.cores"]
	if cores.Default != 4.0 {
		t.Errorf("cores default = %v, want 4", cores.Default)
	}
	wantErr(t, cores.Check(0.0), InvalidArgument)
	wantErr(t, cores.Check(1.5), InvalidArgument)
	wantNoErr(t, cores.Check(3.0))
	kindCores := findKind(Builtins(), ComputeKindID).Attributes["occi.compute.cores"]
	if kindCores.Default != nil {
		t.Errorf("Merge changed the compute kind's cores default to %v", kindCores.Default)
	}
}

func TestAttributeSetCreate(t *testing.T) {
	const (
		cores    = "occi.compute.cores"
		memory   = "occi.compute.memory"
		state    = "occi.compute.state"
		hostname = "occi.compute.hostname"
	)
	medium := ResourceTplScheme + "medium"
	tests := []struct {
		name     string
		kind     string
		mixins   []string
		values   map[string]any
		want     map[string]any
		wantCode Code
		wantSubs []string
	}{
		{name: "defaults only", kind: ComputeKindID, values: nil,
			want: map[string]any{state: "inactive"}},
		{name: "given values kept", kind: ComputeKindID,
			values: map[string]any{cores: 2.0, memory: 1.5, hostname: "vm1", "occi.compute.architecture": "x64", AttrTitle: "my vm"},
			want:   map[string]any{cores: 2.0, memory: 1.5, hostname: "vm1", "occi.compute.architecture": "x64", AttrTitle: "my vm", state: "inactive"}},
		{name: "integers of any Go type", kind: ComputeKindID, values: map[string]any{cores: 2, "occi.compute.share": json.Number("3")},
			want: map[string]any{cores: 2, "occi.compute.share": json.Number("3"), state: "inactive"}},
		{name: "a given value beats the default", kind: ComputeKindID, values: map[string]any{state: "active"},
			want: map[string]any{state: "active"}},
		{name: "null is absent: the default applies", kind: ComputeKindID, values: map[string]any{state: nil, hostname: nil},
			want: map[string]any{state: "inactive"}},
		{name: "template defaults", kind: ComputeKindID, mixins: []string{medium},
			want: map[string]any{cores: 2.0, memory: 2.0, state: "inactive"}},
		{name: "template defaults, null given", kind: ComputeKindID, mixins: []string{medium}, values: map[string]any{cores: nil},
			want: map[string]any{cores: 2.0, memory: 2.0, state: "inactive"}},
		{name: "a given value beats the template", kind: ComputeKindID, mixins: []string{medium}, values: map[string]any{cores: 4.0},
			want: map[string]any{cores: 4.0, memory: 2.0, state: "inactive"}},
		{name: "memory-heavy template", kind: ComputeKindID, mixins: []string{ResourceTplScheme + "mem_large"},
			want: map[string]any{cores: 4.0, memory: 16.0, state: "inactive"}},
		{name: "storage", kind: StorageKindID, values: map[string]any{"occi.storage.size": 10.0},
			want: map[string]any{"occi.storage.size": 10.0, "occi.storage.state": "offline"}},
		{name: "immutable attributes may be set at creation", kind: NetworkInterfaceID,
			values: map[string]any{AttrSource: "/compute/c1", AttrTarget: "/network/n1", "occi.networkinterface.interface": "eth0"},
			want:   map[string]any{AttrSource: "/compute/c1", AttrTarget: "/network/n1", "occi.networkinterface.interface": "eth0", "occi.networkinterface.state": "inactive"}},
		{name: "mixin attribute", kind: ComputeKindID, mixins: []string{SSHKeyMixinID}, values: map[string]any{"occi.credentials.ssh.publickey": "ssh-ed25519 AAAA"},
			want: map[string]any{"occi.credentials.ssh.publickey": "ssh-ed25519 AAAA", state: "inactive"}},

		{name: "unknown attribute", kind: ComputeKindID, values: map[string]any{"com.example.x": 1.0},
			wantCode: InvalidArgument, wantSubs: []string{"com.example.x"}},
		{name: "unknown attribute even when null", kind: ComputeKindID, values: map[string]any{"com.example.x": nil},
			wantCode: InvalidArgument, wantSubs: []string{"com.example.x"}},
		{name: "attribute of a mixin that is not there", kind: ComputeKindID, values: map[string]any{"occi.compute.userdata": "e30="},
			wantCode: InvalidArgument, wantSubs: []string{"occi.compute.userdata"}},
		{name: "attribute of another kind", kind: ComputeKindID, values: map[string]any{"occi.storage.size": 1.0},
			wantCode: InvalidArgument, wantSubs: []string{"occi.storage.size"}},
		{name: "wrong type", kind: ComputeKindID, values: map[string]any{cores: "2"},
			wantCode: InvalidArgument, wantSubs: []string{cores, `"2"`}},
		{name: "wrong type, boolean", kind: ComputeKindID, values: map[string]any{hostname: true},
			wantCode: InvalidArgument, wantSubs: []string{hostname}},
		{name: "below the minimum", kind: ComputeKindID, values: map[string]any{cores: 0.0},
			wantCode: InvalidArgument, wantSubs: []string{cores}},
		{name: "not an integer", kind: ComputeKindID, values: map[string]any{cores: 2.5},
			wantCode: InvalidArgument, wantSubs: []string{cores, "2.5"}},
		{name: "not in the enum", kind: ComputeKindID, values: map[string]any{"occi.compute.architecture": "arm"},
			wantCode: InvalidArgument, wantSubs: []string{"occi.compute.architecture", "arm"}},
		{name: "state not in the enum", kind: ComputeKindID, values: map[string]any{state: "running"},
			wantCode: InvalidArgument, wantSubs: []string{state, "running"}},
		{name: "template does not loosen the kind", kind: ComputeKindID, mixins: []string{medium}, values: map[string]any{cores: 0.0},
			wantCode: InvalidArgument, wantSubs: []string{cores}},
		{name: "missing required", kind: StorageKindID,
			wantCode: InvalidArgument, wantSubs: []string{"occi.storage.size", "required"}},
		{name: "null required", kind: StorageKindID, values: map[string]any{"occi.storage.size": nil},
			wantCode: InvalidArgument, wantSubs: []string{"occi.storage.size", "required"}},
		{name: "missing required of a mixin", kind: ComputeKindID, mixins: []string{SSHKeyMixinID},
			wantCode: InvalidArgument, wantSubs: []string{"occi.credentials.ssh.publickey", "required"}},
		{name: "bad address of a mixin", kind: NetworkKindID, mixins: []string{IPNetworkMixinID}, values: map[string]any{"occi.network.gateway": "gw"},
			wantCode: InvalidArgument, wantSubs: []string{"occi.network.gateway", "gw"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set := builtinSet(t, tc.kind, tc.mixins...)
			in := maps.Clone(tc.values)
			got, err := set.Create(tc.values)
			if !reflect.DeepEqual(in, tc.values) {
				t.Errorf("Create modified its argument: %v", tc.values)
			}
			if tc.want == nil {
				wantErr(t, err, tc.wantCode, tc.wantSubs...)
				if got != nil {
					t.Errorf("Create returned %v with an error", got)
				}
				return
			}
			wantNoErr(t, err)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Create(%v)\n got %v\nwant %v", tc.values, got, tc.want)
			}
		})
	}
}

// The CRTP case spelled out: the compute kind's definitions with those of
// the medium template.
func TestCreateWithTemplateMerge(t *testing.T) {
	cs := Builtins()
	compute := findKind(cs, ComputeKindID)
	medium := findMixin(cs, ResourceTplScheme+"medium")
	got, err := Merge(compute.Attributes, medium.Attributes).Create(map[string]any{})
	wantNoErr(t, err)
	if got["occi.compute.cores"] != 2.0 || got["occi.compute.memory"] != 2.0 {
		t.Errorf("cores, memory = %v, %v; want 2, 2", got["occi.compute.cores"], got["occi.compute.memory"])
	}
}

// When several attributes are missing the error must not depend on map
// iteration order: clients and tests compare messages.
func TestCreateErrorIsDeterministic(t *testing.T) {
	set := builtinSet(t, NetworkInterfaceID, IPNetIfaceMixinID)
	_, first := set.Create(nil)
	wantErr(t, first, InvalidArgument, "required")
	for i := 0; i < 50; i++ {
		_, err := set.Create(nil)
		if err == nil || err.Error() != first.Error() {
			t.Fatalf("Create(nil) failed with %q, then with %q", first, err)
		}
	}
}

// A mixin may change a default but not loosen the rules of the kind: a
// default that breaks them must not end up in an entity.
func TestCreateChecksMixinDefaults(t *testing.T) {
	kind := Attributes{"com.example.size": {Type: TypeNumber, Mutable: true, Pattern: json.RawMessage(`{"type":"integer","minimum":1}`)}}
	wantNoErr(t, (&Kind{Category: Category{Scheme: "http://example.com/k#", Term: "k"}, Parent: ResourceKindID, Location: "/k/", Attributes: kind}).Validate())
	for _, dflt := range []any{0.0, "big", 1.5} {
		mixin := Attributes{"com.example.size": {Type: TypeString, Default: dflt}}
		got, err := Merge(kind, mixin).Create(nil)
		if err == nil {
			t.Errorf("mixin default %#v breaks the kind's definition and was used: %v", dflt, got)
			continue
		}
		wantErr(t, err, InvalidArgument, "com.example.size")
	}
}

func TestAttributeSetUpdate(t *testing.T) {
	const (
		cores    = "occi.compute.cores"
		state    = "occi.compute.state"
		message  = "occi.compute.state.message"
		hostname = "occi.compute.hostname"
	)
	computeCurrent := map[string]any{cores: 2.0, hostname: "vm1", state: "inactive", AttrID: "c1"}
	storageCurrent := map[string]any{"occi.storage.size": 10.0, "occi.storage.state": "offline"}
	with := func(m map[string]any, kv ...any) map[string]any {
		out := maps.Clone(m)
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(out, kv[i].(string))
			} else {
				out[kv[i].(string)] = kv[i+1]
			}
		}
		return out
	}
	tests := []struct {
		name     string
		kind     string
		current  map[string]any
		changes  map[string]any
		want     map[string]any
		wantCode Code
		wantSubs []string
	}{
		{name: "no changes", kind: ComputeKindID, current: computeCurrent, changes: nil, want: computeCurrent},
		{name: "mutable changed", kind: ComputeKindID, current: computeCurrent, changes: map[string]any{hostname: "vm2"},
			want: with(computeCurrent, hostname, "vm2")},
		{name: "mutable added", kind: ComputeKindID, current: computeCurrent, changes: map[string]any{"occi.compute.memory": 4.0},
			want: with(computeCurrent, "occi.compute.memory", 4.0)},
		{name: "several changes", kind: ComputeKindID, current: computeCurrent, changes: map[string]any{cores: 8.0, AttrTitle: "t"},
			want: with(computeCurrent, cores, 8.0, AttrTitle, "t")},
		{name: "immutable sent unchanged", kind: ComputeKindID, current: computeCurrent, changes: map[string]any{state: "inactive", AttrID: "c1"},
			want: computeCurrent},
		{name: "the whole rendering echoed with one change", kind: ComputeKindID, current: computeCurrent,
			changes: with(computeCurrent, hostname, "vm3"), want: with(computeCurrent, hostname, "vm3")},
		{name: "null removes an optional attribute", kind: ComputeKindID, current: computeCurrent, changes: map[string]any{hostname: nil},
			want: with(computeCurrent, hostname, nil)},
		{name: "null on an absent optional attribute", kind: ComputeKindID, current: computeCurrent, changes: map[string]any{"occi.compute.memory": nil},
			want: computeCurrent},
		{name: "required changed", kind: StorageKindID, current: storageCurrent, changes: map[string]any{"occi.storage.size": 20.0},
			want: with(storageCurrent, "occi.storage.size", 20.0)},

		{name: "immutable changed", kind: ComputeKindID, current: computeCurrent, changes: map[string]any{state: "active"},
			wantCode: Forbidden, wantSubs: []string{state}},
		{name: "immutable id changed", kind: ComputeKindID, current: computeCurrent, changes: map[string]any{AttrID: "c2"},
			wantCode: Forbidden, wantSubs: []string{AttrID}},
		{name: "immutable added", kind: ComputeKindID, current: computeCurrent, changes: map[string]any{message: "x"},
			wantCode: Forbidden, wantSubs: []string{message}},
		{name: "immutable removed", kind: ComputeKindID, current: computeCurrent, changes: map[string]any{state: nil},
			wantCode: Forbidden, wantSubs: []string{state}},
		{name: "null on required", kind: StorageKindID, current: storageCurrent, changes: map[string]any{"occi.storage.size": nil},
			wantCode: InvalidArgument, wantSubs: []string{"occi.storage.size", "required"}},
		{name: "unknown", kind: ComputeKindID, current: computeCurrent, changes: map[string]any{"com.example.x": "y"},
			wantCode: InvalidArgument, wantSubs: []string{"com.example.x"}},
		{name: "unknown null", kind: ComputeKindID, current: computeCurrent, changes: map[string]any{"com.example.x": nil},
			wantCode: InvalidArgument, wantSubs: []string{"com.example.x"}},
		{name: "wrong type", kind: ComputeKindID, current: computeCurrent, changes: map[string]any{cores: "8"},
			wantCode: InvalidArgument, wantSubs: []string{cores, `"8"`}},
		{name: "pattern mismatch", kind: ComputeKindID, current: computeCurrent, changes: map[string]any{cores: 0.0},
			wantCode: InvalidArgument, wantSubs: []string{cores}},
		{name: "one bad change among good ones", kind: ComputeKindID, current: computeCurrent, changes: map[string]any{hostname: "ok", cores: -1.0},
			wantCode: InvalidArgument, wantSubs: []string{cores}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set := builtinSet(t, tc.kind)
			cur, chg := maps.Clone(tc.current), maps.Clone(tc.changes)
			got, err := set.Update(tc.current, tc.changes)
			if !reflect.DeepEqual(cur, tc.current) || !reflect.DeepEqual(chg, tc.changes) {
				t.Errorf("Update modified its arguments")
			}
			if tc.want == nil {
				wantErr(t, err, tc.wantCode, tc.wantSubs...)
				if got != nil {
					t.Errorf("Update returned %v with an error", got)
				}
				return
			}
			wantNoErr(t, err)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Update(%v)\n got %v\nwant %v", tc.changes, got, tc.want)
			}
		})
	}
}

func TestActionParameters(t *testing.T) {
	tests := []struct {
		action   string
		values   map[string]any
		want     map[string]any
		wantSubs []string // for an InvalidArgument error
	}{
		{"stop", nil, map[string]any{"method": "poweroff"}, nil},
		{"stop", map[string]any{"method": "graceful"}, map[string]any{"method": "graceful"}, nil},
		{"stop", map[string]any{"method": "acpioff"}, map[string]any{"method": "acpioff"}, nil},
		{"stop", map[string]any{"method": nil}, map[string]any{"method": "poweroff"}, nil},
		{"stop", map[string]any{"method": "bogus"}, nil, []string{"method", "bogus"}},
		{"stop", map[string]any{"method": "warm"}, nil, []string{"method", "warm"}},
		{"stop", map[string]any{"method": 1.0}, nil, []string{"method"}},
		{"stop", map[string]any{"force": true}, nil, []string{"force"}},
		{"restart", nil, map[string]any{"method": "cold"}, nil},
		{"restart", map[string]any{"method": "warm"}, map[string]any{"method": "warm"}, nil},
		{"restart", map[string]any{"method": "acpioff"}, nil, []string{"acpioff"}},
		{"suspend", nil, map[string]any{"method": "suspend"}, nil},
		{"suspend", map[string]any{"method": "hibernate"}, map[string]any{"method": "hibernate"}, nil},
		{"save", map[string]any{"name": "snap"}, map[string]any{"method": "hot", "name": "snap"}, nil},
		{"save", map[string]any{"method": "deferred"}, map[string]any{"method": "deferred"}, nil},
		{"save", map[string]any{"name": 3.0}, nil, []string{"name"}},
		{"start", nil, map[string]any{}, nil},
		{"start", map[string]any{"method": "graceful"}, nil, []string{"method"}},
	}
	for _, tc := range tests {
		t.Run(tc.action, func(t *testing.T) {
			a := findAction(Builtins(), ComputeActionScheme+tc.action)
			if a == nil {
				t.Fatalf("no action %s", tc.action)
			}
			got, err := a.Attributes.Check(tc.values)
			if tc.want == nil {
				wantErr(t, err, InvalidArgument, tc.wantSubs...)
				return
			}
			wantNoErr(t, err)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Check(%v) = %v, want %v", tc.values, got, tc.want)
			}
		})
	}
}

func BenchmarkAttributeSetCreate(b *testing.B) {
	set := builtinSet(b, ComputeKindID)
	values := map[string]any{
		"occi.compute.architecture": "x64",
		"occi.compute.cores":        4.0,
		"occi.compute.hostname":     "vm1.example.com",
		"occi.compute.memory":       8.0,
		"occi.compute.share":        2.0,
	}
	if _, err := set.Create(values); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := set.Create(values); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckJSONSchema(b *testing.B) {
	d := compiled(b, &AttributeDef{Type: TypeNumber, Pattern: json.RawMessage(`{"type":"integer","minimum":1,"maximum":64}`)})
	if err := d.Check(8.0); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Check(8.0); err != nil {
			b.Fatal(err)
		}
	}
}
