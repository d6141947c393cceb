package libvirt

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ocni/ocni/backends"
	"github.com/ocni/ocni/engine"
	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/registry"
	"github.com/ocni/ocni/store"
)

// The images of the hosts of these tests.
var testImages = []testVolume{
	{name: "debian-12.qcow2", capacity: 2 << 30, format: "qcow2"},
	{name: "alpine 3.19.img", capacity: 512 << 20, format: "raw"},
}

const (
	debianTpl = "urn:ocni:lab:os_tpl#debian-12"
	alpineTpl = "urn:ocni:lab:os_tpl#alpine-3.19"
)

// imageProvider opens a provider on a private host whose pool imagesIn
// holds testImages, with that pool as image_pool.
func imageProvider(t *testing.T, imagesIn string) *Provider {
	t.Helper()
	track(t)
	p := openOn(t, hostURI(t, nodeXML(imagesIn, testImages...)), map[string]any{OptImagePool: imagesIn})
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func templated(id string, mixins ...string) *backends.Object {
	o := computeObject(id, nil)
	o.Mixins = mixins
	return o
}

// volumeInfo reads a volume of a pool; ok is false when it is not there.
func volumeInfo(t *testing.T, p *Provider, pool, name string) (capacity uint64, doc *node, ok bool) {
	t.Helper()
	c := conn(t, p)
	sp, err := c.StoragePoolLookupByName(pool)
	if err != nil {
		t.Fatal(err)
	}
	vol, err := c.StorageVolLookupByName(sp, name)
	if isNotFound(err) {
		return 0, nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, capacity, _, err = c.StorageVolGetInfo(vol); err != nil {
		t.Fatal(err)
	}
	x, err := c.StorageVolGetXMLDesc(vol, 0)
	if err != nil {
		t.Fatal(err)
	}
	if doc, err = parseXML(x); err != nil {
		t.Fatal(err)
	}
	return capacity, doc, true
}

func hasDomain(t *testing.T, p *Provider, id string) bool {
	t.Helper()
	_, err := conn(t, p).DomainLookupByName(testDomain(id))
	if err != nil && !isNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

func TestTemplates(t *testing.T) {
	p := imageProvider(t, "images")
	got, err := p.Templates(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"alpine-3.19": "alpine 3.19.img", "debian-12": "debian-12.qcow2"}
	if len(got) != len(want) {
		t.Fatalf("Templates = %d mixins, want %d: %v", len(got), len(want), got)
	}
	locations := map[string]bool{}
	for i, m := range got {
		if err := m.Validate(); err != nil {
			t.Errorf("template %s does not validate: %v", m.ID(), err)
		}
		if i > 0 && got[i-1].Term >= m.Term {
			t.Errorf("templates are not sorted by term: %s before %s", got[i-1].Term, m.Term)
		}
		if m.Scheme != "urn:ocni:lab:os_tpl#" {
			t.Errorf("template %s: scheme %q", m.Term, m.Scheme)
		}
		if want[m.Term] == "" || m.Title != want[m.Term] {
			t.Errorf("template %s has title %q; want the terms and titles %v", m.Term, m.Title, want)
		}
		if !slices.Equal(m.Depends, []string{occi.OSTplMixinID}) || !slices.Equal(m.Applies, []string{occi.ComputeKindID}) {
			t.Errorf("template %s: depends %v, applies %v", m.Term, m.Depends, m.Applies)
		}
		if m.Location != "/templates/lab/os/"+m.Term+"/" || locations[m.Location] {
			t.Errorf("template %s: location %q (taken before: %v)", m.Term, m.Location, locations[m.Location])
		}
		locations[m.Location] = true
		if len(m.Attributes) != 0 || len(m.Actions) != 0 {
			t.Errorf("template %s has attributes or actions: %v %v", m.Term, m.Attributes, m.Actions)
		}
	}
	if _, isSource := backends.Provider(p).(backends.TemplateSource); !isSource {
		t.Error("the provider is not a TemplateSource")
	}

	// Without an image pool there are no templates, and an OS template of
	// the provider's scheme names nothing.
	q := newProvider(t)
	if none, err := q.Templates(t.Context()); err != nil || len(none) != 0 {
		t.Errorf("Templates without an image pool = %v, %v; want none", none, err)
	}
	_, err = q.Create(t.Context(), templated("vm1", debianTpl))
	wantCode(t, "Create with an OS template on a provider without an image pool", err, occi.ErrInvalidArgument)
}

func TestTemplateTerms(t *testing.T) {
	for _, c := range []struct {
		volumes []string
		kept    map[string]string
		want    map[string]string
	}{
		{
			volumes: []string{"debian-12.qcow2", "alpine 3.19.img", "Ubuntu_24.04.RAW", "fedora.iso", "plain", "ünïcode.vmdk", ".hidden.img", "___"},
			want: map[string]string{
				"debian-12.qcow2": "debian-12", "alpine 3.19.img": "alpine-3.19", "Ubuntu_24.04.RAW": "Ubuntu_24.04",
				"fedora.iso": "fedora.iso", "plain": "plain", "ünïcode.vmdk": "n-code", ".hidden.img": "hidden", "___": "image",
			},
		},
		{
			// A volume named as a term keeps it; the others fall back to
			// their whole name, then to a hash of it.
			volumes: []string{"debian.qcow2", "debian", "debian.raw", "debian raw"},
			want:    map[string]string{"debian": "debian", "debian.qcow2": "debian.qcow2", "debian.raw": "debian.raw", "debian raw": "debian-raw"},
		},
		{
			volumes: []string{"a b.img", "a-b.img", "a_b"},
			want:    map[string]string{"a b.img": "a-b", "a-b.img": "a-b.img", "a_b": "a_b"},
		},
		{
			// The terms announced before stay with their volumes.
			volumes: []string{"debian.qcow2", "debian"},
			kept:    map[string]string{"debian.qcow2": "debian", "gone.img": "gone"},
			want:    map[string]string{"debian.qcow2": "debian", "debian": "debian-" + fnvHex("debian")},
		},
	} {
		got := templateTerms(c.volumes, c.kept)
		if !maps.Equal(got, c.want) {
			t.Errorf("templateTerms(%q, %v) =\n %v\nwant\n %v", c.volumes, c.kept, got, c.want)
		}
	}
	// However they collide, terms are valid and unique.
	volumes := []string{"x.img", "x.raw", "x", "x.qcow2", "x-" + fnvHex("x.img") + ".img", "x.img-" + fnvHex("x.img"), "x img", "x?img", "x.IMG"}
	terms := templateTerms(volumes, nil)
	seen := map[string]string{}
	for _, v := range volumes {
		term := terms[v]
		if err := occi.ValidID("urn:ocni:lab:os_tpl#" + term); err != nil {
			t.Errorf("term %q of %q: %v", term, v, err)
		}
		if other, dup := seen[term]; dup {
			t.Errorf("volumes %q and %q share the term %q", other, v, term)
		}
		seen[term] = v
	}
}

// fnvHex is the hash templateTerms puts in a term: FNV-1a, 32 bits.
func fnvHex(s string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return fmt.Sprintf("%08x", h.Sum32())
}

// rootVolumes lists the root volumes of the test compute id in the
// storage pool.
func rootVolumes(t *testing.T, p *Provider, id string) []string {
	t.Helper()
	return rootVolumesOf(t, p, testInstance, id)
}

// rootVolumesOf lists the root volumes of the instance's compute id in the
// storage pool.
func rootVolumesOf(t *testing.T, p *Provider, instance, id string) []string {
	t.Helper()
	c := conn(t, p)
	sp, err := c.StoragePoolLookupByName(p.storagePool)
	if err != nil {
		t.Fatal(err)
	}
	vols, _, err := c.StoragePoolListAllVolumes(sp, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range vols {
		if tag, of, root, ok := volumeOwner(v.Name); ok && root && of == id && tag == instanceTag(instance) {
			out = append(out, v.Name)
		}
	}
	return out
}

// rootVolume is the one root volume of the test compute id, or "".
func rootVolume(t *testing.T, p *Provider, id string) string {
	t.Helper()
	roots := rootVolumes(t, p, id)
	if len(roots) > 1 {
		t.Errorf("compute %s has %d root volumes: %v", id, len(roots), roots)
	}
	if len(roots) == 0 {
		return ""
	}
	return roots[0]
}

func TestComputeFromTemplate(t *testing.T) {
	p := imageProvider(t, "images")
	vm := templated("vm1", debianTpl)
	if got := mustCreate(t, p, vm); got[attrComputeState] != "active" {
		t.Errorf("Create = %v, want active", got)
	}

	// The root volume: a copy of the image in the storage pool, named for
	// the compute.
	root := rootVolume(t, p, "vm1")
	capacity, vol, ok := volumeInfo(t, p, "default", root)
	if root == "" || !ok {
		t.Fatal("no root volume of vm1 in the storage pool")
	}
	if capacity != 2<<30 {
		t.Errorf("root volume capacity = %d, want the image's, %d", capacity, 2<<30)
	}
	if f := vol.path("target", "format"); f == nil || f.get("type") != "qcow2" {
		t.Errorf("root volume format = %v, want the image's, qcow2", f)
	}

	// The domain's first disk, and its boot device.
	doc := domainDoc(t, p, "vm1", false)
	disks := doc.path("devices").children("disk")
	if len(disks) != 1 {
		t.Fatalf("domain has %d disks, want 1: %s", len(disks), doc.child("devices"))
	}
	d := disks[0]
	if d.get("type") != "volume" || d.child("source").get("pool") != "default" || d.child("source").get("volume") != root ||
		d.child("target").get("dev") != "vda" || d.child("target").get("bus") != "virtio" || d.child("boot").get("order") != "1" {
		t.Errorf("root disk = %s", d)
	}
	if firstElement(doc.child("devices")) != d {
		t.Errorf("the root disk is not the first device: %s", doc.child("devices"))
	}
	if boots := doc.child("os").children("boot"); len(boots) != 0 {
		t.Errorf("os has boot elements beside the disk's boot order: %s", doc.child("os"))
	}
	m := findMeta(doc)
	if m.OSTpl != debianTpl || m.Image != "debian-12.qcow2" || m.Root != root || m.RootPool != "default" {
		t.Errorf("metadata = %+v", m)
	}
	if live := domainDoc(t, p, "vm1", true); len(live.path("devices").children("disk")) != 1 {
		t.Errorf("the running domain has no root disk: %s", live.child("devices"))
	}

	// The root volume is the compute's, not a storage of its own: no
	// storage id names it.
	if ids := list(t, p); !slices.Equal(ids, []string{"vm1"}) {
		t.Errorf("List = %v; want [vm1]", ids)
	}
	err := p.Delete(t.Context(), &backends.Object{ID: "vm1-root", Instance: testInstance})
	wantCode(t, "Delete(id vm1-root only)", err, occi.ErrNotFound)
	err = p.Delete(t.Context(), storageObject("vm1-root", 2))
	wantCode(t, "Delete(storage vm1-root)", err, occi.ErrNotFound)
	if _, _, ok := volumeInfo(t, p, "default", root); !ok {
		t.Error("the root volume went with a Delete of another id")
	}

	// Disks linked later come after it; vda is taken.
	data := storageObject("data", 1)
	mustCreate(t, p, data)
	_, err = p.Create(t.Context(), linkObject(occi.StorageLinkKindID, "disk0", vm, data, map[string]any{attrDeviceID: "vda"}))
	wantCode(t, "Create(storagelink on vda)", err, occi.ErrConflict)
	link := linkObject(occi.StorageLinkKindID, "disk1", vm, data, map[string]any{attrDeviceID: "vdb"})
	mustCreate(t, p, link)
	if disks := domainDoc(t, p, "vm1", false).path("devices").children("disk"); len(disks) != 2 || disks[0].child("target").get("dev") != "vda" {
		t.Errorf("disks after a storage link = %v", disks)
	}

	// An update keeps the template; changing it would be a rebuild.
	bigger := vm.Clone()
	bigger.Attributes[attrCores] = 2.0
	if _, err := p.Update(t.Context(), vm, bigger); err != nil {
		t.Errorf("Update(cores) of a compute made from a template: %v", err)
	}
	if got := findMeta(domainDoc(t, p, "vm1", false)); got.Root != root || got.OSTpl != debianTpl {
		t.Errorf("metadata after Update = %+v", got)
	}
	for _, c := range []struct {
		what   string
		mixins []string
		want   *occi.Error
	}{
		{"another template", []string{alpineTpl}, occi.ErrUnimplemented},
		{"no template", nil, occi.ErrUnimplemented},
		{"an unknown template", []string{"urn:ocni:lab:os_tpl#plan9"}, occi.ErrInvalidArgument},
		{"another provider's template", []string{"urn:ocni:other:os_tpl#debian-12"}, occi.ErrInvalidArgument},
	} {
		changed := bigger.Clone()
		changed.Mixins = c.mixins
		_, err := p.Update(t.Context(), bigger, changed)
		wantCode(t, "Update to "+c.what, err, c.want)
		if c.want == occi.ErrUnimplemented && (err == nil || !strings.Contains(err.Error(), "rebuild is not supported")) {
			t.Errorf("Update to %s: %v; want it to say that rebuild is not supported", c.what, err)
		}
	}

	// Delete removes the domain and its root volume, not the storages it
	// used.
	if err := p.Delete(t.Context(), link); err != nil {
		t.Fatal(err)
	}
	if err := p.Delete(t.Context(), vm); err != nil {
		t.Fatal(err)
	}
	if hasDomain(t, p, "vm1") {
		t.Error("the domain is still there")
	}
	if _, _, ok := volumeInfo(t, p, "default", root); ok {
		t.Error("the root volume is still there")
	}
	if _, _, ok := volumeInfo(t, p, "default", testVolumeName("data")); !ok {
		t.Error("the storage's volume went with the compute")
	}
	if _, _, ok := volumeInfo(t, p, "images", "debian-12.qcow2"); !ok {
		t.Error("the image went with the compute")
	}

	// What List finds, Delete removes with only the id and instance
	// known: the root volume goes with the domain.
	mustCreate(t, p, templated("vm2", alpineTpl))
	root2 := rootVolume(t, p, "vm2")
	if capacity, _, ok := volumeInfo(t, p, "default", root2); !ok || capacity != 512<<20 {
		t.Errorf("root volume of vm2: capacity %d (there: %v), want %d", capacity, ok, 512<<20)
	}
	if err := p.Delete(t.Context(), &backends.Object{ID: "vm2", Instance: testInstance}); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := volumeInfo(t, p, "default", root2); ok || hasDomain(t, p, "vm2") {
		t.Error("Delete(id vm2 only) left the domain or its root volume")
	}
	if ids := list(t, p); !slices.Equal(ids, []string{"data"}) {
		t.Errorf("List = %v; want [data]", ids)
	}
}

func firstElement(n *node) *node {
	for _, k := range n.kids {
		if k.name != "" {
			return k
		}
	}
	return nil
}

func TestTemplateRefusals(t *testing.T) {
	p := imageProvider(t, "images")
	for _, c := range []struct {
		what   string
		mixins []string
		names  string
	}{
		{"an unknown template", []string{"urn:ocni:lab:os_tpl#plan9"}, "urn:ocni:lab:os_tpl#plan9"},
		{"a template named by the image's volume name", []string{"urn:ocni:lab:os_tpl#debian-12.qcow2"}, "debian-12.qcow2"},
		{"another libvirt provider's template", []string{"urn:ocni:other:os_tpl#debian-12"}, "urn:ocni:other:os_tpl#debian-12"},
		{"the dummy driver's template", []string{"http://schemas.ocni.org/dummy/dummy/os_tpl#debian-12"}, "http://schemas.ocni.org/dummy/dummy/os_tpl#debian-12"},
		{"two templates", []string{debianTpl, alpineTpl}, alpineTpl},
	} {
		_, err := p.Create(t.Context(), templated("bad", c.mixins...))
		wantCode(t, "Create with "+c.what, err, occi.ErrInvalidArgument)
		if err != nil && !strings.Contains(err.Error(), c.names) {
			t.Errorf("Create with %s: %v; want it to name %s", c.what, err, c.names)
		}
	}
	if hasDomain(t, p, "bad") {
		t.Error("a refused compute left a domain")
	}
	if roots := rootVolumes(t, p, "bad"); len(roots) != 0 {
		t.Errorf("a refused compute left root volumes %v", roots)
	}

	// Mixins that are not OS templates are none of the driver's business.
	plain := templated("plain", occi.OSTplMixinID, occi.SSHKeyMixinID, occi.ResourceTplScheme+"small")
	mustCreate(t, p, plain)
	if disks := domainDoc(t, p, "plain", false).path("devices").children("disk"); len(disks) != 0 {
		t.Errorf("a compute without an OS template has disks: %v", disks)
	}
	if boots := domainDoc(t, p, "plain", false).path("os").children("boot"); len(boots) == 0 {
		t.Error("a compute without an OS template lost its os/boot elements")
	}

	// No storage id names a root volume, whatever it ends with: a storage
	// "taken-root" and a compute "taken" made from a template live side
	// by side, and each goes with its own Delete.
	taken := storageObject("taken-root", 1)
	mustCreate(t, p, taken)
	takenVM := templated("taken", debianTpl)
	mustCreate(t, p, takenVM)
	if ids := list(t, p); !slices.Contains(ids, "taken") || !slices.Contains(ids, "taken-root") {
		t.Errorf("List = %v, want taken and taken-root", ids)
	}
	if err := p.Delete(t.Context(), takenVM); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := volumeInfo(t, p, "default", testVolumeName("taken-root")); !ok {
		t.Error("the compute's Delete took the storage taken-root")
	}

	// A control character cannot go into libvirt's XML: refused as a bad
	// argument before anything is made, so no root volume is left.
	refused := templated("refused", debianTpl)
	refused.Attributes[occi.AttrSummary] = "bell \x07"
	_, err := p.Create(t.Context(), refused)
	wantCode(t, "Create with a control character in the summary", err, occi.ErrInvalidArgument)
	if hasDomain(t, p, "refused") {
		t.Error("a refused definition left a domain")
	}
	if roots := rootVolumes(t, p, "refused"); len(roots) != 0 {
		t.Errorf("a refused definition left its root volumes %v", roots)
	}

	// deleteRoot: the volume goes, and a volume already gone is no error.
	c := conn(t, p)
	img, err := p.resolveImage(t.Context(), c, debianTpl)
	if err != nil {
		t.Fatal(err)
	}
	m := p.newMeta(templated("undo", debianTpl))
	root, err := newRootName(testInstance, "undo")
	if err != nil {
		t.Fatal(err)
	}
	m.OSTpl, m.Image, m.Root, m.RootPool = debianTpl, img.vol.Name, root, p.storagePool
	if err := p.makeRoot(c, img, m.Root); err != nil {
		t.Fatal(err)
	}
	if err := p.deleteRoot(t.Context(), c, m); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := volumeInfo(t, p, "default", root); ok {
		t.Error("deleteRoot left the volume")
	}
	if err := p.deleteRoot(t.Context(), c, m); err != nil {
		t.Errorf("deleteRoot of a volume already gone: %v", err)
	}
}

// TestTemplateSamePool checks the real clone (the test driver clones
// within one pool) and that the driver's own volumes are no images.
func TestTemplateSamePool(t *testing.T) {
	p := imageProvider(t, "default")
	vm := templated("vm1", debianTpl)
	mustCreate(t, p, vm)
	mustCreate(t, p, storageObject("data", 1))
	root := rootVolume(t, p, "vm1")
	capacity, vol, ok := volumeInfo(t, p, "default", root)
	if !ok || capacity != 2<<30 || vol.path("target", "format").get("type") != "qcow2" {
		t.Errorf("cloned root volume: there %v, capacity %d, %s", ok, capacity, vol)
	}
	tpls, err := p.Templates(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var terms []string
	for _, m := range tpls {
		terms = append(terms, m.Term)
	}
	if !slices.Equal(terms, []string{"alpine-3.19", "debian-12"}) {
		t.Errorf("templates of a pool shared with storages = %v, want the images only", terms)
	}
	if images, err := p.Images(t.Context()); err != nil || !slices.Equal(images, []string{"alpine 3.19.img", "debian-12.qcow2"}) {
		t.Errorf("Images = %v, %v", images, err)
	}
	if ids := list(t, p); !slices.Equal(ids, []string{"data", "vm1"}) {
		t.Errorf("List = %v; want [data vm1]", ids)
	}
	if err := p.Delete(t.Context(), vm); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := volumeInfo(t, p, "default", root); ok {
		t.Error("the root volume is still there")
	}
	if _, _, ok := volumeInfo(t, p, "default", "debian-12.qcow2"); !ok {
		t.Error("the image went with the compute")
	}
}

// TestTemplateNames checks that the terms announced stay with their
// images when the pool changes, and that a provider whose name cannot be
// part of a scheme and location is refused at start.
func TestTemplateNames(t *testing.T) {
	p := imageProvider(t, "images")
	if _, err := p.Templates(t.Context()); err != nil {
		t.Fatal(err)
	}
	// An image whose name is the term another image was announced with.
	c := conn(t, p)
	sp, err := c.StoragePoolLookupByName("images")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.StorageVolCreateXML(sp, `<volume><name>debian-12</name><capacity>1048576</capacity></volume>`, 0); err != nil {
		t.Fatal(err)
	}
	img, err := p.resolveImage(t.Context(), c, debianTpl)
	if err != nil || img.vol.Name != "debian-12.qcow2" {
		t.Errorf("debian-12 after a volume of that name came: %v, %v; want debian-12.qcow2", img, err)
	}
	tpls, err := p.Templates(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	titles := map[string]string{}
	for _, m := range tpls {
		titles[m.Term] = m.Title
	}
	if titles["debian-12"] != "debian-12.qcow2" || len(titles) != 3 {
		t.Errorf("templates after a volume named debian-12 came: %v", titles)
	}

	track(t)
	_, err = backends.Open("my lab", DriverName, map[string]any{OptURI: hostURI(t, nodeXML("images", testImages...)), OptImagePool: "images"})
	if err == nil || !strings.Contains(err.Error(), "name the provider") {
		t.Errorf("Open of a provider named \"my lab\" with an image pool: %v", err)
	}
	q, err := backends.Open("my lab", DriverName, map[string]any{OptURI: privateURI(t)})
	if err != nil {
		t.Errorf("Open of a provider named \"my lab\" without an image pool: %v", err)
	} else {
		_ = q.Close()
	}
}

// TestTemplateLeftovers checks crash recovery around root volumes: a root
// volume whose domain was never defined (or is gone) is listed under its
// compute's id and removed by a Delete of that id.
func TestTemplateLeftovers(t *testing.T) {
	p := imageProvider(t, "images")
	c := conn(t, p)
	img, err := p.resolveImage(t.Context(), c, debianTpl)
	if err != nil {
		t.Fatal(err)
	}
	root, err := newRootName(testInstance, "lost")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.makeRoot(c, img, root); err != nil {
		t.Fatal(err)
	}
	if ids := list(t, p); !slices.Equal(ids, []string{"lost"}) {
		t.Fatalf("List with a root volume and no domain = %v; want [lost]", ids)
	}
	if err := p.Delete(t.Context(), &backends.Object{ID: "lost", Instance: testInstance}); err != nil {
		t.Fatal(err)
	}
	if ids := list(t, p); len(ids) != 0 {
		t.Errorf("List after the leftover went = %v", ids)
	}
}

// TestTemplatesThroughTheEngine registers the templates as the server does
// at start and makes a compute from one through the engine.
func TestTemplatesThroughTheEngine(t *testing.T) {
	p := imageProvider(t, "images")
	ctx := t.Context()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := store.Open(filepath.Join(t.TempDir(), "ocni.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	defaults := map[string]string{}
	for _, k := range []string{occi.ComputeKindID, occi.NetworkKindID, occi.StorageKindID, occi.NetworkInterfaceID, occi.StorageLinkKindID} {
		defaults[k] = "lab"
	}
	reg, err := registry.New(db, registry.Options{Providers: []string{"lab"}, Defaults: defaults, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(reg, db, engine.Options{Providers: map[string]backends.Provider{"lab": p}, Logger: logger})

	n, err := eng.RegisterTemplates(ctx)
	if err != nil || n != 2 {
		t.Fatalf("RegisterTemplates = %d, %v; want 2 registered", n, err)
	}
	snap := reg.Snapshot()
	for _, id := range []string{debianTpl, alpineTpl} {
		if _, ok := snap.Mixin(id); !ok {
			t.Errorf("mixin %s is not registered", id)
		}
	}
	if n, err := eng.RegisterTemplates(ctx); err != nil || n != 0 {
		t.Errorf("RegisterTemplates again = %d, %v; want nothing new", n, err)
	}

	view, err := eng.Create(ctx, &engine.Input{Kind: occi.ComputeKindID, Mixins: []string{debianTpl}, Attributes: map[string]any{}},
		engine.Placement{Path: "/compute/web"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(view.Mixins, debianTpl) || view.Attributes[attrComputeState] != "active" {
		t.Errorf("engine Create = mixins %v, state %v", view.Mixins, view.Attributes[attrComputeState])
	}
	if roots := rootVolumesOf(t, p, db.Instance(), "web"); len(roots) != 1 {
		t.Errorf("root volumes of web: %v, want one", roots)
	}
	// The engine refuses what is not registered before the driver sees it.
	_, err = eng.Create(ctx, &engine.Input{Kind: occi.ComputeKindID, Mixins: []string{"urn:ocni:lab:os_tpl#plan9"}, Attributes: map[string]any{}},
		engine.Placement{Path: "/compute/nope"})
	wantCode(t, "engine Create with an unregistered template", err, occi.ErrInvalidArgument)

	if err := eng.Delete(ctx, "/compute/web"); err != nil {
		t.Fatal(err)
	}
	if roots := rootVolumesOf(t, p, db.Instance(), "web"); len(roots) != 0 {
		t.Errorf("root volumes %v are still there after the engine's Delete", roots)
	}
	if ids, err := p.List(context.Background(), db.Instance()); err != nil || len(ids) != 0 {
		t.Errorf("List = %v, %v", ids, err)
	}
}

// TestRootDiskXML checks the root disk of a QEMU domain: the first
// device, its format in <driver>, and the only boot device.
func TestRootDiskXML(t *testing.T) {
	def := elem("domain", "type", "kvm").add(
		elem("os").add(textElem("type", "hvm"), elem("boot", "dev", "hd"), elem("boot", "dev", "network")),
		elem("devices").add(elem("serial", "type", "pty")),
	)
	addRootDisk(def, "default", "ocni-x-root", "qcow2")
	want := `<domain type="kvm"><os><type>hvm</type></os><devices><disk type="volume" device="disk">` +
		`<driver name="qemu" type="qcow2"/><source pool="default" volume="ocni-x-root"/>` +
		`<target dev="vda" bus="virtio"/><boot order="1"/></disk><serial type="pty"/></devices></domain>`
	if got := def.String(); got != want {
		t.Errorf("addRootDisk:\n got %s\nwant %s", got, want)
	}
	// The test driver's domains get no <driver>.
	def = elem("domain", "type", "test").add(elem("os").add(textElem("type", "hvm")))
	addRootDisk(def, "default", "ocni-x-root", "qcow2")
	if def.path("devices", "disk", "driver") != nil {
		t.Errorf("a test domain's root disk has a driver: %s", def)
	}
}
