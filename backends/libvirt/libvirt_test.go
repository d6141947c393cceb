package libvirt

// These tests run against a real libvirtd: its test driver, through the
// socket, with a private simulated host per provider (a node XML file in
// the test's temporary directory). A test that cannot reach libvirtd fails
// and says how to start it; scripts/libvirtd-test-setup.sh installs and
// starts it on Debian.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/ocni/ocni/backends"
	"github.com/ocni/ocni/backends/backendtest"
	"github.com/ocni/ocni/engine"
	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/registry"
	"github.com/ocni/ocni/store"
)

// The tally of the tests that used libvirtd, printed by TestMain so that
// the log of a run shows how many ran against the daemon.
var (
	tallyRan, tallyFailed, tallySkipped atomic.Int64
)

func TestMain(m *testing.M) {
	code := m.Run()
	if ran := tallyRan.Load(); ran > 0 || tallySkipped.Load() > 0 {
		fmt.Printf("libvirt: %d tests run against libvirtd on %s (test:///<node XML> per test), %d of them failed, %d skipped\n",
			ran, DefaultSocket, tallyFailed.Load(), tallySkipped.Load())
	}
	os.Exit(code)
}

// track counts the test in the tally when it ends.
func track(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		switch {
		case t.Skipped():
			tallySkipped.Add(1)
		case t.Failed():
			tallyRan.Add(1)
			tallyFailed.Add(1)
		default:
			tallyRan.Add(1)
		}
	})
}

// testVolume is a volume a simulated host starts with.
type testVolume struct {
	name     string
	capacity uint64 // bytes
	format   string // qcow2, raw…; empty to leave it to libvirt
}

// testPools are the pools of every simulated host: default holds the
// storages' volumes, images is there for the image_pool option.
var testPools = []string{"default", "images"}

// nodeXML is a simulated host with active directory pools named default
// and images; the volumes given are in the pool named imagesIn.
func nodeXML(imagesIn string, volumes ...testVolume) string {
	root := elem("node").add(
		elem("cpu").add(
			textElem("nodes", "1"), textElem("sockets", "1"), textElem("cores", "4"), textElem("threads", "1"),
			textElem("active", "4"), textElem("mhz", "2000"), textElem("model", "x86_64"),
		),
		textElem("memory", "16777216"),
	)
	for _, name := range testPools {
		pool := elem("pool", "type", "dir").add(
			textElem("name", name),
			elem("target").add(textElem("path", "/var/lib/ocni-test/"+name)),
		)
		if name == imagesIn {
			for _, v := range volumes {
				vol := elem("volume", "type", "file").add(
					textElem("name", v.name),
					textElem("capacity", strconv.FormatUint(v.capacity, 10), "unit", "bytes"),
					textElem("allocation", "0", "unit", "bytes"),
				)
				if v.format != "" {
					vol.add(elem("target").add(elem("format", "type", v.format)))
				}
				pool.add(vol)
			}
		}
		root.add(pool)
	}
	return root.String() + "\n"
}

// privateURI writes a node file and returns the URI of a private host.
func privateURI(t *testing.T) string {
	t.Helper()
	return hostURI(t, nodeXML(""))
}

// hostURI writes a node file and returns the URI of the private host it
// describes.
func hostURI(t *testing.T, node string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "node.xml")
	if err := os.WriteFile(path, []byte(node), 0o644); err != nil {
		t.Fatal(err)
	}
	return "test://" + path
}

// open opens a provider on a private simulated host; it fails the test,
// saying how to start libvirtd, when the daemon does not answer.
func open(t *testing.T, options map[string]any) *Provider {
	t.Helper()
	return openOn(t, privateURI(t), options)
}

// openOn opens a provider on the host of a URI.
func openOn(t *testing.T, uri string, options map[string]any) *Provider {
	t.Helper()
	raw := map[string]any{OptURI: uri}
	for k, v := range options {
		raw[k] = v
	}
	p, err := backends.Open("lab", DriverName, raw)
	if err != nil {
		t.Fatalf("opening a libvirt provider: %v", err)
	}
	return p.(*Provider)
}

// newProvider is open for a test of this file, closed at its end.
func newProvider(t *testing.T) *Provider {
	t.Helper()
	track(t)
	p := open(t, nil)
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// conn is the provider's own connection: the private host exists only
// for it, so changes "behind the provider's back" go through it too.
func conn(t *testing.T, p *Provider) *golibvirt.Libvirt {
	t.Helper()
	c, err := p.client(context.Background(), "test")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testInstance is the instance of the tests' objects: backendtest's, which
// DefaultObject gives them.
const testInstance = backendtest.Instance

// The libvirt names of the tests' objects.
func testDomain(id string) string     { return domainName(testInstance, id) }
func testNetwork(id string) string    { return networkName(testInstance, id) }
func testVolumeName(id string) string { return volumeName(testInstance, id) }

// lookupDomain finds the domain of a test object.
func (p *Provider) lookupDomain(conn *golibvirt.Libvirt, id string) (*domain, error) {
	return p.findDomain(conn, testInstance, id)
}

// lookupVolume finds the volume of a test storage.
func (p *Provider) lookupVolume(conn *golibvirt.Libvirt, id string) (golibvirt.StorageVol, error) {
	return p.findVolume(conn, testInstance, id)
}

// list is List of the tests' instance.
func list(t *testing.T, p *Provider) []string {
	t.Helper()
	ids, err := p.List(t.Context(), testInstance)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return ids
}

func TestLibvirtdAnswers(t *testing.T) {
	track(t)
	c := golibvirt.NewWithDialer(dialerFor(DefaultSocket))
	if err := c.ConnectToURI(golibvirt.ConnectURI(DefaultURI)); err != nil {
		t.Fatalf("libvirtd does not answer on %s: %v\nThe libvirt backend's tests need it: %s.", DefaultSocket, err, howToStart)
	}
	defer func() { _ = c.Disconnect() }()
	v, err := c.ConnectGetLibVersion()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("libvirtd %d.%d.%d on %s", v/1000000, v/1000%1000, v%1000, DefaultSocket)
}

func TestConformance(t *testing.T) {
	backendtest.Run(t, backendtest.Harness{
		New: func(t *testing.T) backends.Provider {
			track(t)
			return open(t, nil)
		},
	})
}

// Objects for the mapping tests.

func computeObject(id string, attrs map[string]any) *backends.Object {
	o := backendtest.DefaultObject(occi.ComputeKindID, id)
	for k, v := range attrs {
		o.Attributes[k] = v
	}
	return o
}

func networkObject(id string, attrs map[string]any) *backends.Object {
	o := backendtest.DefaultObject(occi.NetworkKindID, id)
	if _, ok := attrs[attrAddress]; ok {
		o.Mixins = []string{occi.IPNetworkMixinID}
	}
	for k, v := range attrs {
		o.Attributes[k] = v
	}
	return o
}

func storageObject(id string, size float64) *backends.Object {
	o := backendtest.DefaultObject(occi.StorageKindID, id)
	o.Attributes[attrSize] = size
	return o
}

func linkObject(kindID, id string, src, dst *backends.Object, attrs map[string]any) *backends.Object {
	o := backendtest.DefaultObject(kindID, id)
	backendtest.SetEnds(o, src.Location, src.Kind, dst.Location, dst.Kind)
	for k, v := range attrs {
		o.Attributes[k] = v
	}
	return o
}

func mustCreate(t *testing.T, p *Provider, o *backends.Object) map[string]any {
	t.Helper()
	attrs, err := p.Create(t.Context(), o)
	if err != nil {
		t.Fatalf("Create(%s %s): %v", o.Kind, o.ID, err)
	}
	return attrs
}

func mustRetrieve(t *testing.T, p *Provider, o *backends.Object) map[string]any {
	t.Helper()
	attrs, err := p.Retrieve(t.Context(), o)
	if err != nil {
		t.Fatalf("Retrieve(%s %s): %v", o.Kind, o.ID, err)
	}
	return attrs
}

func mustAction(t *testing.T, p *Provider, o *backends.Object, action string, params map[string]any) map[string]any {
	t.Helper()
	attrs, err := p.Action(t.Context(), o, action, params)
	if err != nil {
		t.Fatalf("Action %s(%s): %v", action, o.ID, err)
	}
	return attrs
}

// domainDoc reads a domain's definition: the persistent one, or the
// running one.
func domainDoc(t *testing.T, p *Provider, id string, live bool) *node {
	t.Helper()
	c := conn(t, p)
	dom, err := c.DomainLookupByName(testDomain(id))
	if err != nil {
		t.Fatalf("domain %s: %v", testDomain(id), err)
	}
	flags := golibvirt.DomainXMLInactive
	if live {
		flags = 0
	}
	x, err := c.DomainGetXMLDesc(dom, flags)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := parseXML(x)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func networkDoc(t *testing.T, p *Provider, id string) *node {
	t.Helper()
	c := conn(t, p)
	n, err := c.NetworkLookupByName(testNetwork(id))
	if err != nil {
		t.Fatalf("network %s: %v", testNetwork(id), err)
	}
	x, err := networkXML(c, n)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := parseXML(x)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func wantCode(t *testing.T, what string, err error, want *occi.Error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s = %v (%s), want %s", what, err, occi.CodeOf(err), want.Code)
	}
}

func TestDomainDefinition(t *testing.T) {
	p := newProvider(t)
	o := computeObject("web1", map[string]any{
		attrCores: 2.0, attrMemory: 1.5, attrArch: "x64", attrHostname: "web1.example.org",
		occi.AttrTitle: "Web server\nnumber one",
	})
	attrs := mustCreate(t, p, o)
	if attrs[attrComputeState] != "active" || attrs[attrArch] != "x64" {
		t.Errorf("Create = %v, want state active and architecture x64", attrs)
	}
	doc := domainDoc(t, p, "web1", false)
	if got := doc.child("name").textContent(); got != testDomain("web1") || !strings.HasPrefix(got, "ocni-") || !strings.HasSuffix(got, "-web1") {
		t.Errorf("name = %q, want %s", got, testDomain("web1"))
	}
	if got := doc.child("vcpu").textContent(); got != "2" {
		t.Errorf("vcpu = %q, want 2", got)
	}
	mem := doc.child("memory")
	if mem.textContent() != "1572864" || mem.get("unit") != "KiB" {
		t.Errorf("memory = %s, want 1572864 KiB (1.5 GiB)", mem)
	}
	if got := doc.path("os", "type").get("arch"); got != "x86_64" {
		t.Errorf("os/type arch = %q, want x86_64", got)
	}
	if got := doc.child("title").textContent(); got != "Web server number one" {
		t.Errorf("title = %q", got)
	}
	m := findMeta(doc)
	if m == nil {
		t.Fatalf("no ocni metadata in %s", doc)
	}
	if m.ID != "web1" || m.Instance != testInstance || m.Location != "/compute/web1" || m.Kind != occi.ComputeKindID || m.Provider != "lab" {
		t.Errorf("metadata = %+v", m)
	}
	if m.Attrs[attrHostname] != "web1.example.org" {
		t.Errorf("metadata hostname = %q", m.Attrs[attrHostname])
	}
	if !strings.Contains(doc.child("metadata").String(), `xmlns:ocni="`+MetadataNS+`"`) {
		t.Errorf("metadata is not in the ocni namespace: %s", doc.child("metadata"))
	}

	// An update rewrites the definition.
	changed := o.Clone()
	changed.Attributes[attrCores] = 4.0
	changed.Attributes[attrMemory] = 0.5
	changed.Attributes[attrHostname] = "www.example.org"
	if _, err := p.Update(t.Context(), o, changed); err != nil {
		t.Fatal(err)
	}
	doc = domainDoc(t, p, "web1", false)
	if doc.child("vcpu").textContent() != "4" || doc.child("memory").textContent() != "524288" || doc.child("currentMemory").textContent() != "524288" {
		t.Errorf("after Update: vcpu %s, memory %s, currentMemory %s; want 4, 524288, 524288",
			doc.child("vcpu"), doc.child("memory"), doc.child("currentMemory"))
	}
	if got := findMeta(doc).Attrs[attrHostname]; got != "www.example.org" {
		t.Errorf("after Update: hostname %q", got)
	}

	// Values libvirt cannot take are refused before anything is made.
	for _, bad := range []map[string]any{{attrCores: 1.5}, {attrCores: 0.0}, {attrMemory: -1.0}, {attrArch: "arm"}} {
		_, err := p.Create(t.Context(), computeObject("bad", bad))
		wantCode(t, fmt.Sprintf("Create with %v", bad), err, occi.ErrInvalidArgument)
	}
	if _, err := conn(t, p).DomainLookupByName(testDomain("bad")); err == nil {
		t.Error("a refused compute left a domain behind")
	}
}

func TestNetworkDefinition(t *testing.T) {
	p := newProvider(t)

	dyn := networkObject("lan", map[string]any{attrAddress: "10.55.0.0/24", attrAllocation: "dynamic", attrLabel: "blue", attrVLAN: 12.0})
	attrs := mustCreate(t, p, dyn)
	if attrs[attrNetworkState] != "active" || attrs[attrGateway] != "10.55.0.1" {
		t.Errorf("Create = %v, want active with gateway 10.55.0.1", attrs)
	}
	doc := networkDoc(t, p, "lan")
	if doc.child("forward") != nil {
		t.Errorf("network has a <forward>: it must be isolated\n%s", doc)
	}
	ip := doc.child("ip")
	if ip == nil || ip.get("address") != "10.55.0.1" || ip.get("netmask") != "255.255.255.0" {
		t.Fatalf("ip = %v, want 10.55.0.1/255.255.255.0", ip)
	}
	r := ip.path("dhcp", "range")
	if r == nil || r.get("start") != "10.55.0.2" || r.get("end") != "10.55.0.254" {
		t.Errorf("dhcp range = %v, want 10.55.0.2 to 10.55.0.254", r)
	}
	m := findMeta(doc)
	if m == nil || m.ID != "lan" || m.Attrs[attrLabel] != "blue" || m.Attrs[attrVLAN] != "12" {
		t.Errorf("metadata = %+v", m)
	}

	static := networkObject("dmz", map[string]any{attrAddress: "192.168.77.0/24", attrGateway: "192.168.77.254", attrAllocation: "static"})
	attrs = mustCreate(t, p, static)
	if _, ok := attrs[attrGateway]; ok {
		t.Errorf("Create reported a gateway the client gave: %v", attrs)
	}
	ip = networkDoc(t, p, "dmz").child("ip")
	if ip == nil || ip.get("address") != "192.168.77.254" || ip.child("dhcp") != nil {
		t.Errorf("static network ip = %v, want 192.168.77.254 without dhcp", ip)
	}

	v6 := networkObject("v6", map[string]any{attrAddress: "fd00:55::/64", attrAllocation: "dynamic"})
	mustCreate(t, p, v6)
	ip = networkDoc(t, p, "v6").child("ip")
	if ip == nil || ip.get("family") != "ipv6" || ip.get("address") != "fd00:55::1" || ip.get("prefix") != "64" || ip.path("dhcp", "range") == nil {
		t.Errorf("IPv6 network ip = %v", ip)
	}

	plain := networkObject("plain", nil)
	mustCreate(t, p, plain)
	if doc := networkDoc(t, p, "plain"); doc.child("ip") != nil || doc.child("forward") != nil {
		t.Errorf("a network without ipnetwork has ip or forward: %s", doc)
	}

	// An update changes the persistent definition.
	changed := dyn.Clone()
	changed.Attributes[attrAddress] = "10.66.0.0/16"
	changed.Attributes[attrLabel] = "green"
	// The new settings of an active network apply when it next comes up;
	// the test driver never applies them, so this one is down.
	mustAction(t, p, dyn, occi.DownActionID, nil)
	if _, err := p.Update(t.Context(), dyn, changed); err != nil {
		t.Fatal(err)
	}
	mustAction(t, p, changed, occi.UpActionID, nil)
	doc = networkDoc(t, p, "lan")
	if ip := doc.child("ip"); ip == nil || ip.get("address") != "10.66.0.1" || ip.get("netmask") != "255.255.0.0" {
		t.Errorf("after Update: ip = %v", ip)
	}
	if got := findMeta(doc).Attrs[attrLabel]; got != "green" {
		t.Errorf("after Update: label %q", got)
	}

	for _, bad := range []map[string]any{
		{attrAllocation: "dynamic"},
		{attrAddress: "10.0.0.0"},
		{attrAddress: "10.0.0.0/24", attrGateway: "10.0.1.1"},
		{attrAddress: "10.0.0.0/31", attrAllocation: "dynamic"},
	} {
		_, err := p.Create(t.Context(), networkObject("bad", bad))
		wantCode(t, fmt.Sprintf("Create network with %v", bad), err, occi.ErrInvalidArgument)
	}

	// down and up.
	if got := mustAction(t, p, plain, occi.DownActionID, nil)[attrNetworkState]; got != "inactive" {
		t.Errorf("down: state %v", got)
	}
	_, err := p.Action(t.Context(), plain, occi.DownActionID, nil)
	wantCode(t, "down twice", err, occi.ErrFailedPrecondition)
	if got := mustAction(t, p, plain, occi.UpActionID, nil)[attrNetworkState]; got != "active" {
		t.Errorf("up: state %v", got)
	}
}

func TestVolume(t *testing.T) {
	p := newProvider(t)
	o := storageObject("data1", 2.5)
	attrs := mustCreate(t, p, o)
	if attrs[attrStorageState] != "online" {
		t.Errorf("Create = %v, want online", attrs)
	}
	if _, ok := attrs[attrSize]; ok {
		t.Errorf("Create reported the size asked for: %v", attrs)
	}
	c := conn(t, p)
	sp, err := c.StoragePoolLookupByName("default")
	if err != nil {
		t.Fatal(err)
	}
	vol, err := c.StorageVolLookupByName(sp, testVolumeName("data1"))
	if err != nil {
		t.Fatalf("volume %s: %v", testVolumeName("data1"), err)
	}
	if _, capacity, _, err := c.StorageVolGetInfo(vol); err != nil || capacity != 2684354560 {
		t.Errorf("capacity = %d (%v), want 2684354560 (2.5 GiB)", capacity, err)
	}

	smaller := o.Clone()
	smaller.Attributes[attrSize] = 1.0
	_, err = p.Update(t.Context(), o, smaller)
	wantCode(t, "shrinking Update", err, occi.ErrFailedPrecondition)
	larger := o.Clone()
	larger.Attributes[attrSize] = 4.0
	_, err = p.Update(t.Context(), o, larger)
	wantCode(t, "growing Update on the test driver, which cannot resize", err, occi.ErrUnimplemented)

	_, err = p.Action(t.Context(), o, occi.OnlineActionID, nil)
	wantCode(t, "online", err, occi.ErrUnimplemented)

	_, err = p.Create(t.Context(), storageObject("nosize", 0))
	wantCode(t, "Create with size 0", err, occi.ErrInvalidArgument)
}

// world is a compute linked to a network and a storage.
type world struct {
	compute, network, storage, nic, disk *backends.Object
}

func newWorld(t *testing.T, p *Provider) *world {
	t.Helper()
	w := &world{
		compute: computeObject("vm1", nil),
		network: networkObject("net1", map[string]any{attrAddress: "10.77.0.0/24", attrAllocation: "dynamic"}),
		storage: storageObject("vol1", 1),
	}
	mustCreate(t, p, w.network)
	mustCreate(t, p, w.storage)
	mustCreate(t, p, w.compute)
	w.nic = linkObject(occi.NetworkInterfaceID, "nic1", w.compute, w.network, map[string]any{attrMAC: "52:54:00:AB:CD:01"})
	w.disk = linkObject(occi.StorageLinkKindID, "disk1", w.compute, w.storage, map[string]any{attrDeviceID: "vdc", attrMountpoint: "/data"})
	return w
}

func TestInterfaceAndDisk(t *testing.T) {
	p := newProvider(t)
	w := newWorld(t, p)

	nic := mustCreate(t, p, w.nic)
	if nic[attrMAC] != "52:54:00:ab:cd:01" {
		t.Errorf("Create(nic) mac = %v", nic[attrMAC])
	}
	mustCreate(t, p, w.disk)

	doc := domainDoc(t, p, "vm1", false)
	ifaces := doc.path("devices").children("interface")
	if len(ifaces) != 1 || ifaces[0].get("type") != "network" || ifaces[0].child("source").get("network") != testNetwork("net1") ||
		ifaces[0].child("mac").get("address") != "52:54:00:ab:cd:01" {
		t.Errorf("interfaces = %v", ifaces)
	}
	disks := doc.path("devices").children("disk")
	if len(disks) != 1 || disks[0].child("target").get("dev") != "vdc" || disks[0].child("target").get("bus") != "virtio" ||
		disks[0].child("source").get("volume") != testVolumeName("vol1") || disks[0].child("source").get("pool") != "default" {
		t.Errorf("disks = %v", disks)
	}
	m := findMeta(doc)
	if l := m.link("nic1"); l == nil || l.Network != testNetwork("net1") || l.MAC != "52:54:00:ab:cd:01" || l.Target != w.network.Location {
		t.Errorf("record of nic1 = %+v", l)
	}
	if l := m.link("disk1"); l == nil || l.Volume != testVolumeName("vol1") || l.Dev != "vdc" || l.Mountpoint != "/data" {
		t.Errorf("record of disk1 = %+v", l)
	}

	// The test driver cannot hot-plug: the devices wait in the
	// definition of the running domain until its next start.
	if got := mustRetrieve(t, p, w.nic); got["occi.networkinterface.state"] != "inactive" || got["occi.networkinterface.state.message"] == nil {
		t.Errorf("Retrieve(nic) on the running domain = %v, want inactive with a message", got)
	}
	mustAction(t, p, w.compute, occi.StopActionID, map[string]any{"method": "poweroff"})
	mustAction(t, p, w.compute, occi.StartActionID, nil)
	for _, l := range []*backends.Object{w.nic, w.disk} {
		stateAttr, msgAttr := stateAttrs(linkFamily(l))
		if got := mustRetrieve(t, p, l); got[stateAttr] != "active" || got[msgAttr] != nil {
			t.Errorf("Retrieve(%s) after a restart = %v, want active", l.ID, got)
		}
	}
	live := domainDoc(t, p, "vm1", true)
	if len(live.path("devices").children("interface")) != 1 || len(live.path("devices").children("disk")) != 1 {
		t.Errorf("the running domain lacks its devices: %s", live.child("devices"))
	}

	// A second device of the same name is refused.
	dup := linkObject(occi.StorageLinkKindID, "disk2", w.compute, w.storage, map[string]any{attrDeviceID: "vdc"})
	_, err := p.Create(t.Context(), dup)
	wantCode(t, "Create(disk2) on a taken vdc", err, occi.ErrConflict)

	// Changing the disk's name replaces the device, which must first leave
	// the running domain: the test driver cannot unplug, so it is refused
	// and nothing changes.
	moved := w.disk.Clone()
	moved.Attributes[attrDeviceID] = "vdd"
	moved.Attributes[attrMountpoint] = "/srv"
	_, err = p.Update(t.Context(), w.disk, moved)
	wantCode(t, "Update(disk1) to vdd while the domain runs with vdc", err, occi.ErrFailedPrecondition)
	if disks := domainDoc(t, p, "vm1", false).path("devices").children("disk"); len(disks) != 1 || disks[0].child("target").get("dev") != "vdc" {
		t.Errorf("after a refused Update(disk1) disks = %v", disks)
	}
	// Stopped, the domain takes the change; the mountpoint is only
	// recorded.
	mustAction(t, p, w.compute, occi.StopActionID, map[string]any{"method": "poweroff"})
	if _, err := p.Update(t.Context(), w.disk, moved); err != nil {
		t.Fatal(err)
	}
	mustAction(t, p, w.compute, occi.StartActionID, nil)
	doc = domainDoc(t, p, "vm1", false)
	if disks := doc.path("devices").children("disk"); len(disks) != 1 || disks[0].child("target").get("dev") != "vdd" {
		t.Errorf("after Update(disk1) disks = %v", disks)
	}
	if l := findMeta(doc).link("disk1"); l.Mountpoint != "/srv" || l.Dev != "vdd" {
		t.Errorf("after Update(disk1) record = %+v", l)
	}

	// The storage cannot go while it is attached.
	err = p.Delete(t.Context(), w.storage)
	wantCode(t, "Delete(storage) while attached", err, occi.ErrFailedPrecondition)

	// Nor can the devices leave the running domain: the links stay until
	// it is stopped.
	for _, l := range []*backends.Object{w.nic, moved} {
		wantCode(t, "Delete("+l.ID+") while the domain runs with its device", p.Delete(t.Context(), l), occi.ErrFailedPrecondition)
	}
	mustAction(t, p, w.compute, occi.StopActionID, map[string]any{"method": "poweroff"})
	for _, l := range []*backends.Object{w.nic, moved} {
		if err := p.Delete(t.Context(), l); err != nil {
			t.Fatalf("Delete(%s): %v", l.ID, err)
		}
	}
	mustAction(t, p, w.compute, occi.StartActionID, nil)
	doc = domainDoc(t, p, "vm1", false)
	if devs := doc.child("devices"); len(devs.children("interface")) != 0 || len(devs.children("disk")) != 0 {
		t.Errorf("after Delete the definition has devices: %s", devs)
	}
	if m := findMeta(doc); len(m.Links) != 0 {
		t.Errorf("after Delete records remain: %+v", m.Links)
	}
	_, err = p.Retrieve(t.Context(), w.nic)
	wantCode(t, "Retrieve(nic) after Delete", err, occi.ErrNotFound)

	// Links to what is not on this provider are refused.
	elsewhere := linkObject(occi.NetworkInterfaceID, "nic9", w.compute, networkObject("nowhere", nil), nil)
	_, err = p.Create(t.Context(), elsewhere)
	wantCode(t, "Create(nic to a network not on the provider)", err, occi.ErrFailedPrecondition)
	orphanLink := linkObject(occi.StorageLinkKindID, "disk9", computeObject("nowhere", nil), w.storage, map[string]any{attrDeviceID: "vdb"})
	_, err = p.Create(t.Context(), orphanLink)
	wantCode(t, "Create(disk on a compute not on the provider)", err, occi.ErrFailedPrecondition)
	badDev := linkObject(occi.StorageLinkKindID, "disk8", w.compute, w.storage, map[string]any{attrDeviceID: "/dev/vdb"})
	_, err = p.Create(t.Context(), badDev)
	wantCode(t, "Create(disk named /dev/vdb)", err, occi.ErrInvalidArgument)
}

func TestLinksOnAStoppedCompute(t *testing.T) {
	p := newProvider(t)
	w := newWorld(t, p)
	mustAction(t, p, w.compute, occi.StopActionID, map[string]any{"method": "graceful"})
	nic := linkObject(occi.NetworkInterfaceID, "nic2", w.compute, w.network, nil)
	got := mustCreate(t, p, nic)
	if got["occi.networkinterface.state"] != "inactive" || !macPattern.MatchString(fmt.Sprint(got[attrMAC])) {
		t.Errorf("Create(nic) on a stopped compute = %v, want inactive with a MAC address", got)
	}
	mustAction(t, p, w.compute, occi.StartActionID, nil)
	if got := mustRetrieve(t, p, nic); got["occi.networkinterface.state"] != "active" {
		t.Errorf("Retrieve(nic) after start = %v", got)
	}
}

func TestConcurrentLinksOnOneCompute(t *testing.T) {
	p := newProvider(t)
	w := newWorld(t, p)
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			nic := linkObject(occi.NetworkInterfaceID, fmt.Sprintf("nic-%d", i), w.compute, w.network, nil)
			if _, err := p.Create(t.Context(), nic); err != nil {
				t.Errorf("Create(%s): %v", nic.ID, err)
			}
		})
	}
	wg.Wait()
	doc := domainDoc(t, p, "vm1", false)
	if got := len(doc.path("devices").children("interface")); got != n {
		t.Errorf("%d interfaces after %d concurrent creates, want %d", got, n, n)
	}
	if got := len(findMeta(doc).Links); got != n {
		t.Errorf("%d records after %d concurrent creates, want %d", got, n, n)
	}
}

func TestListFindsTags(t *testing.T) {
	p := newProvider(t)
	w := newWorld(t, p)
	mustCreate(t, p, w.nic)
	mustCreate(t, p, w.disk)
	c := conn(t, p)

	// Neighbours that are not ours: a domain and a network named like ours
	// without our metadata, a volume without our prefix, a domain of
	// another provider.
	if _, err := c.DomainDefineXMLFlags(`<domain type='test'><name>`+testDomain("foreign")+`</name><memory>65536</memory><os><type>hvm</type></os></domain>`, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DomainDefineXMLFlags(`<domain type='test'><name>someone-else</name><memory>65536</memory><os><type>hvm</type></os></domain>`, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.NetworkDefineXML(`<network><name>` + testNetwork("foreign") + `</name></network>`); err != nil {
		t.Fatal(err)
	}
	sp, err := c.StoragePoolLookupByName("default")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.StorageVolCreateXML(sp, `<volume><name>scratch</name><capacity>1024</capacity></volume>`, 0); err != nil {
		t.Fatal(err)
	}
	other := computeObject("theirs", nil)
	m := &meta{ID: "theirs", Instance: testInstance, Location: other.Location, Kind: other.Kind, Provider: "other-provider"}
	def, err := p.domainDef(other, m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DomainDefineXMLFlags(def.String(), 0); err != nil {
		t.Fatal(err)
	}

	ids := list(t, p)
	want := []string{"disk1", "net1", "nic1", "vm1", "vol1"}
	if !slices.Equal(ids, want) {
		t.Errorf("List = %v, want %v", ids, want)
	}

	// What List finds, Delete removes with the id and instance only known:
	// what the engine does with orphans after a crash. The network and the
	// volume go once no domain uses them.
	for _, id := range []string{"disk1", "nic1", "vm1", "net1", "vol1"} {
		if err := p.Delete(t.Context(), &backends.Object{ID: id, Instance: testInstance}); err != nil {
			t.Errorf("Delete(id %s only): %v", id, err)
		}
	}
	if ids := list(t, p); len(ids) != 0 {
		t.Errorf("List after deleting the orphans = %v", ids)
	}
	err = p.Delete(t.Context(), &backends.Object{ID: "vm1", Instance: testInstance})
	wantCode(t, "Delete(id vm1 only) again", err, occi.ErrNotFound)
	// Foreign objects are never deleted, even named like ours.
	err = p.Delete(t.Context(), &backends.Object{ID: "foreign", Instance: testInstance})
	wantCode(t, "Delete(id foreign only)", err, occi.ErrNotFound)
	if _, err := c.DomainLookupByName(testDomain("foreign")); err != nil {
		t.Errorf("the foreign domain is gone: %v", err)
	}
	if _, err := c.NetworkLookupByName(testNetwork("foreign")); err != nil {
		t.Errorf("the foreign network is gone: %v", err)
	}
}

func TestDeletedBehindTheBack(t *testing.T) {
	p := newProvider(t)
	w := newWorld(t, p)
	mustCreate(t, p, w.nic)
	mustCreate(t, p, w.disk)
	c := conn(t, p)

	// The interface leaves the domain's definition: its link is gone.
	d, err := p.lookupDomain(c, "vm1")
	if err != nil {
		t.Fatal(err)
	}
	d.def.child("devices").remove(func(k *node) bool { return k.name == "interface" })
	if _, err := c.DomainDefineXMLFlags(d.def.String(), 0); err != nil {
		t.Fatal(err)
	}
	_, err = p.Retrieve(t.Context(), w.nic)
	wantCode(t, "Retrieve(nic) whose interface was removed", err, occi.ErrNotFound)
	err = p.Delete(t.Context(), w.nic)
	wantCode(t, "Delete(nic) whose interface was removed", err, occi.ErrNotFound)
	if ids := list(t, p); slices.Contains(ids, "nic1") {
		t.Errorf("List after deleting a link whose device was gone still has it: %v", ids)
	}

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
	n, err := c.NetworkLookupByName(testNetwork("net1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.NetworkDestroy(n); err != nil {
		t.Fatal(err)
	}
	if err := c.NetworkUndefine(n); err != nil {
		t.Fatal(err)
	}
	vol, err := p.lookupVolume(c, "vol1")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StorageVolDelete(vol, 0); err != nil {
		t.Fatal(err)
	}
	for _, o := range []*backends.Object{w.compute, w.network, w.storage, w.disk} {
		_, err := p.Retrieve(t.Context(), o)
		wantCode(t, "Retrieve("+o.ID+") deleted behind the provider's back", err, occi.ErrNotFound)
		_, err = p.Action(t.Context(), o, occi.StartActionID, nil)
		if !errors.Is(err, occi.ErrNotFound) && !errors.Is(err, occi.ErrUnimplemented) {
			t.Errorf("Action(%s) deleted behind the provider's back = %v", o.ID, err)
		}
		wantCode(t, "Delete("+o.ID+") deleted behind the provider's back", p.Delete(t.Context(), o), occi.ErrNotFound)
	}
}

func TestStateMapping(t *testing.T) {
	p := newProvider(t)
	o := computeObject("vm1", nil)
	mustCreate(t, p, o)
	c := conn(t, p)
	dom, err := c.DomainLookupByName(testDomain("vm1"))
	if err != nil {
		t.Fatal(err)
	}
	state := func() (string, any) {
		t.Helper()
		got := mustRetrieve(t, p, o)
		return fmt.Sprint(got[attrComputeState]), got[attrComputeMessage]
	}

	mustAction(t, p, o, occi.SuspendActionID, map[string]any{"method": "suspend"})
	if st, _, _ := c.DomainGetState(dom, 0); golibvirt.DomainState(st) != golibvirt.DomainPaused {
		t.Errorf("after suspend the domain is in state %d, want paused", st)
	}
	if s, _ := state(); s != "suspended" {
		t.Errorf("paused domain: state %q, want suspended", s)
	}
	mustAction(t, p, o, occi.StartActionID, nil)
	if s, _ := state(); s != "active" {
		t.Errorf("resumed domain: state %q, want active", s)
	}

	// Changes made behind the provider's back show at the next Retrieve.
	if err := c.DomainSuspend(dom); err != nil {
		t.Fatal(err)
	}
	if s, _ := state(); s != "suspended" {
		t.Errorf("domain paused behind the back: state %q", s)
	}
	if err := c.DomainDestroy(dom); err != nil {
		t.Fatal(err)
	}
	if s, msg := state(); s != "inactive" || msg != nil {
		t.Errorf("domain destroyed behind the back: state %q, message %v; want inactive without a message", s, msg)
	}

	// Hibernate is a managed save: shut off, suspended, and start resumes.
	mustAction(t, p, o, occi.StartActionID, nil)
	mustAction(t, p, o, occi.SuspendActionID, map[string]any{"method": "hibernate"})
	if s, msg := state(); s != "suspended" || msg == nil {
		t.Errorf("hibernated domain: state %q, message %v; want suspended with a message", s, msg)
	}
	if has, err := c.DomainHasManagedSaveImage(dom, 0); err != nil || has != 1 {
		t.Errorf("hibernated domain has no managed save image (%d, %v)", has, err)
	}
	mustAction(t, p, o, occi.StartActionID, nil)
	if s, _ := state(); s != "active" {
		t.Errorf("started after hibernate: state %q", s)
	}

	// Methods and refusals.
	for _, m := range []string{"graceful", "warm", "cold"} {
		if got := mustAction(t, p, o, occi.RestartActionID, map[string]any{"method": m}); got[attrComputeState] != "active" {
			t.Errorf("restart %s: %v", m, got)
		}
	}
	if got := mustAction(t, p, o, occi.StopActionID, map[string]any{"method": "acpioff"}); got[attrComputeState] != "inactive" {
		t.Errorf("stop acpioff: %v", got)
	}
	_, err = p.Action(t.Context(), o, occi.StopActionID, map[string]any{"method": "poweroff"})
	wantCode(t, "stop when inactive", err, occi.ErrFailedPrecondition)
	_, err = p.Action(t.Context(), o, occi.RestartActionID, nil)
	wantCode(t, "restart when inactive", err, occi.ErrFailedPrecondition)
	mustAction(t, p, o, occi.StartActionID, nil)
	_, err = p.Action(t.Context(), o, occi.StopActionID, map[string]any{"method": "yank"})
	wantCode(t, "stop with an unknown method", err, occi.ErrInvalidArgument)
	_, err = p.Action(t.Context(), o, occi.SaveActionID, map[string]any{"method": "hot"})
	wantCode(t, "save", err, occi.ErrUnimplemented)

	// The table, for the states the test driver does not reach.
	for _, c := range []struct {
		st      golibvirt.DomainState
		reason  int32
		state   string
		message bool
	}{
		{golibvirt.DomainRunning, 0, "active", false},
		{golibvirt.DomainBlocked, 0, "active", false},
		{golibvirt.DomainPaused, int32(golibvirt.DomainPausedUser), "suspended", false},
		{golibvirt.DomainPaused, int32(golibvirt.DomainPausedUnknown), "error", true},
		{golibvirt.DomainPmsuspended, 0, "suspended", true},
		{golibvirt.DomainShutdown, 0, "active", true},
		{golibvirt.DomainShutoff, int32(golibvirt.DomainShutoffShutdown), "inactive", false},
		{golibvirt.DomainShutoff, int32(golibvirt.DomainShutoffSaved), "suspended", true},
		{golibvirt.DomainShutoff, int32(golibvirt.DomainShutoffCrashed), "error", true},
		{golibvirt.DomainCrashed, 0, "error", true},
		{golibvirt.DomainNostate, 0, "error", true},
	} {
		state, msg := computeState(c.st, c.reason)
		if state != c.state || (msg != "") != c.message {
			t.Errorf("computeState(%d, %d) = %q, %q; want %q (message: %v)", c.st, c.reason, state, msg, c.state, c.message)
		}
	}
}

func TestOptions(t *testing.T) {
	track(t)
	for _, c := range []struct {
		name    string
		options map[string]any
		want    string
	}{
		{"remote URI", map[string]any{OptURI: "qemu+ssh://host/system"}, "remote URI"},
		{"relative node file", map[string]any{OptURI: "test://node.xml"}, "remote URI"},
		{"no scheme", map[string]any{OptURI: "/system"}, "no scheme"},
		{"query", map[string]any{OptURI: "qemu:///system?socket=/x"}, "socket option"},
		{"missing pool", map[string]any{OptStoragePool: "nope"}, `no storage pool "nope" (it has: default, images)`},
		{"missing image pool", map[string]any{OptImagePool: "nope"}, "option image_pool"},
		{"negative refresh", map[string]any{OptRefreshInterval: "-1s"}, "negative"},
		{"unknown option", map[string]any{"pool": "default"}, "unknown option"},
		{"unreachable socket", map[string]any{OptSocket: filepath.Join(t.TempDir(), "nothing-here")}, "libvirtd -d"},
		{"missing node file", map[string]any{OptURI: "test:///nonexistent/node.xml"}, "cannot open test:///nonexistent/node.xml"},
	} {
		t.Run(c.name, func(t *testing.T) {
			track(t)
			raw := map[string]any{OptURI: privateURI(t)}
			for k, v := range c.options {
				raw[k] = v
			}
			p, err := backends.Open("lab", DriverName, raw)
			if err == nil {
				_ = p.Close()
				t.Fatalf("Open with %v succeeded", c.options)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("Open with %v: %v\nwant it to say %q", c.options, err, c.want)
			}
		})
	}

	p := open(t, map[string]any{OptImagePool: "images", OptRefreshInterval: "0s"})
	defer p.Close()
	if p.RefreshInterval() != 0 || !strings.HasPrefix(p.URI(), "test:///") {
		t.Errorf("RefreshInterval %s, URI %q", p.RefreshInterval(), p.URI())
	}
	c := conn(t, p)
	sp, err := c.StoragePoolLookupByName("images")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"debian-12", "alpine-3"} {
		if _, err := c.StorageVolCreateXML(sp, "<volume><name>"+name+"</name><capacity>1048576</capacity></volume>", 0); err != nil {
			t.Fatal(err)
		}
	}
	if images, err := p.Images(t.Context()); err != nil || !slices.Equal(images, []string{"alpine-3", "debian-12"}) {
		t.Errorf("Images = %v, %v", images, err)
	}
	if ids, err := p.List(t.Context(), testInstance); err != nil || len(ids) != 0 {
		t.Errorf("List with images in the image pool = %v, %v; want nothing", ids, err)
	}
	d, ok := backends.Lookup(DriverName)
	if !ok {
		t.Fatal("driver not registered")
	}
	for _, o := range d.Options {
		if o.Help == "" {
			t.Errorf("option %s has no help", o.Name)
		}
	}
}

// TestReconnect checks that a dropped connection is made again, and that
// a closed provider refuses calls.
func TestReconnect(t *testing.T) {
	p := newProvider(t)
	// test:///default survives the connection, unlike a node file.
	q := open(t, map[string]any{OptURI: DefaultURI, OptStoragePool: "default-pool"})
	defer q.Close()
	first := conn(t, q)
	if err := first.Disconnect(); err != nil {
		t.Fatal(err)
	}
	if _, err := q.List(t.Context(), testInstance); err != nil {
		t.Errorf("List after the connection dropped: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := p.List(t.Context(), testInstance)
	wantCode(t, "List after Close", err, occi.ErrUnavailable)
}

// TestRecovery runs the engine's crash recovery over libvirt: a create
// that reached libvirt before the crash is adopted, one that did not is
// dropped, and an object no entity accounts for is removed.
func TestRecovery(t *testing.T) {
	p := newProvider(t)
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "ocni.db")
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	start := func() (*store.DB, *engine.Engine) {
		t.Helper()
		db, err := store.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defaults := map[string]string{}
		for _, k := range []string{occi.ComputeKindID, occi.NetworkKindID, occi.StorageKindID, occi.NetworkInterfaceID, occi.StorageLinkKindID} {
			defaults[k] = "lab"
		}
		reg, err := registry.New(db, registry.Options{Providers: []string{"lab"}, Defaults: defaults, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		eng := engine.New(reg, db, engine.Options{Providers: map[string]backends.Provider{"lab": p}, Logger: logger})
		return db, eng
	}
	db, eng := start()

	// Through the engine: a network, a volume, a compute linked to both.
	if _, err := eng.Create(ctx, &engine.Input{Kind: occi.NetworkKindID, Attributes: map[string]any{}}, engine.Placement{Path: "/network/lan"}); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Create(ctx, &engine.Input{Kind: occi.StorageKindID, Attributes: map[string]any{attrSize: 1.0}}, engine.Placement{Path: "/storage/data"}); err != nil {
		t.Fatal(err)
	}
	vm := &engine.Input{Kind: occi.ComputeKindID, Attributes: map[string]any{attrCores: 2.0, attrMemory: 1.0}, Links: []*engine.Input{
		{Kind: occi.NetworkInterfaceID, Attributes: map[string]any{attrInterface: "eth0"}, Target: &occi.LinkEnd{Location: "/network/lan"}},
		{Kind: occi.StorageLinkKindID, Attributes: map[string]any{attrDeviceID: "vdb"}, Target: &occi.LinkEnd{Location: "/storage/data"}},
	}}
	view, err := eng.Create(ctx, vm, engine.Placement{Path: "/compute/web"})
	if err != nil {
		t.Fatal(err)
	}
	if got := view.Attributes[attrComputeState]; got != "active" || len(view.Links) != 2 {
		t.Errorf("engine Create(compute) = state %v with %d links, want active with 2", got, len(view.Links))
	}
	for _, l := range view.Links {
		if l.Kind == occi.NetworkInterfaceID && !macPattern.MatchString(fmt.Sprint(l.Attributes[attrMAC])) {
			t.Errorf("network interface without a MAC address: %v", l.Attributes)
		}
	}
	if _, err := eng.Action(ctx, "/compute/web", &occi.ActionInvocation{Action: occi.StopActionID, Attributes: map[string]any{"method": "poweroff"}}); err != nil {
		t.Fatal(err)
	}
	if v, err := eng.Action(ctx, "/compute/web", &occi.ActionInvocation{Action: occi.StartActionID}); err != nil {
		t.Fatal(err)
	} else if got := v.Attributes[attrComputeState]; got != "active" {
		t.Errorf("after stop and start: %v", got)
	}

	// A crash between libvirt and the commit: the intent is written, the
	// domain made, and the process dies before committing.
	lost := &store.Entity{Location: "/compute/lost", ID: "lost", Kind: occi.ComputeKindID, Provider: "lab",
		Attributes: map[string]any{occi.AttrID: "lost", attrCores: 1.0, attrMemory: 0.5, attrComputeState: "inactive"}}
	never := &store.Entity{Location: "/compute/never", ID: "never", Kind: occi.ComputeKindID, Provider: "lab",
		Attributes: map[string]any{occi.AttrID: "never", attrCores: 1.0, attrMemory: 0.5, attrComputeState: "inactive"}}
	if err := db.Write(func(tx *store.Tx) error {
		return errors.Join(
			tx.PutIntent(&store.Intent{Op: store.OpCreate, Entity: lost, Started: time.Now()}),
			tx.PutIntent(&store.Intent{Op: store.OpCreate, Entity: never, Started: time.Now()}),
		)
	}); err != nil {
		t.Fatal(err)
	}
	instance := db.Instance()
	lostObject := computeObject("lost", map[string]any{attrMemory: 0.5})
	lostObject.Instance = instance
	mustCreate(t, p, lostObject)
	// And an object no intent or entity accounts for, beside another
	// instance's object of the same id, which is none of this one's
	// business.
	stray := storageObject("stray", 1)
	stray.Instance = instance
	mustCreate(t, p, stray)
	mustCreate(t, p, storageObject("stray", 1))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, eng = start()
	defer db.Close()
	rep, err := eng.Recover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Adopted, []string{"/compute/lost"}) || !slices.Equal(rep.Dropped, []string{"/compute/never"}) ||
		!slices.Equal(rep.Orphans, []string{"lab:stray"}) || len(rep.Unresolved) != 0 {
		t.Errorf("recovery = %+v, want /compute/lost adopted, /compute/never dropped, stray removed", rep)
	}
	if v, err := eng.Get(ctx, "/compute/lost"); err != nil {
		t.Errorf("the adopted compute: %v", err)
	} else if got := v.Attributes[attrComputeState]; got != "active" {
		t.Errorf("the adopted compute's state = %v, want active", got)
	}
	ids, err := p.List(ctx, instance)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(ids, "stray") || !slices.Contains(ids, "lost") || !slices.Contains(ids, "web") {
		t.Errorf("List after recovery = %v", ids)
	}
	if others := list(t, p); !slices.Equal(others, []string{"stray"}) {
		t.Errorf("List of the other instance after recovery = %v, want its stray kept", others)
	}

	// Deleting the compute through the engine takes its links first; the
	// test driver cannot unplug them from the running domain, where they
	// are since the restart, so it is stopped first.
	if _, err := eng.Action(ctx, "/compute/web", &occi.ActionInvocation{Action: occi.StopActionID, Attributes: map[string]any{"method": "poweroff"}}); err != nil {
		t.Fatal(err)
	}
	if err := eng.Delete(ctx, "/compute/web"); err != nil {
		t.Fatal(err)
	}
	for _, loc := range []string{"/compute/lost", "/network/lan", "/storage/data"} {
		if err := eng.Delete(ctx, loc); err != nil {
			t.Fatalf("engine Delete(%s): %v", loc, err)
		}
	}
	if ids, err := p.List(ctx, instance); err != nil || len(ids) != 0 {
		t.Errorf("List after deleting everything = %v, %v", ids, err)
	}
}

// TestXMLTree checks that documents survive a parse and an encoding with
// their namespaces, prefixes and escapes.
func TestXMLTree(t *testing.T) {
	in := `<domain type="kvm"><name>a&amp;b</name><metadata><x:thing xmlns:x="urn:x" v="&quot;q&quot;"><x:sub/></x:thing></metadata><devices><disk><target dev="vda"/></disk></devices></domain>`
	doc, err := parseXML(in)
	if err != nil {
		t.Fatal(err)
	}
	out := doc.String()
	if out != in {
		t.Errorf("round trip:\n got %s\nwant %s", out, in)
	}
	if doc.child("name").textContent() != "a&b" || doc.path("devices", "disk", "target").get("dev") != "vda" {
		t.Error("lookups failed")
	}
	if th := doc.path("metadata", "thing"); th == nil || !th.declares("urn:x") || th.get("v") != `"q"` {
		t.Errorf("namespaced element: %v", th)
	}
	for _, bad := range []string{"", "<a>", "<a></b>", "<a/><b/>"} {
		if _, err := parseXML(bad); err == nil {
			t.Errorf("parseXML(%q) succeeded", bad)
		}
	}
	m := &meta{ID: "i", Instance: "inst", Location: "/compute/i", Kind: occi.ComputeKindID, Provider: "p", Attrs: map[string]string{"k": "v<>"},
		Links: []*linkMeta{{ID: "l", Family: familyStorageLink, Volume: "ocni-v", Dev: "vdb"}}}
	d := elem("domain")
	setMeta(d, m)
	setMeta(d, m)
	again, err := parseXML(d.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(again.child("metadata").kids) != 1 {
		t.Errorf("setMeta twice left %d elements", len(again.child("metadata").kids))
	}
	got := findMeta(again)
	if got == nil || got.ID != "i" || got.Instance != "inst" || got.Attrs["k"] != "v<>" || got.link("l") == nil || got.link("l").Dev != "vdb" {
		t.Errorf("metadata round trip = %+v", got)
	}
}
