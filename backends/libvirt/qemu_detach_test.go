package libvirt

// The detach of a disk from a real QEMU guest that does not release it,
// where this host has /dev/kvm (make test prepares qemu:///system there).

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ocni/ocni/backends"
	"github.com/ocni/ocni/backends/backendtest"
	"github.com/ocni/ocni/occi"
)

// TestQEMUDetachUnconfirmed hot-plugs a disk into a running QEMU guest
// that runs no operating system, so that nothing in it answers the unplug
// request: libvirt reports the detach done after its own wait while the
// disk is still in the running domain. The storage link's Delete must
// answer Conflict and keep the link whole, and the storage stay; stopped,
// the compute lets both go.
func TestQEMUDetachUnconfirmed(t *testing.T) {
	track(t)
	const uri = "qemu:///system"
	if _, err := os.Stat("/dev/kvm"); err != nil {
		t.Skip("no /dev/kvm on this host: the QEMU tests run only where KVM is")
	}
	raw, err := backends.Open("lab", DriverName, map[string]any{OptURI: uri, OptRefreshInterval: "0s"})
	if err != nil {
		t.Fatalf("opening a libvirt provider on %s: %v (scripts/libvirt-qemu-setup.sh, as root, prepares this host)", uri, err)
	}
	p := raw.(*Provider)
	t.Cleanup(func() { _ = p.Close() })
	defer func(was time.Duration) { detachWait = was }(detachWait)
	detachWait = time.Second

	id := "detach-" + backendtest.NewID()[:8]
	vol := storageObject(id+"-vol", 1.0/64)
	vm := computeObject(id, map[string]any{attrMemory: 0.125})
	disk := linkObject(occi.StorageLinkKindID, id+"-disk", vm, vol, map[string]any{attrDeviceID: "vdb"})
	t.Cleanup(func() {
		ctx := context.Background()
		if _, err := p.Action(ctx, vm, occi.StopActionID, map[string]any{"method": "poweroff"}); err != nil &&
			!errors.Is(err, occi.ErrNotFound) && !errors.Is(err, occi.ErrFailedPrecondition) {
			t.Errorf("cleanup: stop: %v", err)
		}
		for _, o := range []*backends.Object{disk, vm, vol} {
			if err := p.Delete(ctx, o); err != nil && !errors.Is(err, occi.ErrNotFound) {
				t.Errorf("cleanup: Delete(%s): %v", o.ID, err)
			}
		}
	})

	mustCreate(t, p, vol)
	if got := mustCreate(t, p, vm); got[attrComputeState] != "active" {
		t.Fatalf("Create(compute) = %v, want active", got)
	}
	mustCreate(t, p, disk)
	if got := mustRetrieve(t, p, disk); got["occi.storagelink.state"] != "active" {
		t.Fatalf("the disk was not hot-plugged into the running guest: %v", got)
	}

	start := time.Now()
	err = p.Delete(t.Context(), disk)
	took := time.Since(start)
	wantCode(t, "Delete(storagelink) of a disk the guest does not release", err, occi.ErrConflict)
	if err != nil && !strings.Contains(err.Error(), "still in the running domain") {
		t.Errorf("Delete(storagelink): %v; want it to say the disk is still in the running domain", err)
	}
	t.Logf("the refused detach took %s", took.Round(time.Millisecond))
	if got := mustRetrieve(t, p, disk); got["occi.storagelink.state"] != "active" {
		t.Errorf("Retrieve(storagelink) after the refused Delete = %v, want active", got)
	}
	if disks := devicesOf(domainDoc(t, p, id, false), "disk"); len(disks) != 1 {
		t.Errorf("the refused Delete changed the definition: %d disks", len(disks))
	}
	if l := findMeta(domainDoc(t, p, id, false)).link(disk.ID); l == nil {
		t.Error("the refused Delete dropped the link's record")
	}
	wantCode(t, "Delete(storage) the guest still has", p.Delete(t.Context(), vol), occi.ErrFailedPrecondition)

	mustAction(t, p, vm, occi.StopActionID, map[string]any{"method": "poweroff"})
	for _, o := range []*backends.Object{disk, vm, vol} {
		if err := p.Delete(t.Context(), o); err != nil {
			t.Errorf("Delete(%s) once the compute stopped: %v", o.ID, err)
		}
	}
}
