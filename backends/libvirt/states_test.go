package libvirt

// Compute states: Retrieve reports the state libvirt gives the domain now,
// whoever brought it there.

import (
	"strconv"
	"strings"
	"testing"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/ocni/ocni/backends"
	"github.com/ocni/ocni/occi"
)

// stateDomain is a domain of the tests' instance in a node file, in the
// libvirt state runstate (the test driver's <test:runstate>).
func stateDomain(id string, runstate golibvirt.DomainState) *node {
	m := &meta{ID: id, Instance: testInstance, Location: "/compute/" + id, Kind: occi.ComputeKindID, Provider: "lab", Attrs: map[string]string{}}
	return elem("domain", "type", "test", "xmlns:test", "http://libvirt.org/schemas/domain/test/1.0").add(
		textElem("name", testDomain(id)),
		elem("metadata").add(m.element()),
		textElem("memory", "65536", "unit", "KiB"),
		elem("os").add(textElem("type", "hvm", "arch", "x86_64")),
		textElem("test:runstate", strconv.Itoa(int(runstate))),
	)
}

// TestStateIsLibvirtsNow opens a host whose domains are already in every
// state the test driver can give them, as a server finds its domains
// after a crash, and reads them.
func TestStateIsLibvirtsNow(t *testing.T) {
	track(t)
	node, err := parseXML(nodeXML(""))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		id      string
		st      golibvirt.DomainState
		state   string
		message string // what the message says; "" for none
	}{
		{"running", golibvirt.DomainRunning, "active", ""},
		// Paused with no reason (the test driver gives none, as QEMU after
		// a KVM internal error): an error that says so. One the client
		// paused has reason user, and reads suspended (TestStateMapping).
		{"paused", golibvirt.DomainPaused, "error", "no reason given"},
		{"shutoff", golibvirt.DomainShutoff, "inactive", ""},
		{"crashed", golibvirt.DomainCrashed, "error", "crashed"},
		{"crashed2", golibvirt.DomainCrashed, "error", "crashed"},
		{"crashed3", golibvirt.DomainCrashed, "error", "crashed"},
		{"pmsuspended", golibvirt.DomainPmsuspended, "suspended", "suspended by the guest"},
	}
	for _, c := range cases {
		node.add(stateDomain(c.id, c.st))
	}
	p := openOn(t, hostURI(t, node.String()), nil)
	t.Cleanup(func() { _ = p.Close() })

	for _, c := range cases {
		got := mustRetrieve(t, p, computeObject(c.id, nil))
		msg, _ := got[attrComputeMessage].(string)
		if got[attrComputeState] != c.state || (c.message == "" && got[attrComputeMessage] != nil) || !strings.Contains(msg, c.message) {
			t.Errorf("Retrieve(%s) = %v %q, want %s %q", c.id, got[attrComputeState], msg, c.state, c.message)
		}
	}

	// A crashed domain is still active for libvirt: start takes it down
	// and boots it again.
	crashed := computeObject("crashed", nil)
	if got := mustAction(t, p, crashed, occi.StartActionID, nil); got[attrComputeState] != "active" {
		t.Errorf("start of a crashed domain = %v, want active", got)
	}
	if got := mustRetrieve(t, p, crashed); got[attrComputeState] != "active" || got[attrComputeMessage] != nil {
		t.Errorf("Retrieve after the start of a crashed domain = %v, want active", got)
	}
	// Stop lets it go, whatever the method: nothing in it hears a request.
	if got := mustAction(t, p, computeObject("crashed3", nil), occi.StopActionID, map[string]any{"method": "graceful"}); got[attrComputeState] != "inactive" {
		t.Errorf("stop of a crashed domain = %v, want inactive", got)
	}
	// Its Delete leaves no transient domain behind.
	if err := p.Delete(t.Context(), computeObject("crashed2", nil)); err != nil {
		t.Fatal(err)
	}
	if hasDomain(t, p, "crashed2") {
		t.Error("the Delete of a crashed domain left it running as a transient domain")
	}

	// And a change behind the driver's back shows at once.
	c := conn(t, p)
	dom, err := c.DomainLookupByName(testDomain("paused"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.DomainResume(dom); err != nil {
		t.Fatal(err)
	}
	if got := mustRetrieve(t, p, computeObject("paused", nil)); got[attrComputeState] != "active" {
		t.Errorf("Retrieve after a resume behind the driver's back = %v, want active", got)
	}
}

// TestComputeStateTable checks the states the test driver cannot reach,
// above all those in which libvirt holds a domain paused on its way to
// running: a guest QEMU is still starting is no suspended compute.
func TestComputeStateTable(t *testing.T) {
	for _, c := range []struct {
		st      golibvirt.DomainState
		reason  int32
		state   string
		message string
	}{
		{golibvirt.DomainPaused, int32(golibvirt.DomainPausedStartingUp), "active", "starting up"},
		{golibvirt.DomainPaused, int32(golibvirt.DomainPausedMigration), "active", "migrates"},
		{golibvirt.DomainPaused, int32(golibvirt.DomainPausedSnapshot), "active", "snapshot"},
		{golibvirt.DomainPaused, int32(golibvirt.DomainPausedDump), "active", "dump"},
		{golibvirt.DomainPaused, int32(golibvirt.DomainPausedShuttingDown), "active", "shutting down"},
		{golibvirt.DomainPaused, int32(golibvirt.DomainPausedUser), "suspended", ""},
		// QEMU stops a guest on a KVM internal error; libvirt gives no
		// reason: an error, with a message, not a silent suspended.
		{golibvirt.DomainPaused, int32(golibvirt.DomainPausedUnknown), "error", "KVM internal error"},
		{golibvirt.DomainPaused, int32(golibvirt.DomainPausedIoerror), "suspended", "I/O error"},
		{golibvirt.DomainPaused, int32(golibvirt.DomainPausedCrashed), "error", "crashed"},
		{golibvirt.DomainCrashed, int32(golibvirt.DomainCrashedPanicked), "error", "reason panicked"},
		{golibvirt.DomainCrashed, int32(golibvirt.DomainCrashedUnknown), "error", "reason unknown"},
		{golibvirt.DomainShutoff, int32(golibvirt.DomainShutoffCrashed), "error", "crashed"},
		{golibvirt.DomainShutoff, int32(golibvirt.DomainShutoffFailed), "error", "failed to start"},
		{golibvirt.DomainShutoff, int32(golibvirt.DomainShutoffDestroyed), "inactive", ""},
		{golibvirt.DomainRunning, int32(golibvirt.DomainRunningBooted), "active", ""},
	} {
		state, msg := computeState(c.st, c.reason)
		if state != c.state || !strings.Contains(msg, c.message) || (c.message == "" && msg != "") {
			t.Errorf("computeState(%d, %d) = %q, %q; want %q, %q", c.st, c.reason, state, msg, c.state, c.message)
		}
	}
}

// domain_type forces the type of the domains defined, when the hypervisor
// offers it (qemu under TCG where /dev/kvm cannot boot guests); another is
// refused at start, naming what is offered.
func TestDomainTypeOption(t *testing.T) {
	track(t)
	uri := hostURI(t, nodeXML(""))
	raw := map[string]any{OptURI: uri, OptDomainType: "kvm"}
	if _, err := backends.Open("lab", DriverName, raw); err == nil || !strings.Contains(err.Error(), `offers no domains of type "kvm"`) || !strings.Contains(err.Error(), "test") {
		t.Errorf("domain_type kvm on the test driver: %v", err)
	}
	p := openOn(t, uri, map[string]any{OptDomainType: "test"})
	t.Cleanup(func() { _ = p.Close() })
	if got := p.domainType("x86_64"); got != "test" {
		t.Errorf("domain type %q", got)
	}
}
