package libvirt

// Devices: a link is gone only once its device has left the running
// domain, a network or volume a domain uses stays, and a link's state
// follows its compute's.

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/ocni/ocni/backends"
	"github.com/ocni/ocni/occi"
)

// plugged makes the world's links and gets their devices into the running
// domain: the test driver plugs them at a start, not while it runs.
func plugged(t *testing.T, p *Provider, w *world) {
	t.Helper()
	mustCreate(t, p, w.nic)
	mustCreate(t, p, w.disk)
	mustAction(t, p, w.compute, occi.StopActionID, map[string]any{"method": "poweroff"})
	mustAction(t, p, w.compute, occi.StartActionID, nil)
	live := domainDoc(t, p, "vm1", true)
	if len(devicesOf(live, "interface")) != 1 || len(devicesOf(live, "disk")) != 1 {
		t.Fatalf("the running domain lacks the links' devices: %s", live.child("devices"))
	}
}

// TestDetachConfirmed deletes links whose devices are in the running
// domain, which the test driver cannot unplug: the deletes are refused and
// the links stay whole, in the definition, the record and the running
// domain; stopped, the compute lets them go.
func TestDetachConfirmed(t *testing.T) {
	p := newProvider(t)
	w := newWorld(t, p)
	plugged(t, p, w)

	for _, l := range []*backends.Object{w.disk, w.nic} {
		err := p.Delete(t.Context(), l)
		wantCode(t, "Delete("+l.ID+") with its device in the running domain", err, occi.ErrFailedPrecondition)
		if err != nil && !strings.Contains(err.Error(), "not supported") {
			t.Errorf("Delete(%s): %v; want it to carry libvirt's message", l.ID, err)
		}
		stateAttr, _ := stateAttrs(linkFamily(l))
		if got := mustRetrieve(t, p, l); got[stateAttr] != "active" {
			t.Errorf("Retrieve(%s) after a refused Delete = %v, want active", l.ID, got)
		}
	}
	doc := domainDoc(t, p, "vm1", false)
	if len(devicesOf(doc, "interface")) != 1 || len(devicesOf(doc, "disk")) != 1 || len(findMeta(doc).Links) != 2 {
		t.Errorf("a refused Delete changed the definition: %s", doc.child("devices"))
	}
	live := domainDoc(t, p, "vm1", true)
	if len(devicesOf(live, "interface")) != 1 || len(devicesOf(live, "disk")) != 1 {
		t.Errorf("a refused Delete changed the running domain: %s", live.child("devices"))
	}
	// The storage is still in use: it stays.
	wantCode(t, "Delete(storage) under a refused link", p.Delete(t.Context(), w.storage), occi.ErrFailedPrecondition)

	mustAction(t, p, w.compute, occi.StopActionID, map[string]any{"method": "poweroff"})
	for _, l := range []*backends.Object{w.disk, w.nic} {
		if err := p.Delete(t.Context(), l); err != nil {
			t.Errorf("Delete(%s) of a stopped compute: %v", l.ID, err)
		}
	}
	mustAction(t, p, w.compute, occi.StartActionID, nil)
	live = domainDoc(t, p, "vm1", true)
	if len(devicesOf(live, "interface")) != 0 || len(devicesOf(live, "disk")) != 0 {
		t.Errorf("devices back in the running domain after their links went: %s", live.child("devices"))
	}
}

// TestSettleDetach checks the confirmation of a detach against the
// running domain, with libvirt's answers simulated: the test driver
// unplugs nothing.
func TestSettleDetach(t *testing.T) {
	const wait = 500 * time.Millisecond
	gone := func(after int) func() (bool, error) {
		n := 0
		return func() (bool, error) { n++; return n <= after, nil }
	}
	always := func() (bool, error) { return true, nil }
	accepted := func() error { return nil }
	inProgress := golibvirt.Error{Code: uint32(golibvirt.ErrInternalError), Message: "internal error: unable to execute QEMU command 'device_del': Device virtio-disk1 is already in the process of unplug"}
	rejected := golibvirt.Error{Code: uint32(golibvirt.ErrOperationFailed), Message: "operation failed: unplug of device was rejected by the guest"}
	unsupportedErr := golibvirt.Error{Code: uint32(golibvirt.ErrNoSupport), Message: "this function is not supported by the connection driver: virDomainDetachDeviceFlags"}

	for _, c := range []struct {
		what    string
		detach  func() error
		present func() (bool, error)
		want    *occi.Error // nil: success
		says    string
		atOnce  bool
	}{
		{"released at once", accepted, gone(1), nil, "", true},
		{"released after a while", accepted, gone(3), nil, "", false},
		{"accepted, never released", accepted, always, occi.ErrConflict, "still in the running domain", false},
		{"already unplugging, then released", func() error { return inProgress }, gone(2), nil, "", false},
		{"already unplugging, never released", func() error { return inProgress }, always, occi.ErrConflict, "in the process of unplug", false},
		{"rejected by the guest", func() error { return rejected }, always, occi.ErrConflict, "rejected by the guest", true},
		{"cannot unplug", func() error { return unsupportedErr }, always, occi.ErrFailedPrecondition, "not supported", true},
	} {
		start := time.Now()
		err := settleDetach(t.Context(), wait, c.detach, c.present)
		took := time.Since(start)
		switch {
		case c.want == nil && err != nil:
			t.Errorf("%s: %v, want success", c.what, err)
		case c.want != nil && !errors.Is(err, c.want):
			t.Errorf("%s: %v (%s), want %s", c.what, err, occi.CodeOf(err), c.want.Code)
		case c.want != nil && !strings.Contains(err.Error(), c.says):
			t.Errorf("%s: %v; want it to say %q", c.what, err, c.says)
		}
		if c.atOnce && took >= wait {
			t.Errorf("%s: took %s, want an answer without the wait", c.what, took)
		}
		if c.want == occi.ErrConflict && !c.atOnce && took < wait {
			t.Errorf("%s: answered after %s, before the wait of %s", c.what, took, wait)
		}
	}

	// A connection that fails is no Conflict: it is the error as it is.
	lost := errors.New("connection reset")
	if err := settleDetach(t.Context(), wait, func() error { return lost }, always); !errors.Is(err, lost) {
		t.Errorf("a failed call: %v, want %v", err, lost)
	}
	stateErr := errors.New("state unreadable")
	if err := settleDetach(t.Context(), wait, accepted, func() (bool, error) { return false, stateErr }); !errors.Is(err, stateErr) {
		t.Errorf("an unreadable domain: %v, want %v", err, stateErr)
	}
}

// TestDeleteInUse deletes networks and volumes that domains use, through
// a link of ours, through a device of a domain that is not ocni's, or
// through a device only the running domain still has: each is refused,
// naming the user, and stays.
func TestDeleteInUse(t *testing.T) {
	p := newProvider(t)
	w := newWorld(t, p)
	mustCreate(t, p, w.nic)
	mustCreate(t, p, w.disk)
	c := conn(t, p)

	// Through the links of a compute.
	err := p.Delete(t.Context(), w.network)
	wantCode(t, "Delete(network) with a network interface on it", err, occi.ErrFailedPrecondition)
	if err != nil && !strings.Contains(err.Error(), w.nic.Location) {
		t.Errorf("Delete(network): %v; want it to name %s", err, w.nic.Location)
	}
	err = p.Delete(t.Context(), w.storage)
	wantCode(t, "Delete(storage) with a storage link to it", err, occi.ErrFailedPrecondition)
	if err != nil && !strings.Contains(err.Error(), w.disk.Location) {
		t.Errorf("Delete(storage): %v; want it to name %s", err, w.disk.Location)
	}

	// Through a domain that is not ocni's.
	other := networkObject("net2", nil)
	data := storageObject("vol2", 1)
	mustCreate(t, p, other)
	mustCreate(t, p, data)
	foreign := `<domain type='test'><name>someone-else</name><memory>65536</memory><os><type>hvm</type></os><devices>` +
		`<interface type='network'><mac address='52:54:00:00:00:09'/><source network='` + testNetwork("net2") + `'/></interface>` +
		`<disk type='volume' device='disk'><source pool='default' volume='` + testVolumeName("vol2") + `'/><target dev='vdb' bus='virtio'/></disk>` +
		`</devices></domain>`
	dom, err := c.DomainDefineXMLFlags(foreign, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []*backends.Object{other, data} {
		err := p.Delete(t.Context(), o)
		wantCode(t, "Delete("+o.ID+") used by a domain that is not ocni's", err, occi.ErrFailedPrecondition)
		if err != nil && !strings.Contains(err.Error(), "someone-else") {
			t.Errorf("Delete(%s): %v; want it to name the domain someone-else", o.ID, err)
		}
		if _, err := p.Retrieve(t.Context(), o); err != nil {
			t.Errorf("Retrieve(%s) after a refused Delete: %v", o.ID, err)
		}
	}
	if err := c.DomainUndefine(dom); err != nil {
		t.Fatal(err)
	}
	for _, o := range []*backends.Object{other, data} {
		if err := p.Delete(t.Context(), o); err != nil {
			t.Errorf("Delete(%s) once no domain uses it: %v", o.ID, err)
		}
	}

	// Through the running domain only: its definition and record lost
	// the disk and the interface, the guest still has them.
	mustAction(t, p, w.compute, occi.StopActionID, map[string]any{"method": "poweroff"})
	mustAction(t, p, w.compute, occi.StartActionID, nil)
	d, err := p.lookupDomain(c, "vm1")
	if err != nil {
		t.Fatal(err)
	}
	d.def.child("devices").remove(func(k *node) bool { return k.name == "disk" || k.name == "interface" })
	d.meta.Links = nil
	setMeta(d.def, d.meta)
	if _, err := p.define(c, d.def); err != nil {
		t.Fatal(err)
	}
	for _, o := range []*backends.Object{w.network, w.storage} {
		err := p.Delete(t.Context(), o)
		wantCode(t, "Delete("+o.ID+") that only the running domain uses", err, occi.ErrFailedPrecondition)
		if err != nil && !strings.Contains(err.Error(), w.compute.Location) {
			t.Errorf("Delete(%s): %v; want it to name %s", o.ID, err, w.compute.Location)
		}
	}
	mustAction(t, p, w.compute, occi.StopActionID, map[string]any{"method": "poweroff"})
	for _, o := range []*backends.Object{w.network, w.storage} {
		if err := p.Delete(t.Context(), o); err != nil {
			t.Errorf("Delete(%s) once the domain stopped: %v", o.ID, err)
		}
	}
}

// TestLinkStatesFollowTheCompute walks a compute through its actions and
// reads its links after each, as the engine does: their state is the one
// the compute's state implies.
func TestLinkStatesFollowTheCompute(t *testing.T) {
	p := newProvider(t)
	w := newWorld(t, p)
	mustAction(t, p, w.compute, occi.StopActionID, map[string]any{"method": "poweroff"})
	mustCreate(t, p, w.nic)
	mustCreate(t, p, w.disk)

	check := func(after, want, says string) {
		t.Helper()
		for _, l := range []*backends.Object{w.nic, w.disk} {
			stateAttr, msgAttr := stateAttrs(linkFamily(l))
			got := mustRetrieve(t, p, l)
			msg, _ := got[msgAttr].(string)
			if got[stateAttr] != want || !strings.Contains(msg, says) || (says == "" && got[msgAttr] != nil) {
				t.Errorf("Retrieve(%s) after %s = %s %q, want %s %q", l.ID, after, got[stateAttr], msg, want, says)
			}
		}
	}
	check("create on a stopped compute", "inactive", "")
	mustAction(t, p, w.compute, occi.StartActionID, nil)
	check("start", "active", "")
	mustAction(t, p, w.compute, occi.SuspendActionID, map[string]any{"method": "suspend"})
	check("suspend", "inactive", "suspended")
	mustAction(t, p, w.compute, occi.StartActionID, nil)
	check("start from suspended", "active", "")
	mustAction(t, p, w.compute, occi.StopActionID, map[string]any{"method": "graceful"})
	check("stop", "inactive", "")
	mustAction(t, p, w.compute, occi.StartActionID, nil)
	mustAction(t, p, w.compute, occi.SuspendActionID, map[string]any{"method": "hibernate"})
	check("hibernate", "inactive", "suspended")
	mustAction(t, p, w.compute, occi.StartActionID, nil)
	check("start from hibernated", "active", "")

	// Behind the driver's back too.
	c := conn(t, p)
	dom, err := c.DomainLookupByName(testDomain("vm1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.DomainSuspend(dom); err != nil {
		t.Fatal(err)
	}
	check("a pause behind the driver's back", "inactive", "suspended")
	if err := c.DomainDestroy(dom); err != nil {
		t.Fatal(err)
	}
	check("a destroy behind the driver's back", "inactive", "")
}

// A storage link without a deviceid gets the next free disk name, reported
// back, and recorded in the domain.
func TestStorageLinkWithoutDeviceID(t *testing.T) {
	p := newProvider(t)
	w := newWorld(t, p)
	mustCreate(t, p, w.disk) // vdc
	auto := linkObject(occi.StorageLinkKindID, "auto1", w.compute, w.storage, map[string]any{})
	delete(auto.Attributes, attrDeviceID)
	got := mustCreate(t, p, auto)
	if got[attrDeviceID] != "vdb" {
		t.Errorf("Create without a deviceid reports %v, want vdb (vda is the root's, vdc taken)", got[attrDeviceID])
	}
	auto2 := linkObject(occi.StorageLinkKindID, "auto2", w.compute, w.storage, map[string]any{})
	delete(auto2.Attributes, attrDeviceID)
	if got := mustCreate(t, p, auto2); got[attrDeviceID] != "vdd" {
		t.Errorf("the second one reports %v, want vdd", got[attrDeviceID])
	}
	var devs []string
	for _, dk := range domainDoc(t, p, "vm1", false).path("devices").children("disk") {
		devs = append(devs, dk.child("target").get("dev"))
	}
	slices.Sort(devs)
	if fmt.Sprint(devs) != "[vdb vdc vdd]" {
		t.Errorf("disks in the definition: %v", devs)
	}
}
