package client

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/renderers"
)

// Entity is one entity read from the endpoint: a resource or a link,
// exactly one of the two set, and where it lives.
type Entity struct {
	// Location is the entity's absolute URL; empty when the answer did
	// not say (the JSON rendering of a listing carries ids, not
	// locations).
	Location string
	Resource *occi.Resource
	Link     *occi.Link
}

// IsLink reports whether the entity is a link.
func (e *Entity) IsLink() bool { return e.Link != nil }

// Core returns the part resources and links share.
func (e *Entity) Core() *occi.Entity {
	if e.Link != nil {
		return &e.Link.Entity
	}
	if e.Resource != nil {
		return &e.Resource.Entity
	}
	return nil
}

// Categories reads the query interface (GET /-/), all of it or only the
// categories whose ids filter names, with the provider bound to each kind
// when the endpoint says (ocni's x-ocni-provider extension, JSON only).
func (c *Client) Categories(ctx context.Context, filter ...string) (*occi.Categories, map[string]string, error) {
	u, err := c.resolve("-/")
	if err != nil {
		return nil, nil, err
	}
	if len(filter) > 0 {
		u.RawQuery = url.Values{"category": filter}.Encode()
	}
	a, err := c.do(ctx, call{method: http.MethodGet, url: u})
	if err != nil {
		return nil, nil, err
	}
	// The query interface has the shape of a category request, which the
	// codecs read: the provider extension comes back as bindings.
	var req renderers.CategoryRequest
	if err := c.decode(a, &req); err != nil {
		return nil, nil, err
	}
	bindings := map[string]string{}
	for _, b := range req.Bindings {
		bindings[b.Kind] = b.Provider
	}
	return &req.Categories, bindings, nil
}

// Create creates a resource: with POST when collectionOrPath is a
// collection (ends with "/"), the server choosing the location from the
// kind and the id; with PUT at that path otherwise (a PUT on an existing
// entity replaces it). It returns the new entity's absolute URL and the
// entity as the server made it.
func (c *Client) Create(ctx context.Context, collectionOrPath string, r *occi.Resource) (string, *occi.Resource, error) {
	if r == nil {
		return "", nil, occi.Errorf(occi.InvalidArgument, "the resource is nil")
	}
	e, err := c.create(ctx, collectionOrPath, r)
	if err != nil {
		return "", nil, err
	}
	if e.Resource == nil {
		return e.Location, nil, occi.Errorf(occi.Internal, "the endpoint answered a link for the resource created at %s", e.Location)
	}
	return e.Location, e.Resource, nil
}

// CreateLink creates a link as Create creates a resource. Its ends may be
// relative locations: they are resolved against the endpoint.
func (c *Client) CreateLink(ctx context.Context, collectionOrPath string, l *occi.Link) (string, *occi.Link, error) {
	if l == nil {
		return "", nil, occi.Errorf(occi.InvalidArgument, "the link is nil")
	}
	out, err := c.linkBody(l)
	if err != nil {
		return "", nil, err
	}
	e, err := c.create(ctx, collectionOrPath, out)
	if err != nil {
		return "", nil, err
	}
	if e.Link == nil {
		return e.Location, nil, occi.Errorf(occi.Internal, "the endpoint answered a resource for the link created at %s", e.Location)
	}
	return e.Location, e.Link, nil
}

// linkBody is l with its ends written as a request body writes locations.
func (c *Client) linkBody(l *occi.Link) (*occi.Link, error) {
	out := *l
	for _, end := range []*occi.LinkEnd{&out.Source, &out.Target} {
		if end.Location == "" {
			continue
		}
		loc, err := c.bodyLocation(end.Location)
		if err != nil {
			return nil, err
		}
		end.Location = loc
	}
	// The core attributes repeat the ends in some renderings; keep them
	// agreeing with the members.
	if out.Attributes != nil {
		attrs := make(map[string]any, len(out.Attributes))
		for k, v := range out.Attributes {
			attrs[k] = v
		}
		if _, ok := attrs[occi.AttrSource]; ok && out.Source.Location != "" {
			attrs[occi.AttrSource] = out.Source.Location
		}
		if _, ok := attrs[occi.AttrTarget]; ok && out.Target.Location != "" {
			attrs[occi.AttrTarget] = out.Target.Location
		}
		out.Attributes = attrs
	}
	return &out, nil
}

func (c *Client) create(ctx context.Context, collectionOrPath string, msg any) (*Entity, error) {
	u, err := c.resolve(collectionOrPath)
	if err != nil {
		return nil, err
	}
	method := http.MethodPut
	if strings.HasSuffix(u.Path, "/") {
		method = http.MethodPost
	}
	a, err := c.do(ctx, call{method: method, url: u, msg: msg})
	if err != nil {
		return nil, err
	}
	loc := u
	if l := a.header.Get("Location"); l != "" {
		if loc, err = u.Parse(l); err != nil {
			return nil, occi.Errorf(occi.Internal, "the endpoint answered Location %s, which cannot be parsed: %v", occi.ShortQuote(l), err)
		}
	} else if method == http.MethodPost {
		return nil, occi.Errorf(occi.Internal, "the endpoint created an entity in %s without saying where (no Location header)", u)
	}
	return c.entityOf(a, loc)
}

// entityOf reads an entity answer of the entity at loc.
func (c *Client) entityOf(a *answer, loc *url.URL) (*Entity, error) {
	var m renderers.Entity
	if err := c.decode(a, &m); err != nil {
		return nil, err
	}
	e := &Entity{Location: loc.String(), Resource: m.Resource, Link: m.Link}
	if core := e.Core(); core != nil {
		// The model's Location is a path on the server that holds it.
		core.Location = loc.EscapedPath()
	}
	return e, nil
}

// Get reads the entity at location.
func (c *Client) Get(ctx context.Context, location string) (*Entity, error) {
	u, err := c.resolve(location)
	if err != nil {
		return nil, err
	}
	a, err := c.do(ctx, call{method: http.MethodGet, url: u})
	if err != nil {
		return nil, err
	}
	return c.entityOf(a, u)
}

// Update changes part of the entity at location (POST): the mixins and
// attributes that partial, an *occi.Resource, *occi.Link or *Entity,
// names; its kind may be left empty.
func (c *Client) Update(ctx context.Context, location string, partial any) (*Entity, error) {
	return c.write(ctx, http.MethodPost, location, partial)
}

// Replace replaces the entity at location with full (PUT): what full
// leaves out goes back to its defaults.
func (c *Client) Replace(ctx context.Context, location string, full any) (*Entity, error) {
	return c.write(ctx, http.MethodPut, location, full)
}

func (c *Client) write(ctx context.Context, method, location string, v any) (*Entity, error) {
	var msg any
	switch m := v.(type) {
	case *occi.Resource:
		msg = m
	case *occi.Link:
		l, err := c.linkBody(m)
		if err != nil {
			return nil, err
		}
		msg = l
	case *Entity:
		if m != nil && m.Link != nil {
			return c.write(ctx, method, location, m.Link)
		}
		if m != nil && m.Resource != nil {
			return c.write(ctx, method, location, m.Resource)
		}
	}
	if msg == nil {
		return nil, occi.Errorf(occi.InvalidArgument, "an update takes an *occi.Resource, an *occi.Link or an *Entity holding one, not %T", v)
	}
	u, err := c.resolve(location)
	if err != nil {
		return nil, err
	}
	a, err := c.do(ctx, call{method: method, url: u, msg: msg})
	if err != nil {
		return nil, err
	}
	return c.entityOf(a, u)
}

// Delete deletes the entity at location (its links go with it).
func (c *Client) Delete(ctx context.Context, location string) error {
	u, err := c.resolve(location)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, call{method: http.MethodDelete, url: u})
	return err
}

// invocation builds the query and body of an action request. actionID is
// the action's id (scheme + term) or, without parameters, its term alone:
// the server then finds the action from the entity's.
func invocation(actionID string, params map[string]any) (string, *occi.ActionInvocation, error) {
	scheme, term := occi.SplitID(actionID)
	if term == "" {
		return "", nil, occi.Errorf(occi.InvalidArgument, "action %s names no term", occi.ShortQuote(actionID))
	}
	if scheme == "" {
		if len(params) > 0 {
			return "", nil, occi.Errorf(occi.InvalidArgument, "action %s has parameters: name it by its id (scheme and term)", occi.ShortQuote(actionID))
		}
		return term, nil, nil
	}
	return term, &occi.ActionInvocation{Action: actionID, Attributes: params}, nil
}

// Action invokes an action on the entity at location (POST ?action=) and
// returns the entity as the action left it.
func (c *Client) Action(ctx context.Context, location, actionID string, params map[string]any) (*Entity, error) {
	term, inv, err := invocation(actionID, params)
	if err != nil {
		return nil, err
	}
	u, err := c.resolve(location)
	if err != nil {
		return nil, err
	}
	target := *u
	target.RawQuery = url.Values{"action": {term}}.Encode()
	k := call{method: http.MethodPost, url: &target}
	if inv != nil {
		k.msg = inv
	}
	a, err := c.do(ctx, k)
	if err != nil {
		return nil, err
	}
	return c.entityOf(a, u)
}

// CollectionAction invokes an action on every entity of a collection (a
// kind's, a mixin's or a path ending in "/"). The server acts on a bounded
// batch per request and names the request for the rest: CollectionAction
// sends them all, and returns the locations acted on.
func (c *Client) CollectionAction(ctx context.Context, collection, actionID string, params map[string]any) ([]string, error) {
	term, inv, err := invocation(actionID, params)
	if err != nil {
		return nil, err
	}
	u, err := c.resolve(collection)
	if err != nil {
		return nil, err
	}
	target := *u
	q := target.Query()
	q.Set("action", term)
	target.RawQuery = q.Encode()
	k := call{method: http.MethodPost, url: &target}
	if inv != nil {
		k.msg = inv
	}
	return c.repeat(ctx, k)
}

// Associate adds the entities at locations to the mixin collection at
// mixinLocation (POST), all or none; it returns the members named.
func (c *Client) Associate(ctx context.Context, mixinLocation string, locations ...string) ([]string, error) {
	return c.members(ctx, http.MethodPost, mixinLocation, locations)
}

// Dissociate removes the entities at locations from the mixin collection
// at mixinLocation (DELETE with a body).
func (c *Client) Dissociate(ctx context.Context, mixinLocation string, locations ...string) ([]string, error) {
	if len(locations) == 0 {
		// A DELETE without a body dissociates every member: not what
		// a call naming none means.
		return nil, occi.Errorf(occi.InvalidArgument, "Dissociate names no location; SetMembers with none empties a mixin collection")
	}
	return c.members(ctx, http.MethodDelete, mixinLocation, locations)
}

// SetMembers makes locations the members of the mixin collection at
// mixinLocation (PUT), dissociating the others.
func (c *Client) SetMembers(ctx context.Context, mixinLocation string, locations ...string) ([]string, error) {
	return c.members(ctx, http.MethodPut, mixinLocation, locations)
}

func (c *Client) members(ctx context.Context, method, mixinLocation string, locations []string) ([]string, error) {
	u, err := c.resolve(mixinLocation)
	if err != nil {
		return nil, err
	}
	body := make(renderers.Locations, 0, len(locations))
	for _, l := range locations {
		loc, err := c.bodyLocation(l)
		if err != nil {
			return nil, err
		}
		body = append(body, loc)
	}
	return c.repeat(ctx, call{method: method, url: u, msg: body})
}

// maxRepeats bounds how many times a bulk request is sent again: a server
// that always answers "more" must not keep the client forever.
const maxRepeats = 100000

// repeat sends a bulk request and, while the answer's Link rel="next"
// names it again, sends it there; it returns every location the answers
// list, absolute.
func (c *Client) repeat(ctx context.Context, k call) ([]string, error) {
	var out []string
	for range maxRepeats {
		a, err := c.do(ctx, k)
		if err != nil {
			return out, err
		}
		locs, err := c.locationsOf(a)
		if err != nil {
			return out, err
		}
		out = append(out, locs...)
		next := nextLink(a)
		if next == nil {
			return out, nil
		}
		k.url = next
	}
	return out, occi.Errorf(occi.Internal, "%s %s: the endpoint still answered more after %d requests", k.method, k.url.Redacted(), maxRepeats)
}

// locationsOf reads a list of locations (an empty body is an empty list),
// made absolute.
func (c *Client) locationsOf(a *answer) ([]string, error) {
	if len(strings.TrimSpace(string(a.body))) == 0 && a.header.Get("X-OCCI-Location") == "" {
		return nil, nil
	}
	var locs renderers.Locations
	if err := c.decode(a, &locs); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(locs))
	for _, l := range locs {
		u, err := a.url.Parse(l)
		if err != nil {
			return nil, occi.Errorf(occi.Internal, "the endpoint listed %s, which cannot be parsed: %v", occi.ShortQuote(l), err)
		}
		out = append(out, u.String())
	}
	return out, nil
}
