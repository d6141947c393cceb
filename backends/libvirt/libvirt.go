// Package libvirt is the backend driver for libvirt: computes are domains,
// networks are isolated virtual networks, storages are volumes of a storage
// pool, network interfaces and storage links are the domains' <interface>
// and <disk> devices, and the volumes of an image pool are OS templates
// (os_tpl mixins) that computes are made from. It speaks libvirt's RPC
// protocol to libvirtd over its unix socket (go-libvirt), so it needs no C
// library.
//
// Every object it makes carries the ocni instance (the data file) and the
// OCCI id, so that servers sharing a libvirtd never take each other's
// objects: names are "ocni-<instance tag>-<id>" (names.go), and domains and
// networks hold an <ocni:entity> element in their <metadata>, with the id,
// instance, location, kind and provider name; a volume's name is its only
// tag. Links are recorded in their compute's <ocni:entity> element beside
// the device they describe, and so is the root volume of a compute made
// from an OS template. List finds an instance's objects again after a
// crash, and Delete removes them with only the id and instance known.
//
// Retrieve always reads libvirt: it is the state refresh. The driver keeps
// no copy of the VIM's state, so an object removed behind the server's back
// is NotFound at the next Retrieve.
//
// The Provider interface takes a context, but go-libvirt's calls cannot be
// cancelled: the driver checks the context before every operation and
// before the first call that changes anything; once a change has begun it
// runs to its end, since a half-made object is worse than a late answer.
package libvirt

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"

	"github.com/ocni/ocni/backends"
	"github.com/ocni/ocni/occi"
)

// DriverName is the name provider configurations use for this driver.
const DriverName = "libvirt"

// The driver's options and their defaults.
const (
	OptURI             = "uri"
	OptSocket          = "socket"
	OptStoragePool     = "storage_pool"
	OptImagePool       = "image_pool"
	OptRefreshInterval = "refresh_interval"
	OptStopTimeout     = "stop_timeout"
	OptDomainType      = "domain_type"

	DefaultURI             = "test:///default"
	DefaultSocket          = "/run/libvirt/libvirt-sock"
	DefaultStoragePool     = "default"
	DefaultRefreshInterval = 30 * time.Second
	DefaultStopTimeout     = 30 * time.Second
)

// NamePrefix starts the libvirt name of every domain, network and volume
// the driver makes; the instance's tag and the OCCI id follow (names.go).
const NamePrefix = "ocni-"

// MetadataNS is the namespace of the <ocni:entity> element that domains and
// networks carry in their <metadata>.
const MetadataNS = "http://schemas.ocni.example/libvirt/1"

// howToStart is what an operator reads when libvirtd does not answer.
const howToStart = "start it with scripts/libvirtd-test-setup.sh (installs libvirt if missing and starts libvirtd, as root) or with `libvirtd -d`"

// dialTimeout bounds the connection to libvirtd's socket.
const dialTimeout = 5 * time.Second

func init() {
	backends.Register(&backends.Driver{
		Name:        DriverName,
		Description: "libvirt through libvirtd's socket: domains, isolated networks, volumes, interfaces and disks",
		Options: []backends.Option{
			{
				Name: OptURI, Type: backends.String, Default: DefaultURI,
				Help: "libvirt connection URI opened through the socket: qemu:///system, test:///default (one shared simulated host), " +
					"or test:///<absolute path of a node XML file> (a private simulated host per connection)",
			},
			{
				Name: OptSocket, Type: backends.String, Default: DefaultSocket,
				Help: "libvirtd's unix socket",
			},
			{
				Name: OptStoragePool, Type: backends.String, Default: DefaultStoragePool,
				Help: "storage pool that holds the volumes of storage resources; it must exist and be active",
			},
			{
				Name: OptImagePool, Type: backends.String, Default: "",
				Help: "storage pool whose volumes are the OS images that os_tpl mixins stand for; empty for none; when set it must exist and be active",
			},
			{
				Name: OptRefreshInterval, Type: backends.Duration, Default: DefaultRefreshInterval,
				Help: "how often the states of this provider's entities should be read again from libvirt (e.g. 30s); 0 disables",
			},
			{
				Name: OptDomainType, Type: backends.String, Default: "",
				Help: "libvirt domain type to define (kvm, qemu); empty takes the fastest the hypervisor offers. qemu runs guests under TCG where /dev/kvm cannot boot them (no vmx or svm)",
			},
			{
				Name: OptStopTimeout, Type: backends.Duration, Default: DefaultStopTimeout,
				Help: "how long a graceful stop waits for the guest to shut down before answering 504 with the state it is in",
			},
		},
		New: New,
	})
}

// Provider is one libvirt connection. It is safe for concurrent use.
type Provider struct {
	name        string
	uri         string
	socket      string
	storagePool string
	imagePool   string
	refresh     time.Duration
	stopTimeout time.Duration
	// forcedType is the domain_type option: when set, every domain is of
	// that type, if the hypervisor offers it.
	forcedType string
	// guests maps a guest architecture to the domain type to define
	// (kvm, qemu, test), from the hypervisor's capabilities.
	guests      map[string]string
	defaultType string

	connMu sync.Mutex
	conn   *golibvirt.Libvirt
	closed bool

	locks keyedLocks

	// announced maps the image volumes to the terms of the OS templates
	// Templates last announced (volume name → term).
	tplMu     sync.Mutex
	announced map[string]string
}

var _ backends.Provider = (*Provider)(nil)

// New connects to libvirtd and checks the options against what it finds:
// the URI opens, the storage pool (and the image pool, if set) exist.
func New(name string, opts backends.Options) (backends.Provider, error) {
	p := &Provider{
		name:        name,
		uri:         opts.String(OptURI),
		socket:      opts.String(OptSocket),
		storagePool: opts.String(OptStoragePool),
		imagePool:   opts.String(OptImagePool),
		refresh:     opts.Duration(OptRefreshInterval),
		stopTimeout: opts.Duration(OptStopTimeout),
		forcedType:  opts.String(OptDomainType),
	}
	uri, err := checkURI(p.uri)
	if err != nil {
		return nil, fmt.Errorf("option %s: %w", OptURI, err)
	}
	p.uri = uri
	if p.socket == "" {
		return nil, fmt.Errorf("option %s is empty: it is the path of libvirtd's unix socket (default %s)", OptSocket, DefaultSocket)
	}
	if p.storagePool == "" {
		return nil, fmt.Errorf("option %s is empty: it names the storage pool for volumes", OptStoragePool)
	}
	if p.stopTimeout <= 0 {
		return nil, fmt.Errorf("option %s: %s must be positive", OptStopTimeout, p.stopTimeout)
	}
	if p.refresh < 0 {
		return nil, fmt.Errorf("option %s: %s is negative (0 disables the refresh)", OptRefreshInterval, p.refresh)
	}
	if p.imagePool != "" {
		if err := p.checkTemplateNaming(); err != nil {
			return nil, err
		}
	}
	conn, err := p.dial()
	if err != nil {
		return nil, err
	}
	p.conn = conn
	if err := p.inspect(conn); err != nil {
		_ = conn.Disconnect()
		return nil, err
	}
	return p, nil
}

// checkURI accepts local URIs, optionally with the unix transport spelled
// out, and returns the URI to open through the socket.
func checkURI(raw string) (string, error) {
	if raw == "" {
		return "", fmt.Errorf("empty; use e.g. %s or qemu:///system", DefaultURI)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%q is not a URI: %w", raw, err)
	}
	if u.Scheme == "" {
		return "", fmt.Errorf("%q has no scheme; use e.g. %s or qemu:///system", raw, DefaultURI)
	}
	driver, transport, _ := strings.Cut(u.Scheme, "+")
	if (transport != "" && transport != "unix") || u.Host != "" {
		return "", fmt.Errorf("%q is a remote URI; this driver talks to the libvirtd whose socket the %s option names, so give a local URI such as %s:///system", raw, OptSocket, driver)
	}
	if u.RawQuery != "" {
		return "", fmt.Errorf("%q has query parameters; give the socket with the %s option", raw, OptSocket)
	}
	if driver == "test" && u.Path != "/default" && !path.IsAbs(u.Path) {
		return "", fmt.Errorf("%q: a test driver URI is test:///default or test:///<absolute path of a node XML file>", raw)
	}
	u.Scheme = driver
	return u.String(), nil
}

// dial connects to libvirtd and opens the URI.
func (p *Provider) dial() (*golibvirt.Libvirt, error) {
	conn := golibvirt.NewWithDialer(dialerFor(p.socket))
	if err := conn.ConnectToURI(golibvirt.ConnectURI(p.uri)); err != nil {
		var lverr golibvirt.Error
		if errors.As(err, &lverr) {
			return nil, fmt.Errorf("libvirtd on %s cannot open %s: %s", p.socket, p.uri, lverr.Message)
		}
		return nil, fmt.Errorf("cannot reach libvirtd on %s (%w); %s", p.socket, err, howToStart)
	}
	return conn, nil
}

// dialerFor dials libvirtd's unix socket.
func dialerFor(socket string) *dialers.Local {
	return dialers.NewLocal(dialers.WithSocket(socket), dialers.WithLocalTimeout(dialTimeout))
}

// inspect reads the hypervisor's capabilities and checks the pools.
func (p *Provider) inspect(conn *golibvirt.Libvirt) error {
	capsXML, err := conn.ConnectGetCapabilities()
	if err != nil {
		return fmt.Errorf("reading the capabilities of %s: %w", p.uri, err)
	}
	p.guests, p.defaultType, err = guestTypes(capsXML)
	if err != nil {
		return fmt.Errorf("reading the capabilities of %s: %w", p.uri, err)
	}
	if p.forcedType != "" && !slices.Contains(offeredTypes(capsXML), p.forcedType) {
		return fmt.Errorf("option %s: %s offers no domains of type %q (it offers: %s)", OptDomainType, p.uri, p.forcedType, strings.Join(offeredTypes(capsXML), ", "))
	}
	for _, pool := range []struct{ option, name string }{{OptStoragePool, p.storagePool}, {OptImagePool, p.imagePool}} {
		if pool.name == "" {
			continue
		}
		sp, err := conn.StoragePoolLookupByName(pool.name)
		if err != nil {
			return fmt.Errorf("option %s: %s has no storage pool %q (it has: %s)", pool.option, p.uri, pool.name, poolNames(conn))
		}
		active, err := conn.StoragePoolIsActive(sp)
		if err != nil {
			return fmt.Errorf("option %s: storage pool %q: %w", pool.option, pool.name, err)
		}
		if active == 0 {
			return fmt.Errorf("option %s: storage pool %q is not active (virsh pool-start %s)", pool.option, pool.name, pool.name)
		}
	}
	return nil
}

func poolNames(conn *golibvirt.Libvirt) string {
	pools, _, err := conn.ConnectListAllStoragePools(1, 0)
	if err != nil || len(pools) == 0 {
		return "none"
	}
	names := make([]string, len(pools))
	for i, sp := range pools {
		names[i] = sp.Name
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// guestTypes reads which domain type runs guests of each architecture,
// preferring hardware acceleration.
func guestTypes(capsXML string) (map[string]string, string, error) {
	caps, err := parseXML(capsXML)
	if err != nil {
		return nil, "", err
	}
	rank := func(t string) int {
		switch t {
		case "kvm":
			return 3
		case "qemu":
			return 2
		case "test":
			return 1
		}
		return 0
	}
	guests := map[string]string{}
	best := ""
	for _, g := range caps.children("guest") {
		if ot := g.child("os_type"); ot == nil || ot.textContent() != "hvm" {
			continue
		}
		for _, a := range g.children("arch") {
			arch := a.get("name")
			for _, d := range a.children("domain") {
				t := d.get("type")
				if cur, ok := guests[arch]; !ok || rank(t) > rank(cur) {
					guests[arch] = t
				}
				if best == "" || rank(t) > rank(best) {
					best = t
				}
			}
		}
	}
	if best == "" {
		return nil, "", errors.New("the hypervisor offers no hvm guests")
	}
	return guests, best, nil
}

// offeredTypes lists the domain types the hypervisor's capabilities offer
// for hvm guests.
func offeredTypes(capsXML string) []string {
	caps, err := parseXML(capsXML)
	if err != nil {
		return nil
	}
	var out []string
	for _, g := range caps.children("guest") {
		for _, a := range g.children("arch") {
			for _, d := range a.children("domain") {
				if t := d.get("type"); !slices.Contains(out, t) {
					out = append(out, t)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// domainType is the type of domain to define for guests of an architecture.
func (p *Provider) domainType(arch string) string {
	if p.forcedType != "" {
		return p.forcedType
	}
	if t, ok := p.guests[arch]; ok {
		return t
	}
	return p.defaultType
}

// Capabilities implements backends.Provider: the five infrastructure
// kinds; compute start, stop, restart and suspend; network up and down.
// Compute save (a new OS template from the domain's disk) and storage
// online/offline (libvirt volumes have no such state) are not offered.
func (p *Provider) Capabilities() backends.Capabilities {
	return backends.Capabilities{
		Kinds: []string{occi.ComputeKindID, occi.NetworkKindID, occi.StorageKindID, occi.NetworkInterfaceID, occi.StorageLinkKindID},
		Actions: []string{
			occi.StartActionID, occi.StopActionID, occi.RestartActionID, occi.SuspendActionID,
			occi.UpActionID, occi.DownActionID,
		},
	}
}

// RefreshInterval is how often the states of this provider's entities
// should be read again (with Retrieve) to follow what happens on libvirt;
// 0 means never. The driver reads libvirt on every Retrieve and keeps no
// state of its own, so the refresh is the engine's to schedule.
func (p *Provider) RefreshInterval() time.Duration { return p.refresh }

// Images lists the images of the image pool, sorted: the volumes that
// os_tpl mixins stand for (see Templates). It is empty when no image pool
// is configured.
func (p *Provider) Images(ctx context.Context) ([]string, error) {
	if p.imagePool == "" {
		return nil, nil
	}
	conn, err := p.client(ctx, "list images")
	if err != nil {
		return nil, err
	}
	vols, err := p.imageVolumes(ctx, conn)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(vols))
	for i, v := range vols {
		names[i] = v.Name
	}
	return names, nil
}

// URI is the connection URI the provider opened.
func (p *Provider) URI() string { return p.uri }

// Close implements backends.Provider.
func (p *Provider) Close() error {
	p.connMu.Lock()
	defer p.connMu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	if p.conn == nil {
		return nil
	}
	conn := p.conn
	p.conn = nil
	if err := conn.Disconnect(); err != nil && conn.IsConnected() {
		return fmt.Errorf("libvirt provider %s: closing the connection: %w", p.name, err)
	}
	return nil
}

// client returns the connection, connecting again if libvirtd went away.
// It gives up at once on a done context.
func (p *Provider) client(ctx context.Context, op string) (*golibvirt.Libvirt, error) {
	if err := ctx.Err(); err != nil {
		return nil, occi.Errorf(occi.Unavailable, "libvirt provider %s: %s: %w", p.name, op, err)
	}
	p.connMu.Lock()
	defer p.connMu.Unlock()
	if p.closed {
		return nil, occi.Errorf(occi.Unavailable, "libvirt provider %s: %s: provider is closed", p.name, op)
	}
	if p.conn != nil && p.conn.IsConnected() {
		return p.conn, nil
	}
	conn, err := p.dial()
	if err != nil {
		return nil, occi.Errorf(occi.Unavailable, "libvirt provider %s: %s: %w", p.name, op, err)
	}
	p.conn = conn
	return conn, nil
}

// check gives up on a done context before a call that changes libvirt.
func (p *Provider) check(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return occi.Errorf(occi.Unavailable, "libvirt provider %s: %s: %w", p.name, op, err)
	}
	return nil
}

// Errors.

// lverrCode returns the libvirt error number of err, if it is one.
func lverrCode(err error) (golibvirt.ErrorNumber, bool) {
	var lverr golibvirt.Error
	if errors.As(err, &lverr) {
		return golibvirt.ErrorNumber(lverr.Code), true
	}
	return 0, false
}

func isCode(err error, codes ...golibvirt.ErrorNumber) bool {
	c, ok := lverrCode(err)
	return ok && slices.Contains(codes, c)
}

func isNotFound(err error) bool {
	return isCode(err, golibvirt.ErrNoDomain, golibvirt.ErrNoNetwork, golibvirt.ErrNoStorageVol, golibvirt.ErrNoStoragePool)
}

// unsupported reports whether libvirt refused a call or its flags because
// the connection's driver does not implement them.
func unsupported(err error) bool {
	if isCode(err, golibvirt.ErrNoSupport, golibvirt.ErrOperationUnsupported, golibvirt.ErrArgumentUnsupported) {
		return true
	}
	var lverr golibvirt.Error
	return errors.As(err, &lverr) && golibvirt.ErrorNumber(lverr.Code) == golibvirt.ErrInvalidArg &&
		strings.Contains(lverr.Message, "unsupported flags")
}

// fail classifies an error from libvirt for the engine: an *occi.Error is
// kept, libvirt's error numbers map to codes, and anything else (the
// connection) is Unavailable.
func (p *Provider) fail(op string, err error) error {
	var oe *occi.Error
	if errors.As(err, &oe) {
		return err
	}
	code, ok := lverrCode(err)
	if !ok {
		if errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) || isNetError(err) {
			return occi.Errorf(occi.Unavailable, "libvirt provider %s: %s: libvirtd does not answer (%w); %s", p.name, op, err, howToStart)
		}
		return occi.Errorf(occi.Unavailable, "libvirt provider %s: %s: %w", p.name, op, err)
	}
	var c occi.Code
	switch code {
	case golibvirt.ErrNoDomain, golibvirt.ErrNoNetwork, golibvirt.ErrNoStorageVol, golibvirt.ErrNoStoragePool:
		c = occi.NotFound
	case golibvirt.ErrDomExist, golibvirt.ErrNetworkExist, golibvirt.ErrStorageVolExist:
		c = occi.AlreadyExists
	case golibvirt.ErrOperationInvalid:
		c = occi.FailedPrecondition
	case golibvirt.ErrNoSupport, golibvirt.ErrOperationUnsupported, golibvirt.ErrArgumentUnsupported, golibvirt.ErrConfigUnsupported:
		c = occi.Unimplemented
	case golibvirt.ErrInvalidArg:
		c = occi.InvalidArgument
	case golibvirt.ErrNoConnect, golibvirt.ErrInvalidConn, golibvirt.ErrRPC, golibvirt.ErrAuthFailed, golibvirt.ErrSystemError:
		c = occi.Unavailable
	default:
		c = occi.Internal
	}
	return occi.Errorf(c, "libvirt provider %s: %s: %w", p.name, op, err)
}

func isNetError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, golibvirt.ErrInterrupted) || strings.Contains(err.Error(), "use of closed network connection")
}

func (p *Provider) notFound(what, id string) error {
	return occi.Errorf(occi.NotFound, "libvirt provider %s: no %s %s", p.name, what, id)
}

// Dispatch by kind.

// family is what the driver makes of a kind.
type family int

const (
	famNone family = iota
	famCompute
	famNetwork
	famStorage
	famNetworkInterface
	famStorageLink
)

func familyOf(o *backends.Object) family {
	switch {
	case o.Is(occi.ComputeKindID):
		return famCompute
	case o.Is(occi.NetworkKindID):
		return famNetwork
	case o.Is(occi.StorageKindID):
		return famStorage
	case o.Is(occi.NetworkInterfaceID):
		return famNetworkInterface
	case o.Is(occi.StorageLinkKindID):
		return famStorageLink
	}
	return famNone
}

func (p *Provider) unservedKind(o *backends.Object) error {
	return occi.Errorf(occi.Unimplemented, "libvirt provider %s: kind %s is not served", p.name, o.Kind)
}

// Create implements backends.Provider.
func (p *Provider) Create(ctx context.Context, o *backends.Object) (map[string]any, error) {
	if err := xmlSafe(o); err != nil {
		return nil, err
	}
	if err := p.checkID(o); err != nil {
		return nil, err
	}
	switch familyOf(o) {
	case famCompute:
		return p.createCompute(ctx, o)
	case famNetwork:
		return p.createNetwork(ctx, o)
	case famStorage:
		return p.createStorage(ctx, o)
	case famNetworkInterface, famStorageLink:
		return p.createLink(ctx, o)
	}
	return nil, p.unservedKind(o)
}

// Retrieve implements backends.Provider: it reads libvirt, every time.
func (p *Provider) Retrieve(ctx context.Context, o *backends.Object) (map[string]any, error) {
	switch familyOf(o) {
	case famCompute:
		return p.retrieveCompute(ctx, o)
	case famNetwork:
		return p.retrieveNetwork(ctx, o)
	case famStorage:
		return p.retrieveStorage(ctx, o)
	case famNetworkInterface, famStorageLink:
		return p.retrieveLink(ctx, o)
	}
	return nil, p.unservedKind(o)
}

// Update implements backends.Provider.
func (p *Provider) Update(ctx context.Context, old, o *backends.Object) (map[string]any, error) {
	if err := xmlSafe(o); err != nil {
		return nil, err
	}
	switch familyOf(o) {
	case famCompute:
		return p.updateCompute(ctx, o)
	case famNetwork:
		return p.updateNetwork(ctx, o)
	case famStorage:
		return p.updateStorage(ctx, o)
	case famNetworkInterface, famStorageLink:
		return p.updateLink(ctx, old, o)
	}
	return nil, p.unservedKind(o)
}

// Delete implements backends.Provider. An object with only its id and
// instance set (an orphan found by List) is looked for among the
// instance's domains (with their root volumes), networks, volumes and the
// links recorded in domains.
func (p *Provider) Delete(ctx context.Context, o *backends.Object) error {
	switch familyOf(o) {
	case famCompute:
		return p.deleteCompute(ctx, o.Instance, o.ID)
	case famNetwork:
		return p.deleteNetwork(ctx, o.Instance, o.ID)
	case famStorage:
		return p.deleteStorage(ctx, o.Instance, o.ID)
	case famNetworkInterface, famStorageLink:
		return p.deleteLink(ctx, o)
	}
	if o.Kind != "" {
		return p.unservedKind(o)
	}
	return p.deleteByID(ctx, o.Instance, o.ID)
}

// deleteByID removes whatever the instance holds under the id. Ids are
// unique within an instance, so at most one kind of object answers; each
// is tried all the same, so that nothing of the id is left.
func (p *Provider) deleteByID(ctx context.Context, instance, id string) error {
	found := false
	for _, del := range []func(context.Context, string, string) error{p.deleteCompute, p.deleteNetwork, p.deleteStorage} {
		err := del(ctx, instance, id)
		switch {
		case err == nil:
			found = true
		case !errors.Is(err, occi.ErrNotFound):
			return err
		}
	}
	err := p.deleteLink(ctx, &backends.Object{ID: id, Instance: instance})
	if found && errors.Is(err, occi.ErrNotFound) {
		return nil
	}
	return err
}

// Action implements backends.Provider.
func (p *Provider) Action(ctx context.Context, o *backends.Object, action string, params map[string]any) (map[string]any, error) {
	switch familyOf(o) {
	case famCompute:
		return p.computeAction(ctx, o, action, params)
	case famNetwork:
		return p.networkAction(ctx, o, action)
	case famStorage:
		if _, err := p.retrieveStorage(ctx, o); err != nil {
			return nil, err
		}
	case famNone:
		return nil, p.unservedKind(o)
	}
	return nil, p.unimplementedAction(o, action)
}

func (p *Provider) unimplementedAction(o *backends.Object, action string) error {
	why := ""
	switch action {
	case occi.SaveActionID:
		why = ": saving a domain's disk as a new OS template is not offered"
	case occi.OnlineActionID, occi.OfflineActionID:
		why = ": libvirt volumes have no online state"
	}
	return occi.Errorf(occi.Unimplemented, "libvirt provider %s: action %s is not implemented for kind %s%s", p.name, action, o.Kind, why)
}

// List implements backends.Provider: the ids of the instance's domains
// and networks that carry this provider's name in their metadata, of the
// links recorded in those domains, and of the instance's volumes in the
// storage pool. A root volume is listed under its compute's id, read from
// its name, whether its domain is there or not: the engine never deletes
// the objects of an id whose entity exists.
func (p *Provider) List(ctx context.Context, instance string) ([]string, error) {
	conn, err := p.client(ctx, "list")
	if err != nil {
		return nil, err
	}
	var ids []string
	doms, err := p.ourDomains(ctx, conn, instance)
	if err != nil {
		return nil, err
	}
	for _, d := range doms {
		if d.meta.Provider != p.name {
			continue
		}
		ids = append(ids, d.meta.ID)
		for _, l := range d.meta.Links {
			ids = append(ids, l.ID)
		}
	}
	nets, err := p.ourNetworks(ctx, conn, instance)
	if err != nil {
		return nil, err
	}
	for _, n := range nets {
		if n.meta.Provider == p.name {
			ids = append(ids, n.meta.ID)
		}
	}
	vols, err := p.ourVolumes(ctx, conn, instance)
	if err != nil {
		return nil, err
	}
	for _, v := range vols {
		ids = append(ids, v.id)
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// Locks.

// keyedLocks serialises the changes to one libvirt object: a domain's
// definition is read, changed and written back whole.
type keyedLocks struct {
	mu sync.Mutex
	m  map[string]*keyedLock
}

type keyedLock struct {
	mu   sync.Mutex
	refs int
}

// lock takes the lock of key and returns its release.
func (k *keyedLocks) lock(key string) func() {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedLock{}
	}
	l := k.m[key]
	if l == nil {
		l = &keyedLock{}
		k.m[key] = l
	}
	l.refs++
	k.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}

// xmlSafe refuses string attributes holding characters that XML 1.0, and so
// libvirt's definitions, cannot carry (control characters but tab and line
// breaks): the client hears it as a 400 instead of libvirt failing later.
func xmlSafe(o *backends.Object) error {
	for _, name := range slices.Sorted(maps.Keys(o.Attributes)) {
		s, ok := o.Attributes[name].(string)
		if !ok {
			continue
		}
		for _, r := range s {
			if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0xFFFE || r == 0xFFFF {
				return occi.Errorf(occi.InvalidArgument, "attribute %s holds the character %U, which libvirt's XML cannot carry", name, r)
			}
		}
	}
	return nil
}
