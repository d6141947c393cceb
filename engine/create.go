package engine

import (
	"context"
	"errors"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ocni/ocni/backends"
	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/registry"
	"github.com/ocni/ocni/store"
)

// Input is an entity as a client sends it, decoded from any rendering.
type Input struct {
	Kind       string
	Mixins     []string
	Attributes map[string]any
	// ID, Title and Summary may come as members or as occi.core.*
	// attributes; Normalize reconciles them.
	ID, Title, Summary string
	// Source and Target are set for links; an inline link may omit Source.
	Source, Target *occi.LinkEnd
	// Links are a resource's inline links.
	Links []*Input
}

// FromResource converts a decoded resource.
func FromResource(r *occi.Resource) *Input {
	in := fromEntity(&r.Entity)
	in.Summary = r.Summary
	for _, l := range r.Links {
		in.Links = append(in.Links, FromLink(l))
	}
	return in
}

// FromLink converts a decoded link.
func FromLink(l *occi.Link) *Input {
	in := fromEntity(&l.Entity)
	if l.Source.Location != "" {
		s := l.Source
		in.Source = &s
	}
	t := l.Target
	in.Target = &t
	return in
}

func fromEntity(e *occi.Entity) *Input {
	attrs := make(map[string]any, len(e.Attributes))
	for k, v := range e.Attributes {
		attrs[k] = v
	}
	return &Input{Kind: e.Kind, Mixins: e.Mixins, Attributes: attrs, ID: e.ID, Title: e.Title}
}

// normalize moves the member forms of the core attributes into the
// attribute map, refusing contradictions.
func (in *Input) normalize() error {
	if in.Attributes == nil {
		in.Attributes = map[string]any{}
	}
	for _, f := range []struct {
		name, value string
	}{{occi.AttrID, in.ID}, {occi.AttrTitle, in.Title}, {occi.AttrSummary, in.Summary}} {
		if f.value == "" {
			continue
		}
		if old, ok := in.Attributes[f.name]; ok && old != f.value {
			return occi.Errorf(occi.InvalidArgument, "%s is given twice with different values (%v and %q)", f.name, old, f.value)
		}
		in.Attributes[f.name] = f.value
	}
	if id, ok := in.Attributes[occi.AttrID]; ok {
		s, isString := id.(string)
		if !isString {
			return occi.Errorf(occi.InvalidArgument, "%s must be a string", occi.AttrID)
		}
		in.ID = s
	}
	return nil
}

// Placement says where a create was asked: at a kind's collection, or at a
// path the client chose.
type Placement struct {
	Collection string // a kind location, e.g. /compute/
	Path       string // a custom entity path, e.g. /lab/vm1
}

// prepared is an entity ready to go to its provider.
type prepared struct {
	ent      *store.Entity
	provider backends.Provider
	// collection is the kind's collection the entity is created in; ""
	// for a path the client chose.
	collection string
}

// Create creates a resource with its inline links, or a standalone link.
func (e *Engine) Create(ctx context.Context, in *Input, at Placement) (*View, error) {
	views, err := e.CreateAll(ctx, []*Input{in}, at)
	if err != nil {
		return nil, err
	}
	return views[0], nil
}

// CreateAll creates entities (each resource with its inline links) all or
// none: when one cannot be made, those made before it are undone.
func (e *Engine) CreateAll(ctx context.Context, ins []*Input, at Placement) ([]*View, error) {
	if len(ins) == 0 {
		return nil, occi.Errorf(occi.InvalidArgument, "the body holds no entity to create")
	}
	n := 0
	for _, in := range ins {
		n += 1 + len(in.Links)
	}
	if n > e.maxPage {
		return nil, occi.Errorf(occi.TooLarge, "a request creates at most %d entities (max_page), links included; this one has %d: send them in several requests", e.maxPage, n)
	}
	snap := e.reg.Snapshot()
	var all, mains []*prepared
	for i, in := range ins {
		group, err := e.prepareWithLinks(snap, in, at)
		if err != nil {
			if len(ins) > 1 {
				return nil, occi.Prefix("entity "+strconv.Itoa(i), err)
			}
			return nil, err
		}
		mains = append(mains, group[0])
		all = append(all, group...)
	}
	if err := distinct(all); err != nil {
		return nil, err
	}
	o, err := e.lockFor(ctx, createKeys(all), "create of "+mains[0].ent.Location)
	if err != nil {
		return nil, err
	}
	defer o.finish()
	if err := e.createLocked(ctx, snap, o, all); err != nil {
		return nil, err
	}
	views := make([]*View, len(mains))
	for i, m := range mains {
		if views[i], err = e.Get(ctx, m.ent.Location); err != nil {
			return nil, err
		}
	}
	return views, nil
}

// prepareWithLinks validates a resource (or link) and its inline links.
func (e *Engine) prepareWithLinks(snap *registry.Snapshot, in *Input, at Placement) ([]*prepared, error) {
	main, err := e.prepare(snap, in, at, nil)
	if err != nil {
		return nil, err
	}
	all := []*prepared{main}
	for i, li := range in.Links {
		if main.ent.IsLink() {
			return nil, occi.Errorf(occi.InvalidArgument, "a link cannot carry links")
		}
		l, err := e.prepare(snap, li, Placement{}, main.ent)
		if err != nil {
			return nil, occi.Prefix("links["+strconv.Itoa(i)+"]", err)
		}
		all = append(all, l)
	}
	return all, nil
}

// distinct refuses a batch that names one location or id twice.
func distinct(all []*prepared) error {
	seen := map[string]bool{}
	for _, p := range all {
		for _, k := range []string{p.ent.Location, idKey(p.ent.ID)} {
			if seen[k] {
				return occi.Errorf(occi.InvalidArgument, "%s (id %q) is given twice in one request", p.ent.Location, p.ent.ID)
			}
			seen[k] = true
		}
	}
	return nil
}

// createKeys are the locks a create takes: its locations and ids, and its
// links' ends, shared.
func createKeys(all []*prepared) []lockKey {
	var keys []lockKey
	for _, p := range all {
		keys = append(keys, lockKey{key: p.ent.Location, exclusive: true}, lockKey{key: idKey(p.ent.ID), exclusive: true})
		keys = append(keys, endKeys(p.ent)...)
	}
	return keys
}

// endKeys are a link's local ends, locked shared: they cannot be deleted
// while the link is being made.
func endKeys(ent *store.Entity) []lockKey {
	var keys []lockKey
	if ent.Source != nil && !isRemote(ent.Source.Location) {
		keys = append(keys, lockKey{key: ent.Source.Location})
	}
	if ent.Target != nil && !isRemote(ent.Target.Location) {
		keys = append(keys, lockKey{key: ent.Target.Location})
	}
	return keys
}

// createLocked creates prepared entities; the caller holds their locks.
func (e *Engine) createLocked(ctx context.Context, snap *registry.Snapshot, o *op, all []*prepared) error {
	if err := e.checkEnds(all); err != nil {
		return err
	}
	intents := make([]*store.Intent, len(all))
	for i, p := range all {
		intents[i] = &store.Intent{Op: store.OpCreate, Entity: p.ent}
	}
	if err := o.begin(intents...); err != nil {
		return err
	}
	// An old object of the same id that recovery could not remove yet goes
	// first: a leftover never blocks making the id again.
	for _, p := range all {
		if !e.clearLeftover(ctx, p.ent.Provider, p.ent.ID) {
			o.abort(intents...)
			return occi.Errorf(occi.Unavailable, "provider %s: an old object of id %s is still on the VIM and cannot be removed yet; retry later", p.ent.Provider, p.ent.ID)
		}
	}
	var made []*prepared
	for _, p := range all {
		reported, err := p.provider.Create(ctx, e.object(snap, p.ent))
		if err != nil {
			e.undoCreates(snap, o, made, intents, err)
			return vimError(p.ent.Provider, "create "+p.ent.Location, err)
		}
		merge(p.ent, reported)
		made = append(made, p)
	}
	c := &change{created: map[string]bool{}, collection: map[string]string{}, model: snap.Version()}
	for _, p := range all {
		c.put = append(c.put, p.ent)
		c.created[p.ent.Location] = true
		c.collection[p.ent.Location] = p.collection
		c.done = append(c.done, p.ent.Location)
	}
	if err := e.commit(c); err != nil {
		if occi.CodeOf(err) == occi.Unavailable {
			// The data file failed: the VIM has the objects and the
			// intents say so; the reconciler adopts them.
			for _, in := range intents {
				e.pending(in, err)
			}
			return err
		}
		// What was checked at the start no longer holds (a kind removed,
		// a link's end deleted): undo, as for a failed create.
		e.undoCreates(snap, o, made, intents, occi.Errorf(occi.FailedPrecondition, "%s", err.Error()))
		return err
	}
	return nil
}

// checkEnds verifies, under the locks, that the ends of the links being
// made (other than the resources made with them) exist and are resources.
func (e *Engine) checkEnds(all []*prepared) error {
	making := map[string]bool{}
	for _, p := range all {
		making[p.ent.Location] = true
	}
	return e.db.View(func(tx *store.Tx) error {
		for _, p := range all {
			if !p.ent.IsLink() {
				continue
			}
			for _, end := range []struct{ role, loc string }{{"source", p.ent.Source.Location}, {"target", p.ent.Target.Location}} {
				if making[end.loc] || isRemote(end.loc) {
					continue
				}
				res, err := tx.Entity(end.loc)
				if err != nil {
					return occi.Errorf(occi.InvalidArgument, "link %s %s does not exist", end.role, end.loc)
				}
				if res.IsLink() {
					return occi.Errorf(occi.InvalidArgument, "link %s %s is a link, not a resource", end.role, end.loc)
				}
				// An end whose VIM call is pending (its delete, maybe)
				// takes no new link until the reconciler settles it.
				if in, err := tx.Intent(end.loc); err != nil {
					return err
				} else if in != nil {
					return occi.Errorf(occi.Conflict, "link %s %s: a %s; retry when it is done", end.role, end.loc, in.Describe())
				}
			}
		}
		return nil
	})
}

// prepare validates an input and builds the entity to create. parent is the
// resource an inline link belongs to.
func (e *Engine) prepare(snap *registry.Snapshot, in *Input, at Placement, parent *store.Entity) (*prepared, error) {
	if err := in.normalize(); err != nil {
		return nil, err
	}
	if in.Kind == "" {
		return nil, occi.Errorf(occi.InvalidArgument, `the entity has no kind: a create names it ("kind" in JSON, a Category with class="kind" in the text renderings)`)
	}
	kind, ok := snap.Kind(in.Kind)
	if !ok {
		return nil, occi.Errorf(occi.InvalidArgument, "kind %q is not registered", in.Kind)
	}
	if kind.Location == "" {
		return nil, occi.Errorf(occi.InvalidArgument, "kind %s cannot be instantiated", in.Kind)
	}
	isLink := snap.IsKindOf(in.Kind, occi.LinkKindID)
	switch {
	case isLink && in.Target == nil:
		return nil, occi.Errorf(occi.InvalidArgument, "link of kind %s has no target", in.Kind)
	case !isLink && (in.Target != nil || in.Source != nil):
		return nil, occi.Errorf(occi.InvalidArgument, "kind %s is a resource kind, but source/target are given", in.Kind)
	case parent != nil && !isLink:
		return nil, occi.Errorf(occi.InvalidArgument, "kind %s is not a link kind", in.Kind)
	}
	loc, id, err := e.place(snap, in, kind, at)
	if err != nil {
		return nil, err
	}
	if err := checkMixins(snap, in.Kind, in.Mixins); err != nil {
		return nil, err
	}
	ent := &store.Entity{Location: loc, ID: id, Kind: in.Kind, Mixins: in.Mixins}
	values := in.Attributes
	values[occi.AttrID] = id
	if isLink {
		if err := e.resolveEnds(snap, in, parent, ent); err != nil {
			return nil, err
		}
		values[occi.AttrSource] = ent.Source.Location
		values[occi.AttrTarget] = ent.Target.Location
		if ent.Source.Kind != "" {
			values[occi.AttrSourceKind] = ent.Source.Kind
		}
		if ent.Target.Kind != "" {
			values[occi.AttrTargetKind] = ent.Target.Kind
		}
	}
	attrs, err := attributeSet(snap, in.Kind, in.Mixins).Create(values)
	if err != nil {
		return nil, err
	}
	ent.Attributes = attrs
	name, p, err := e.provider(snap, in.Kind)
	if err != nil {
		return nil, err
	}
	ent.Provider = name
	pr := &prepared{ent: ent, provider: p}
	if at.Path == "" {
		pr.collection = kind.Location
	}
	return pr, nil
}

// place decides an entity's location and id.
func (e *Engine) place(snap *registry.Snapshot, in *Input, kind *occi.Kind, at Placement) (loc, id string, err error) {
	switch {
	case at.Path != "":
		if err := checkPath(snap, at.Path); err != nil {
			return "", "", err
		}
		if k, ok := kindLocationOf(snap, at.Path); ok && k != kind.ID() {
			return "", "", occi.Errorf(occi.Conflict, "path %s is in the collection of kind %s, not %s", at.Path, k, kind.ID())
		}
		id = path.Base(at.Path)
		if in.ID != "" && in.ID != id {
			return "", "", occi.Errorf(occi.InvalidArgument, "id %q contradicts the path %s", in.ID, at.Path)
		}
		return at.Path, id, nil
	case at.Collection != "" && at.Collection != kind.Location:
		return "", "", occi.Errorf(occi.InvalidArgument, "kind %s lives at %s, not %s", kind.ID(), kind.Location, at.Collection)
	}
	id = in.ID
	if id == "" {
		// Time-ordered (UUID version 7): new entities land next to each
		// other at the end of every index, so a group commit touches a few
		// B+tree pages instead of one random page per entity and index.
		u, err := uuid.NewV7()
		if err != nil {
			return "", "", occi.Errorf(occi.Internal, "cannot make an id: %w", err)
		}
		id = u.String()
	} else if err := checkID(id); err != nil {
		return "", "", err
	}
	return kind.Location + id, id, nil
}

// resolveEnds fills a link's source and target: each is a location the URI
// rules accept (an absolute path, or an http(s) URL of another endpoint), a
// local end exists and is a resource, the ends are of the kinds the link's
// kind asks for, and they differ.
func (e *Engine) resolveEnds(snap *registry.Snapshot, in *Input, parent *store.Entity, ent *store.Entity) error {
	src := in.Source
	switch {
	case parent != nil:
		if src != nil && src.Location != "" && src.Location != parent.Location {
			return occi.Errorf(occi.InvalidArgument, "an inline link's source is its resource %s, not %s", parent.Location, src.Location)
		}
		src = &occi.LinkEnd{Location: parent.Location, Kind: parent.Kind}
	case src == nil || src.Location == "":
		return occi.Errorf(occi.InvalidArgument, "link of kind %s has no source", in.Kind)
	default:
		if err := occi.CheckURI(src.Location); err != nil {
			return occi.Prefix("link source", err)
		}
		res, err := e.db.Entity(src.Location)
		if err != nil {
			return occi.Errorf(occi.InvalidArgument, "link source %s does not exist", src.Location)
		}
		if res.IsLink() {
			return occi.Errorf(occi.InvalidArgument, "link source %s is a link, not a resource", src.Location)
		}
		src = &occi.LinkEnd{Location: res.Location, Kind: res.Kind}
	}
	ent.Source = src
	tgt := *in.Target
	if tgt.Location == "" {
		return occi.Errorf(occi.InvalidArgument, "link target has no location")
	}
	if err := occi.CheckURI(tgt.Location); err != nil {
		return occi.Prefix("link target", err)
	}
	tgt.Location = lowerScheme(tgt.Location)
	if !isRemote(tgt.Location) {
		res, err := e.db.Entity(tgt.Location)
		if err != nil {
			return occi.Errorf(occi.InvalidArgument, "link target %s does not exist (a target on another OCCI endpoint is an absolute URL)", tgt.Location)
		}
		if res.IsLink() {
			return occi.Errorf(occi.InvalidArgument, "link target %s is a link, not a resource", tgt.Location)
		}
		if tgt.Kind != "" && tgt.Kind != res.Kind {
			return occi.Errorf(occi.InvalidArgument, "link target %s is a %s, not a %s", tgt.Location, res.Kind, tgt.Kind)
		}
		tgt.Kind = res.Kind
	}
	ent.Target = &tgt
	return checkLinkShape(snap, ent)
}

// checkLinkShape checks a link's ends against its kind: GFD.224 fixes the
// kinds a network interface and a storage link join (and a kind derived
// from one inherits them), and no link joins a resource to itself. A
// remote target's kind is what the client says it is, when it says.
func checkLinkShape(snap *registry.Snapshot, ent *store.Entity) error {
	if ent.Source.Location == ent.Target.Location {
		return occi.Errorf(occi.InvalidArgument, "link source and target are both %s: a link joins two resources", ent.Source.Location)
	}
	for _, k := range append([]string{ent.Kind}, ancestors(snap, ent.Kind)...) {
		wantSrc, wantTgt, ok := occi.LinkEnds(k)
		if !ok {
			continue
		}
		what := "a " + ent.Kind
		if k != ent.Kind {
			what += " (a " + k + ")"
		}
		if !snap.IsKindOf(ent.Source.Kind, wantSrc) {
			return occi.Errorf(occi.InvalidArgument, "%s link joins a %s to a %s; its source %s is a %s", what, wantSrc, wantTgt, ent.Source.Location, kindName(ent.Source.Kind))
		}
		if ent.Target.Kind != "" && !snap.IsKindOf(ent.Target.Kind, wantTgt) {
			return occi.Errorf(occi.InvalidArgument, "%s link joins a %s to a %s; its target %s is a %s", what, wantSrc, wantTgt, ent.Target.Location, kindName(ent.Target.Kind))
		}
		return nil
	}
	return nil
}

func kindName(id string) string {
	if id == "" {
		return "resource of no known kind"
	}
	return id
}

// lowerScheme writes a remote location's scheme in lower case, as the rest
// of the server compares it.
func lowerScheme(loc string) string {
	for _, scheme := range []string{"http://", "https://"} {
		if len(loc) >= len(scheme) && strings.EqualFold(loc[:len(scheme)], scheme) {
			return scheme + loc[len(scheme):]
		}
	}
	return loc
}

// undoCreates deletes what a failed create made before it failed. What
// cannot be undone keeps its intent, for recovery to resolve; the rest is
// aborted. The failed call itself may have created its object (an answer
// lost on the way): when it says Unavailable, recovery asks the VIM.
func (e *Engine) undoCreates(snap *registry.Snapshot, o *op, made []*prepared, intents []*store.Intent, cause error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	undone := map[string]bool{}
	for i := len(made) - 1; i >= 0; i-- {
		p := made[i]
		if err := p.provider.Delete(ctx, e.object(snap, p.ent)); err != nil && !errors.Is(err, occi.ErrNotFound) {
			e.log.Warn("cannot undo a create; recovery will", "location", p.ent.Location, "error", err.Error())
			continue
		}
		undone[p.ent.Location] = true
	}
	unsure := uncertain(cause)
	var abort, left []*store.Intent
	for i, in := range intents {
		loc := in.Entity.Location
		wasMade := false
		for _, p := range made {
			wasMade = wasMade || p.ent.Location == loc
		}
		// Only the call that failed may have made something it did not
		// report; those after it were never attempted.
		if i > len(made) {
			abort = append(abort, in)
			continue
		}
		// Abort what was undone, and what was never made: the failed call
		// itself only when it certainly made nothing, or the VIM says so.
		if undone[loc] || (!wasMade && (!unsure || !e.mayExist(ctx, in))) {
			abort = append(abort, in)
		} else {
			left = append(left, in)
		}
	}
	o.abort(abort...)
	for _, in := range left {
		e.pending(in, cause)
	}
}

// mayExist asks the provider whether an object whose create failed with an
// uncertain error exists after all, deleting it if so. It returns true when
// the answer stays unknown.
func (e *Engine) mayExist(ctx context.Context, in *store.Intent) bool {
	p := e.providers[in.Entity.Provider]
	if p == nil {
		return true
	}
	snap := e.reg.Snapshot()
	obj := e.object(snap, in.Entity)
	if _, err := p.Retrieve(ctx, obj); errors.Is(err, occi.ErrNotFound) {
		return false
	} else if err != nil {
		return true
	}
	if err := p.Delete(ctx, obj); err != nil && !errors.Is(err, occi.ErrNotFound) {
		return true
	}
	return false
}

// Put creates an entity at a path the client chose, or replaces the entity
// there; created says which.
func (e *Engine) Put(ctx context.Context, loc string, in *Input) (v *View, created bool, err error) {
	if _, err := e.db.Entity(loc); err == nil {
		v, err := e.Replace(ctx, loc, in)
		if occi.CodeOf(err) != occi.NotFound {
			return v, false, err
		}
		// Deleted meanwhile: it is created again below.
	} else if occi.CodeOf(err) != occi.NotFound {
		return nil, false, err
	}
	v, err = e.Create(ctx, in, Placement{Path: loc})
	if occi.CodeOf(err) == occi.AlreadyExists {
		if _, gerr := e.db.Entity(loc); gerr == nil {
			// Another PUT created it meanwhile: this one replaces it, as
			// it would had it come second.
			v, err = e.Replace(ctx, loc, in)
			return v, false, err
		}
	}
	return v, err == nil, err
}
