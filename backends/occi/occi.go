// Package occi is the federation driver: a provider named "occi" that
// delegates the infrastructure kinds (compute, network, storage and their
// links) to another OCCI endpoint, ocni or any OCCI 1.2 (JSON) or 1.1
// (text/plain) server, through the Go OCCI client in occi/client.
//
// Each entity is made on the remote at the same path it has here
// (/compute/<id>), so that the remote entity carries ocni's id and crash
// recovery finds it by id. The remote decides what a VIM decides (states,
// MAC addresses, device ids) and those come back to the engine; the
// remote's refusals come back with their occi code and message, and a remote
// that is down or slow gives Unavailable naming its address, after the
// configured timeout at most.
package occi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ocni/ocni/backends"
	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/occi/client"
)

// DriverName is the name provider configurations use for this driver.
const DriverName = "occi"

// The renderings the rendering option names.
const (
	renderingJSON      = "json"
	renderingTextPlain = "text/plain"
	renderingTextOCCI  = "text/occi"
)

func init() {
	backends.Register(&backends.Driver{
		Name:        DriverName,
		Description: "delegates compute, network, storage and their links to another OCCI endpoint (federation)",
		Options: []backends.Option{
			{Name: "endpoint", Type: backends.String, Required: true,
				Help: "URL of the remote OCCI endpoint, e.g. https://occi.example.org/"},
			{Name: "rendering", Type: backends.String, Default: renderingJSON,
				Help: "rendering spoken with the remote: json (OCCI 1.2), text/plain or text/occi (OCCI 1.1 endpoints)"},
			{Name: "username", Type: backends.String, Help: "user name for HTTP Basic authentication on the remote"},
			{Name: "password", Type: backends.String, Secret: true, Help: "password for HTTP Basic authentication on the remote"},
			{Name: "token", Type: backends.String, Secret: true, Help: "bearer token for the remote (instead of username and password)"},
			{Name: "timeout", Type: backends.Duration, Default: 10 * time.Second,
				Help: "how long one call to the remote may take, retries included, before it is Unavailable"},
			{Name: "refresh_interval", Type: backends.Duration, Default: 30 * time.Second,
				Help: "how often the engine reads the remote entities' states again (0 never)"},
		},
		New: New,
	})
}

// served are the kinds the driver delegates: GFD.184's infrastructure.
var served = []string{
	occi.ComputeKindID, occi.NetworkKindID, occi.StorageKindID,
	occi.NetworkInterfaceID, occi.StorageLinkKindID,
}

// Provider delegates entities to one remote OCCI endpoint. It is safe for
// concurrent use: it holds no state but the client and what New read from
// the remote's query interface.
type Provider struct {
	name     string
	endpoint string
	c        *client.Client
	hc       *http.Client
	timeout  time.Duration
	refresh  time.Duration
	caps     backends.Capabilities
	// collections are the remote's locations of the served kinds, which
	// List walks.
	collections map[string]string
}

var (
	_ backends.Provider = (*Provider)(nil)
	// The engine's Refresher (engine/refresh.go), not imported here: a
	// driver does not depend on the engine.
	_ interface{ RefreshInterval() time.Duration } = (*Provider)(nil)
)

// New builds a provider from validated options. It reads the remote's query
// interface at once, so that a wrong endpoint or credentials are found at
// start rather than at the first request.
func New(name string, opts backends.Options) (backends.Provider, error) {
	endpoint := opts.String("endpoint")
	var rendering client.Rendering
	switch r := opts.String("rendering"); r {
	case renderingJSON, "", string(client.JSON):
		rendering = client.JSON
	case renderingTextPlain:
		rendering = client.TextPlain
	case renderingTextOCCI:
		rendering = client.TextOCCI
	default:
		return nil, fmt.Errorf("option rendering: %q is not json, text/plain or text/occi", r)
	}
	timeout := opts.Duration("timeout")
	if timeout <= 0 {
		// Without a bound a remote that hangs would hang the engine.
		return nil, fmt.Errorf("option timeout: %s must be positive", timeout)
	}
	if opts.Duration("refresh_interval") < 0 {
		return nil, fmt.Errorf("option refresh_interval: %s is negative", opts.Duration("refresh_interval"))
	}
	user, password, token := opts.String("username"), opts.String("password"), opts.String("token")
	// A dedicated transport, so that Close releases this provider's
	// connections only, and dialling a dead host gives up within the timeout.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DialContext = (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext
	hc := &http.Client{Transport: transport}
	copts := []client.Option{
		client.WithRendering(rendering),
		client.WithTimeout(timeout),
		client.WithHTTPClient(hc),
		// Idempotent calls only (GET, PUT, DELETE): a remote that restarts
		// is ridden over; POST is never retried.
		client.WithRetries(2, 100*time.Millisecond),
		client.WithUserAgent("ocni-federation/" + client.Version),
	}
	switch {
	case token != "" && (user != "" || password != ""):
		return nil, errors.New("options token and username/password exclude each other")
	case token != "":
		copts = append(copts, client.WithToken(token))
	case user != "":
		copts = append(copts, client.WithBasicAuth(user, password))
	case password != "":
		return nil, errors.New("option password needs username")
	}
	c, err := client.New(endpoint, copts...)
	if err != nil {
		return nil, fmt.Errorf("option endpoint: %w", err)
	}
	p := &Provider{
		name: name, endpoint: c.Endpoint(), c: c, hc: hc, timeout: timeout,
		refresh: opts.Duration("refresh_interval"), collections: map[string]string{},
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cats, _, err := c.Categories(ctx)
	if err != nil {
		transport.CloseIdleConnections()
		return nil, fmt.Errorf("remote OCCI endpoint %s: reading its query interface: %w", p.endpoint, p.remoteError("discovery", err))
	}
	p.caps = capabilitiesOf(cats, p.collections)
	if len(p.caps.Kinds) == 0 {
		transport.CloseIdleConnections()
		return nil, fmt.Errorf("remote OCCI endpoint %s offers none of the kinds %s", p.endpoint, strings.Join(served, ", "))
	}
	return p, nil
}

// capabilitiesOf declares the served kinds the remote has, and the actions
// its query interface gives them; it records their collections.
func capabilitiesOf(cats *occi.Categories, collections map[string]string) backends.Capabilities {
	var caps backends.Capabilities
	for _, k := range cats.Kinds {
		id := k.ID()
		if !slices.Contains(served, id) {
			continue
		}
		caps.Kinds = append(caps.Kinds, id)
		if k.Location != "" {
			collections[id] = k.Location
		}
		caps.Actions = append(caps.Actions, k.Actions...)
	}
	sort.Strings(caps.Kinds)
	sort.Strings(caps.Actions)
	caps.Actions = slices.Compact(caps.Actions)
	return caps
}

// Capabilities implements backends.Provider. The remote keeps its entities
// whatever happens to this server: the provider is not volatile.
func (p *Provider) Capabilities() backends.Capabilities {
	return backends.Capabilities{Kinds: slices.Clone(p.caps.Kinds), Actions: slices.Clone(p.caps.Actions)}
}

// RefreshInterval implements the engine's Refresher: remote entities change
// on the remote (its VIM, its other clients).
func (p *Provider) RefreshInterval() time.Duration { return p.refresh }

// Close implements backends.Provider.
func (p *Provider) Close() error {
	p.hc.CloseIdleConnections()
	return nil
}

// remotePath is where an entity lives on the remote: its local path, taken
// relative to the endpoint so that an endpoint with a path prefix
// (https://host/occi/) keeps it.
func remotePath(location string) string {
	if strings.Contains(location, "://") {
		return location // another endpoint's entity: its absolute URL
	}
	return strings.TrimPrefix(location, "/")
}

// Create implements backends.Provider: a PUT at the entity's own path. A PUT
// on a taken path would replace what is there, so the path is read first:
// an entity there is AlreadyExists. (Two creates of one id are serialized by
// the engine's locks; another client of the remote writing the same path
// between the two calls is not prevented.)
func (p *Provider) Create(ctx context.Context, o *backends.Object) (map[string]any, error) {
	where := remotePath(o.Location)
	_, err := p.c.Get(ctx, where)
	switch {
	case err == nil:
		return nil, occi.Errorf(occi.AlreadyExists, "occi provider %s: the remote %s already has %s", p.name, p.endpoint, o.Location)
	case !errors.Is(err, occi.ErrNotFound):
		return nil, p.remoteError("create "+o.Location, err)
	}
	var ent *client.Entity
	if o.IsLink() {
		var l *occi.Link
		_, l, err = p.c.CreateLink(ctx, where, p.link(o, o.Attributes, whole))
		ent = &client.Entity{Link: l}
	} else {
		var r *occi.Resource
		_, r, err = p.c.Create(ctx, where, p.resource(o, o.Attributes, whole))
		ent = &client.Entity{Resource: r}
	}
	if err != nil {
		// A missing end on the remote is a precondition of this create,
		// not a missing entity: NotFound would read as "no such
		// location" to the client.
		if errors.Is(err, occi.ErrNotFound) {
			return nil, occi.Errorf(occi.FailedPrecondition, "occi provider %s: create %s: %s", p.name, o.Location, remoteMessage(err))
		}
		return nil, p.remoteError("create "+o.Location, err)
	}
	return p.reported(o, ent), nil
}

// Retrieve implements backends.Provider.
func (p *Provider) Retrieve(ctx context.Context, o *backends.Object) (map[string]any, error) {
	ent, err := p.c.Get(ctx, remotePath(o.Location))
	if err != nil {
		return nil, p.remoteError("retrieve "+o.Location, err)
	}
	return p.reported(o, ent), nil
}

// Update implements backends.Provider. A partial update (POST) sends the
// attributes that changed and the mixins; it cannot remove a mixin or an
// attribute, so when o drops some, the remote entity is replaced (PUT) with
// o whole, after a read that makes sure it is still there (a PUT on a
// missing path would make it again).
func (p *Provider) Update(ctx context.Context, old, o *backends.Object) (map[string]any, error) {
	where := remotePath(o.Location)
	owned := p.owned(o)
	changes := map[string]any{}
	dropped := false
	for name, v := range o.Attributes {
		if owned[name] || strings.HasPrefix(name, "occi.core.") && name != occi.AttrTitle && name != occi.AttrSummary {
			continue
		}
		if was, ok := old.Attributes[name]; !ok || !reflect.DeepEqual(was, v) {
			changes[name] = v
		}
	}
	for name := range old.Attributes {
		if _, ok := o.Attributes[name]; !ok && !owned[name] {
			dropped = true
		}
	}
	for _, m := range old.Mixins {
		if !slices.Contains(o.Mixins, m) {
			dropped = true
		}
	}
	addedMixin := false
	for _, m := range o.Mixins {
		if !slices.Contains(old.Mixins, m) {
			addedMixin = true
		}
	}
	var ent *client.Entity
	var err error
	switch {
	case dropped:
		if _, err = p.c.Get(ctx, where); err == nil {
			ent, err = p.c.Replace(ctx, where, p.entity(o, o.Attributes, whole))
		}
	case len(changes) == 0 && !addedMixin:
		ent, err = p.c.Get(ctx, where)
	default:
		ent, err = p.c.Update(ctx, where, p.entity(o, changes, partial))
	}
	if err != nil {
		return nil, p.remoteError("update "+o.Location, err)
	}
	return p.reported(o, ent), nil
}

// Delete implements backends.Provider; the remote deletes a resource's
// links with it, as ocni does.
func (p *Provider) Delete(ctx context.Context, o *backends.Object) error {
	if err := p.c.Delete(ctx, remotePath(o.Location)); err != nil {
		return p.remoteError("delete "+o.Location, err)
	}
	return nil
}

// Action implements backends.Provider: the remote runs the action and its
// state machine; its refusal (409) comes back as its FailedPrecondition or
// Conflict, with its message.
func (p *Provider) Action(ctx context.Context, o *backends.Object, action string, params map[string]any) (map[string]any, error) {
	if !p.caps.ServesAction(action) {
		return nil, occi.Errorf(occi.Unimplemented, "occi provider %s: the remote %s offers no action %s", p.name, p.endpoint, action)
	}
	ent, err := p.c.Action(ctx, remotePath(o.Location), action, params)
	if err != nil {
		return nil, p.remoteError("action "+action+" on "+o.Location, err)
	}
	return p.reported(o, ent), nil
}

// scope says whether a message carries the whole entity (a create, a
// replacement) or the part of it that changed (a partial update).
type scope bool

const (
	whole   scope = true
	partial scope = false
)

// entity builds the message for o with the given attributes: a link or a
// resource.
func (p *Provider) entity(o *backends.Object, attrs map[string]any, s scope) *client.Entity {
	if o.IsLink() {
		return &client.Entity{Link: p.link(o, attrs, s)}
	}
	return &client.Entity{Resource: p.resource(o, attrs, s)}
}

func (p *Provider) resource(o *backends.Object, attrs map[string]any, s scope) *occi.Resource {
	a := p.outgoing(o, attrs, s)
	if _, ok := attrs[occi.AttrSummary]; ok || s == whole {
		a[occi.AttrSummary] = withTag(stringOf(o.Attributes[occi.AttrSummary]), o.Instance)
	}
	return &occi.Resource{Entity: occi.Entity{Kind: remoteKind(o), Mixins: slices.Clone(o.Mixins), Attributes: a}}
}

func (p *Provider) link(o *backends.Object, attrs map[string]any, s scope) *occi.Link {
	a := p.outgoing(o, attrs, s)
	if _, ok := attrs[occi.AttrTitle]; ok || s == whole {
		a[occi.AttrTitle] = withTag(stringOf(o.Attributes[occi.AttrTitle]), o.Instance)
	}
	// The ends are the remote's entities of the same paths: the remote
	// holds what the local ends delegate to it.
	for _, name := range []string{occi.AttrSource, occi.AttrTarget} {
		if s, ok := a[name].(string); ok {
			a[name] = remotePath(s)
		}
	}
	return &occi.Link{
		Entity: occi.Entity{Kind: remoteKind(o), Mixins: slices.Clone(o.Mixins), Attributes: a},
		Source: occi.LinkEnd{Location: remotePath(o.Source), Kind: o.SourceKind},
		Target: occi.LinkEnd{Location: remotePath(o.Target), Kind: o.TargetKind},
	}
}

// outgoing copies the attributes to send: what the remote decides itself
// (states, their messages) is left to it, and so is the id in a partial
// update, which the path names.
func (p *Provider) outgoing(o *backends.Object, attrs map[string]any, s scope) map[string]any {
	owned := p.owned(o)
	out := make(map[string]any, len(attrs))
	for name, v := range attrs {
		if owned[name] || v == nil || (s == partial && name == occi.AttrID) {
			continue
		}
		out[name] = v
	}
	return out
}

// owned names the attributes of o that the remote decides: the state of its
// kind and its message.
func (p *Provider) owned(o *backends.Object) map[string]bool {
	term := kindTerm(remoteKind(o))
	return map[string]bool{"occi." + term + ".state": true, "occi." + term + ".state.message": true}
}

// remoteKind is the kind o is made as on the remote: its own when it is a
// served kind, else the served kind it derives from (a user kind derived
// from compute is a compute on the remote, which does not know it).
func remoteKind(o *backends.Object) string {
	if slices.Contains(served, o.Kind) {
		return o.Kind
	}
	for _, a := range o.Ancestors {
		if slices.Contains(served, a) {
			return a
		}
	}
	return o.Kind
}

func kindTerm(id string) string {
	_, term := occi.SplitID(id)
	return term
}

// reported is what the remote decided of o: the attributes it renders that
// the local entity has, or that its kind or mixins define among the OGF
// built-ins (a state, a MAC address). Others are not reported: the local
// model may not define them, and the core attributes are the engine's. A
// value the remote renders differently but equally (2 and "2" in text/plain)
// keeps the local one, so that a refresh sees no change.
func (p *Provider) reported(o *backends.Object, e *client.Entity) map[string]any {
	out := map[string]any{}
	core := e.Core()
	if core == nil {
		return out
	}
	defined := builtinNames(remoteKind(o), o.Mixins)
	for name, v := range core.Attributes {
		if strings.HasPrefix(name, "occi.core.") || v == nil {
			continue
		}
		local, has := o.Attributes[name]
		if !has && !defined[name] {
			continue
		}
		if has && occi.ValueText(local) == occi.ValueText(v) {
			v = local
		}
		out[name] = v
	}
	return out
}

// builtinNames are the attributes the OGF built-ins define for a kind
// (with its ancestors') and mixins, the core ones excepted.
func builtinNames(kind string, mixins []string) map[string]bool {
	out := map[string]bool{}
	cats := occi.Builtins()
	kinds := map[string]*occi.Kind{}
	for _, k := range cats.Kinds {
		kinds[k.ID()] = k
	}
	for k := kinds[kind]; k != nil; k = kinds[k.Parent] {
		for name := range k.Attributes {
			out[name] = true
		}
		if k.Parent == "" || k.Parent == k.ID() {
			break
		}
	}
	for _, m := range cats.Mixins {
		if slices.Contains(mixins, m.ID()) {
			for name := range m.Attributes {
				out[name] = true
			}
		}
	}
	return out
}

func stringOf(v any) string { s, _ := v.(string); return s }
