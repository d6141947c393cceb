package libvirt

import (
	"context"
	"math"
	"strconv"
	"strings"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/ocni/ocni/backends"
	"github.com/ocni/ocni/occi"
)

// Storage attributes.
const (
	attrSize           = "occi.storage.size"
	attrStorageState   = "occi.storage.state"
	attrStorageMessage = "occi.storage.state.message"
)

const (
	bytesPerGiB = 1 << 30
	// sizeSlack is how far a volume's capacity may be from the size asked
	// for (libvirt rounds to allocation units) and still count as it.
	sizeSlack = 1 << 20
)

func volumeName(id string) string { return NamePrefix + id }

// pool looks up the storage pool of volumes.
func (p *Provider) pool(conn *golibvirt.Libvirt) (golibvirt.StoragePool, error) {
	sp, err := conn.StoragePoolLookupByName(p.storagePool)
	if err != nil {
		if isNotFound(err) {
			return sp, occi.Errorf(occi.Unavailable, "libvirt provider %s: storage pool %s is gone", p.name, p.storagePool)
		}
		return sp, p.fail("looking up storage pool "+p.storagePool, err)
	}
	return sp, nil
}

func (p *Provider) lookupVolume(conn *golibvirt.Libvirt, id string) (golibvirt.StorageVol, error) {
	sp, err := p.pool(conn)
	if err != nil {
		return golibvirt.StorageVol{}, err
	}
	vol, err := conn.StorageVolLookupByName(sp, volumeName(id))
	if err != nil {
		if isNotFound(err) {
			return vol, p.notFound("storage", id)
		}
		return vol, p.fail("looking up volume "+volumeName(id), err)
	}
	return vol, nil
}

// ourVolumes lists the volumes of the pool named like ours.
func (p *Provider) ourVolumes(ctx context.Context, conn *golibvirt.Libvirt) ([]golibvirt.StorageVol, error) {
	if err := ctx.Err(); err != nil {
		return nil, occi.Errorf(occi.Unavailable, "libvirt provider %s: listing volumes: %w", p.name, err)
	}
	sp, err := p.pool(conn)
	if err != nil {
		return nil, err
	}
	vols, _, err := conn.StoragePoolListAllVolumes(sp, 1, 0)
	if err != nil {
		return nil, p.fail("listing the volumes of "+p.storagePool, err)
	}
	var out []golibvirt.StorageVol
	for _, v := range vols {
		if strings.HasPrefix(v.Name, NamePrefix) {
			out = append(out, v)
		}
	}
	return out, nil
}

// sizeBytes reads the size in GiB as bytes.
func (p *Provider) sizeBytes(o *backends.Object) (uint64, error) {
	size, ok := number(o, attrSize)
	if !ok {
		return 0, p.invalid("%s is required: the volume's size in GiB", attrSize)
	}
	if size <= 0 || size > 1<<30 {
		return 0, p.invalid("%s = %v: a positive number of GiB", attrSize, size)
	}
	return uint64(math.Ceil(size * bytesPerGiB)), nil
}

// storageObserved is what libvirt says of a volume: it is online while it
// exists, and its size when libvirt made it different from the request.
func (p *Provider) storageObserved(conn *golibvirt.Libvirt, vol golibvirt.StorageVol, o *backends.Object) (map[string]any, error) {
	_, capacity, _, err := conn.StorageVolGetInfo(vol)
	if err != nil {
		if isNotFound(err) {
			return nil, p.notFound("storage", o.ID)
		}
		return nil, p.fail("reading volume "+vol.Name, err)
	}
	out := map[string]any{attrStorageState: "online", attrStorageMessage: nil}
	asked, err := p.sizeBytes(o)
	if err != nil || absDiff(asked, capacity) >= sizeSlack {
		out[attrSize] = float64(capacity) / bytesPerGiB
	}
	return out, nil
}

func absDiff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}

// createStorage makes a raw volume of the size in the storage pool.
func (p *Provider) createStorage(ctx context.Context, o *backends.Object) (map[string]any, error) {
	op := "create storage " + o.ID
	conn, err := p.client(ctx, op)
	if err != nil {
		return nil, err
	}
	size, err := p.sizeBytes(o)
	if err != nil {
		return nil, err
	}
	name := volumeName(o.ID)
	def := elem("volume").add(
		textElem("name", name),
		textElem("capacity", strconv.FormatUint(size, 10), "unit", "bytes"),
		textElem("allocation", "0", "unit", "bytes"),
	)
	defer p.locks.lock("volume:" + name)()
	sp, err := p.pool(conn)
	if err != nil {
		return nil, err
	}
	if _, err := conn.StorageVolLookupByName(sp, name); err == nil {
		return nil, occi.Errorf(occi.AlreadyExists, "libvirt provider %s: volume %s already exists in pool %s", p.name, name, p.storagePool)
	} else if !isNotFound(err) {
		return nil, p.fail(op, err)
	}
	if err := p.check(ctx, op); err != nil {
		return nil, err
	}
	vol, err := conn.StorageVolCreateXML(sp, def.String(), 0)
	if err != nil {
		return nil, p.fail("creating volume "+name, err)
	}
	return p.storageObserved(conn, vol, o)
}

func (p *Provider) retrieveStorage(ctx context.Context, o *backends.Object) (map[string]any, error) {
	conn, err := p.client(ctx, "retrieve storage "+o.ID)
	if err != nil {
		return nil, err
	}
	vol, err := p.lookupVolume(conn, o.ID)
	if err != nil {
		return nil, err
	}
	return p.storageObserved(conn, vol, o)
}

// updateStorage grows the volume to a larger size; shrinking is refused,
// since it loses data. Other attributes have no place on a volume.
func (p *Provider) updateStorage(ctx context.Context, o *backends.Object) (map[string]any, error) {
	op := "update storage " + o.ID
	conn, err := p.client(ctx, op)
	if err != nil {
		return nil, err
	}
	size, err := p.sizeBytes(o)
	if err != nil {
		return nil, err
	}
	defer p.locks.lock("volume:" + volumeName(o.ID))()
	vol, err := p.lookupVolume(conn, o.ID)
	if err != nil {
		return nil, err
	}
	_, capacity, _, err := conn.StorageVolGetInfo(vol)
	if err != nil {
		return nil, p.fail(op, err)
	}
	switch {
	case size >= capacity+sizeSlack:
		if err := p.check(ctx, op); err != nil {
			return nil, err
		}
		if err := conn.StorageVolResize(vol, size, 0); err != nil {
			if unsupported(err) {
				return nil, occi.Errorf(occi.Unimplemented, "libvirt provider %s: %s: this libvirt driver cannot resize volumes", p.name, op)
			}
			return nil, p.fail("resizing volume "+vol.Name, err)
		}
	case size+sizeSlack <= capacity:
		return nil, occi.Errorf(occi.FailedPrecondition, "libvirt provider %s: %s: shrinking a volume from %d to %d bytes would lose data", p.name, op, capacity, size)
	}
	return p.storageObserved(conn, vol, o)
}

// deleteStorage removes the volume, unless a compute of ours uses it as a
// disk or as its root volume.
func (p *Provider) deleteStorage(ctx context.Context, id string) error {
	op := "delete storage " + id
	conn, err := p.client(ctx, op)
	if err != nil {
		return err
	}
	name := volumeName(id)
	defer p.locks.lock("volume:" + name)()
	vol, err := p.lookupVolume(conn, id)
	if err != nil {
		return err
	}
	doms, err := p.ourDomains(ctx, conn)
	if err != nil {
		return err
	}
	for _, d := range doms {
		if d.meta.Root == name && p.rootPool(d.meta) == p.storagePool {
			return occi.Errorf(occi.FailedPrecondition, "cannot delete storage %s: volume %s is the root disk of compute %s", id, name, d.meta.ID)
		}
		for _, l := range d.meta.Links {
			if l.Family == familyStorageLink && l.Volume == name {
				return occi.Errorf(occi.FailedPrecondition, "cannot delete storage %s: storage link %s attaches it to compute %s", id, l.ID, d.meta.ID)
			}
		}
	}
	if err := p.check(ctx, op); err != nil {
		return err
	}
	if err := conn.StorageVolDelete(vol, golibvirt.StorageVolDeleteNormal); err != nil {
		return p.fail("deleting volume "+name, err)
	}
	return nil
}
