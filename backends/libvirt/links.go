package libvirt

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"regexp"
	"strings"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/ocni/ocni/backends"
	"github.com/ocni/ocni/occi"
)

// Link attributes.
const (
	attrMAC        = "occi.networkinterface.mac"
	attrInterface  = "occi.networkinterface.interface"
	attrDeviceID   = "occi.storagelink.deviceid"
	attrMountpoint = "occi.storagelink.mountpoint"
)

var (
	macPattern = regexp.MustCompile(`^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$`)
	devPattern = regexp.MustCompile(`^(vd|sd|hd|xvd)[a-z]{1,3}$`)
)

// stateAttrs are a link family's state and message attributes.
func stateAttrs(family string) (string, string) {
	return "occi." + family + ".state", "occi." + family + ".state.message"
}

func linkFamily(o *backends.Object) string {
	if familyOf(o) == famNetworkInterface {
		return familyNetworkInterface
	}
	return familyStorageLink
}

// diskBus is the bus a disk's target name implies.
func diskBus(dev string) string {
	switch {
	case strings.HasPrefix(dev, "vd"):
		return "virtio"
	case strings.HasPrefix(dev, "sd"):
		return "scsi"
	case strings.HasPrefix(dev, "hd"):
		return "ide"
	}
	return "xen"
}

// newMAC returns a random address in the range libvirt uses for guests.
func newMAC() (string, error) {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return fmt.Sprintf("52:54:00:%02x:%02x:%02x", b[0], b[1], b[2]), nil
}

// device builds the device element of a link for a domain.
func (p *Provider) device(l *linkMeta, d *domain) *node {
	if l.Family == familyNetworkInterface {
		e := elem("interface", "type", "network").add(
			elem("mac", "address", l.MAC),
			elem("source", "network", l.Network),
		)
		if t := d.def.get("type"); t == "kvm" || t == "qemu" {
			e.add(elem("model", "type", "virtio"))
		}
		return e
	}
	return elem("disk", "type", "volume", "device", "disk").add(
		elem("source", "pool", p.storagePool, "volume", l.Volume),
		elem("target", "dev", l.Dev, "bus", diskBus(l.Dev)),
	)
}

// findDevice returns a link's device in a domain definition: the interface
// with its MAC address, or the disk with its target name.
func findDevice(def *node, l *linkMeta) *node {
	devices := def.child("devices")
	if devices == nil {
		return nil
	}
	if l.Family == familyNetworkInterface {
		for _, i := range devices.children("interface") {
			if m := i.child("mac"); m != nil && strings.EqualFold(m.get("address"), l.MAC) {
				return i
			}
		}
		return nil
	}
	for _, dk := range devices.children("disk") {
		if t := dk.child("target"); t != nil && t.get("dev") == l.Dev {
			return dk
		}
	}
	return nil
}

// domainAt finds the domain of the compute at a location: the engine
// places an entity at a path ending with its id, and the metadata says
// where its compute is.
func (p *Provider) domainAt(ctx context.Context, conn *golibvirt.Libvirt, location string) (*domain, error) {
	d, err := p.lookupDomain(conn, idOfLocation(location))
	switch {
	case err == nil && (d.meta.Location == location || d.meta.Location == ""):
		return d, nil
	case err != nil && !errors.Is(err, occi.ErrNotFound):
		return nil, err
	}
	doms, err := p.ourDomains(ctx, conn)
	if err != nil {
		return nil, err
	}
	for _, d := range doms {
		if d.meta.Location == location {
			return d, nil
		}
	}
	return nil, occi.Errorf(occi.NotFound, "libvirt provider %s: no compute at %s", p.name, location)
}

// networkAt finds the network at a location.
func (p *Provider) networkAt(ctx context.Context, conn *golibvirt.Libvirt, location string) (*network, error) {
	n, err := p.lookupNetwork(conn, idOfLocation(location))
	switch {
	case err == nil && (n.meta.Location == location || n.meta.Location == ""):
		return n, nil
	case err != nil && !errors.Is(err, occi.ErrNotFound):
		return nil, err
	}
	nets, err := p.ourNetworks(ctx, conn)
	if err != nil {
		return nil, err
	}
	for _, n := range nets {
		if n.meta.Location == location {
			return n, nil
		}
	}
	return nil, occi.Errorf(occi.NotFound, "libvirt provider %s: no network at %s", p.name, location)
}

// linkDomain finds the domain that records a link: its source's, or any
// of ours when the source is not known (an orphan) or does not have it.
func (p *Provider) linkDomain(ctx context.Context, conn *golibvirt.Libvirt, o *backends.Object) (*domain, *linkMeta, error) {
	if o.Source != "" {
		d, err := p.domainAt(ctx, conn, o.Source)
		if err == nil {
			if l := d.meta.link(o.ID); l != nil {
				return d, l, nil
			}
		} else if !errors.Is(err, occi.ErrNotFound) {
			return nil, nil, err
		}
	}
	doms, err := p.ourDomains(ctx, conn)
	if err != nil {
		return nil, nil, err
	}
	for _, d := range doms {
		if l := d.meta.link(o.ID); l != nil {
			return d, l, nil
		}
	}
	return nil, nil, p.notFound("link", o.ID)
}

// lockLink finds a link, takes its domain's lock and reads the domain
// again under it.
func (p *Provider) lockLink(ctx context.Context, conn *golibvirt.Libvirt, o *backends.Object) (*domain, *linkMeta, func(), error) {
	found, _, err := p.linkDomain(ctx, conn, o)
	if err != nil {
		return nil, nil, nil, err
	}
	unlock := p.locks.lock("domain:" + found.dom.Name)
	d, err := p.lookupDomain(conn, found.meta.ID)
	if err != nil {
		unlock()
		return nil, nil, nil, err
	}
	l := d.meta.link(o.ID)
	if l == nil {
		unlock()
		return nil, nil, nil, p.notFound("link", o.ID)
	}
	return d, l, unlock, nil
}

// linkObserved is what libvirt says of a link: active when its device is
// plugged in the running domain, inactive when it is only in the
// definition; NotFound when the device is gone.
func (p *Provider) linkObserved(conn *golibvirt.Libvirt, d *domain, l *linkMeta) (map[string]any, error) {
	if findDevice(d.def, l) == nil {
		return nil, occi.Errorf(occi.NotFound, "libvirt provider %s: the device of %s %s is gone from domain %s", p.name, l.Family, l.ID, d.dom.Name)
	}
	st, _, err := p.domainState(conn, d)
	if err != nil {
		return nil, err
	}
	stateAttr, msgAttr := stateAttrs(l.Family)
	out := map[string]any{stateAttr: "inactive", msgAttr: nil}
	if isActive(st) {
		live, err := p.liveDef(conn, d)
		if err != nil {
			return nil, err
		}
		if findDevice(live, l) != nil {
			out[stateAttr] = "active"
		} else {
			out[msgAttr] = "in the compute's definition; plugged at its next start"
		}
	}
	if l.Family == familyNetworkInterface {
		out[attrMAC] = l.MAC
	}
	return out, nil
}

// linkMetaOf builds the record of a new link, checking its target.
func (p *Provider) linkMetaOf(ctx context.Context, conn *golibvirt.Libvirt, o *backends.Object) (*linkMeta, error) {
	l := &linkMeta{ID: o.ID, Location: o.Location, Kind: o.Kind, Family: linkFamily(o), Target: o.Target}
	if o.Source == "" {
		return nil, p.invalid("%s %s has no source compute", l.Family, o.ID)
	}
	if l.Family == familyNetworkInterface {
		n, err := p.networkAt(ctx, conn, o.Target)
		if errors.Is(err, occi.ErrNotFound) {
			return nil, occi.Errorf(occi.FailedPrecondition, "libvirt provider %s: network %s is not on this provider", p.name, o.Target)
		}
		if err != nil {
			return nil, err
		}
		l.Network = n.net.Name
		l.Interface = str(o, attrInterface)
		l.MAC = strings.ToLower(str(o, attrMAC))
		if l.MAC == "" {
			if l.MAC, err = newMAC(); err != nil {
				return nil, occi.Errorf(occi.Internal, "libvirt provider %s: %w", p.name, err)
			}
		} else if !macPattern.MatchString(l.MAC) {
			return nil, p.invalid("%s = %q is not a MAC address", attrMAC, l.MAC)
		}
		return l, nil
	}
	vol, err := p.lookupVolume(conn, idOfLocation(o.Target))
	if errors.Is(err, occi.ErrNotFound) {
		return nil, occi.Errorf(occi.FailedPrecondition, "libvirt provider %s: storage %s is not on this provider", p.name, o.Target)
	}
	if err != nil {
		return nil, err
	}
	l.Volume = vol.Name
	l.Dev = str(o, attrDeviceID)
	if !devPattern.MatchString(l.Dev) {
		return nil, p.invalid("%s = %q: a disk name such as vdb, sdb or hdb", attrDeviceID, l.Dev)
	}
	l.Mountpoint = str(o, attrMountpoint)
	return l, nil
}

// plug adds a link's device to a running domain; a driver that cannot
// hot-plug leaves it for the next start.
func (p *Provider) plug(conn *golibvirt.Libvirt, d *domain, dev *node) error {
	err := conn.DomainAttachDeviceFlags(d.dom, dev.String(), uint32(golibvirt.DomainDeviceModifyLive))
	if err != nil && !unsupported(err) {
		return err
	}
	return nil
}

// unplug removes a link's device from a running domain, if it is there.
func (p *Provider) unplug(conn *golibvirt.Libvirt, d *domain, l *linkMeta) error {
	live, err := p.liveDef(conn, d)
	if err != nil {
		return err
	}
	if dev := findDevice(live, l); dev != nil {
		return p.unplugDevice(conn, d, dev)
	}
	return nil
}

// createLink adds the device to the source domain's definition, records
// the link beside it, and plugs the device when the domain runs.
func (p *Provider) createLink(ctx context.Context, o *backends.Object) (map[string]any, error) {
	op := "create " + linkFamily(o) + " " + o.ID
	conn, err := p.client(ctx, op)
	if err != nil {
		return nil, err
	}
	l, err := p.linkMetaOf(ctx, conn, o)
	if err != nil {
		return nil, err
	}
	src, err := p.domainAt(ctx, conn, o.Source)
	if errors.Is(err, occi.ErrNotFound) {
		return nil, occi.Errorf(occi.FailedPrecondition, "libvirt provider %s: compute %s is not on this provider", p.name, o.Source)
	}
	if err != nil {
		return nil, err
	}
	defer p.locks.lock("domain:" + src.dom.Name)()
	d, err := p.lookupDomain(conn, src.meta.ID)
	if err != nil {
		return nil, err
	}
	if d.meta.link(o.ID) != nil {
		return nil, occi.Errorf(occi.AlreadyExists, "libvirt provider %s: %s %s already exists", p.name, l.Family, o.ID)
	}
	if findDevice(d.def, l) != nil {
		what := "MAC address " + l.MAC
		if l.Family == familyStorageLink {
			what = "disk " + l.Dev
		}
		return nil, occi.Errorf(occi.Conflict, "libvirt provider %s: compute %s already has a device with %s", p.name, d.meta.ID, what)
	}
	st, _, err := p.domainState(conn, d)
	if err != nil {
		return nil, err
	}
	if err := p.check(ctx, op); err != nil {
		return nil, err
	}
	orig := d.def.String()
	dev := p.device(l, d)
	d.def.ensure("devices").add(dev)
	d.meta.Links = append(d.meta.Links, l)
	setMeta(d.def, d.meta)
	if _, err := p.define(conn, d.def); err != nil {
		return nil, err
	}
	if isActive(st) {
		if err := p.plug(conn, d, dev); err != nil {
			perr := p.fail("plugging the device of "+o.ID+" into "+d.dom.Name, err)
			if _, rerr := conn.DomainDefineXMLFlags(orig, 0); rerr != nil {
				return nil, errors.Join(perr, p.fail("restoring the definition of "+d.dom.Name, rerr))
			}
			return nil, perr
		}
	}
	return p.linkObserved(conn, d, l)
}

func (p *Provider) retrieveLink(ctx context.Context, o *backends.Object) (map[string]any, error) {
	conn, err := p.client(ctx, "retrieve "+linkFamily(o)+" "+o.ID)
	if err != nil {
		return nil, err
	}
	d, l, err := p.linkDomain(ctx, conn, o)
	if err != nil {
		return nil, err
	}
	return p.linkObserved(conn, d, l)
}

// updateLink keeps the link's record up to date, and replaces its device
// when the MAC address or the disk name changes.
func (p *Provider) updateLink(ctx context.Context, _, o *backends.Object) (map[string]any, error) {
	op := "update " + linkFamily(o) + " " + o.ID
	conn, err := p.client(ctx, op)
	if err != nil {
		return nil, err
	}
	d, l, unlock, err := p.lockLink(ctx, conn, o)
	if err != nil {
		return nil, err
	}
	defer unlock()
	next := *l
	next.Location, next.Kind = o.Location, o.Kind
	if l.Family == familyNetworkInterface {
		next.Interface = str(o, attrInterface)
		if mac := strings.ToLower(str(o, attrMAC)); mac != "" {
			if !macPattern.MatchString(mac) {
				return nil, p.invalid("%s = %q is not a MAC address", attrMAC, mac)
			}
			next.MAC = mac
		}
	} else {
		next.Mountpoint = str(o, attrMountpoint)
		next.Dev = str(o, attrDeviceID)
		if !devPattern.MatchString(next.Dev) {
			return nil, p.invalid("%s = %q: a disk name such as vdb, sdb or hdb", attrDeviceID, next.Dev)
		}
	}
	replug := next.MAC != l.MAC || next.Dev != l.Dev
	var oldDev, newDev *node
	if replug {
		if findDevice(d.def, &next) != nil {
			return nil, occi.Errorf(occi.Conflict, "libvirt provider %s: compute %s already has that device", p.name, d.meta.ID)
		}
		oldDev = findDevice(d.def, l)
		if oldDev == nil {
			return nil, occi.Errorf(occi.NotFound, "libvirt provider %s: the device of %s %s is gone from domain %s", p.name, l.Family, l.ID, d.dom.Name)
		}
		newDev = p.device(&next, d)
	}
	st, _, err := p.domainState(conn, d)
	if err != nil {
		return nil, err
	}
	if err := p.check(ctx, op); err != nil {
		return nil, err
	}
	if replug {
		devices := d.def.child("devices")
		devices.remove(func(k *node) bool { return k == oldDev })
		devices.add(newDev)
	}
	*l = next
	setMeta(d.def, d.meta)
	if _, err := p.define(conn, d.def); err != nil {
		return nil, err
	}
	if replug && isActive(st) {
		if err := p.unplugDevice(conn, d, oldDev); err != nil {
			return nil, err
		}
		if err := p.plug(conn, d, newDev); err != nil {
			return nil, p.fail("plugging the device of "+o.ID+" into "+d.dom.Name, err)
		}
	}
	return p.linkObserved(conn, d, l)
}

// unplugDevice removes a device, as it is in the definition, from the
// running domain.
func (p *Provider) unplugDevice(conn *golibvirt.Libvirt, d *domain, dev *node) error {
	err := conn.DomainDetachDeviceFlags(d.dom, dev.String(), uint32(golibvirt.DomainDeviceModifyLive))
	if err != nil && !unsupported(err) && !isCode(err, golibvirt.ErrDeviceMissing) {
		return p.fail("unplugging a device from "+d.dom.Name, err)
	}
	return nil
}

// deleteLink unplugs the device, removes it from the definition and drops
// the record. A record whose device was already gone is dropped, and the
// link is NotFound.
func (p *Provider) deleteLink(ctx context.Context, o *backends.Object) error {
	op := "delete link " + o.ID
	conn, err := p.client(ctx, op)
	if err != nil {
		return err
	}
	d, l, unlock, err := p.lockLink(ctx, conn, o)
	if err != nil {
		return err
	}
	defer unlock()
	st, _, err := p.domainState(conn, d)
	if err != nil {
		return err
	}
	if err := p.check(ctx, op); err != nil {
		return err
	}
	if isActive(st) {
		if err := p.unplug(conn, d, l); err != nil {
			return err
		}
	}
	dev := findDevice(d.def, l)
	if dev != nil {
		d.def.child("devices").remove(func(k *node) bool { return k == dev })
	}
	d.meta.dropLink(l.ID)
	setMeta(d.def, d.meta)
	if _, err := p.define(conn, d.def); err != nil {
		return err
	}
	if dev == nil {
		return occi.Errorf(occi.NotFound, "libvirt provider %s: the device of %s %s was already gone from domain %s", p.name, l.Family, l.ID, d.dom.Name)
	}
	return nil
}
