package occi

import (
	"encoding/json"
	"sync"
)

// Schemes of the OGF infrastructure extension and the CRTP.
const (
	ComputeActionScheme  = OGFScheme + "infrastructure/compute/action#"
	NetworkActionScheme  = OGFScheme + "infrastructure/network/action#"
	StorageActionScheme  = OGFScheme + "infrastructure/storage/action#"
	NetworkMixinScheme   = OGFScheme + "infrastructure/network#"
	NetIfaceMixinScheme  = OGFScheme + "infrastructure/networkinterface#"
	CredentialsScheme    = OGFScheme + "infrastructure/credentials#"
	ComputeMixinScheme   = OGFScheme + "infrastructure/compute#"
	ResourceTplScheme    = OGFScheme + "infrastructure/resource_tpl#"
	ComputeKindID        = InfraScheme + "compute"
	NetworkKindID        = InfraScheme + "network"
	StorageKindID        = InfraScheme + "storage"
	NetworkInterfaceID   = InfraScheme + "networkinterface"
	StorageLinkKindID    = InfraScheme + "storagelink"
	OSTplMixinID         = InfraScheme + "os_tpl"
	ResourceTplMixinID   = InfraScheme + "resource_tpl"
	IPNetworkMixinID     = NetworkMixinScheme + "ipnetwork"
	IPNetIfaceMixinID    = NetIfaceMixinScheme + "ipnetworkinterface"
	SSHKeyMixinID        = CredentialsScheme + "ssh_key"
	UserDataMixinID      = ComputeMixinScheme + "user_data"
	computeStatePattern  = `{"enum":["active","inactive","suspended","error"]}`
	linkStatePattern     = `{"enum":["active","inactive","error"]}`
	ipAddressPattern     = `{"anyOf":[{"format":"ipv4"},{"format":"ipv6"}]}`
	cidrPattern          = `{"pattern":"^([0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}|[0-9A-Fa-f:]+/[0-9]{1,3})$"}`
	allocationPattern    = `{"enum":["dynamic","static"]}`
	nonNegativeIntegerPt = `{"type":"integer","minimum":0}`
)

// The infrastructure actions' identifiers.
const (
	StartActionID   = ComputeActionScheme + "start"
	StopActionID    = ComputeActionScheme + "stop"
	RestartActionID = ComputeActionScheme + "restart"
	SuspendActionID = ComputeActionScheme + "suspend"
	SaveActionID    = ComputeActionScheme + "save"
	UpActionID      = NetworkActionScheme + "up"
	DownActionID    = NetworkActionScheme + "down"
	OnlineActionID  = StorageActionScheme + "online"
	OfflineActionID = StorageActionScheme + "offline"
)

// attr is shorthand for a definition in the tables below.
func attr(t AttributeType, mutable, required bool, description string) *AttributeDef {
	return &AttributeDef{Type: t, Mutable: mutable, Required: required, Description: description}
}

func (d *AttributeDef) withPattern(p string) *AttributeDef {
	d.Pattern = json.RawMessage(p)
	return d
}

func (d *AttributeDef) withDefault(v any) *AttributeDef {
	d.Default = v
	return d
}

func methodParam(description, def string, values ...string) Attributes {
	enum, _ := json.Marshal(map[string]any{"enum": values})
	return Attributes{"method": attr(TypeString, true, false, description).withPattern(string(enum)).withDefault(def)}
}

func buildBuiltins() *Categories {
	stateMessage := func(what string) *AttributeDef {
		return attr(TypeString, false, false, "Human-readable explanation of the current state of the "+what)
	}
	cs := &Categories{}

	// OGF core.
	cs.Kinds = append(cs.Kinds,
		&Kind{
			Category: Category{Scheme: CoreScheme, Term: "entity", Title: "Entity"},
			Attributes: Attributes{
				AttrID:    attr(TypeString, false, false, "Identifier of the entity, assigned by the server unless given at creation"),
				AttrTitle: attr(TypeString, true, false, "Display name of the entity"),
			},
		},
		&Kind{
			Category:   Category{Scheme: CoreScheme, Term: "resource", Title: "Resource"},
			Parent:     EntityKindID,
			Location:   "/resource/",
			Attributes: Attributes{AttrSummary: attr(TypeString, true, false, "Summary description of the resource")},
		},
		&Kind{
			Category: Category{Scheme: CoreScheme, Term: "link", Title: "Link"},
			Parent:   EntityKindID,
			Location: "/link/",
			Attributes: Attributes{
				AttrSource:     attr(TypeString, false, true, "Location of the source resource"),
				AttrTarget:     attr(TypeString, false, true, "Location of the target resource"),
				AttrSourceKind: attr(TypeString, false, false, "Kind of the source resource"),
				AttrTargetKind: attr(TypeString, false, false, "Kind of the target resource"),
			},
		},
	)

	// Infrastructure kinds and their actions.
	cs.Kinds = append(cs.Kinds,
		&Kind{
			Category: Category{Scheme: InfraScheme, Term: "compute", Title: "Compute Resource"},
			Parent:   ResourceKindID,
			Location: "/compute/",
			Attributes: Attributes{
				"occi.compute.architecture":  attr(TypeString, true, false, "CPU architecture of the instance").withPattern(`{"enum":["x86","x64"]}`),
				"occi.compute.cores":         attr(TypeNumber, true, false, "Number of virtual CPU cores assigned to the instance").withPattern(`{"type":"integer","minimum":1}`),
				"occi.compute.hostname":      attr(TypeString, true, false, "Fully qualified DNS hostname for the instance"),
				"occi.compute.share":         attr(TypeNumber, true, false, "Relative number of CPU shares for the instance").withPattern(nonNegativeIntegerPt),
				"occi.compute.memory":        attr(TypeNumber, true, false, "Maximum RAM in gigabytes allocated to the instance").withPattern(`{"type":"number","exclusiveMinimum":0}`),
				"occi.compute.state":         attr(TypeString, false, false, "Current state of the instance").withPattern(computeStatePattern).withDefault("inactive"),
				"occi.compute.state.message": stateMessage("instance"),
				// OCCI 1.1's, kept for its clients.
				"occi.compute.speed": attr(TypeNumber, true, false, "CPU clock speed of the instance in gigahertz (OCCI 1.1; deprecated, not part of OCCI 1.2)").withPattern(`{"type":"number","exclusiveMinimum":0}`),
			},
			Actions: []string{
				StartActionID, StopActionID, RestartActionID,
				SuspendActionID, SaveActionID,
			},
		},
		&Kind{
			Category: Category{Scheme: InfraScheme, Term: "network", Title: "Network Resource"},
			Parent:   ResourceKindID,
			Location: "/network/",
			Attributes: Attributes{
				"occi.network.vlan":          attr(TypeNumber, true, false, "802.1q VLAN identifier").withPattern(`{"type":"integer","minimum":0,"maximum":4095}`),
				"occi.network.label":         attr(TypeString, true, false, "Tag based VLAN label"),
				"occi.network.state":         attr(TypeString, false, false, "Current state of the network").withPattern(linkStatePattern).withDefault("inactive"),
				"occi.network.state.message": stateMessage("network"),
			},
			Actions: []string{UpActionID, DownActionID},
		},
		&Kind{
			Category: Category{Scheme: InfraScheme, Term: "storage", Title: "Storage Resource"},
			Parent:   ResourceKindID,
			Location: "/storage/",
			Attributes: Attributes{
				"occi.storage.size":          attr(TypeNumber, true, true, "Storage size of the instance in gigabytes").withPattern(`{"type":"number","exclusiveMinimum":0}`),
				"occi.storage.state":         attr(TypeString, false, false, "Current status of the instance").withPattern(`{"enum":["online","offline","error"]}`).withDefault("offline"),
				"occi.storage.state.message": stateMessage("storage"),
			},
			Actions: []string{
				OnlineActionID, OfflineActionID,
				// OCCI 1.1's, kept for its clients; a provider without them
				// answers 501.
				StorageActionScheme + "backup", StorageActionScheme + "snapshot", StorageActionScheme + "resize",
			},
		},
		&Kind{
			Category: Category{Scheme: InfraScheme, Term: "networkinterface", Title: "Network Interface Link"},
			Parent:   LinkKindID,
			Location: "/networkinterface/",
			Attributes: Attributes{
				"occi.networkinterface.interface":     attr(TypeString, false, true, "Identifier that relates the link to the link's device interface"),
				"occi.networkinterface.mac":           attr(TypeString, true, false, "MAC address associated with the link's device interface").withPattern(`{"pattern":"^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$"}`),
				"occi.networkinterface.state":         attr(TypeString, false, false, "Current status of the instance").withPattern(linkStatePattern).withDefault("inactive"),
				"occi.networkinterface.state.message": stateMessage("network interface"),
			},
		},
		&Kind{
			Category: Category{Scheme: InfraScheme, Term: "storagelink", Title: "Storage Link"},
			Parent:   LinkKindID,
			Location: "/storagelink/",
			Attributes: Attributes{
				"occi.storagelink.deviceid":      attr(TypeString, true, false, "Device identifier as defined by the OCCI service provider; chosen by the provider when not given"),
				"occi.storagelink.mountpoint":    attr(TypeString, true, false, "Point to where the storage is mounted in the guest OS"),
				"occi.storagelink.state":         attr(TypeString, false, false, "Current status of the instance").withPattern(linkStatePattern).withDefault("inactive"),
				"occi.storagelink.state.message": stateMessage("storage link"),
			},
		},
	)

	cs.Actions = append(cs.Actions,
		&Action{Category: Category{Scheme: ComputeActionScheme, Term: "start", Title: "Start the compute instance"}},
		&Action{Category: Category{Scheme: ComputeActionScheme, Term: "stop", Title: "Stop the compute instance"},
			Attributes: methodParam("Stop method", "poweroff", "graceful", "acpioff", "poweroff")},
		&Action{Category: Category{Scheme: ComputeActionScheme, Term: "restart", Title: "Restart the compute instance"},
			Attributes: methodParam("Restart method", "cold", "graceful", "warm", "cold")},
		&Action{Category: Category{Scheme: ComputeActionScheme, Term: "suspend", Title: "Suspend the compute instance"},
			Attributes: methodParam("Suspend method", "suspend", "hibernate", "suspend")},
		&Action{Category: Category{Scheme: ComputeActionScheme, Term: "save", Title: "Save the compute instance as a new OS template"},
			Attributes: Attributes{
				"method": methodParam("Save method", "hot", "hot", "deferred")["method"],
				"name":   attr(TypeString, true, false, "Name of the new OS template"),
			}},
		&Action{Category: Category{Scheme: NetworkActionScheme, Term: "up", Title: "Activate the network"}},
		&Action{Category: Category{Scheme: NetworkActionScheme, Term: "down", Title: "Deactivate the network"}},
		&Action{Category: Category{Scheme: StorageActionScheme, Term: "online", Title: "Bring the storage online"}},
		&Action{Category: Category{Scheme: StorageActionScheme, Term: "offline", Title: "Take the storage offline"}},
		&Action{Category: Category{Scheme: StorageActionScheme, Term: "backup", Title: "Back up the storage (OCCI 1.1)"}},
		&Action{Category: Category{Scheme: StorageActionScheme, Term: "snapshot", Title: "Take a snapshot of the storage (OCCI 1.1)"}},
		&Action{Category: Category{Scheme: StorageActionScheme, Term: "resize", Title: "Resize the storage (OCCI 1.1)"},
			Attributes: Attributes{"size": attr(TypeNumber, true, true, "New size of the storage in gigabytes").withPattern(`{"type":"number","exclusiveMinimum":0}`)}},
	)

	// Infrastructure mixins.
	cs.Mixins = append(cs.Mixins,
		&Mixin{
			Category: Category{Scheme: NetworkMixinScheme, Term: "ipnetwork", Title: "IP Networking Mixin"},
			Applies:  []string{NetworkKindID},
			Location: "/ipnetwork/",
			Attributes: Attributes{
				"occi.network.address":    attr(TypeString, true, false, "Internet Protocol (IP) network address in CIDR notation").withPattern(cidrPattern),
				"occi.network.gateway":    attr(TypeString, true, false, "Internet Protocol (IP) network address of the gateway").withPattern(ipAddressPattern),
				"occi.network.allocation": attr(TypeString, true, false, "Address allocation mechanism: dynamic (DHCP) or static").withPattern(allocationPattern),
			},
		},
		&Mixin{
			Category: Category{Scheme: NetIfaceMixinScheme, Term: "ipnetworkinterface", Title: "IP Network Interface Mixin"},
			Applies:  []string{NetworkInterfaceID},
			Location: "/ipnetworkinterface/",
			Attributes: Attributes{
				"occi.networkinterface.address":    attr(TypeString, true, true, "Internet Protocol (IP) address of the interface").withPattern(ipAddressPattern),
				"occi.networkinterface.gateway":    attr(TypeString, true, false, "Internet Protocol (IP) address of the gateway").withPattern(ipAddressPattern),
				"occi.networkinterface.allocation": attr(TypeString, true, false, "Address allocation mechanism: dynamic (DHCP) or static").withPattern(allocationPattern),
			},
		},
		&Mixin{
			Category: Category{Scheme: InfraScheme, Term: "os_tpl", Title: "OS Template"},
			Applies:  []string{ComputeKindID},
			Location: "/os_tpl/",
		},
		&Mixin{
			Category: Category{Scheme: InfraScheme, Term: "resource_tpl", Title: "Resource Template"},
			Applies:  []string{ComputeKindID},
			Location: "/resource_tpl/",
		},
		&Mixin{
			Category: Category{Scheme: CredentialsScheme, Term: "ssh_key", Title: "SSH Key Credentials"},
			Applies:  []string{ComputeKindID},
			Location: "/credentials/ssh_key/",
			Attributes: Attributes{
				"occi.credentials.ssh.publickey": attr(TypeString, true, true, "SSH public key to contextualise the instance with"),
			},
		},
		&Mixin{
			Category: Category{Scheme: ComputeMixinScheme, Term: "user_data", Title: "User Data"},
			Applies:  []string{ComputeKindID},
			Location: "/user_data/",
			Attributes: Attributes{
				"occi.compute.userdata": attr(TypeString, true, true, "Contextualisation data (e.g. cloud-init), base64-encoded"),
			},
		},
	)

	// CRTP 1.1 resource templates: small, medium and large are mandatory,
	// the mem_ ones optional; each sets the defaults of cores and memory.
	for _, t := range []struct {
		term   string
		cores  int
		memory float64
		title  string
	}{
		{"small", 1, 1, "Small instance: 1 core, 1 GiB"},
		{"medium", 2, 2, "Medium instance: 2 cores, 2 GiB"},
		{"large", 4, 4, "Large instance: 4 cores, 4 GiB"},
		{"mem_small", 1, 4, "Small memory-heavy instance: 1 core, 4 GiB"},
		{"mem_medium", 2, 8, "Medium memory-heavy instance: 2 cores, 8 GiB"},
		{"mem_large", 4, 16, "Large memory-heavy instance: 4 cores, 16 GiB"},
	} {
		cs.Mixins = append(cs.Mixins, &Mixin{
			Category: Category{Scheme: ResourceTplScheme, Term: t.term, Title: t.title},
			Depends:  []string{ResourceTplMixinID},
			Applies:  []string{ComputeKindID},
			Location: "/templates/resource/" + t.term + "/",
			Attributes: Attributes{
				"occi.compute.cores":  attr(TypeNumber, true, false, "Number of virtual CPU cores").withDefault(float64(t.cores)),
				"occi.compute.memory": attr(TypeNumber, true, false, "RAM in gigabytes").withDefault(t.memory),
			},
		})
	}
	cs.Sort()
	return cs
}

var builtins = sync.OnceValue(func() *Categories {
	cs := buildBuiltins()
	for _, k := range cs.Kinds {
		mustValid(k.Validate())
	}
	for _, m := range cs.Mixins {
		mustValid(m.Validate())
	}
	for _, a := range cs.Actions {
		mustValid(a.Validate())
	}
	return cs
})

func mustValid(err error) {
	if err != nil {
		panic("occi: invalid built-in category: " + err.Error())
	}
}

// builtinAttributes maps every attribute name the OGF built-ins define to
// its definition.
var builtinAttributes = sync.OnceValue(func() map[string]*AttributeDef {
	out := map[string]*AttributeDef{}
	cs := buildBuiltins()
	add := func(as Attributes) {
		for n, d := range as {
			if _, ok := out[n]; !ok {
				out[n] = d
			}
		}
	}
	for _, k := range cs.Kinds {
		add(k.Attributes)
	}
	for _, m := range cs.Mixins {
		add(m.Attributes)
	}
	return out
})

// Builtins returns the OGF core and infrastructure categories and the CRTP
// templates, validated and compiled. Callers share the returned values and
// must not modify them.
func Builtins() *Categories { return builtins() }

// linkEnds are the kinds GFD.224 gives the ends of its link kinds.
var linkEnds = map[string][2]string{
	NetworkInterfaceID: {ComputeKindID, NetworkKindID},
	StorageLinkKindID:  {ComputeKindID, StorageKindID},
}

// LinkEnds returns the kinds a link kind's source and target must be (or
// descend from): GFD.224 has a network interface join a compute to a
// network, and a storage link a compute to a storage. ok is false for a
// kind that fixes none itself; a kind derived from one inherits its ends,
// which the caller finds by asking for each ancestor.
func LinkEnds(kindID string) (source, target string, ok bool) {
	e, ok := linkEnds[kindID]
	return e[0], e[1], ok
}
