package libvirt

import (
	"fmt"
	"math"
	"path"
	"slices"
	"strings"

	"github.com/ocni/ocni/backends"
	"github.com/ocni/ocni/occi"
)

// metaPrefix is the prefix the driver binds to MetadataNS.
const metaPrefix = "ocni"

// meta is what the <ocni:entity> element of a domain or network says: the
// entity it was made for, of which ocni instance, by which provider, the
// attributes libvirt has no place for, and (for a domain) the links whose
// devices it carries and the OS template it was made from.
type meta struct {
	ID, Location, Kind, Provider string
	// Instance is the ocni instance (data file) the entity belongs to.
	Instance string
	// Attrs are attributes kept for the entity (hostname, label, VLAN).
	Attrs map[string]string
	Links []*linkMeta
	// OSTpl is the id of the os_tpl mixin a domain was made from, Image the
	// image volume it names, and Root and RootPool the volume cloned from
	// it that is the domain's first disk; all empty for a domain made
	// without an OS template.
	OSTpl, Image, Root, RootPool string
}

// linkMeta records one network interface or storage link in its compute's
// metadata, with what identifies its device.
type linkMeta struct {
	ID, Location, Kind string
	Family             string // "networkinterface" or "storagelink"
	// Target is the location of the network or storage.
	Target string
	// Network and MAC identify a network interface's device.
	Network, MAC string
	// Volume and Dev identify a storage link's disk.
	Volume, Dev string
	// Interface and Mountpoint are the OCCI attributes kept as given.
	Interface, Mountpoint string
}

const (
	familyNetworkInterface = "networkinterface"
	familyStorageLink      = "storagelink"
)

// element encodes the metadata as an <ocni:entity> element.
func (m *meta) element() *node {
	q := func(local string) string { return metaPrefix + ":" + local }
	e := elem(q("entity"), "xmlns:"+metaPrefix, MetadataNS, "id", m.ID, "instance", m.Instance, "location", m.Location, "kind", m.Kind, "provider", m.Provider)
	for _, kv := range [][2]string{{"os_tpl", m.OSTpl}, {"image", m.Image}, {"root", m.Root}, {"root_pool", m.RootPool}} {
		if kv[1] != "" {
			e.set(kv[0], kv[1])
		}
	}
	names := make([]string, 0, len(m.Attrs))
	for k := range m.Attrs {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		e.add(elem(q("attribute"), "name", k, "value", m.Attrs[k]))
	}
	for _, l := range m.Links {
		le := elem(q("link"), "id", l.ID, "location", l.Location, "kind", l.Kind, "family", l.Family, "target", l.Target)
		for _, kv := range [][2]string{
			{"network", l.Network}, {"mac", l.MAC}, {"volume", l.Volume}, {"dev", l.Dev},
			{"interface", l.Interface}, {"mountpoint", l.Mountpoint},
		} {
			if kv[1] != "" {
				le.set(kv[0], kv[1])
			}
		}
		e.add(le)
	}
	return e
}

// metaOf decodes an <ocni:entity> element, whatever its prefix.
func metaOf(e *node) *meta {
	m := &meta{
		ID: e.get("id"), Instance: e.get("instance"), Location: e.get("location"), Kind: e.get("kind"), Provider: e.get("provider"), Attrs: map[string]string{},
		OSTpl: e.get("os_tpl"), Image: e.get("image"), Root: e.get("root"), RootPool: e.get("root_pool"),
	}
	for _, a := range e.children("attribute") {
		m.Attrs[a.get("name")] = a.get("value")
	}
	for _, l := range e.children("link") {
		m.Links = append(m.Links, &linkMeta{
			ID: l.get("id"), Location: l.get("location"), Kind: l.get("kind"), Family: l.get("family"), Target: l.get("target"),
			Network: l.get("network"), MAC: l.get("mac"), Volume: l.get("volume"), Dev: l.get("dev"),
			Interface: l.get("interface"), Mountpoint: l.get("mountpoint"),
		})
	}
	return m
}

// findMeta returns the metadata of a domain or network document, or nil
// when it has none of ours.
func findMeta(doc *node) *meta {
	md := doc.child("metadata")
	if md == nil {
		return nil
	}
	for _, k := range md.children("entity") {
		if k.declares(MetadataNS) {
			return metaOf(k)
		}
	}
	return nil
}

// setMeta replaces the metadata of ours in a domain or network document.
func setMeta(doc *node, m *meta) {
	md := doc.ensure("metadata")
	md.remove(func(k *node) bool { return localName(k.name) == "entity" && k.declares(MetadataNS) })
	md.add(m.element())
}

// link returns the recorded link with the id, or nil.
func (m *meta) link(id string) *linkMeta {
	for _, l := range m.Links {
		if l.ID == id {
			return l
		}
	}
	return nil
}

// dropLink removes the recorded link with the id.
func (m *meta) dropLink(id string) {
	m.Links = slices.DeleteFunc(m.Links, func(l *linkMeta) bool { return l.ID == id })
}

// newMeta starts the metadata of an object.
func (p *Provider) newMeta(o *backends.Object) *meta {
	return &meta{ID: o.ID, Instance: o.Instance, Location: o.Location, Kind: o.Kind, Provider: p.name, Attrs: map[string]string{}}
}

// Attribute values, as the engine hands them: JSON numbers are float64,
// tests may give ints.

func str(o *backends.Object, name string) string {
	s, _ := o.Attributes[name].(string)
	return s
}

func number(o *backends.Object, name string) (float64, bool) {
	switch v := o.Attributes[name].(type) {
	case float64:
		return v, true
	case float32:
		return float64(v), true
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	}
	return 0, false
}

// keep records the string form of attributes in the metadata.
func keep(m *meta, o *backends.Object, names ...string) {
	for _, n := range names {
		v, ok := o.Attributes[n]
		if !ok || v == nil {
			continue
		}
		switch x := v.(type) {
		case string:
			if x != "" {
				m.Attrs[n] = x
			}
		case float64:
			m.Attrs[n] = formatNumber(x)
		default:
			m.Attrs[n] = fmt.Sprint(x)
		}
	}
}

func formatNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return fmt.Sprintf("%d", int64(f))
	}
	return fmt.Sprint(f)
}

// invalid is an InvalidArgument error about an attribute.
func (p *Provider) invalid(format string, args ...any) error {
	return occi.Errorf(occi.InvalidArgument, "libvirt provider %s: "+format, append([]any{p.name}, args...)...)
}

// idOfLocation is the id the engine gives an entity at a location: its
// last segment.
func idOfLocation(location string) string {
	return path.Base(strings.TrimSuffix(location, "/"))
}

// oneLine makes text fit libvirt's single-line <title>.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
