package libvirt

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/ocni/ocni/backends"
	"github.com/ocni/ocni/occi"
)

// Network attributes.
const (
	attrNetworkState   = "occi.network.state"
	attrNetworkMessage = "occi.network.state.message"
	attrLabel          = "occi.network.label"
	attrVLAN           = "occi.network.vlan"
	attrAddress        = "occi.network.address"
	attrGateway        = "occi.network.gateway"
	attrAllocation     = "occi.network.allocation"
)

// network is a network of ours: its handle, persistent definition and
// metadata.
type network struct {
	net  golibvirt.Network
	def  *node
	meta *meta
}

// findNetwork finds the network made for the id of the instance.
func (p *Provider) findNetwork(conn *golibvirt.Libvirt, instance, id string) (*network, error) {
	name := networkName(instance, id)
	n, err := conn.NetworkLookupByName(name)
	if err != nil {
		if isNotFound(err) {
			return nil, p.notFound("network", id)
		}
		return nil, p.fail("looking up network "+name, err)
	}
	nw, err := p.readNetwork(conn, n, id)
	if err != nil {
		return nil, err
	}
	if nw.meta.ID != id || nw.meta.Instance != instance {
		return nil, occi.Errorf(occi.NotFound, "libvirt provider %s: network %s was not made for network %s of this ocni instance", p.name, n.Name, id)
	}
	return nw, nil
}

// readNetwork reads a network's persistent definition and metadata; a
// network without our metadata is NotFound.
func (p *Provider) readNetwork(conn *golibvirt.Libvirt, n golibvirt.Network, id string) (*network, error) {
	x, err := networkXML(conn, n)
	if err != nil {
		if isNotFound(err) {
			return nil, p.notFound("network", id)
		}
		return nil, p.fail("reading network "+n.Name, err)
	}
	def, err := parseXML(x)
	if err != nil {
		return nil, occi.Errorf(occi.Internal, "libvirt provider %s: network %s: %w", p.name, n.Name, err)
	}
	m := findMeta(def)
	if m == nil {
		return nil, occi.Errorf(occi.NotFound, "libvirt provider %s: network %s was not made by ocni", p.name, n.Name)
	}
	return &network{net: n, def: def, meta: m}, nil
}

// networkXML reads a network's persistent definition; drivers that do not
// tell it from the running one (the test driver) give the only one.
func networkXML(conn *golibvirt.Libvirt, n golibvirt.Network) (string, error) {
	x, err := conn.NetworkGetXMLDesc(n, uint32(golibvirt.NetworkXMLInactive))
	if err != nil && unsupported(err) {
		x, err = conn.NetworkGetXMLDesc(n, 0)
	}
	return x, err
}

// ourNetworks lists the networks of the instance: named for it and
// carrying its id in their metadata.
func (p *Provider) ourNetworks(ctx context.Context, conn *golibvirt.Libvirt, instance string) ([]*network, error) {
	nets, _, err := conn.ConnectListAllNetworks(1, 0)
	if err != nil {
		return nil, p.fail("listing networks", err)
	}
	prefix := NamePrefix + instanceTag(instance) + "-"
	var out []*network
	for _, n := range nets {
		if !strings.HasPrefix(n.Name, prefix) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, occi.Errorf(occi.Unavailable, "libvirt provider %s: listing networks: %w", p.name, err)
		}
		nw, err := p.readNetwork(conn, n, "")
		if errors.Is(err, occi.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if nw.meta.Instance != instance || n.Name != networkName(instance, nw.meta.ID) {
			continue
		}
		out = append(out, nw)
	}
	return out, nil
}

// ipSettings are a network's IP settings from the ipnetwork mixin.
type ipSettings struct {
	prefix  netip.Prefix
	host    netip.Addr // the host's address on the network: the gateway
	dynamic bool
	// first and last delimit the DHCP range.
	first, last netip.Addr
}

// ipOf reads the ipnetwork attributes; nil when the network has no
// address.
func (p *Provider) ipOf(o *backends.Object) (*ipSettings, error) {
	addr, gw, alloc := str(o, attrAddress), str(o, attrGateway), str(o, attrAllocation)
	if addr == "" {
		switch {
		case alloc == "dynamic":
			return nil, p.invalid("%s dynamic needs %s (the network in CIDR notation)", attrAllocation, attrAddress)
		case gw != "":
			return nil, p.invalid("%s needs %s (the network in CIDR notation)", attrGateway, attrAddress)
		}
		return nil, nil
	}
	pfx, err := netip.ParsePrefix(addr)
	if err != nil {
		return nil, p.invalid("%s = %q is not in CIDR notation", attrAddress, addr)
	}
	pfx = pfx.Masked()
	ip := &ipSettings{prefix: pfx, dynamic: alloc == "dynamic"}
	if alloc != "" && alloc != "dynamic" && alloc != "static" {
		return nil, p.invalid("%s = %q: dynamic or static", attrAllocation, alloc)
	}
	bits := pfx.Addr().BitLen()
	if pfx.Bits() > bits-2 {
		return nil, p.invalid("%s = %q leaves no room for hosts", attrAddress, addr)
	}
	first := pfx.Addr().Next()
	last := lastAddr(pfx)
	if pfx.Addr().Is4() {
		last = last.Prev() // the broadcast address
	}
	ip.host = first
	if gw != "" {
		g, err := netip.ParseAddr(gw)
		if err != nil || !pfx.Contains(g) || g.Less(first) || last.Less(g) {
			return nil, p.invalid("%s = %q is not a host address of %s", attrGateway, gw, pfx)
		}
		ip.host = g
	}
	if ip.dynamic {
		// The range leaves out the host's address.
		ip.first, ip.last = first, last
		switch ip.host {
		case first:
			ip.first = first.Next()
		case last:
			ip.last = last.Prev()
		default:
			ip.first = ip.host.Next()
		}
		if ip.last.Less(ip.first) {
			return nil, p.invalid("%s = %q is too small for dynamic allocation", attrAddress, addr)
		}
		// libvirt refuses DHCP ranges of 65535 addresses or more.
		if end := addrAdd(ip.first, maxRange-1); end.Less(ip.last) {
			ip.last = end
		}
	}
	return ip, nil
}

// maxRange is the most addresses a DHCP range may hold for libvirt.
const maxRange = 65534

// addrAdd adds n to an address, without overflowing past the top.
func addrAdd(a netip.Addr, n uint64) netip.Addr {
	b := a.As16()
	carry := n
	for i := 15; i >= 0 && carry > 0; i-- {
		sum := uint64(b[i]) + carry&0xff
		b[i] = byte(sum)
		carry = carry>>8 + sum>>8
	}
	out := netip.AddrFrom16(b)
	if a.Is4() {
		out = out.Unmap()
	}
	return out
}

// lastAddr is the highest address of a prefix.
func lastAddr(pfx netip.Prefix) netip.Addr {
	b := pfx.Addr().AsSlice()
	for i := pfx.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// element is the <ip> element of the settings.
func (ip *ipSettings) element() *node {
	var e *node
	if ip.prefix.Addr().Is4() {
		mask := net.CIDRMask(ip.prefix.Bits(), 32)
		e = elem("ip", "address", ip.host.String(), "netmask", net.IP(mask).String())
	} else {
		e = elem("ip", "family", "ipv6", "address", ip.host.String(), "prefix", strconv.Itoa(ip.prefix.Bits()))
	}
	if ip.dynamic {
		e.add(elem("dhcp").add(elem("range", "start", ip.first.String(), "end", ip.last.String())))
	}
	return e
}

// networkMeta is the metadata of a network, with the attributes libvirt
// has no place for.
func (p *Provider) networkMeta(o *backends.Object) *meta {
	m := p.newMeta(o)
	keep(m, o, attrLabel, attrVLAN)
	return m
}

// networkDef builds the definition of an isolated network: no <forward>,
// so guests reach each other and the host, nothing else.
func (p *Provider) networkDef(o *backends.Object) (*node, error) {
	ip, err := p.ipOf(o)
	if err != nil {
		return nil, err
	}
	d := elem("network")
	d.add(textElem("name", networkName(o.Instance, o.ID)))
	d.add(elem("metadata").add(p.networkMeta(o).element()))
	if ip != nil {
		d.add(ip.element())
	}
	return d, nil
}

// networkObserved is what libvirt says of a network: its state, and the
// gateway it chose when the client gave none.
func (p *Provider) networkObserved(conn *golibvirt.Libvirt, n *network, o *backends.Object) (map[string]any, error) {
	active, err := conn.NetworkIsActive(n.net)
	if err != nil {
		if isNotFound(err) {
			return nil, p.notFound("network", n.meta.ID)
		}
		return nil, p.fail("reading the state of network "+n.net.Name, err)
	}
	state := "inactive"
	if active != 0 {
		state = "active"
	}
	out := map[string]any{attrNetworkState: state, attrNetworkMessage: nil}
	if _, has := o.Attributes[attrAddress]; has {
		if ipe := n.def.child("ip"); ipe != nil && str(o, attrGateway) == "" {
			out[attrGateway] = ipe.get("address")
		}
	}
	return out, nil
}

// createNetwork defines the network and starts it.
func (p *Provider) createNetwork(ctx context.Context, o *backends.Object) (map[string]any, error) {
	op := "create network " + o.ID
	conn, err := p.client(ctx, op)
	if err != nil {
		return nil, err
	}
	def, err := p.networkDef(o)
	if err != nil {
		return nil, err
	}
	name := networkName(o.Instance, o.ID)
	defer p.locks.lock("network:" + name)()
	if _, err := conn.NetworkLookupByName(name); err == nil {
		return nil, occi.Errorf(occi.AlreadyExists, "libvirt provider %s: network %s already exists", p.name, name)
	} else if !isNotFound(err) {
		return nil, p.fail(op, err)
	}
	if err := p.check(ctx, op); err != nil {
		return nil, err
	}
	n, err := conn.NetworkDefineXML(def.String())
	if err != nil {
		return nil, p.fail("defining network "+name, err)
	}
	if err := conn.NetworkCreate(n); err != nil {
		if uerr := conn.NetworkUndefine(n); uerr != nil {
			return nil, errors.Join(p.fail("starting network "+name, err), p.fail("undefining network "+name, uerr))
		}
		return nil, p.fail("starting network "+name, err)
	}
	return p.networkObserved(conn, &network{net: n, def: def, meta: findMeta(def)}, o)
}

func (p *Provider) retrieveNetwork(ctx context.Context, o *backends.Object) (map[string]any, error) {
	conn, err := p.client(ctx, "retrieve network "+o.ID)
	if err != nil {
		return nil, err
	}
	n, err := p.findNetwork(conn, o.Instance, o.ID)
	if err != nil {
		return nil, err
	}
	return p.networkObserved(conn, n, o)
}

// updateNetwork rewrites the persistent definition: new IP settings apply
// when the network next comes up.
func (p *Provider) updateNetwork(ctx context.Context, o *backends.Object) (map[string]any, error) {
	op := "update network " + o.ID
	conn, err := p.client(ctx, op)
	if err != nil {
		return nil, err
	}
	ip, err := p.ipOf(o)
	if err != nil {
		return nil, err
	}
	defer p.locks.lock("network:" + networkName(o.Instance, o.ID))()
	n, err := p.findNetwork(conn, o.Instance, o.ID)
	if err != nil {
		return nil, err
	}
	n.def.remove(func(k *node) bool { return k.name == "ip" })
	if ip != nil {
		n.def.add(ip.element())
	}
	m := p.networkMeta(o)
	setMeta(n.def, m)
	if err := p.check(ctx, op); err != nil {
		return nil, err
	}
	if _, err := conn.NetworkDefineXML(n.def.String()); err != nil {
		return nil, p.fail("defining network "+n.net.Name, err)
	}
	n.meta = m
	return p.networkObserved(conn, n, o)
}

// deleteNetwork stops the network and removes it, unless a domain, ours
// or not, has an interface on it: that would cut the guest off, and its
// next start would fail.
func (p *Provider) deleteNetwork(ctx context.Context, instance, id string) error {
	op := "delete network " + id
	conn, err := p.client(ctx, op)
	if err != nil {
		return err
	}
	defer p.locks.lock("network:" + networkName(instance, id))()
	n, err := p.findNetwork(conn, instance, id)
	if err != nil {
		return err
	}
	if err := p.networkUnused(ctx, conn, n, id); err != nil {
		return err
	}
	if err := p.check(ctx, op); err != nil {
		return err
	}
	if active, err := conn.NetworkIsActive(n.net); err != nil {
		return p.fail(op, err)
	} else if active != 0 {
		if err := conn.NetworkDestroy(n.net); err != nil && !isCode(err, golibvirt.ErrOperationInvalid) {
			return p.fail("stopping network "+n.net.Name, err)
		}
	}
	if err := conn.NetworkUndefine(n.net); err != nil {
		return p.fail("undefining network "+n.net.Name, err)
	}
	return nil
}

// networkAction brings a network up or down.
func (p *Provider) networkAction(ctx context.Context, o *backends.Object, action string) (map[string]any, error) {
	if !slices.Contains([]string{occi.UpActionID, occi.DownActionID}, action) {
		if _, err := p.retrieveNetwork(ctx, o); err != nil {
			return nil, err
		}
		return nil, p.unimplementedAction(o, action)
	}
	term := action[strings.LastIndexByte(action, '#')+1:]
	op := term + " network " + o.ID
	conn, err := p.client(ctx, op)
	if err != nil {
		return nil, err
	}
	defer p.locks.lock("network:" + networkName(o.Instance, o.ID))()
	n, err := p.findNetwork(conn, o.Instance, o.ID)
	if err != nil {
		return nil, err
	}
	active, err := conn.NetworkIsActive(n.net)
	if err != nil {
		return nil, p.fail(op, err)
	}
	if err := p.check(ctx, op); err != nil {
		return nil, err
	}
	switch {
	case action == occi.UpActionID && active != 0, action == occi.DownActionID && active == 0:
		state := "inactive"
		if active != 0 {
			state = "active"
		}
		return nil, occi.Errorf(occi.FailedPrecondition, "cannot bring network %s %s: it is %s", o.ID, term, state)
	case action == occi.UpActionID:
		err = conn.NetworkCreate(n.net)
	default:
		err = conn.NetworkDestroy(n.net)
	}
	if err != nil {
		return nil, p.fail(op, err)
	}
	return p.networkObserved(conn, n, o)
}

// networkUnused refuses, naming the user, a network that a domain's
// definition or running devices have an interface on.
func (p *Provider) networkUnused(ctx context.Context, conn *golibvirt.Libvirt, n *network, id string) error {
	bridge := ""
	if b := n.def.child("bridge"); b != nil {
		bridge = b.get("name")
	}
	docs, err := p.allDefinitions(ctx, conn)
	if err != nil {
		return err
	}
	for _, dd := range docs {
		for _, iface := range devicesOf(dd.doc, "interface") {
			src := iface.child("source")
			if src == nil {
				continue
			}
			onNetwork := iface.get("type") == "network" && src.get("network") == n.net.Name
			onBridge := bridge != "" && iface.get("type") == "bridge" && src.get("bridge") == bridge
			if !onNetwork && !onBridge {
				continue
			}
			how := "an interface"
			if m := iface.child("mac"); m != nil {
				how = "the interface " + m.get("address")
				if dd.meta != nil {
					for _, l := range dd.meta.Links {
						if l.Family == familyNetworkInterface && strings.EqualFold(l.MAC, m.get("address")) {
							how = "network interface " + l.Location
						}
					}
				}
			}
			return occi.Errorf(occi.FailedPrecondition, "libvirt provider %s: cannot delete network %s: %s has %s on it", p.name, id, dd.user(), how)
		}
	}
	return nil
}
