package libvirt

// OS templates. Every volume of the image pool is an OS image, offered to
// clients as an os_tpl mixin of the provider; a compute made with one gets
// a copy of the image, cloned into the storage pool, as its first disk.
//
// The mixins:
//
//	scheme    urn:ocni:<provider>:os_tpl#  (an identifier, not a page)
//	term      the volume's name made a term (see templateTerms)
//	title     the volume's name
//	depends   infrastructure#os_tpl
//	applies   infrastructure#compute
//	location  /templates/<provider>/os/<term>/
//
// The copy is a volume of the storage pool named for the compute (see
// names.go: ocni-root-<tag>-<nonce>-<id>), with the image's capacity and
// format; the domain's first disk is vda on virtio, boot order 1. The
// compute's <ocni:entity> element records the template, the image and the
// copy. List reports the copy under the compute's id, whether its domain
// is there or not, and Delete of that id removes it.

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/ocni/ocni/backends"
	"github.com/ocni/ocni/occi"
)

var _ backends.TemplateSource = (*Provider)(nil)

// TemplateScheme is the scheme of the OS templates of the provider named
// provider.
func TemplateScheme(provider string) string { return "urn:ocni:" + provider + ":os_tpl#" }

// TemplateLocation is the location of the provider's OS template term.
func TemplateLocation(provider, term string) string {
	return "/templates/" + provider + "/os/" + term + "/"
}

// imageExtensions are the file name extensions of disk images that
// templateTerms leaves out of terms.
var imageExtensions = []string{".qcow2", ".qcow", ".img", ".raw", ".vmdk", ".vdi", ".vhdx", ".vhd"}

// rootDev is the target of a domain's root disk.
const rootDev = "vda"

// isOSTplScheme reports whether a mixin scheme is one of OS templates as
// the ocni drivers name them (…/os_tpl# or …:os_tpl#). A provider sees
// only the ids of an entity's mixins, so this is how it tells another
// provider's OS template from a mixin that is none of its business.
func isOSTplScheme(scheme string) bool {
	return strings.HasSuffix(scheme, "/os_tpl#") || strings.HasSuffix(scheme, ":os_tpl#")
}

// termOf makes a volume name a term: a trailing disk image extension
// (.qcow2, .qcow, .img, .raw, .vmdk, .vdi, .vhdx, .vhd, in any case) is
// dropped, then the name is made valid by validTerm.
func termOf(volume string) string {
	for _, ext := range imageExtensions {
		if n := len(volume) - len(ext); n > 0 && strings.EqualFold(volume[n:], ext) {
			return validTerm(volume[:n])
		}
	}
	return validTerm(volume)
}

// validTerm makes s fit the term grammar: every character other than an
// ASCII letter, digit, '_', '.' or '-' becomes '-', and the leading
// characters that are not letters or digits are dropped; what leaves
// nothing is "image".
func validTerm(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	if t := strings.TrimLeft(b.String(), "_.-"); t != "" {
		return t
	}
	return "image"
}

// templateTerms gives each image volume its term, unique among them
// (volume name → term). Volumes claim terms in this order: those in kept
// (the terms announced before), so that a term goes on naming the image it
// named while images come and go; then the volumes whose name is a term as
// it is; then the others, by name. A volume whose term (termOf) is taken
// tries its whole name made valid (validTerm, the extension kept), then
// that with '-' and eight hex digits of a hash of the name, then that with
// a counter.
func templateTerms(volumes []string, kept map[string]string) map[string]string {
	names := slices.Sorted(slices.Values(volumes))
	terms := make(map[string]string, len(names))
	taken := make(map[string]bool, len(names))
	assign := func(vol, term string) {
		terms[vol] = term
		taken[term] = true
	}
	for _, v := range names {
		if t, ok := kept[v]; ok && !taken[t] {
			assign(v, t)
		}
	}
	for _, v := range names {
		if _, done := terms[v]; !done && termOf(v) == v && !taken[v] {
			assign(v, v)
		}
	}
	for _, v := range names {
		if _, done := terms[v]; done {
			continue
		}
		h := fnv.New32a()
		_, _ = h.Write([]byte(v))
		hashed := fmt.Sprintf("%s-%08x", validTerm(v), h.Sum32())
		term := ""
		for _, t := range []string{termOf(v), validTerm(v), hashed} {
			if !taken[t] {
				term = t
				break
			}
		}
		for i := 2; term == ""; i++ {
			if t := hashed + "-" + strconv.Itoa(i); !taken[t] {
				term = t
			}
		}
		assign(v, term)
	}
	return terms
}

// templateMixin is the os_tpl mixin of an image volume.
func (p *Provider) templateMixin(term, volume string) *occi.Mixin {
	return &occi.Mixin{
		Category: occi.Category{Scheme: TemplateScheme(p.name), Term: term, Title: volume},
		Depends:  []string{occi.OSTplMixinID},
		Applies:  []string{occi.ComputeKindID},
		Location: TemplateLocation(p.name, term),
	}
}

// checkTemplateNaming checks at start that the provider's name fits in the
// scheme and location of OS templates.
func (p *Provider) checkTemplateNaming() error {
	if err := p.templateMixin("image", "image").Validate(); err != nil {
		return fmt.Errorf("option %s: the provider's name %q is part of the scheme and location of its OS templates, and does not fit (%w); "+
			"name the provider with letters, digits, '-', '_' and '.'", OptImagePool, p.name, err)
	}
	return nil
}

// imageVolumes lists the volumes of the image pool that are images:
// directories are not, and neither, when the image pool is the storage
// pool, are the volumes the driver made there.
func (p *Provider) imageVolumes(ctx context.Context, conn *golibvirt.Libvirt) ([]golibvirt.StorageVol, error) {
	sp, err := conn.StoragePoolLookupByName(p.imagePool)
	if err != nil {
		if isNotFound(err) {
			return nil, occi.Errorf(occi.Unavailable, "libvirt provider %s: image pool %s is gone", p.name, p.imagePool)
		}
		return nil, p.fail("looking up image pool "+p.imagePool, err)
	}
	vols, _, err := conn.StoragePoolListAllVolumes(sp, 1, 0)
	if err != nil {
		return nil, p.fail("listing the volumes of "+p.imagePool, err)
	}
	var out []golibvirt.StorageVol
	for _, v := range vols {
		if p.imagePool == p.storagePool && strings.HasPrefix(v.Name, NamePrefix) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, occi.Errorf(occi.Unavailable, "libvirt provider %s: listing images: %w", p.name, err)
		}
		typ, _, _, err := conn.StorageVolGetInfo(v)
		if isNotFound(err) {
			continue // gone meanwhile
		}
		if err != nil {
			return nil, p.fail("reading volume "+v.Name+" of "+p.imagePool, err)
		}
		if st := golibvirt.StorageVolType(typ); st == golibvirt.StorageVolDir || st == golibvirt.StorageVolNetdir {
			continue
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b golibvirt.StorageVol) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// currentTerms maps the image volumes to their terms, keeping those last
// announced.
func (p *Provider) currentTerms(vols []golibvirt.StorageVol) map[string]string {
	names := make([]string, len(vols))
	for i, v := range vols {
		names[i] = v.Name
	}
	p.tplMu.Lock()
	defer p.tplMu.Unlock()
	return templateTerms(names, p.announced)
}

// Templates implements backends.TemplateSource: one os_tpl mixin per image
// of the image pool, sorted by term; none without an image pool.
func (p *Provider) Templates(ctx context.Context) ([]*occi.Mixin, error) {
	if p.imagePool == "" {
		return nil, nil
	}
	conn, err := p.client(ctx, "list OS templates")
	if err != nil {
		return nil, err
	}
	vols, err := p.imageVolumes(ctx, conn)
	if err != nil {
		return nil, err
	}
	terms := p.currentTerms(vols)
	out := make([]*occi.Mixin, 0, len(vols))
	for _, v := range vols {
		m := p.templateMixin(terms[v.Name], v.Name)
		if err := m.Validate(); err != nil {
			return nil, occi.Errorf(occi.Internal, "libvirt provider %s: the OS template of image %q: %w", p.name, v.Name, err)
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b *occi.Mixin) int { return strings.Compare(a.Term, b.Term) })
	p.tplMu.Lock()
	p.announced = terms
	p.tplMu.Unlock()
	return out, nil
}

// templateOf returns the id of the provider's OS template among an
// object's mixins, or "" when it has none. An OS template of another
// provider, or two of this one, are InvalidArgument.
func (p *Provider) templateOf(o *backends.Object) (string, error) {
	ours := TemplateScheme(p.name)
	found := ""
	for _, id := range o.Mixins {
		scheme, _ := occi.SplitID(id)
		switch {
		case scheme == ours:
			if found != "" {
				return "", p.invalid("compute %s has two OS templates, %s and %s", o.ID, found, id)
			}
			found = id
		case isOSTplScheme(scheme):
			return "", p.invalid("os_tpl mixin %s is not an OS template of this provider (its own are %s<image>)", id, ours)
		}
	}
	return found, nil
}

// image is the OS image a compute is made from.
type image struct {
	vol      golibvirt.StorageVol
	capacity uint64
	// format is the volume's format (qcow2, raw…), when libvirt says.
	format string
}

// resolveImage finds the image volume the provider's OS template id
// names; an id that names none is InvalidArgument.
func (p *Provider) resolveImage(ctx context.Context, conn *golibvirt.Libvirt, id string) (*image, error) {
	if p.imagePool == "" {
		return nil, p.invalid("os_tpl mixin %s: this provider has no image pool (option %s)", id, OptImagePool)
	}
	_, term := occi.SplitID(id)
	vols, err := p.imageVolumes(ctx, conn)
	if err != nil {
		return nil, err
	}
	terms := p.currentTerms(vols)
	for _, v := range vols {
		if terms[v.Name] != term {
			continue
		}
		_, capacity, _, err := conn.StorageVolGetInfo(v)
		if err != nil {
			return nil, p.fail("reading image "+v.Name, err)
		}
		img := &image{vol: v, capacity: capacity}
		x, err := conn.StorageVolGetXMLDesc(v, 0)
		if err != nil {
			return nil, p.fail("reading image "+v.Name, err)
		}
		if doc, err := parseXML(x); err == nil {
			if f := doc.path("target", "format"); f != nil {
				img.format = f.get("type")
			}
		}
		return img, nil
	}
	return nil, p.invalid("os_tpl mixin %s names no image of pool %s", id, p.imagePool)
}

// testDriver reports whether the connection is libvirt's simulated host.
func (p *Provider) testDriver() bool { return strings.HasPrefix(p.uri, "test:") }

// makeRoot clones the image into the storage pool as the volume name,
// with the image's capacity and format. The test driver looks for the
// volume to clone in the destination pool only, so it cannot clone from
// another pool; its volumes hold no data, so there an empty volume of the
// image's capacity and format stands for the clone.
func (p *Provider) makeRoot(conn *golibvirt.Libvirt, img *image, name string) error {
	sp, err := p.pool(conn)
	if err != nil {
		return err
	}
	if _, err := conn.StorageVolLookupByName(sp, name); err == nil {
		return occi.Errorf(occi.AlreadyExists, "libvirt provider %s: volume %s already exists in pool %s", p.name, name, p.storagePool)
	} else if !isNotFound(err) {
		return p.fail("looking up volume "+name, err)
	}
	def := elem("volume").add(
		textElem("name", name),
		textElem("capacity", strconv.FormatUint(img.capacity, 10), "unit", "bytes"),
	)
	if img.format != "" {
		def.add(elem("target").add(elem("format", "type", img.format)))
	}
	_, err = conn.StorageVolCreateXMLFrom(sp, def.String(), img.vol, 0)
	if err != nil && p.testDriver() && p.imagePool != p.storagePool && isCode(err, golibvirt.ErrNoStorageVol) {
		if _, _, _, ierr := conn.StorageVolGetInfo(img.vol); ierr == nil {
			def.add(textElem("allocation", "0", "unit", "bytes"))
			_, err = conn.StorageVolCreateXML(sp, def.String(), 0)
		}
	}
	if err != nil {
		return p.fail("cloning image "+img.vol.Name+" of "+p.imagePool+" into volume "+name, err)
	}
	return nil
}

// addRootDisk makes the volume the domain's first disk and its boot
// device: per-device boot orders exclude <os><boot>, so those go.
func addRootDisk(def *node, pool, volume, format string) {
	disk := elem("disk", "type", "volume", "device", "disk")
	if t := def.get("type"); format != "" && (t == "kvm" || t == "qemu") {
		disk.add(elem("driver", "name", "qemu", "type", format))
	}
	disk.add(
		elem("source", "pool", pool, "volume", volume),
		elem("target", "dev", rootDev, "bus", diskBus(rootDev)),
		elem("boot", "order", "1"),
	)
	if osElem := def.child("os"); osElem != nil {
		osElem.remove(func(k *node) bool { return localName(k.name) == "boot" })
	}
	devices := def.ensure("devices")
	devices.kids = append([]*node{disk}, devices.kids...)
}

// rootPool is the pool of a domain's root volume.
func (p *Provider) rootPool(m *meta) string {
	if m.RootPool != "" {
		return m.RootPool
	}
	return p.storagePool
}

// deleteRoot removes a domain's recorded root volume, if it has one and
// it is still there.
func (p *Provider) deleteRoot(ctx context.Context, conn *golibvirt.Libvirt, m *meta) error {
	if m.Root == "" {
		return nil
	}
	defer p.locks.lock("volume:" + m.Root)()
	pool := p.rootPool(m)
	sp, err := conn.StoragePoolLookupByName(pool)
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return p.fail("looking up storage pool "+pool, err)
	}
	vol, err := conn.StorageVolLookupByName(sp, m.Root)
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return p.fail("looking up volume "+m.Root, err)
	}
	return p.deleteVolume(ctx, conn, vol, busyWait, "the root volume of compute "+m.ID)
}

// deleteRoots removes the root volumes of the compute id of the instance
// from the storage pool, waiting at most wait for each that libvirt is
// still filling, and says how many went; one that cannot go does not keep
// the others.
func (p *Provider) deleteRoots(ctx context.Context, conn *golibvirt.Libvirt, instance, id string, wait time.Duration) (int, error) {
	vols, err := p.ourVolumes(ctx, conn, instance)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, v := range vols {
		if !v.root || v.id != id {
			continue
		}
		unlock := p.locks.lock("volume:" + v.vol.Name)
		err := p.deleteVolume(ctx, conn, v.vol, wait, "the root volume of compute "+id)
		unlock()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// checkTemplateKept refuses an update that changes the OS template a
// domain was made from: that would be a rebuild.
func (p *Provider) checkTemplateKept(ctx context.Context, conn *golibvirt.Libvirt, d *domain, tpl string) error {
	if tpl == d.meta.OSTpl {
		return nil
	}
	if tpl != "" {
		if _, err := p.resolveImage(ctx, conn, tpl); err != nil {
			return err
		}
	}
	was := "without an OS template"
	if d.meta.OSTpl != "" {
		was = "from " + d.meta.OSTpl
	}
	return occi.Errorf(occi.Unimplemented, "libvirt provider %s: compute %s was made %s: rebuild is not supported; create a new compute instead", p.name, d.meta.ID, was)
}

// joinUndo adds the failure of an undo step to the error that called for
// it.
func joinUndo(err, undoErr error) error {
	if undoErr == nil {
		return err
	}
	return errors.Join(err, undoErr)
}
