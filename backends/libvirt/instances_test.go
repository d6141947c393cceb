package libvirt

// Ownership: what each object is tagged with, what List reports, and what
// a crash leaves.

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/ocni/ocni/backends"
	"github.com/ocni/ocni/backends/backendtest"
	"github.com/ocni/ocni/occi"
)

// instanceObjects are one instance's objects of the two-instance test.
type instanceObjects struct {
	instance                  string
	compute, network, storage *backends.Object
	nic, disk                 *backends.Object
	all, links, resources     []*backends.Object
}

func newInstanceObjects(instance, suffix, tpl string) *instanceObjects {
	o := &instanceObjects{instance: instance}
	o.compute = templated("vm-"+suffix, tpl)
	o.network = networkObject("net-"+suffix, nil)
	o.storage = storageObject("vol-"+suffix, 1)
	o.nic = linkObject(occi.NetworkInterfaceID, "nic-"+suffix, o.compute, o.network, nil)
	o.disk = linkObject(occi.StorageLinkKindID, "disk-"+suffix, o.compute, o.storage, map[string]any{attrDeviceID: "vdb"})
	o.resources = []*backends.Object{o.network, o.storage, o.compute}
	o.links = []*backends.Object{o.nic, o.disk}
	o.all = append(slices.Clone(o.resources), o.links...)
	for _, x := range o.all {
		x.Instance = instance
	}
	return o
}

func (o *instanceObjects) ids() []string {
	var ids []string
	for _, x := range o.all {
		ids = append(ids, x.ID)
	}
	slices.Sort(ids)
	return ids
}

// TestTwoInstancesShareAHost runs two servers' providers on one libvirt
// host (test:///default, which every connection shares), with entities of
// the same ids: neither name clashes, each List sees its own instance's
// objects only, and the orphan sweep of one (Delete of every id its List
// gives) leaves the other's objects as they were.
func TestTwoInstancesShareAHost(t *testing.T) {
	track(t)
	suffix := backendtest.NewID()[:8]
	options := map[string]any{OptURI: DefaultURI, OptStoragePool: "default-pool", OptImagePool: "default-pool"}
	// Both servers call their provider "lab": names are no tag.
	p1, p2 := openOn(t, DefaultURI, options), openOn(t, DefaultURI, options)
	t.Cleanup(func() { _ = p1.Close(); _ = p2.Close() })

	// An image both make their computes from.
	c := conn(t, p1)
	sp, err := c.StoragePoolLookupByName("default-pool")
	if err != nil {
		t.Fatal(err)
	}
	imgName := "img-" + suffix + ".qcow2"
	img, err := c.StorageVolCreateXML(sp, `<volume><name>`+imgName+`</name><capacity>1048576</capacity><target><format type="qcow2"/></target></volume>`, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.StorageVolDelete(img, 0) })
	tpl := TemplateScheme("lab") + "img-" + suffix

	a := newInstanceObjects("instance-a-"+suffix, suffix, tpl)
	b := newInstanceObjects("instance-b-"+suffix, suffix, tpl)
	t.Cleanup(func() {
		for _, o := range []*instanceObjects{a, b} {
			for _, x := range append(slices.Clone(o.links), o.compute, o.network, o.storage) {
				if err := p2.Delete(context.Background(), x); err != nil && !errors.Is(err, occi.ErrNotFound) {
					t.Errorf("cleanup: Delete(%s %s of %s): %v", x.Kind, x.ID, o.instance, err)
				}
			}
		}
	})
	for _, made := range []struct {
		p *Provider
		o *instanceObjects
	}{{p1, a}, {p2, b}} {
		for _, x := range made.o.all {
			if _, err := made.p.Create(t.Context(), x); err != nil {
				t.Fatalf("Create(%s %s) of %s: %v", x.Kind, x.ID, made.o.instance, err)
			}
		}
	}

	// Each instance lists its own, through either connection.
	for _, o := range []*instanceObjects{a, b} {
		for _, p := range []*Provider{p1, p2} {
			ids, err := p.List(t.Context(), o.instance)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids, o.ids()) {
				t.Errorf("List(%s) = %v, want %v", o.instance, ids, o.ids())
			}
		}
	}
	if ids, err := p1.List(t.Context(), "instance-c-"+suffix); err != nil || len(ids) != 0 {
		t.Errorf("List of an instance with nothing = %v, %v", ids, err)
	}
	if rootVolumesOf(t, p1, a.instance, a.compute.ID)[0] == rootVolumesOf(t, p1, b.instance, b.compute.ID)[0] {
		t.Error("the two computes share a root volume")
	}

	// The orphan sweep of instance a: Delete of every id its List gives,
	// with the id and instance only, pass after pass as the engine retries
	// what a domain still uses.
	for pass := 0; pass < 3; pass++ {
		ids, err := p1.List(t.Context(), a.instance)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			_ = p1.Delete(t.Context(), &backends.Object{ID: id, Instance: a.instance})
		}
	}
	if ids, err := p1.List(t.Context(), a.instance); err != nil || len(ids) != 0 {
		t.Errorf("List(%s) after its orphans went = %v, %v", a.instance, ids, err)
	}
	if ids, err := p2.List(t.Context(), b.instance); err != nil || !slices.Equal(ids, b.ids()) {
		t.Errorf("List(%s) after the other instance's orphans went = %v, %v; want %v", b.instance, ids, err, b.ids())
	}
	for _, x := range b.all {
		if _, err := p2.Retrieve(t.Context(), x); err != nil {
			t.Errorf("Retrieve(%s %s) of %s after the other instance's objects went: %v", x.Kind, x.ID, b.instance, err)
		}
	}
	if roots := rootVolumesOf(t, p2, b.instance, b.compute.ID); len(roots) != 1 {
		t.Errorf("root volumes of %s's compute after the other instance's went: %v", b.instance, roots)
	}
}

// TestUndefinedDomainKeepsItsRoot undefines a compute's domain behind the
// driver's back: its root volume is reported under the compute's id, which
// the engine never deletes while the entity exists, and goes with the
// compute's Delete.
func TestUndefinedDomainKeepsItsRoot(t *testing.T) {
	p := imageProvider(t, "images")
	vm := templated("vm1", debianTpl)
	mustCreate(t, p, vm)
	root := rootVolume(t, p, "vm1")
	c := conn(t, p)
	dom, err := c.DomainLookupByName(testDomain("vm1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.DomainDestroy(dom); err != nil {
		t.Fatal(err)
	}
	if err := c.DomainUndefine(dom); err != nil {
		t.Fatal(err)
	}

	if ids := list(t, p); !slices.Equal(ids, []string{"vm1"}) {
		t.Errorf("List with the domain undefined = %v, want [vm1]: the root volume is the compute's", ids)
	}
	if ids, err := p.List(t.Context(), backendtest.OtherInstance); err != nil || len(ids) != 0 {
		t.Errorf("List of another instance = %v, %v", ids, err)
	}
	_, err = p.Retrieve(t.Context(), vm)
	wantCode(t, "Retrieve(compute) with its domain undefined", err, occi.ErrNotFound)
	if _, _, ok := volumeInfo(t, p, "default", root); !ok {
		t.Fatal("the root volume went with the domain")
	}

	// Another instance's orphan sweep does not reach it.
	wantCode(t, "Delete(id vm1) of another instance", p.Delete(t.Context(), &backends.Object{ID: "vm1", Instance: backendtest.OtherInstance}), occi.ErrNotFound)
	if _, _, ok := volumeInfo(t, p, "default", root); !ok {
		t.Fatal("another instance's Delete took the root volume")
	}

	// The compute's Delete takes it.
	if err := p.Delete(t.Context(), vm); err != nil {
		t.Fatalf("Delete(compute) with its domain undefined: %v", err)
	}
	if _, _, ok := volumeInfo(t, p, "default", root); ok {
		t.Error("the root volume is still there after the compute's Delete")
	}
	wantCode(t, "Delete(compute) again", p.Delete(t.Context(), vm), occi.ErrNotFound)
	if ids := list(t, p); len(ids) != 0 {
		t.Errorf("List after the Delete = %v", ids)
	}
}

// TestLeftoverRootDoesNotBlock leaves what a crash during the copy of an
// image leaves, a root volume without its domain: it is listed under the
// compute's id, and making the compute again succeeds and takes it away.
func TestLeftoverRootDoesNotBlock(t *testing.T) {
	p := imageProvider(t, "images")
	leftover := leftoverRoot(t, p, "vm1")
	if ids := list(t, p); !slices.Equal(ids, []string{"vm1"}) {
		t.Errorf("List with a leftover root volume = %v, want [vm1]", ids)
	}

	vm := templated("vm1", debianTpl)
	if got := mustCreate(t, p, vm); got[attrComputeState] != "active" {
		t.Errorf("Create over a leftover root volume = %v, want active", got)
	}
	if _, _, ok := volumeInfo(t, p, "default", leftover); ok {
		t.Error("the leftover root volume is still there")
	}
	root := findMeta(domainDoc(t, p, "vm1", false)).Root
	if roots := rootVolumes(t, p, "vm1"); !slices.Equal(roots, []string{root}) {
		t.Errorf("root volumes of vm1 = %v, want the one its domain uses, %s", roots, root)
	}
	if err := p.Delete(t.Context(), vm); err != nil {
		t.Fatal(err)
	}
	if roots := rootVolumes(t, p, "vm1"); len(roots) != 0 {
		t.Errorf("root volumes after the Delete = %v", roots)
	}

	// A leftover that appears beside a compute (the copy a crash cut, of
	// an id made again since) goes with the compute's Delete.
	mustCreate(t, p, vm)
	leftoverRoot(t, p, "vm1")
	if ids := list(t, p); !slices.Equal(ids, []string{"vm1"}) {
		t.Errorf("List with a compute and a leftover = %v, want [vm1]", ids)
	}
	if err := p.Delete(t.Context(), &backends.Object{ID: "vm1", Instance: testInstance}); err != nil {
		t.Fatal(err)
	}
	if roots := rootVolumes(t, p, "vm1"); len(roots) != 0 || hasDomain(t, p, "vm1") {
		t.Errorf("after Delete(id vm1): root volumes %v, domain there %v", roots, hasDomain(t, p, "vm1"))
	}
}

// leftoverRoot makes the root volume of the test compute id as a crash
// between the copy and the domain's definition leaves it, and returns its
// name.
func leftoverRoot(t *testing.T, p *Provider, id string) string {
	t.Helper()
	c := conn(t, p)
	img, err := p.resolveImage(t.Context(), c, debianTpl)
	if err != nil {
		t.Fatal(err)
	}
	name, err := newRootName(testInstance, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.makeRoot(c, img, name); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestBusyVolume checks the waits on a volume libvirt is still filling:
// the test driver fills none, so libvirt's answer is simulated.
func TestBusyVolume(t *testing.T) {
	busy := golibvirt.Error{Code: uint32(golibvirt.ErrOperationInvalid), Message: "Requested operation is not valid: volume 'ocni-root-x' is still being allocated."}
	other := golibvirt.Error{Code: uint32(golibvirt.ErrOperationInvalid), Message: "Requested operation is not valid: storage pool 'default' is not active"}
	if !isBusy(busy) || isBusy(other) || isBusy(errors.New("volume is still being allocated")) {
		t.Errorf("isBusy: %v, %v; want true, false", isBusy(busy), isBusy(other))
	}

	calls := 0
	err := retryBusy(t.Context(), 5*time.Second, func() error {
		calls++
		if calls < 3 {
			return busy
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("retryBusy over a volume busy twice = %v after %d calls, want nil after 3", err, calls)
	}

	calls = 0
	start := time.Now()
	err = retryBusy(t.Context(), 600*time.Millisecond, func() error { calls++; return busy })
	if !isBusy(err) || calls < 2 || time.Since(start) > 5*time.Second {
		t.Errorf("retryBusy over a volume always busy = %v after %d calls and %s, want libvirt's error after the wait", err, calls, time.Since(start))
	}

	calls = 0
	err = retryBusy(t.Context(), 5*time.Second, func() error { calls++; return other })
	if !errors.Is(err, other) || calls != 1 {
		t.Errorf("retryBusy over another refusal = %v after %d calls, want it at once", err, calls)
	}
}

// TestNames checks that names read back to their owner.
func TestNames(t *testing.T) {
	for _, id := range []string{"vm1", "a-b", "x-root", "0123456789ab-c", "root-deadbeef-x", "a.b_c~d"} {
		tag, got, root, ok := volumeOwner(volumeName("inst", id))
		if !ok || tag != instanceTag("inst") || got != id || root {
			t.Errorf("volumeOwner(volumeName(inst, %q)) = %q, %q, %v, %v", id, tag, got, root, ok)
		}
		name, err := newRootName("inst", id)
		if err != nil {
			t.Fatal(err)
		}
		tag, got, root, ok = volumeOwner(name)
		if !ok || tag != instanceTag("inst") || got != id || !root {
			t.Errorf("volumeOwner(%q) = %q, %q, %v, %v; want the root volume of %q", name, tag, got, root, ok, id)
		}
	}
	for _, name := range []string{"ocni-vm1", "ocni-vm1-root", "debian.qcow2", "ocni-root-0123456789ab-vm1", "ocni-0123456789AB-vm1", "ocni-0123456789ab-"} {
		if _, _, _, ok := volumeOwner(name); ok {
			t.Errorf("volumeOwner(%q) reads an owner", name)
		}
	}
	if instanceTag("a") == instanceTag("b") || domainName("a", "x") == domainName("b", "x") {
		t.Error("two instances name an id alike")
	}
	// Ids that cannot be part of a name are refused before libvirt is
	// asked.
	p := &Provider{name: "lab"}
	for _, id := range []string{"a/b", "", "a b", "é"} {
		_, err := p.Create(t.Context(), computeObject(id, nil))
		wantCode(t, "Create(id "+id+")", err, occi.ErrInvalidArgument)
	}
}
