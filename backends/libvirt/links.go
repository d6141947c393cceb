package libvirt

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

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

// domainAt finds the domain of the instance's compute at a location: the
// engine places an entity at a path ending with its id, and the metadata
// says where its compute is.
func (p *Provider) domainAt(ctx context.Context, conn *golibvirt.Libvirt, instance, location string) (*domain, error) {
	d, err := p.findDomain(conn, instance, idOfLocation(location))
	switch {
	case err == nil && (d.meta.Location == location || d.meta.Location == ""):
		return d, nil
	case err != nil && !errors.Is(err, occi.ErrNotFound):
		return nil, err
	}
	doms, err := p.ourDomains(ctx, conn, instance)
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

// networkAt finds the instance's network at a location.
func (p *Provider) networkAt(ctx context.Context, conn *golibvirt.Libvirt, instance, location string) (*network, error) {
	n, err := p.findNetwork(conn, instance, idOfLocation(location))
	switch {
	case err == nil && (n.meta.Location == location || n.meta.Location == ""):
		return n, nil
	case err != nil && !errors.Is(err, occi.ErrNotFound):
		return nil, err
	}
	nets, err := p.ourNetworks(ctx, conn, instance)
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
// of the instance's when the source is not known (an orphan) or does not
// have it.
func (p *Provider) linkDomain(ctx context.Context, conn *golibvirt.Libvirt, o *backends.Object) (*domain, *linkMeta, error) {
	if o.Source != "" {
		d, err := p.domainAt(ctx, conn, o.Instance, o.Source)
		if err == nil {
			if l := d.meta.link(o.ID); l != nil {
				return d, l, nil
			}
		} else if !errors.Is(err, occi.ErrNotFound) {
			return nil, nil, err
		}
	}
	doms, err := p.ourDomains(ctx, conn, o.Instance)
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
	d, err := p.findDomain(conn, o.Instance, found.meta.ID)
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

// hasLiveDef reports whether libvirt holds a running definition of a
// domain in the state: it has a process, even a crashed one.
func hasLiveDef(st golibvirt.DomainState) bool {
	return isActive(st) || st == golibvirt.DomainCrashed
}

// linkObserved is what libvirt says of a link now, from its compute's
// current state: active when its device is in the running domain and the
// compute is active; inactive, saying why, when the compute is suspended,
// stopped or in error, or when the device is only in the definition (it is
// plugged at the next start). NotFound when the device is in neither
// definition.
func (p *Provider) linkObserved(conn *golibvirt.Libvirt, d *domain, l *linkMeta) (map[string]any, error) {
	st, reason, err := p.domainState(conn, d)
	if err != nil {
		return nil, err
	}
	inDef := findDevice(d.def, l) != nil
	inLive := false
	if hasLiveDef(st) {
		live, err := p.liveDef(conn, d)
		if isNotFound(err) || errors.Is(err, occi.ErrNotFound) {
			return nil, p.notFound("compute", d.meta.ID)
		}
		if err != nil {
			return nil, err
		}
		inLive = findDevice(live, l) != nil
	}
	if !inDef && !inLive {
		return nil, occi.Errorf(occi.NotFound, "libvirt provider %s: the device of %s %s is gone from domain %s", p.name, l.Family, l.ID, d.dom.Name)
	}
	compute, why := computeState(st, reason)
	stateAttr, msgAttr := stateAttrs(l.Family)
	out := map[string]any{stateAttr: "inactive", msgAttr: nil}
	switch {
	case compute == "active" && inLive:
		out[stateAttr] = "active"
		if !inDef {
			out[msgAttr] = "no longer in the compute's definition: it leaves at the compute's next stop"
		}
	case compute == "active":
		out[msgAttr] = "in the compute's definition; plugged at its next start"
	case compute == "suspended":
		out[msgAttr] = "the compute is suspended"
	case compute == "error":
		out[msgAttr] = "the compute is in error: " + why
	}
	if l.Family == familyNetworkInterface {
		out[attrMAC] = l.MAC
	} else {
		out[attrDeviceID] = l.Dev
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
		n, err := p.networkAt(ctx, conn, o.Instance, o.Target)
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
	vol, err := p.findVolume(conn, o.Instance, idOfLocation(o.Target))
	if errors.Is(err, occi.ErrNotFound) {
		return nil, occi.Errorf(occi.FailedPrecondition, "libvirt provider %s: storage %s is not on this provider", p.name, o.Target)
	}
	if err != nil {
		return nil, err
	}
	l.Volume = vol.Name
	// No device given: the next free one is chosen once the domain is
	// known (freeDisk).
	l.Dev = str(o, attrDeviceID)
	if l.Dev != "" && !devPattern.MatchString(l.Dev) {
		return nil, p.invalid("%s = %q: a disk name such as vdb, sdb or hdb", attrDeviceID, l.Dev)
	}
	l.Mountpoint = str(o, attrMountpoint)
	return l, nil
}

// freeDisk returns the first virtio disk name (vdb, vdc, ...; vda is the
// root disk's) that the domain's definition does not use.
func freeDisk(def *node) (string, bool) {
	used := map[string]bool{"vda": true}
	if devices := def.child("devices"); devices != nil {
		for _, dk := range devices.children("disk") {
			if t := dk.child("target"); t != nil {
				used[t.get("dev")] = true
			}
		}
	}
	for c := 'b'; c <= 'z'; c++ {
		if name := "vd" + string(c); !used[name] {
			return name, true
		}
	}
	return "", false
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

// detachWait bounds how long a detach waits, after libvirt's answer, for
// the guest to release the device. libvirt itself answers after its own
// wait (5 s for QEMU) whether or not the device went.
var detachWait = 10 * time.Second

// detach removes a link's device from the running domain, and confirms it
// against the domain's live definition: libvirt's answer only says that
// the guest was asked. A device the guest has not released is a Conflict,
// one this hypervisor cannot unplug a FailedPrecondition: either way
// nothing changed, and the link stays. (A crashed domain runs no guest to
// ask: its devices leave when it is destroyed, and callers skip it.)
func (p *Provider) detach(ctx context.Context, conn *golibvirt.Libvirt, d *domain, l *linkMeta) error {
	var dev *node
	present := func() (bool, error) {
		st, _, err := p.domainState(conn, d)
		if err != nil || !hasLiveDef(st) {
			return false, err
		}
		live, err := p.liveDef(conn, d)
		if err != nil {
			return false, err
		}
		dev = findDevice(live, l)
		return dev != nil, nil
	}
	if there, err := present(); err != nil || !there {
		return err
	}
	what := l.Family + " " + l.Location
	if l.Location == "" {
		what = l.Family + " " + l.ID
	}
	err := settleDetach(ctx, detachWait, func() error {
		// The live element, with the alias and address libvirt gave it,
		// names the device exactly.
		return conn.DomainDetachDeviceFlags(d.dom, dev.String(), uint32(golibvirt.DomainDeviceModifyLive))
	}, present)
	var oe *occi.Error
	if err == nil || !errors.As(err, &oe) {
		if err != nil {
			return p.fail("unplugging the device of "+what+" from "+d.dom.Name, err)
		}
		return nil
	}
	return occi.Errorf(oe.Code, "libvirt provider %s: cannot take the device of %s out of compute %s (domain %s): %w", p.name, what, d.meta.Location, d.dom.Name, err)
}

// settleDetach asks for a detach and waits, at most wait or until ctx is
// done, for present to say the device is gone. It returns nil once it is;
// a FailedPrecondition when the hypervisor cannot unplug devices from a
// running domain; a Conflict, with libvirt's message when it gave one,
// when the device is still there; libvirt's other errors as they are.
func settleDetach(ctx context.Context, wait time.Duration, detach func() error, present func() (bool, error)) error {
	callErr := detach()
	var lverr golibvirt.Error
	isLibvirt := errors.As(callErr, &lverr)
	switch {
	case callErr == nil, isCode(callErr, golibvirt.ErrDeviceMissing):
	case unsupported(callErr):
		return occi.Errorf(occi.FailedPrecondition, "the hypervisor cannot unplug devices from a running domain (libvirt: %s); stop the compute first", lverr.Message)
	case !isLibvirt:
		return callErr
	}
	// A refusal that says an unplug is under way (a second request while
	// the guest still handles the first) waits like an accepted request;
	// another refusal is checked once.
	deadline := time.Now()
	if callErr == nil || isCode(callErr, golibvirt.ErrDeviceMissing) || strings.Contains(lverr.Message, "in the process of unplug") {
		deadline = deadline.Add(wait)
	}
	for {
		there, err := present()
		if err != nil {
			return err
		}
		if !there {
			return nil
		}
		if !time.Now().Before(deadline) || ctx.Err() != nil {
			break
		}
		timer := time.NewTimer(min(200*time.Millisecond, time.Until(deadline)))
		select {
		case <-ctx.Done():
		case <-timer.C:
		}
		timer.Stop()
	}
	if callErr != nil && !isCode(callErr, golibvirt.ErrDeviceMissing) {
		return occi.Errorf(occi.Conflict, "the guest has not released the device (libvirt: %s)", lverr.Message)
	}
	return occi.Errorf(occi.Conflict, "libvirt asked the guest to release the device, and it is still in the running domain after %s; try again, or stop the compute first", wait)
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
	src, err := p.domainAt(ctx, conn, o.Instance, o.Source)
	if errors.Is(err, occi.ErrNotFound) {
		return nil, occi.Errorf(occi.FailedPrecondition, "libvirt provider %s: compute %s is not on this provider", p.name, o.Source)
	}
	if err != nil {
		return nil, err
	}
	if l.Family == familyStorageLink {
		// Held until the disk is defined, so that the storage's Delete
		// either sees the disk or has removed the volume before.
		defer p.locks.lock("volume:" + l.Volume)()
		if _, err := p.findVolume(conn, o.Instance, idOfLocation(o.Target)); errors.Is(err, occi.ErrNotFound) {
			return nil, occi.Errorf(occi.FailedPrecondition, "libvirt provider %s: storage %s is not on this provider", p.name, o.Target)
		} else if err != nil {
			return nil, err
		}
	}
	defer p.locks.lock("domain:" + src.dom.Name)()
	d, err := p.findDomain(conn, o.Instance, src.meta.ID)
	if err != nil {
		return nil, err
	}
	if d.meta.link(o.ID) != nil {
		return nil, occi.Errorf(occi.AlreadyExists, "libvirt provider %s: %s %s already exists", p.name, l.Family, o.ID)
	}
	if l.Family == familyStorageLink && l.Dev == "" {
		var ok bool
		if l.Dev, ok = freeDisk(d.def); !ok {
			return nil, occi.Errorf(occi.FailedPrecondition, "libvirt provider %s: compute %s has no free disk name left (vdb to vdz are used)", p.name, d.meta.ID)
		}
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
	if replug && isActive(st) {
		// The old device leaves the running domain first: until it has,
		// nothing changes.
		if err := p.detach(ctx, conn, d, l); err != nil {
			return nil, err
		}
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
		if err := p.plug(conn, d, newDev); err != nil {
			return nil, p.fail("plugging the device of "+o.ID+" into "+d.dom.Name, err)
		}
	}
	return p.linkObserved(conn, d, l)
}

// deleteLink unplugs the device from the running domain, confirmed (see
// detach), then removes it from the definition and drops the record. A
// device that does not leave the running domain keeps everything as it
// was. A record whose device was already gone is dropped, and the link is
// NotFound.
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
	plugged := false
	if isActive(st) {
		live, err := p.liveDef(conn, d)
		if err != nil {
			return err
		}
		plugged = findDevice(live, l) != nil
		if err := p.detach(ctx, conn, d, l); err != nil {
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
	if dev == nil && !plugged {
		return occi.Errorf(occi.NotFound, "libvirt provider %s: the device of %s %s was already gone from domain %s", p.name, l.Family, l.ID, d.dom.Name)
	}
	return nil
}
