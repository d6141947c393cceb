package occi

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
)

func TestBuiltinsShared(t *testing.T) {
	first := Builtins()
	if first == nil || first.Len() == 0 {
		t.Fatal("no built-ins")
	}
	var wg sync.WaitGroup
	got := make([]*Categories, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = Builtins()
		}()
	}
	wg.Wait()
	for i, cs := range got {
		if cs != first {
			t.Errorf("call %d returned %p, want %p", i, cs, first)
		}
	}
}

func TestBuiltinsSorted(t *testing.T) {
	cs := Builtins()
	check := func(what string, ids []string) {
		if !sort.StringsAreSorted(ids) {
			t.Errorf("%s are not sorted by id: %q", what, ids)
		}
		for i := 1; i < len(ids); i++ {
			if ids[i] == ids[i-1] {
				t.Errorf("%s: %s appears twice", what, ids[i])
			}
		}
	}
	var kinds, mixins, actions []string
	for _, k := range cs.Kinds {
		kinds = append(kinds, k.ID())
	}
	for _, m := range cs.Mixins {
		mixins = append(mixins, m.ID())
	}
	for _, a := range cs.Actions {
		actions = append(actions, a.ID())
	}
	check("kinds", kinds)
	check("mixins", mixins)
	check("actions", actions)
	all := cs.IDs()
	seen := map[string]bool{}
	for _, id := range all {
		if seen[id] {
			t.Errorf("%s is both a kind, mixin or action", id)
		}
		seen[id] = true
	}
}

func TestBuiltinsValid(t *testing.T) {
	cs := Builtins()
	for _, id := range cs.IDs() {
		s, _ := SplitID(id)
		if !strings.HasPrefix(s, OGFScheme) {
			t.Errorf("%s is built in but not in the OGF scheme space", id)
		}
	}
	// A fresh copy validates, and so does its JSON rendering read back.
	fresh := buildBuiltins()
	b, err := json.Marshal(fresh)
	if err != nil {
		t.Fatal(err)
	}
	var decoded Categories
	if err := json.Unmarshal(b, &decoded); err != nil {
		t.Fatalf("decode the rendering of the built-ins: %v", err)
	}
	for _, set := range []*Categories{fresh, &decoded} {
		for _, k := range set.Kinds {
			if err := k.Validate(); err != nil {
				t.Errorf("kind %s: %v", k.ID(), err)
			}
		}
		for _, m := range set.Mixins {
			if err := m.Validate(); err != nil {
				t.Errorf("mixin %s: %v", m.ID(), err)
			}
		}
		for _, a := range set.Actions {
			if err := a.Validate(); err != nil {
				t.Errorf("action %s: %v", a.ID(), err)
			}
		}
	}
	if got, want := decoded.IDs(), Builtins().IDs(); !slices.Equal(got, want) {
		t.Errorf("rendering round trip changed the ids:\n%q\n%q", got, want)
	}
}

func TestBuiltinKindHierarchy(t *testing.T) {
	cs := Builtins()
	for _, k := range cs.Kinds {
		if k.ID() == EntityKindID {
			if k.Parent != "" {
				t.Errorf("entity has parent %s", k.Parent)
			}
			continue
		}
		if findKind(cs, k.Parent) == nil {
			t.Errorf("kind %s: parent %q is not built in", k.ID(), k.Parent)
			continue
		}
		seen := map[string]bool{}
		id := k.ID()
		for id != EntityKindID {
			if seen[id] {
				t.Errorf("kind %s: parent cycle through %s", k.ID(), id)
				break
			}
			seen[id] = true
			p := findKind(cs, id)
			if p == nil {
				t.Errorf("kind %s: ancestor %s is not built in", k.ID(), id)
				break
			}
			id = p.Parent
			if id == "" {
				t.Errorf("kind %s: chain ends at %s, not at %s", k.ID(), p.ID(), EntityKindID)
				break
			}
		}
	}
	for id, parent := range map[string]string{
		ResourceKindID:     EntityKindID,
		LinkKindID:         EntityKindID,
		ComputeKindID:      ResourceKindID,
		NetworkKindID:      ResourceKindID,
		StorageKindID:      ResourceKindID,
		NetworkInterfaceID: LinkKindID,
		StorageLinkKindID:  LinkKindID,
	} {
		k := findKind(cs, id)
		if k == nil {
			t.Errorf("kind %s is missing", id)
			continue
		}
		if k.Parent != parent {
			t.Errorf("kind %s: parent %s, want %s", id, k.Parent, parent)
		}
	}
}

func TestBuiltinReferences(t *testing.T) {
	cs := Builtins()
	owners := map[string][]string{} // action id → categories listing it
	for _, k := range cs.Kinds {
		for _, a := range k.Actions {
			owners[a] = append(owners[a], k.ID())
		}
	}
	for _, m := range cs.Mixins {
		for _, a := range m.Actions {
			owners[a] = append(owners[a], m.ID())
		}
		for _, d := range m.Depends {
			if findMixin(cs, d) == nil {
				t.Errorf("mixin %s depends on %s, which is not a built-in mixin", m.ID(), d)
			}
		}
		for _, a := range m.Applies {
			if findKind(cs, a) == nil {
				t.Errorf("mixin %s applies to %s, which is not a built-in kind", m.ID(), a)
			}
		}
	}
	for id, by := range owners {
		if findAction(cs, id) == nil {
			t.Errorf("action %s (listed by %q) is not built in", id, by)
		}
	}
	for _, a := range cs.Actions {
		if n := len(owners[a.ID()]); n != 1 {
			t.Errorf("action %s is listed by %d categories %q, want exactly one", a.ID(), n, owners[a.ID()])
		}
	}
}

func TestBuiltinLocations(t *testing.T) {
	cs := Builtins()
	type owned struct{ id, loc string }
	var locs []owned
	for _, k := range cs.Kinds {
		if k.ID() == EntityKindID {
			if k.Location != "" {
				t.Errorf("entity has location %q; it is not instantiable", k.Location)
			}
			continue
		}
		if k.Location == "" {
			t.Errorf("kind %s has no location", k.ID())
		}
		locs = append(locs, owned{k.ID(), k.Location})
	}
	for _, m := range cs.Mixins {
		if m.Location == "" {
			t.Errorf("mixin %s has no location", m.ID())
		}
		locs = append(locs, owned{m.ID(), m.Location})
	}
	for i, a := range locs {
		if err := validLocation(a.loc); err != nil {
			t.Errorf("%s: %v", a.id, err)
		}
		for _, reserved := range []string{"/-/", "/.well-known/"} {
			if strings.HasPrefix(a.loc, reserved) {
				t.Errorf("%s: location %q is inside the reserved %q", a.id, a.loc, reserved)
			}
		}
		for j, b := range locs {
			switch {
			case i == j:
			case a.loc == b.loc:
				if i < j {
					t.Errorf("%s and %s share the location %q", a.id, b.id, a.loc)
				}
			case strings.HasPrefix(b.loc, a.loc):
				t.Errorf("location %q of %s is inside %q, the location of %s", b.loc, b.id, a.loc, a.id)
			}
		}
	}
}

func TestBuiltinResourceTemplates(t *testing.T) {
	cs := Builtins()
	tests := []struct {
		term          string
		cores, memory float64
	}{
		{"small", 1, 1},
		{"medium", 2, 2},
		{"large", 4, 4},
		{"mem_small", 1, 4},
		{"mem_medium", 2, 8},
		{"mem_large", 4, 16},
	}
	for _, tc := range tests {
		t.Run(tc.term, func(t *testing.T) {
			id := "http://schemas.ogf.org/occi/infrastructure/resource_tpl#" + tc.term
			m := findMixin(cs, id)
			if m == nil {
				t.Fatalf("template %s is missing", id)
			}
			if !slices.Equal(m.Depends, []string{ResourceTplMixinID}) {
				t.Errorf("depends = %q, want [%s]", m.Depends, ResourceTplMixinID)
			}
			if !slices.Contains(m.Applies, ComputeKindID) {
				t.Errorf("applies = %q, want compute", m.Applies)
			}
			for name, want := range map[string]float64{"occi.compute.cores": tc.cores, "occi.compute.memory": tc.memory} {
				d := m.Attributes[name]
				if d == nil {
					t.Errorf("%s not defined", name)
					continue
				}
				if d.Default != want {
					t.Errorf("%s default = %#v, want %v", name, d.Default, want)
				}
				if d.Type != TypeNumber {
					t.Errorf("%s type = %q, want number", name, d.Type)
				}
			}
			// The defaults satisfy the compute kind's definitions.
			got, err := builtinSet(t, ComputeKindID, id).Create(nil)
			wantNoErr(t, err)
			if got["occi.compute.cores"] != tc.cores || got["occi.compute.memory"] != tc.memory {
				t.Errorf("created compute has cores %v, memory %v", got["occi.compute.cores"], got["occi.compute.memory"])
			}
		})
	}
	var terms []string
	for _, m := range cs.Mixins {
		if m.Scheme == ResourceTplScheme {
			terms = append(terms, m.Term)
		}
	}
	if len(terms) != len(tests) {
		t.Errorf("templates in %s: %q, want %d", ResourceTplScheme, terms, len(tests))
	}
}

func TestBuiltinInfrastructureKinds(t *testing.T) {
	cs := Builtins()
	type attrSpec struct {
		name              string
		typ               AttributeType
		mutable, required bool
	}
	str := func(name string) attrSpec { return attrSpec{name, TypeString, true, false} }
	num := func(name string) attrSpec { return attrSpec{name, TypeNumber, true, false} }
	state := func(name string) attrSpec { return attrSpec{name, TypeString, false, false} }
	tests := []struct {
		id       string
		parent   string
		location string
		attrs    []attrSpec
		scheme   string // of the actions
		actions  []string
	}{
		{ComputeKindID, ResourceKindID, "/compute/", []attrSpec{
			str("occi.compute.architecture"), num("occi.compute.cores"), str("occi.compute.hostname"),
			num("occi.compute.share"), num("occi.compute.memory"),
			state("occi.compute.state"), state("occi.compute.state.message"), num("occi.compute.speed"),
		}, "http://schemas.ogf.org/occi/infrastructure/compute/action#", []string{"start", "stop", "restart", "suspend", "save"}},
		{NetworkKindID, ResourceKindID, "/network/", []attrSpec{
			num("occi.network.vlan"), str("occi.network.label"),
			state("occi.network.state"), state("occi.network.state.message"),
		}, "http://schemas.ogf.org/occi/infrastructure/network/action#", []string{"up", "down"}},
		{StorageKindID, ResourceKindID, "/storage/", []attrSpec{
			{"occi.storage.size", TypeNumber, true, true},
			state("occi.storage.state"), state("occi.storage.state.message"),
		}, "http://schemas.ogf.org/occi/infrastructure/storage/action#", []string{"online", "offline", "backup", "snapshot", "resize"}},
		{NetworkInterfaceID, LinkKindID, "/networkinterface/", []attrSpec{
			{"occi.networkinterface.interface", TypeString, false, true},
			str("occi.networkinterface.mac"),
			state("occi.networkinterface.state"), state("occi.networkinterface.state.message"),
		}, "", nil},
		{StorageLinkKindID, LinkKindID, "/storagelink/", []attrSpec{
			{"occi.storagelink.deviceid", TypeString, true, false},
			str("occi.storagelink.mountpoint"),
			state("occi.storagelink.state"), state("occi.storagelink.state.message"),
		}, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			if !strings.HasPrefix(tc.id, "http://schemas.ogf.org/occi/infrastructure#") {
				t.Fatalf("test table: %s", tc.id)
			}
			k := findKind(cs, tc.id)
			if k == nil {
				t.Fatalf("kind %s is missing", tc.id)
			}
			if k.Parent != tc.parent || k.Location != tc.location {
				t.Errorf("parent, location = %s, %s; want %s, %s", k.Parent, k.Location, tc.parent, tc.location)
			}
			if k.Title == "" {
				t.Error("no title")
			}
			var names []string
			for _, a := range tc.attrs {
				names = append(names, a.name)
				d := k.Attributes[a.name]
				if d == nil {
					t.Errorf("attribute %s is missing", a.name)
					continue
				}
				if d.Type != a.typ || d.Mutable != a.mutable || d.Required != a.required {
					t.Errorf("attribute %s: type %s mutable %v required %v; want %s %v %v",
						a.name, d.Type, d.Mutable, d.Required, a.typ, a.mutable, a.required)
				}
				if d.Description == "" {
					t.Errorf("attribute %s has no description", a.name)
				}
			}
			if got := k.Attributes.Names(); !slices.Equal(got, slices.Sorted(slices.Values(names))) {
				t.Errorf("attributes = %q, want %q", got, names)
			}
			var want []string
			for _, term := range tc.actions {
				want = append(want, tc.scheme+term)
			}
			if !slices.Equal(k.Actions, want) {
				t.Errorf("actions = %q, want %q", k.Actions, want)
			}
		})
	}
}

func TestBuiltinActions(t *testing.T) {
	cs := Builtins()
	tests := []struct {
		id      string
		methods []string // allowed values of the method parameter; nil: no parameter
		extra   []string // other parameters
	}{
		{StartActionID, nil, nil},
		{StopActionID, []string{"graceful", "acpioff", "poweroff"}, nil},
		{RestartActionID, []string{"graceful", "warm", "cold"}, nil},
		{SuspendActionID, []string{"hibernate", "suspend"}, nil},
		{SaveActionID, []string{"hot", "deferred"}, []string{"name"}},
		{UpActionID, nil, nil},
		{DownActionID, nil, nil},
		{OnlineActionID, nil, nil},
		{OfflineActionID, nil, nil},
		{StorageActionScheme + "backup", nil, nil},
		{StorageActionScheme + "snapshot", nil, nil},
		{StorageActionScheme + "resize", nil, []string{"size"}},
	}
	if len(cs.Actions) != len(tests) {
		t.Errorf("%d built-in actions, want %d", len(cs.Actions), len(tests))
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			a := findAction(cs, tc.id)
			if a == nil {
				t.Fatalf("action %s is missing", tc.id)
			}
			if a.Title == "" {
				t.Error("no title")
			}
			want := slices.Clone(tc.extra)
			if tc.methods != nil {
				want = append(want, "method")
			}
			slices.Sort(want)
			if got := a.Attributes.Names(); !slices.Equal(got, want) {
				t.Errorf("parameters = %q, want %q", got, want)
			}
			if tc.methods == nil {
				return
			}
			m := a.Attributes["method"]
			if m.Required {
				t.Error("method is required; it has a default")
			}
			if !slices.Contains(tc.methods, m.Default.(string)) {
				t.Errorf("method default %v is not one of %q", m.Default, tc.methods)
			}
			for _, v := range tc.methods {
				wantNoErr(t, m.Check(v))
			}
			wantErr(t, m.Check("bogus"), InvalidArgument, "bogus")
		})
	}
}

func TestBuiltinInfrastructureMixins(t *testing.T) {
	cs := Builtins()
	tests := []struct {
		id       string
		scheme   string
		applies  []string // nil: not checked
		attrs    []string
		required []string
	}{
		{IPNetworkMixinID, "http://schemas.ogf.org/occi/infrastructure/network#", []string{NetworkKindID},
			[]string{"occi.network.address", "occi.network.gateway", "occi.network.allocation"}, nil},
		{IPNetIfaceMixinID, "http://schemas.ogf.org/occi/infrastructure/networkinterface#", nil,
			[]string{"occi.networkinterface.address", "occi.networkinterface.gateway", "occi.networkinterface.allocation"},
			[]string{"occi.networkinterface.address"}},
		{OSTplMixinID, "http://schemas.ogf.org/occi/infrastructure#", nil, nil, nil},
		{ResourceTplMixinID, "http://schemas.ogf.org/occi/infrastructure#", nil, nil, nil},
		{SSHKeyMixinID, "http://schemas.ogf.org/occi/infrastructure/credentials#", []string{ComputeKindID},
			[]string{"occi.credentials.ssh.publickey"}, nil},
		{UserDataMixinID, "http://schemas.ogf.org/occi/infrastructure/compute#", []string{ComputeKindID},
			[]string{"occi.compute.userdata"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			m := findMixin(cs, tc.id)
			if m == nil {
				t.Fatalf("mixin %s is missing", tc.id)
			}
			if m.Scheme != tc.scheme {
				t.Errorf("scheme = %s, want %s", m.Scheme, tc.scheme)
			}
			if tc.applies != nil && !slices.Equal(m.Applies, tc.applies) {
				t.Errorf("applies = %q, want %q", m.Applies, tc.applies)
			}
			if got := m.Attributes.Names(); !slices.Equal(got, slices.Sorted(slices.Values(tc.attrs))) {
				t.Errorf("attributes = %q, want %q", got, tc.attrs)
			}
			for _, name := range tc.required {
				if d := m.Attributes[name]; d == nil || !d.Required {
					t.Errorf("%s is not required", name)
				}
			}
		})
	}
}

// Values the notes give for the infrastructure attributes.
func TestBuiltinAttributeValues(t *testing.T) {
	tests := []struct {
		kind   string
		mixins []string
		name   string
		good   []any
		bad    []any
	}{
		{ComputeKindID, nil, "occi.compute.state", []any{"active", "inactive", "suspended", "error"}, []any{"running", "", "Active"}},
		{ComputeKindID, nil, "occi.compute.architecture", []any{"x86", "x64"}, []any{"arm", "x86_64"}},
		{ComputeKindID, nil, "occi.compute.cores", []any{1.0, 64, json.Number("2")}, []any{0.0, -1.0, 1.5, "2"}},
		{ComputeKindID, nil, "occi.compute.share", []any{0.0, 10.0}, []any{-1.0, 0.5}},
		{ComputeKindID, nil, "occi.compute.memory", []any{0.5, 2.0, 16}, []any{0.0, -2.0, "2"}},
		{NetworkKindID, nil, "occi.network.vlan", []any{0.0, 4095.0}, []any{-1.0, 4096.0, 1.5}},
		{NetworkKindID, nil, "occi.network.state", []any{"active", "inactive", "error"}, []any{"suspended", "up"}},
		{StorageKindID, nil, "occi.storage.size", []any{0.5, 100.0}, []any{0.0, -1.0}},
		{StorageKindID, nil, "occi.storage.state", []any{"online", "offline", "error"}, []any{"active", "degraded"}},
		{NetworkInterfaceID, nil, "occi.networkinterface.state", []any{"active", "inactive", "error"}, []any{"up"}},
		{NetworkInterfaceID, nil, "occi.networkinterface.mac", []any{"00:16:3e:00:00:01", "AA:BB:CC:DD:EE:FF"}, []any{"00:16:3e:00:00", "00-16-3e-00-00-01", "zz:16:3e:00:00:01"}},
		{StorageLinkKindID, nil, "occi.storagelink.state", []any{"active", "inactive", "error"}, []any{"online"}},
		{NetworkKindID, []string{IPNetworkMixinID}, "occi.network.address", []any{"10.0.0.0/24", "2001:db8::/32"}, []any{"10.0.0.1", "net"}},
		{NetworkKindID, []string{IPNetworkMixinID}, "occi.network.gateway", []any{"10.0.0.1", "2001:db8::1"}, []any{"10.0.0.0/24", "gateway", ""}},
		{NetworkKindID, []string{IPNetworkMixinID}, "occi.network.allocation", []any{"dynamic", "static"}, []any{"dhcp"}},
		{NetworkInterfaceID, []string{IPNetIfaceMixinID}, "occi.networkinterface.address", []any{"192.0.2.10", "::1"}, []any{"192.0.2.0/24"}},
		{NetworkInterfaceID, []string{IPNetIfaceMixinID}, "occi.networkinterface.allocation", []any{"dynamic", "static"}, []any{"auto"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := builtinSet(t, tc.kind, tc.mixins...)[tc.name]
			if d == nil {
				t.Fatalf("%s is not defined", tc.name)
			}
			for _, v := range tc.good {
				if err := d.Check(v); err != nil {
					t.Errorf("Check(%#v): %v", v, err)
				}
			}
			for _, v := range tc.bad {
				if err := d.Check(v); err == nil {
					t.Errorf("Check(%#v) accepted", v)
				} else if CodeOf(err) != InvalidArgument {
					t.Errorf("Check(%#v): code %v, want InvalidArgument", v, CodeOf(err))
				}
			}
		})
	}
	state := findKind(Builtins(), ComputeKindID).Attributes["occi.compute.state"]
	if state.Default != "inactive" {
		t.Errorf("compute state default = %#v, want \"inactive\"", state.Default)
	}
	if state.Mutable {
		t.Error("compute state is mutable")
	}
	wantErr(t, state.Check("running"), InvalidArgument, "running")
}
