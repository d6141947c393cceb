package libvirt

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

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

// busyWait bounds how long a volume's deletion waits while libvirt says
// the volume is busy (still being allocated, as a copy a crash
// interrupted is until libvirt finishes it).
var busyWait = 10 * time.Second

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

// findVolume finds the volume of the storage id of the instance.
func (p *Provider) findVolume(conn *golibvirt.Libvirt, instance, id string) (golibvirt.StorageVol, error) {
	sp, err := p.pool(conn)
	if err != nil {
		return golibvirt.StorageVol{}, err
	}
	name := volumeName(instance, id)
	vol, err := conn.StorageVolLookupByName(sp, name)
	if err != nil {
		if isNotFound(err) {
			return vol, p.notFound("storage", id)
		}
		return vol, p.fail("looking up volume "+name, err)
	}
	return vol, nil
}

// ourVolume is a volume of the storage pool named for an instance: a
// storage's, or (root) a compute's root volume.
type ourVolume struct {
	vol  golibvirt.StorageVol
	id   string
	root bool
}

// ourVolumes lists the volumes of the storage pool named for the
// instance. It reads names only, so a volume libvirt is still filling is
// listed like any other.
func (p *Provider) ourVolumes(ctx context.Context, conn *golibvirt.Libvirt, instance string) ([]ourVolume, error) {
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
	want := instanceTag(instance)
	var out []ourVolume
	for _, v := range vols {
		if tag, id, root, ok := volumeOwner(v.Name); ok && tag == want {
			out = append(out, ourVolume{vol: v, id: id, root: root})
		}
	}
	return out, nil
}

// isBusy reports whether libvirt refused to touch a volume for now: it is
// still being allocated (a copy or a preallocation under way) or in use by
// a transfer.
func isBusy(err error) bool {
	var lverr golibvirt.Error
	return errors.As(err, &lverr) && golibvirt.ErrorNumber(lverr.Code) == golibvirt.ErrOperationInvalid &&
		(strings.Contains(lverr.Message, "being allocated") || strings.Contains(lverr.Message, "still in use"))
}

// retryBusy calls call until it is done or fails otherwise than busy; it
// gives up after wait, or when ctx is done, with the last error.
func retryBusy(ctx context.Context, wait time.Duration, call func() error) error {
	deadline := time.Now().Add(wait)
	for {
		err := call()
		if err == nil || !isBusy(err) || !time.Now().Before(deadline) {
			return err
		}
		timer := time.NewTimer(min(250*time.Millisecond, time.Until(deadline)))
		select {
		case <-ctx.Done():
			timer.Stop()
			return err
		case <-timer.C:
		}
	}
}

// deleteVolume deletes a volume, waiting at most wait while libvirt says
// it is busy; a volume still busy then is a Conflict: it goes at a later
// Delete, and its name blocks nothing meanwhile.
func (p *Provider) deleteVolume(ctx context.Context, conn *golibvirt.Libvirt, vol golibvirt.StorageVol, wait time.Duration, what string) error {
	err := retryBusy(ctx, wait, func() error {
		err := conn.StorageVolDelete(vol, golibvirt.StorageVolDeleteNormal)
		if isNotFound(err) {
			return nil
		}
		return err
	})
	switch {
	case err == nil:
		return nil
	case isBusy(err):
		return occi.Errorf(occi.Conflict, "libvirt provider %s: cannot delete %s, volume %s, yet: %w; try again when libvirt is done with it", p.name, what, vol.Name, err)
	}
	return p.fail("deleting "+what+", volume "+vol.Name, err)
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
	name := volumeName(o.Instance, o.ID)
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
	vol, err := p.findVolume(conn, o.Instance, o.ID)
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
	defer p.locks.lock("volume:" + volumeName(o.Instance, o.ID))()
	vol, err := p.findVolume(conn, o.Instance, o.ID)
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

// deleteStorage removes the volume, unless a domain uses it: a compute of
// ours through a storage link, or any domain, ours or not, whose
// definition or running devices hold it as a disk. Deleting it would take
// the disk from under the guest.
func (p *Provider) deleteStorage(ctx context.Context, instance, id string) error {
	op := "delete storage " + id
	conn, err := p.client(ctx, op)
	if err != nil {
		return err
	}
	name := volumeName(instance, id)
	defer p.locks.lock("volume:" + name)()
	vol, err := p.findVolume(conn, instance, id)
	if err != nil {
		return err
	}
	if err := p.volumeUnused(ctx, conn, vol, id); err != nil {
		return err
	}
	if err := p.check(ctx, op); err != nil {
		return err
	}
	return p.deleteVolume(ctx, conn, vol, busyWait, "storage "+id)
}

// volumeUnused refuses, naming the user, a volume that a domain's
// definition or running devices hold as a disk.
func (p *Provider) volumeUnused(ctx context.Context, conn *golibvirt.Libvirt, vol golibvirt.StorageVol, id string) error {
	path, err := conn.StorageVolGetPath(vol)
	if err != nil && !unsupported(err) {
		return p.fail("reading the path of volume "+vol.Name, err)
	}
	docs, err := p.allDefinitions(ctx, conn)
	if err != nil {
		return err
	}
	for _, dd := range docs {
		for _, disk := range devicesOf(dd.doc, "disk") {
			src := disk.child("source")
			if src == nil {
				continue
			}
			byVolume := src.get("pool") == vol.Pool && src.get("volume") == vol.Name
			byPath := path != "" && (src.get("file") == path || src.get("dev") == path)
			if !byVolume && !byPath {
				continue
			}
			how := "as a disk"
			if t := disk.child("target"); t != nil {
				how = "as disk " + t.get("dev")
			}
			if dd.meta != nil {
				for _, l := range dd.meta.Links {
					if l.Family == familyStorageLink && l.Volume == vol.Name {
						how = "through storage link " + l.Location
					}
				}
			}
			return occi.Errorf(occi.FailedPrecondition, "libvirt provider %s: cannot delete storage %s: %s uses volume %s %s", p.name, id, dd.user(), vol.Name, how)
		}
	}
	return nil
}
