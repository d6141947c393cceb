package server

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ocni/ocni/engine"
	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/renderers"
	"github.com/ocni/ocni/store"
)

// dispatch serves every path but the query interface: a kind's collection,
// a mixin's collection, a path prefix, or an entity.
func (s *Server) dispatch(r *request) (*reply, error) {
	p := r.Request().URL.Path
	// An encoded '/' would make a path that means something else once
	// decoded: refuse it rather than guess.
	if raw := strings.ToLower(r.Request().URL.RawPath); strings.Contains(raw, "%2f") || strings.Contains(raw, "%5c") {
		return nil, occi.Errorf(occi.InvalidArgument, "the path %s contains an encoded '/' or '\\'", r.Request().URL.RawPath)
	}
	snap := s.engine.Model()
	if id, ok := snap.AtLocation(p); ok {
		if _, isKind := snap.Kind(id); isKind {
			return s.kindCollection(r, snap, id)
		}
		return s.mixinCollection(r, snap, id)
	}
	if strings.HasSuffix(p, "/") {
		return s.pathPrefix(r, p)
	}
	return s.entity(r, p)
}

// kindCollection serves a kind's location: list, create, act on all,
// delete all.
func (s *Server) kindCollection(r *request, snap engine.Model, kindID string) (*reply, error) {
	ctx := r.Request().Context()
	kind, _ := snap.Kind(kindID)
	switch r.Request().Method {
	case http.MethodGet, http.MethodHead:
		return s.list(r, &engine.Query{Index: store.ByKind, Value: kindID})
	case http.MethodPost:
		if r.QueryParams().Has("action") {
			return s.actOnAll(r, snap, &engine.Query{Index: store.ByKind, Value: kindID}, append([]string{kindID}, kindAncestors(snap, kindID)...))
		}
		return s.create(r, engine.Placement{Collection: kind.Location})
	case http.MethodDelete:
		return s.deleteAll(r, &engine.Query{Index: store.ByKind, Value: kindID})
	}
	_ = ctx
	return nil, notAllowed(r, "a kind's collection ("+kind.Location+")", http.MethodGet, http.MethodHead, http.MethodPost, http.MethodDelete)
}

// mixinCollection serves a mixin's location: its members. A change of
// membership is one bounded step (at most max_page entities): the answer
// lists the members after it (the first max_page; GET pages through them
// all) and, when a PUT or a DELETE without a body has more members to
// dissociate, carries Link rel="next" naming the request to repeat.
func (s *Server) mixinCollection(r *request, snap engine.Model, mixinID string) (*reply, error) {
	ctx := r.Request().Context()
	mixin, _ := snap.Mixin(mixinID)
	q := &engine.Query{Index: store.ByMixin, Value: mixinID}
	var more bool
	switch r.Request().Method {
	case http.MethodGet, http.MethodHead:
		return s.list(r, q)
	case http.MethodPost:
		if r.QueryParams().Has("action") {
			return s.actOnAll(r, snap, q, []string{mixinID})
		}
		locs, err := s.bodyLocations(r, true)
		if err != nil {
			return nil, err
		}
		if _, err := s.engine.MembersStep(ctx, mixinID, locs, engine.Associate); err != nil {
			return nil, err
		}
	case http.MethodPut:
		locs, err := s.bodyLocations(r, false)
		if err != nil {
			return nil, err
		}
		if more, err = s.engine.MembersStep(ctx, mixinID, locs, engine.SetMembers); err != nil {
			return nil, err
		}
	case http.MethodDelete:
		var locs []string
		how := engine.SetMembers // no body: dissociate every member
		if r.hasBody() {
			var err error
			if locs, err = s.bodyLocations(r, true); err != nil {
				return nil, err
			}
			how = engine.Dissociate
		}
		var err error
		if more, err = s.engine.MembersStep(ctx, mixinID, locs, how); err != nil {
			return nil, err
		}
	default:
		return nil, notAllowed(r, "a mixin's collection ("+mixin.Location+")", http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete)
	}
	members, err := s.engine.List(ctx, &engine.Query{Index: store.ByMixin, Value: mixinID, Number: s.engine.MaxPage()})
	if err != nil {
		return nil, err
	}
	return &reply{status: http.StatusOK, body: s.locations(r, members), header: repeatLink(r, more)}, nil
}

// pathPrefix serves an unbound path: what is below it (pyOCNI's path
// management).
func (s *Server) pathPrefix(r *request, prefix string) (*reply, error) {
	q := &engine.Query{Index: store.ByPrefix, Value: prefix}
	switch r.Request().Method {
	case http.MethodGet, http.MethodHead:
		if err := s.filters(r, q); err != nil {
			return nil, err
		}
		ents, header, err := s.page(r, q)
		if err != nil {
			return nil, err
		}
		// The root always exists: an empty server lists nothing, with a 200.
		if prefix != "/" && len(ents) == 0 && q.Page <= 1 && len(q.Categories) == 0 && len(q.Attributes) == 0 {
			return nil, occi.Errorf(occi.NotFound, "nothing is at or below %s", prefix)
		}
		return &reply{status: http.StatusOK, body: s.locations(r, ents), header: header}, nil
	case http.MethodDelete:
		return s.deleteAll(r, q)
	case http.MethodPost, http.MethodPut:
		// No kind or mixin has its collection here (any more): there is
		// nothing to create in or associate with.
		return nil, occi.Errorf(occi.NotFound, "no kind or mixin has its collection at %s; GET /-/ lists the locations", prefix)
	}
	return nil, notAllowed(r, "a path ("+prefix+")", http.MethodGet, http.MethodHead, http.MethodDelete)
}

// entity serves one entity's path.
func (s *Server) entity(r *request, loc string) (*reply, error) {
	ctx := r.Request().Context()
	switch r.Request().Method {
	case http.MethodGet, http.MethodHead:
		v, err := s.engine.Get(ctx, loc)
		if err != nil {
			return nil, err
		}
		return &reply{status: http.StatusOK, body: s.render(r, v)}, nil
	case http.MethodPut:
		in, err := s.decodeOne(r)
		if err != nil {
			return nil, err
		}
		v, created, err := s.engine.Put(ctx, loc, in)
		if err != nil {
			return nil, err
		}
		if created {
			return s.createdReply(r, v), nil
		}
		return &reply{status: http.StatusOK, body: s.render(r, v)}, nil
	case http.MethodPost:
		if r.QueryParams().Has("action") {
			v, err := s.engine.Get(ctx, loc)
			if err != nil {
				return nil, err
			}
			inv, err := s.invocation(r, v.Defined)
			if err != nil {
				return nil, err
			}
			if v, err = s.engine.Action(ctx, loc, inv); err != nil {
				return nil, err
			}
			return &reply{status: http.StatusOK, body: s.render(r, v)}, nil
		}
		in, err := s.decodeOne(r)
		if err != nil {
			return nil, err
		}
		v, err := s.engine.Update(ctx, loc, in)
		if err != nil {
			return nil, err
		}
		return &reply{status: http.StatusOK, body: s.render(r, v)}, nil
	case http.MethodDelete:
		if err := s.engine.Delete(ctx, loc); err != nil {
			return nil, err
		}
		return &reply{status: http.StatusNoContent}, nil
	}
	return nil, notAllowed(r, "an entity ("+loc+")", http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPost, http.MethodDelete)
}

// list answers a collection, filtered and paged by the request. A listing
// is always paged: without ?number= a page holds max_page entities, and a
// Link header with rel="next" says when there are more.
func (s *Server) list(r *request, q *engine.Query) (*reply, error) {
	if err := s.filters(r, q); err != nil {
		return nil, err
	}
	ents, header, err := s.page(r, q)
	if err != nil {
		return nil, err
	}
	views, err := s.engine.Views(ents)
	if err != nil {
		return nil, err
	}
	c := &renderers.Collection{Base: s.absolute(r, "")}
	for _, v := range views {
		if v.IsLink() {
			c.Links = append(c.Links, linkOf(c.Base, v.Entity, v.Actions))
		} else {
			c.Resources = append(c.Resources, resourceOf(c.Base, v))
		}
	}
	if c.Links == nil && c.Resources == nil {
		c.Resources = []*occi.Resource{}
	}
	return &reply{status: http.StatusOK, body: c, header: header}, nil
}

// page lists one page of a query, the default one when the request names
// none, with a Link to the next page when this one is full. The link is a
// cursor (?after=<last location>), so that walking a collection costs the
// same on every page.
func (s *Server) page(r *request, q *engine.Query) ([]*store.Entity, http.Header, error) {
	if q.Number == 0 {
		q.Number = s.engine.MaxPage()
	}
	if q.Page == 0 {
		q.Page = 1
	}
	ents, err := s.engine.List(r.Request().Context(), q)
	if err != nil || len(ents) < q.Number {
		return ents, nil, err
	}
	u := *r.Request().URL
	params := u.Query()
	params.Del("page")
	params.Set("after", ents[len(ents)-1].Location)
	params.Set("number", strconv.Itoa(q.Number))
	u.RawQuery = params.Encode()
	return ents, http.Header{"Link": {"<" + u.RequestURI() + `>; rel="next"`}}, nil
}

// filters reads ?category=, ?attribute=&value=, ?page=&number= and a
// filter body (entities whose kinds, mixins and attributes to match).
func (s *Server) filters(r *request, q *engine.Query) error {
	params := r.QueryParams()
	for i, id := range params["category"] {
		if err := occi.ValidID(id); err != nil {
			return occi.Prefix("query parameter category["+strconv.Itoa(i)+"]", err)
		}
		q.Categories = append(q.Categories, id)
	}
	names, values := params["attribute"], params["value"]
	if len(names) != len(values) {
		return occi.Errorf(occi.InvalidArgument, "each ?attribute= needs a ?value= (got %d and %d)", len(names), len(values))
	}
	for i, n := range names {
		if q.Attributes == nil {
			q.Attributes = map[string]string{}
		}
		q.Attributes[n] = values[i]
	}
	paging := map[string]string{}
	for _, name := range []string{"page", "number", "after"} {
		v, err := oneParam(params, name)
		if err != nil {
			return err
		}
		paging[name] = v
	}
	var err error
	if q.Page, err = intParam(paging["page"], "page"); err != nil {
		return err
	}
	if q.Number, err = intParam(paging["number"], "number"); err != nil {
		return err
	}
	if after := paging["after"]; after != "" {
		if !strings.HasPrefix(after, "/") {
			return occi.Errorf(occi.InvalidArgument, "query parameter after=%q must be an entity location", after)
		}
		if q.Page > 1 {
			return occi.Errorf(occi.InvalidArgument, "give ?page= or ?after=, not both")
		}
		q.After = after
	}
	// The text renderings' filters: Category and X-OCCI-Attribute headers.
	cats, err := renderers.ParseCategoryHeader(r.Request().Header.Values("Category"))
	if err != nil {
		return err
	}
	q.Categories = append(q.Categories, cats...)
	attrs, err := renderers.ParseAttributeHeader(r.Request().Header.Values("X-OCCI-Attribute"))
	if err != nil {
		return err
	}
	for name, v := range attrs {
		if q.Attributes == nil {
			q.Attributes = map[string]string{}
		}
		q.Attributes[name] = engine.RenderValue(v)
	}
	if r.hasBody() {
		var c renderers.Collection
		if err := r.decode(&c); err != nil {
			return occi.Prefix("filter body", err)
		}
		for _, res := range c.Resources {
			addFilter(q, &res.Entity)
		}
		for _, l := range c.Links {
			addFilter(q, &l.Entity)
		}
	}
	return nil
}

func addFilter(q *engine.Query, e *occi.Entity) {
	if e.Kind != "" {
		q.Categories = append(q.Categories, e.Kind)
	}
	q.Categories = append(q.Categories, e.Mixins...)
	for k, v := range e.Attributes {
		if q.Attributes == nil {
			q.Attributes = map[string]string{}
		}
		q.Attributes[k] = engine.RenderValue(v)
	}
}

func intParam(v, name string) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, occi.Errorf(occi.InvalidArgument, "query parameter %s=%q must be a whole number from 1", name, v)
	}
	return n, nil
}

// create decodes one or several entities and creates them.
func (s *Server) create(r *request, at engine.Placement) (*reply, error) {
	if !r.hasBody() {
		return nil, occi.Errorf(occi.InvalidArgument, "the request has no body: send the entity (or entities) to create")
	}
	var c renderers.Collection
	if err := r.decode(&c); err != nil {
		return nil, err
	}
	var inputs []*engine.Input
	for _, res := range c.Resources {
		inputs = append(inputs, engine.FromResource(res))
	}
	for _, l := range c.Links {
		inputs = append(inputs, engine.FromLink(l))
	}
	for _, in := range inputs {
		if err := s.localEnds(r, in); err != nil {
			return nil, err
		}
	}
	if len(inputs) == 0 {
		return nil, occi.Errorf(occi.InvalidArgument, "the body holds no entity to create")
	}
	views, err := s.engine.CreateAll(r.Request().Context(), inputs, at)
	if err != nil {
		return nil, err
	}
	if len(views) == 1 {
		return s.createdReply(r, views[0]), nil
	}
	made := make([]*store.Entity, len(views))
	for i, v := range views {
		made[i] = v.Entity
	}
	h := http.Header{"Location": {s.absolute(r, made[0].Location)}}
	return &reply{status: http.StatusCreated, body: s.locations(r, made), header: h}, nil
}

// createdReply answers a create of one entity.
func (s *Server) createdReply(r *request, v *engine.View) *reply {
	h := http.Header{"Location": {s.absolute(r, v.Location)}}
	// A client that reads listings only (text/uri-list) gets the location.
	if codec, _ := r.Get(keyCodec).(renderers.Codec); renderers.ListsOnly(codec) {
		return &reply{status: http.StatusCreated, body: s.locations(r, []*store.Entity{v.Entity}), header: h}
	}
	return &reply{status: http.StatusCreated, body: s.render(r, v), header: h}
}

// decodeOne decodes the single entity of a PUT or POST on an entity; its
// kind may be left out, the entity keeping its own.
func (s *Server) decodeOne(r *request) (*engine.Input, error) {
	if !r.hasBody() {
		return nil, occi.Errorf(occi.InvalidArgument, "the request has no body: send the entity")
	}
	var e renderers.Entity
	if err := r.decode(&e); err != nil {
		return nil, err
	}
	var out *engine.Input
	if e.Link != nil {
		out = engine.FromLink(e.Link)
	} else {
		out = engine.FromResource(e.Resource)
	}
	return out, s.localEnds(r, out)
}

// invocation reads an action invocation: ?action=term names it, and the
// body (optional) carries its id and parameters.
func (s *Server) invocation(r *request, offered []string) (*occi.ActionInvocation, error) {
	term, err := oneParam(r.QueryParams(), "action")
	if err != nil {
		return nil, err
	}
	var matching []string
	for _, id := range offered {
		if _, t := occi.SplitID(id); t == term {
			matching = append(matching, id)
		}
	}
	inv := &occi.ActionInvocation{}
	if r.hasBody() {
		if err := r.decode(inv); err != nil {
			return nil, err
		}
		if _, t := occi.SplitID(inv.Action); t != term {
			return nil, occi.Errorf(occi.InvalidArgument, "the body invokes %s but the query says ?action=%s", inv.Action, term)
		}
		return inv, nil
	}
	switch len(matching) {
	case 0:
		return nil, occi.Errorf(occi.NotFound, "no action %q is offered here (offered: %v)", term, offered)
	case 1:
		inv.Action = matching[0]
		return inv, nil
	}
	return nil, occi.Errorf(occi.Conflict, "?action=%s is ambiguous (%v); send the action id in the body", term, matching)
}

// actOnAll invokes an action on every member of a collection.
func (s *Server) actOnAll(r *request, snap engine.Model, q *engine.Query, owners []string) (*reply, error) {
	var offered []string
	for _, id := range owners {
		if k, ok := snap.Kind(id); ok {
			offered = append(offered, k.Actions...)
		}
		if m, ok := snap.Mixin(id); ok {
			offered = append(offered, m.Actions...)
		}
	}
	inv, err := s.invocation(r, offered)
	if err != nil {
		return nil, err
	}
	if err := s.bulkParams(r, q); err != nil {
		return nil, err
	}
	done, more, err := s.engine.ActionAll(r.Request().Context(), q, inv)
	if err != nil {
		return nil, err
	}
	var header http.Header
	if more {
		// The next batch starts after the last entity of this one.
		u := *r.Request().URL
		params := u.Query()
		params.Set("after", done[len(done)-1])
		u.RawQuery = params.Encode()
		header = http.Header{"Link": {"<" + u.RequestURI() + `>; rel="next"`}}
	}
	return &reply{status: http.StatusOK, body: s.locationsOf(r, done), header: header}, nil
}

// deleteAll deletes what a collection or path holds (filtered), one batch
// of at most max_page entities per request: the answer lists what was
// deleted and, while more may remain, carries Link rel="next" naming this
// same request to repeat.
func (s *Server) deleteAll(r *request, q *engine.Query) (*reply, error) {
	if err := s.filters(r, q); err != nil {
		return nil, err
	}
	if r.QueryParams().Has("page") {
		return nil, errBulkPage
	}
	done, more, err := s.engine.DeleteAll(r.Request().Context(), q)
	if err != nil {
		return nil, err
	}
	return &reply{status: http.StatusOK, body: s.locationsOf(r, done), header: repeatLink(r, more)}, nil
}

// bulkParams reads the paging of a bulk operation: ?number= (a batch, at
// most max_page) and ?after= (where the batch starts). ?page= is refused:
// a batch is repeated, not numbered.
func (s *Server) bulkParams(r *request, q *engine.Query) error {
	params := r.QueryParams()
	if params.Has("page") {
		return errBulkPage
	}
	number, err := oneParam(params, "number")
	if err != nil {
		return err
	}
	if q.Number, err = intParam(number, "number"); err != nil {
		return err
	}
	after, err := oneParam(params, "after")
	if err != nil {
		return err
	}
	if after != "" && !strings.HasPrefix(after, "/") {
		return occi.Errorf(occi.InvalidArgument, "query parameter after=%q must be an entity location", after)
	}
	q.After = after
	return nil
}

var errBulkPage = occi.Errorf(occi.InvalidArgument, "a bulk operation takes ?number= and ?after=, not ?page=: it acts on the first entities, and is repeated for the next")

// repeatLink is the Link of a bulk answer whose operation is not finished:
// the same request, to repeat.
func repeatLink(r *request, more bool) http.Header {
	if !more {
		return nil
	}
	// The query is encoded again, not copied: a raw one could close the
	// <...> and add parameters of its own to the Link header.
	u := *r.Request().URL
	u.RawQuery = u.Query().Encode()
	return http.Header{"Link": {"<" + u.RequestURI() + `>; rel="next"`}}
}

// oneParam returns a query parameter given at most once: a repeated one
// would be read as either, so it is refused.
func oneParam(params url.Values, name string) (string, error) {
	if vs := params[name]; len(vs) > 1 {
		return "", occi.Errorf(occi.InvalidArgument, "query parameter %s is given %d times; give it once", name, len(vs))
	}
	return params.Get(name), nil
}

// bodyLocations reads a mixin association body: entity locations, as paths
// or as URLs of this server.
func (s *Server) bodyLocations(r *request, required bool) ([]string, error) {
	if !r.hasBody() {
		if required {
			return nil, occi.Errorf(occi.InvalidArgument, "the request has no body: send the locations of the entities")
		}
		return nil, nil
	}
	var locs renderers.Locations
	if err := r.decode(&locs); err != nil {
		return nil, err
	}
	out := make([]string, len(locs))
	for i, l := range locs {
		p, err := localPath(r, l)
		if err != nil {
			return nil, occi.Prefix("locations["+strconv.Itoa(i)+"]", err)
		}
		out[i] = p
	}
	return out, nil
}

// localEnds turns the link ends of an input (and of its inline links) that
// are absolute URLs of this server into paths: clients send back the URLs
// they read. Ends on other endpoints stay URLs.
func (s *Server) localEnds(r *request, in *engine.Input) error {
	for _, end := range []*occi.LinkEnd{in.Source, in.Target} {
		if end == nil {
			continue
		}
		if p, ok := s.ownPath(r, end.Location); ok {
			end.Location = p
		}
	}
	for _, name := range []string{occi.AttrSource, occi.AttrTarget} {
		if v, ok := in.Attributes[name].(string); ok {
			if p, own := s.ownPath(r, v); own {
				in.Attributes[name] = p
			}
		}
	}
	for _, l := range in.Links {
		if err := s.localEnds(r, l); err != nil {
			return err
		}
	}
	return nil
}

// ownPath returns the path of an absolute http(s) URL whose scheme, host
// and port are this server's (the request's own authority, or public_url).
func (s *Server) ownPath(r *request, loc string) (string, bool) {
	u, err := url.Parse(loc)
	if err != nil || !u.IsAbs() || u.User != nil || u.RawQuery != "" || u.Fragment != "" || !strings.HasPrefix(u.Path, "/") {
		return "", false
	}
	if s.public != nil {
		if strings.EqualFold(u.Scheme, s.public.Scheme) && strings.EqualFold(u.Host, s.public.Host) {
			return u.Path, true
		}
	}
	if strings.EqualFold(u.Scheme, r.Scheme()) && sameHost(u.Host, r.Request().Host) {
		return u.Path, true
	}
	return "", false
}

// localPath turns a location given by a client into a path on this server.
func localPath(r *request, loc string) (string, error) {
	if err := occi.CheckURI(loc); err != nil {
		return "", err
	}
	u, err := url.Parse(loc)
	if err != nil || loc == "" {
		return "", occi.Errorf(occi.InvalidArgument, "%q is not a location", loc)
	}
	if u.IsAbs() && !sameHost(u.Host, r.Request().Host) && !r.server.ownHost(u) {
		return "", occi.Errorf(occi.InvalidArgument, "%q is not on this server (%s)", loc, r.Request().Host)
	}
	if !strings.HasPrefix(u.Path, "/") {
		return "", occi.Errorf(occi.InvalidArgument, "%q is not an absolute path", loc)
	}
	return u.Path, nil
}

// sameHost compares a URL's host with the request's, taking the loopback
// names (localhost, 127.0.0.1, [::1]) as one: clients copy URLs between them.
func sameHost(a, b string) bool {
	if strings.EqualFold(a, b) {
		return true
	}
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa != pb {
		return false
	}
	loopback := func(h string) bool { return h == "localhost" || net.ParseIP(h).IsLoopback() }
	return loopback(ha) && loopback(hb)
}

// absolute makes a location an absolute URL of this server: under
// public_url when one is configured, else the request's own authority.
func (s *Server) absolute(r *request, loc string) string {
	if s.public != nil {
		return s.public.Scheme + "://" + s.public.Host + loc
	}
	return r.Scheme() + "://" + r.Request().Host + loc
}

// ownHost reports whether a URL names public_url's scheme and authority.
func (s *Server) ownHost(u *url.URL) bool {
	return s.public != nil && strings.EqualFold(u.Scheme, s.public.Scheme) && strings.EqualFold(u.Host, s.public.Host)
}

func (s *Server) locations(r *request, ents []*store.Entity) renderers.Locations {
	out := make(renderers.Locations, len(ents))
	for i, e := range ents {
		out[i] = s.absolute(r, e.Location)
	}
	return out
}

func (s *Server) locationsOf(r *request, locs []string) renderers.Locations {
	out := make(renderers.Locations, len(locs))
	for i, l := range locs {
		out[i] = s.absolute(r, l)
	}
	return out
}

func kindAncestors(snap engine.Model, id string) []string { return snap.Ancestors(id) }
