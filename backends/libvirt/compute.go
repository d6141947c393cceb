package libvirt

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/ocni/ocni/backends"
	"github.com/ocni/ocni/occi"
)

// Compute attributes.
const (
	attrCores          = "occi.compute.cores"
	attrMemory         = "occi.compute.memory"
	attrArch           = "occi.compute.architecture"
	attrHostname       = "occi.compute.hostname"
	attrComputeState   = "occi.compute.state"
	attrComputeMessage = "occi.compute.state.message"
)

// Defaults for a compute that does not say.
const (
	defaultCores  = 1
	defaultMemory = 1.0 // GiB
	maxCores      = 4096
	kibPerGiB     = 1 << 20
)

// The OCCI architectures and libvirt's names for them.
var architectures = map[string]string{"x86": "i686", "x64": "x86_64"}

// domain is a domain of ours: its handle, its persistent definition and
// the metadata in it.
type domain struct {
	dom  golibvirt.Domain
	def  *node
	meta *meta
}

// findDomain finds the domain made for the compute or link holder id of
// the instance; a domain of that name without our metadata for the id and
// instance is not ours, and NotFound.
func (p *Provider) findDomain(conn *golibvirt.Libvirt, instance, id string) (*domain, error) {
	name := domainName(instance, id)
	dom, err := conn.DomainLookupByName(name)
	if err != nil {
		if isNotFound(err) {
			return nil, p.notFound("compute", id)
		}
		return nil, p.fail("looking up domain "+name, err)
	}
	d, err := p.readDomain(conn, dom, id)
	if err != nil {
		return nil, err
	}
	if d.meta.ID != id || d.meta.Instance != instance {
		return nil, occi.Errorf(occi.NotFound, "libvirt provider %s: domain %s was not made for compute %s of this ocni instance", p.name, dom.Name, id)
	}
	return d, nil
}

// readDomain reads a domain's persistent definition and metadata; a domain
// without our metadata is NotFound (id names it in the error).
func (p *Provider) readDomain(conn *golibvirt.Libvirt, dom golibvirt.Domain, id string) (*domain, error) {
	x, err := conn.DomainGetXMLDesc(dom, golibvirt.DomainXMLSecure|golibvirt.DomainXMLInactive)
	if err != nil {
		if isNotFound(err) {
			return nil, p.notFound("compute", id)
		}
		return nil, p.fail("reading domain "+dom.Name, err)
	}
	def, err := parseXML(x)
	if err != nil {
		return nil, occi.Errorf(occi.Internal, "libvirt provider %s: domain %s: %w", p.name, dom.Name, err)
	}
	m := findMeta(def)
	if m == nil {
		return nil, occi.Errorf(occi.NotFound, "libvirt provider %s: domain %s was not made by ocni", p.name, dom.Name)
	}
	return &domain{dom: dom, def: def, meta: m}, nil
}

// liveDef reads the running definition of an active domain.
func (p *Provider) liveDef(conn *golibvirt.Libvirt, d *domain) (*node, error) {
	x, err := conn.DomainGetXMLDesc(d.dom, 0)
	if err != nil {
		return nil, p.fail("reading domain "+d.dom.Name, err)
	}
	def, err := parseXML(x)
	if err != nil {
		return nil, occi.Errorf(occi.Internal, "libvirt provider %s: domain %s: %w", p.name, d.dom.Name, err)
	}
	return def, nil
}

// ourDomains lists the domains of the instance, whichever provider made
// them: named for the instance and carrying its id in their metadata.
func (p *Provider) ourDomains(ctx context.Context, conn *golibvirt.Libvirt, instance string) ([]*domain, error) {
	doms, _, err := conn.ConnectListAllDomains(1, 0)
	if err != nil {
		return nil, p.fail("listing domains", err)
	}
	prefix := NamePrefix + instanceTag(instance) + "-"
	var out []*domain
	for _, dom := range doms {
		if !strings.HasPrefix(dom.Name, prefix) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, occi.Errorf(occi.Unavailable, "libvirt provider %s: listing domains: %w", p.name, err)
		}
		d, err := p.readDomain(conn, dom, "")
		if errors.Is(err, occi.ErrNotFound) {
			continue // gone meanwhile, or not ours
		}
		if err != nil {
			return nil, err
		}
		if d.meta.Instance != instance || dom.Name != domainName(instance, d.meta.ID) {
			continue
		}
		out = append(out, d)
	}
	return out, nil
}

// definition is a domain's persistent definition or the one it runs with,
// for any domain, ocni's or not.
type definition struct {
	name string
	doc  *node
	meta *meta // nil when the domain is not ocni's
}

// allDefinitions reads the persistent and running definitions of every
// domain of the connection, ocni's or not: what uses a network or a volume
// is found there.
func (p *Provider) allDefinitions(ctx context.Context, conn *golibvirt.Libvirt) ([]definition, error) {
	doms, _, err := conn.ConnectListAllDomains(1, 0)
	if err != nil {
		return nil, p.fail("listing domains", err)
	}
	var out []definition
	for _, dom := range doms {
		if err := ctx.Err(); err != nil {
			return nil, occi.Errorf(occi.Unavailable, "libvirt provider %s: listing domains: %w", p.name, err)
		}
		flags := []golibvirt.DomainXMLFlags{golibvirt.DomainXMLInactive}
		if active, err := conn.DomainIsActive(dom); err == nil && active != 0 {
			flags = append(flags, 0)
		}
		for _, f := range flags {
			x, err := conn.DomainGetXMLDesc(dom, f)
			if isNotFound(err) {
				break // gone meanwhile
			}
			if err != nil {
				return nil, p.fail("reading domain "+dom.Name, err)
			}
			doc, err := parseXML(x)
			if err != nil {
				return nil, occi.Errorf(occi.Internal, "libvirt provider %s: domain %s: %w", p.name, dom.Name, err)
			}
			out = append(out, definition{name: dom.Name, doc: doc, meta: findMeta(doc)})
		}
	}
	return out, nil
}

// devicesOf returns the devices of a kind (disk, interface) in a domain
// definition.
func devicesOf(def *node, kind string) []*node {
	devices := def.child("devices")
	if devices == nil {
		return nil
	}
	return devices.children(kind)
}

// user names the domain of a definition for an error message: its compute
// when it is ocni's.
func (dd definition) user() string {
	if dd.meta != nil && dd.meta.Location != "" {
		return "compute " + dd.meta.Location + " (domain " + dd.name + ")"
	}
	return "domain " + dd.name
}

// domainState reads a domain's state.
func (p *Provider) domainState(conn *golibvirt.Libvirt, d *domain) (golibvirt.DomainState, int32, error) {
	st, reason, err := conn.DomainGetState(d.dom, 0)
	if err != nil {
		if isNotFound(err) {
			return 0, 0, p.notFound("compute", d.meta.ID)
		}
		return 0, 0, p.fail("reading the state of domain "+d.dom.Name, err)
	}
	return golibvirt.DomainState(st), reason, nil
}

// computeState maps the state libvirt gives a domain now, with its
// reason, to an OCCI compute state and, when there is something to say, a
// message. A domain that libvirt itself holds paused on its way somewhere
// (QEMU starts every guest paused until it boots, and pauses it to migrate
// it, snapshot it or dump its memory) is active: taking it for suspended
// would adopt a guest that boots as one the client paused.
func computeState(st golibvirt.DomainState, reason int32) (string, string) {
	switch st {
	case golibvirt.DomainRunning, golibvirt.DomainBlocked:
		return "active", ""
	case golibvirt.DomainPaused:
		switch golibvirt.DomainPausedReason(reason) {
		case golibvirt.DomainPausedStartingUp:
			return "active", "starting up"
		case golibvirt.DomainPausedMigration, golibvirt.DomainPausedPostcopy:
			return "active", "held by libvirt while it migrates"
		case golibvirt.DomainPausedSnapshot:
			return "active", "held by libvirt while it takes a snapshot"
		case golibvirt.DomainPausedDump:
			return "active", "held by libvirt while it dumps the guest's memory"
		case golibvirt.DomainPausedShuttingDown:
			return "active", "shutting down"
		case golibvirt.DomainPausedCrashed:
			return "error", "crashed (libvirt: paused, reason crashed)"
		case golibvirt.DomainPausedPostcopyFailed:
			return "error", "a post-copy migration failed (libvirt: paused, reason postcopy-failed)"
		case golibvirt.DomainPausedIoerror:
			return "suspended", "paused by an I/O error"
		case golibvirt.DomainPausedWatchdog:
			return "suspended", "paused by the guest's watchdog"
		case golibvirt.DomainPausedSave:
			return "suspended", "being saved to disk"
		case golibvirt.DomainPausedAPIError:
			return "suspended", "paused after a failed hypervisor call"
		case golibvirt.DomainPausedUser:
			return "suspended", ""
		case golibvirt.DomainPausedUnknown:
			// QEMU stops a guest on a KVM internal error (an emulation
			// failure) and libvirt gives no reason: nobody asked for it.
			return "error", "paused by the hypervisor with no reason given, as after a KVM internal error (libvirt: paused, reason unknown)"
		}
		return "suspended", fmt.Sprintf("paused (libvirt: reason %d)", reason)
	case golibvirt.DomainPmsuspended:
		return "suspended", "suspended by the guest"
	case golibvirt.DomainShutdown:
		return "active", "shutting down"
	case golibvirt.DomainShutoff:
		switch golibvirt.DomainShutoffReason(reason) {
		case golibvirt.DomainShutoffSaved:
			return "suspended", "saved to disk; start resumes it"
		case golibvirt.DomainShutoffCrashed:
			return "error", "crashed (libvirt: shut off, reason crashed)"
		case golibvirt.DomainShutoffFailed:
			return "error", "failed to start (libvirt: shut off, reason failed)"
		}
		return "inactive", ""
	case golibvirt.DomainCrashed:
		why := "unknown"
		if golibvirt.DomainCrashedReason(reason) == golibvirt.DomainCrashedPanicked {
			why = "panicked"
		}
		return "error", "crashed (libvirt: crashed, reason " + why + ")"
	}
	return "error", "libvirt reports no state for the domain"
}

func isActive(st golibvirt.DomainState) bool {
	switch st {
	case golibvirt.DomainRunning, golibvirt.DomainBlocked, golibvirt.DomainPaused, golibvirt.DomainPmsuspended, golibvirt.DomainShutdown:
		return true
	}
	return false
}

// computeObserved is what libvirt says of a compute: its state, a message
// (removed when there is none) and the architecture.
func (p *Provider) computeObserved(conn *golibvirt.Libvirt, d *domain) (map[string]any, error) {
	st, reason, err := p.domainState(conn, d)
	if err != nil {
		return nil, err
	}
	state, msg := computeState(st, reason)
	out := map[string]any{attrComputeState: state, attrComputeMessage: nil}
	if msg != "" {
		out[attrComputeMessage] = msg
	}
	if t := d.def.path("os", "type"); t != nil {
		for occiArch, lv := range architectures {
			if t.get("arch") == lv {
				out[attrArch] = occiArch
			}
		}
	}
	return out, nil
}

// computeSize reads cores, memory (in KiB) and the libvirt architecture.
func (p *Provider) computeSize(o *backends.Object) (cores int, memKiB uint64, arch string, err error) {
	cores = defaultCores
	if c, ok := number(o, attrCores); ok {
		if c != math.Trunc(c) || c < 1 || c > maxCores {
			return 0, 0, "", p.invalid("%s = %v: a whole number from 1 to %d", attrCores, c, maxCores)
		}
		cores = int(c)
	}
	mem := defaultMemory
	if m, ok := number(o, attrMemory); ok {
		if m <= 0 || m > 1<<20 {
			return 0, 0, "", p.invalid("%s = %v: a positive number of GiB", attrMemory, m)
		}
		mem = m
	}
	memKiB = uint64(math.Ceil(mem * kibPerGiB))
	arch = "x86_64"
	if a := str(o, attrArch); a != "" {
		lv, ok := architectures[a]
		if !ok {
			return 0, 0, "", p.invalid("%s = %q: x86 or x64", attrArch, a)
		}
		arch = lv
	}
	return cores, memKiB, arch, nil
}

// domainDef builds the definition of a new domain.
func (p *Provider) domainDef(o *backends.Object, m *meta) (*node, error) {
	cores, memKiB, arch, err := p.computeSize(o)
	if err != nil {
		return nil, err
	}
	typ := p.domainType(arch)
	d := elem("domain", "type", typ)
	d.add(textElem("name", domainName(o.Instance, o.ID)))
	setDescriptions(d, o)
	keep(m, o, attrHostname)
	d.add(elem("metadata").add(m.element()))
	mem := strconv.FormatUint(memKiB, 10)
	d.add(textElem("memory", mem, "unit", "KiB"), textElem("currentMemory", mem, "unit", "KiB"))
	d.add(textElem("vcpu", strconv.Itoa(cores), "placement", "static"))
	d.add(elem("os").add(textElem("type", "hvm", "arch", arch), elem("boot", "dev", "hd"), elem("boot", "dev", "network")))
	d.add(elem("features").add(elem("acpi"), elem("apic")))
	d.add(textElem("on_poweroff", "destroy"), textElem("on_reboot", "restart"), textElem("on_crash", "destroy"))
	devices := elem("devices")
	if typ == "kvm" || typ == "qemu" {
		devices.add(elem("serial", "type", "pty"), elem("console", "type", "pty"))
	}
	d.add(devices)
	return d, nil
}

// setDescriptions puts the title and summary in <title> and
// <description>, or removes them.
func setDescriptions(d *node, o *backends.Object) {
	for _, td := range []struct{ elem, value string }{
		{"title", oneLine(str(o, occi.AttrTitle))},
		{"description", str(o, occi.AttrSummary)},
	} {
		if td.value == "" {
			d.remove(func(k *node) bool { return k.name == td.elem })
		} else {
			d.replace(textElem(td.elem, td.value))
		}
	}
}

// define writes a domain's persistent definition.
func (p *Provider) define(conn *golibvirt.Libvirt, def *node) (golibvirt.Domain, error) {
	dom, err := conn.DomainDefineXMLFlags(def.String(), 0)
	if err != nil {
		name := ""
		if n := def.child("name"); n != nil {
			name = n.textContent()
		}
		return dom, p.fail("defining domain "+name, err)
	}
	return dom, nil
}

// undefine removes a domain's definition with its saved state.
func (p *Provider) undefine(conn *golibvirt.Libvirt, dom golibvirt.Domain) error {
	err := conn.DomainUndefineFlags(dom, golibvirt.DomainUndefineManagedSave|golibvirt.DomainUndefineSnapshotsMetadata)
	if err != nil && unsupported(err) {
		err = conn.DomainUndefine(dom)
	}
	if err != nil {
		return p.fail("undefining domain "+dom.Name, err)
	}
	return nil
}

// createCompute defines the domain and starts it. With an OS template of
// the provider among its mixins, the image is first cloned into the root
// volume, the domain's first disk.
func (p *Provider) createCompute(ctx context.Context, o *backends.Object) (map[string]any, error) {
	op := "create compute " + o.ID
	conn, err := p.client(ctx, op)
	if err != nil {
		return nil, err
	}
	tpl, err := p.templateOf(o)
	if err != nil {
		return nil, err
	}
	m := p.newMeta(o)
	def, err := p.domainDef(o, m)
	if err != nil {
		return nil, err
	}
	var img *image
	if tpl != "" {
		if img, err = p.resolveImage(ctx, conn, tpl); err != nil {
			return nil, err
		}
		root, err := newRootName(o.Instance, o.ID)
		if err != nil {
			return nil, err
		}
		m.OSTpl, m.Image, m.Root, m.RootPool = tpl, img.vol.Name, root, p.storagePool
		setMeta(def, m)
		addRootDisk(def, m.RootPool, m.Root, img.format)
	}
	name := domainName(o.Instance, o.ID)
	defer p.locks.lock("domain:" + name)()
	if _, err := conn.DomainLookupByName(name); err == nil {
		return nil, occi.Errorf(occi.AlreadyExists, "libvirt provider %s: domain %s already exists", p.name, name)
	} else if !isNotFound(err) {
		return nil, p.fail(op, err)
	}
	if err := p.check(ctx, op); err != nil {
		return nil, err
	}
	if img != nil {
		// With no domain of this id, a root volume of the id is what a
		// crash left; each copy has a name of its own, so one that cannot
		// go yet (libvirt still filling it) is left to the compute's
		// Delete and does not block this one.
		_, _ = p.deleteRoots(ctx, conn, o.Instance, o.ID, 0)
		unlock := p.locks.lock("volume:" + m.Root)
		err := p.makeRoot(conn, img, m.Root)
		unlock()
		if err != nil {
			return nil, err
		}
	}
	dom, err := p.define(conn, def)
	if err != nil {
		return nil, joinUndo(err, p.deleteRoot(context.WithoutCancel(ctx), conn, m))
	}
	if err := conn.DomainCreate(dom); err != nil {
		serr := p.fail("starting domain "+name, err)
		if uerr := p.undefine(conn, dom); uerr != nil {
			// The domain stays, with its root volume.
			return nil, errors.Join(serr, uerr)
		}
		return nil, joinUndo(serr, p.deleteRoot(context.WithoutCancel(ctx), conn, m))
	}
	return p.computeObserved(conn, &domain{dom: dom, def: def, meta: m})
}

func (p *Provider) retrieveCompute(ctx context.Context, o *backends.Object) (map[string]any, error) {
	conn, err := p.client(ctx, "retrieve compute "+o.ID)
	if err != nil {
		return nil, err
	}
	d, err := p.findDomain(conn, o.Instance, o.ID)
	if err != nil {
		return nil, err
	}
	return p.computeObserved(conn, d)
}

// updateCompute rewrites the persistent definition: cores, memory and
// architecture apply at the domain's next start. The OS template cannot
// change.
func (p *Provider) updateCompute(ctx context.Context, o *backends.Object) (map[string]any, error) {
	op := "update compute " + o.ID
	conn, err := p.client(ctx, op)
	if err != nil {
		return nil, err
	}
	cores, memKiB, arch, err := p.computeSize(o)
	if err != nil {
		return nil, err
	}
	tpl, err := p.templateOf(o)
	if err != nil {
		return nil, err
	}
	defer p.locks.lock("domain:" + domainName(o.Instance, o.ID))()
	d, err := p.findDomain(conn, o.Instance, o.ID)
	if err != nil {
		return nil, err
	}
	if err := p.checkTemplateKept(ctx, conn, d, tpl); err != nil {
		return nil, err
	}
	mem := strconv.FormatUint(memKiB, 10)
	d.def.ensure("vcpu").setText(strconv.Itoa(cores))
	d.def.child("vcpu").unset("current")
	for _, name := range []string{"memory", "currentMemory"} {
		e := d.def.ensure(name)
		e.attrs = nil
		e.set("unit", "KiB")
		e.setText(mem)
	}
	if str(o, attrArch) != "" {
		d.def.ensure("os").ensure("type").set("arch", arch)
	}
	setDescriptions(d.def, o)
	d.meta.Location, d.meta.Kind = o.Location, o.Kind
	delete(d.meta.Attrs, attrHostname)
	keep(d.meta, o, attrHostname)
	setMeta(d.def, d.meta)
	if err := p.check(ctx, op); err != nil {
		return nil, err
	}
	if _, err := p.define(conn, d.def); err != nil {
		return nil, err
	}
	return p.computeObserved(conn, d)
}

// deleteCompute powers the domain off and removes it, with the links
// recorded in it and its root volumes; the volumes of storages it used
// stay. Root volumes of the id go even when the domain is gone (undefined
// behind the server's back, or never defined before a crash): they are
// reported under the compute's id, and this is where that id's objects go.
func (p *Provider) deleteCompute(ctx context.Context, instance, id string) error {
	op := "delete compute " + id
	conn, err := p.client(ctx, op)
	if err != nil {
		return err
	}
	defer p.locks.lock("domain:" + domainName(instance, id))()
	d, err := p.findDomain(conn, instance, id)
	if errors.Is(err, occi.ErrNotFound) {
		if cerr := p.check(ctx, op); cerr != nil {
			return cerr
		}
		n, rerr := p.deleteRoots(ctx, conn, instance, id, busyWait)
		if rerr != nil {
			return rerr
		}
		if n == 0 {
			return err
		}
		return nil
	}
	if err != nil {
		return err
	}
	if err := p.check(ctx, op); err != nil {
		return err
	}
	// A crashed domain is inactive for OCCI but may still hold its
	// process: destroy whatever libvirt counts as active, or undefine
	// would only make it transient.
	if active, err := conn.DomainIsActive(d.dom); err != nil && !isNotFound(err) {
		return p.fail(op, err)
	} else if active != 0 {
		if err := conn.DomainDestroy(d.dom); err != nil && !isCode(err, golibvirt.ErrOperationInvalid) {
			return p.fail("powering off domain "+d.dom.Name, err)
		}
	}
	if err := p.undefine(conn, d.dom); err != nil {
		return err
	}
	if err := p.deleteRoot(ctx, conn, d.meta); err != nil {
		return err
	}
	_, err = p.deleteRoots(ctx, conn, instance, id, busyWait)
	return err
}

// computeAction runs start, stop, restart and suspend.
func (p *Provider) computeAction(ctx context.Context, o *backends.Object, action string, params map[string]any) (map[string]any, error) {
	var method string
	switch action {
	case occi.StartActionID:
	case occi.StopActionID:
		method = methodOf(params, "poweroff")
	case occi.RestartActionID:
		method = methodOf(params, "cold")
	case occi.SuspendActionID:
		method = methodOf(params, "suspend")
	default:
		if _, err := p.retrieveCompute(ctx, o); err != nil {
			return nil, err
		}
		return nil, p.unimplementedAction(o, action)
	}
	term := action[strings.LastIndexByte(action, '#')+1:]
	op := term + " compute " + o.ID
	conn, err := p.client(ctx, op)
	if err != nil {
		return nil, err
	}
	defer p.locks.lock("domain:" + domainName(o.Instance, o.ID))()
	d, err := p.findDomain(conn, o.Instance, o.ID)
	if err != nil {
		return nil, err
	}
	st, reason, err := p.domainState(conn, d)
	if err != nil {
		return nil, err
	}
	state, _ := computeState(st, reason)
	refuse := func() error {
		return occi.Errorf(occi.FailedPrecondition, "cannot %s compute %s: it is %s", term, o.ID, state)
	}
	if err := p.check(ctx, op); err != nil {
		return nil, err
	}
	var callErr error
	switch action {
	case occi.StartActionID:
		switch {
		case st == golibvirt.DomainPaused && state == "suspended":
			callErr = conn.DomainResume(d.dom)
		case st == golibvirt.DomainCrashed:
			// A crashed domain kept by libvirt still counts as active:
			// it goes down before it boots again.
			if callErr = conn.DomainDestroy(d.dom); callErr == nil || isCode(callErr, golibvirt.ErrOperationInvalid) {
				callErr = conn.DomainCreate(d.dom)
			}
		case st == golibvirt.DomainShutoff, st == golibvirt.DomainNostate:
			// A domain saved by hibernate resumes from its image.
			callErr = conn.DomainCreate(d.dom)
		default:
			return nil, refuse()
		}
	case occi.StopActionID:
		switch {
		case st == golibvirt.DomainShutoff && golibvirt.DomainShutoffReason(reason) == golibvirt.DomainShutoffSaved:
			// Hibernated: forgetting the saved state stops it.
			callErr = conn.DomainManagedSaveRemove(d.dom, 0)
		case st == golibvirt.DomainCrashed:
			// Nothing in a crashed guest hears a request: whatever the
			// method, libvirt lets the domain go.
			callErr = conn.DomainDestroy(d.dom)
		case !isActive(st):
			return nil, refuse()
		case method == "poweroff":
			callErr = conn.DomainDestroy(d.dom)
		case method == "graceful" || method == "acpioff":
			var done bool
			if done, callErr = p.shutdown(ctx, conn, d, st, method); callErr == nil && !done {
				return nil, p.stopTimedOut(conn, d, method)
			}
		default:
			return nil, p.invalidMethod(action, method, "graceful", "acpioff", "poweroff")
		}
	case occi.RestartActionID:
		if st != golibvirt.DomainRunning && st != golibvirt.DomainBlocked {
			return nil, refuse()
		}
		switch method {
		case "graceful":
			callErr = conn.DomainReboot(d.dom, golibvirt.DomainRebootDefault)
		case "warm", "cold":
			callErr = conn.DomainReset(d.dom, 0)
		default:
			return nil, p.invalidMethod(action, method, "graceful", "warm", "cold")
		}
	case occi.SuspendActionID:
		switch method {
		case "suspend":
			if st != golibvirt.DomainRunning && st != golibvirt.DomainBlocked {
				return nil, refuse()
			}
			callErr = conn.DomainSuspend(d.dom)
		case "hibernate":
			if st != golibvirt.DomainRunning && st != golibvirt.DomainBlocked && (st != golibvirt.DomainPaused || state != "suspended") {
				return nil, refuse()
			}
			callErr = conn.DomainManagedSave(d.dom, 0)
		default:
			return nil, p.invalidMethod(action, method, "suspend", "hibernate")
		}
	}
	if callErr != nil {
		return nil, p.fail(op, callErr)
	}
	return p.computeObserved(conn, d)
}

// shutdown asks the guest to power off and waits, at most stop_timeout,
// for the domain to be shut off; done says whether it was.
func (p *Provider) shutdown(ctx context.Context, conn *golibvirt.Libvirt, d *domain, st golibvirt.DomainState, method string) (done bool, err error) {
	if st == golibvirt.DomainPaused {
		// A paused guest cannot hear the request.
		if err := conn.DomainResume(d.dom); err != nil {
			return false, err
		}
	}
	flags := golibvirt.DomainShutdownDefault
	if method == "acpioff" {
		flags = golibvirt.DomainShutdownAcpiPowerBtn
	}
	err = conn.DomainShutdownFlags(d.dom, flags)
	if err != nil && unsupported(err) {
		err = conn.DomainShutdown(d.dom)
	}
	if err != nil {
		return false, err
	}
	deadline := time.Now().Add(p.stopTimeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		now, _, err := p.domainState(conn, d)
		if err != nil || now == golibvirt.DomainShutoff {
			return true, nil
		}
		if !time.Now().Before(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, nil
		case <-tick.C:
		}
	}
}

// stopTimedOut is the answer to a graceful stop the guest did not finish
// in time: a Timeout (504) that says the state the compute is in now, not a
// success with a state that is not the one asked for.
func (p *Provider) stopTimedOut(conn *golibvirt.Libvirt, d *domain, method string) error {
	state := "in an unknown state"
	if st, reason, err := p.domainState(conn, d); err == nil {
		s, msg := computeState(st, reason)
		state = s
		if msg != "" {
			state += " (" + msg + ")"
		}
	}
	return occi.Errorf(occi.Timeout, "libvirt provider %s: stop %s of compute %s: the guest did not shut down within %s and is still %s; the request stays with the guest, or stop with method poweroff", p.name, method, d.meta.ID, p.stopTimeout, state)
}

func methodOf(params map[string]any, def string) string {
	if m, ok := params["method"].(string); ok && m != "" {
		return m
	}
	return def
}

func (p *Provider) invalidMethod(action, method string, valid ...string) error {
	return p.invalid("%s: method %q is not one of %s", action, method, strings.Join(valid, ", "))
}
