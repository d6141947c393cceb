package renderers

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ocni/ocni/occi"
)

// The messages of the text renderings, shared by text/plain and text/occi:
// decoding turns a list of fields into a message, encoding a message into
// a list of fields. Where the fields live (body lines or header fields) is
// the codecs' business (textcodecs.go).
//
// The text renderings are lossy in two ways a reader should know:
//   - a category is rendered as a Category line: attribute definitions
//     keep their names and the immutable and required flags, not their
//     types, patterns, defaults or descriptions; a mixin's rel is its first
//     depends (GFD.229 §5.7.2) and applies is not rendered;
//   - an entity collection is rendered as the locations of its entities.
//
// Attribute values carry the type the text gives them: a quoted string is a
// string, a bare number a float64, true and false booleans. Arrays and
// objects are rendered as quoted JSON. TypeAttributes gives decoded values
// the types their definitions declare.

// textDoc is a decoded rendering: its items by field.
type textDoc map[string][]textField

func newTextDoc(fields []textField) textDoc {
	d := textDoc{}
	for _, f := range fields {
		d[f.name] = append(d[f.name], f)
	}
	return d
}

// only refuses fields other than those a message is made of.
func (d textDoc) only(what string, names ...string) error {
	for _, name := range fieldNames {
		if fs := d[name]; len(fs) > 0 && !slices.Contains(names, name) {
			return fs[0].fail("%s is not part of %s", name, what)
		}
	}
	return nil
}

// decodeText decodes the fields of a text rendering into v.
func decodeText(fields []textField, v any) error {
	d := newTextDoc(fields)
	switch m := v.(type) {
	case *CategoryRequest:
		return d.categoryRequest(m)
	case *CategoryRefs:
		if err := d.only("a list of categories", fieldCategory); err != nil {
			return err
		}
		ids, err := categoryIDs(d[fieldCategory])
		m.IDs = ids
		return err
	case *Collection:
		if len(fields) == 0 {
			*m = Collection{}
			return nil
		}
		r, l, err := d.entity()
		if err != nil {
			return err
		}
		if l != nil {
			*m = Collection{Links: []*occi.Link{l}}
		} else {
			*m = Collection{Resources: []*occi.Resource{r}}
		}
		return nil
	case *occi.Resource:
		r, l, err := d.entity()
		if err == nil && l != nil {
			err = occi.Errorf(occi.InvalidArgument, "the rendering is a link (it has %s or %s), not a resource", occi.AttrSource, occi.AttrTarget)
		}
		if err == nil {
			*m = *r
		}
		return err
	case *occi.Link:
		_, l, err := d.entity()
		if err == nil && l == nil {
			err = occi.Errorf(occi.InvalidArgument, "the rendering is not a link: it has no %s", occi.AttrTarget)
		}
		if err == nil {
			*m = *l
		}
		return err
	case *Entity:
		r, l, err := d.entity()
		if err == nil {
			*m = Entity{Resource: r, Link: l}
			if l != nil {
				m.Resource = nil
			}
		}
		return err
	case *occi.ActionInvocation:
		return d.invocation(m)
	case *Locations:
		if err := d.only("a list of locations", fieldLocation); err != nil {
			return err
		}
		locs := Locations{}
		for _, f := range d[fieldLocation] {
			loc, err := locationOf(f)
			if err != nil {
				return err
			}
			locs = append(locs, loc)
		}
		*m = locs
		return nil
	}
	return occi.Errorf(occi.Internal, "the text renderings cannot decode %T", v)
}

func (d textDoc) categoryRequest(m *CategoryRequest) error {
	if err := d.only("a list of categories", fieldCategory); err != nil {
		return err
	}
	for _, f := range d[fieldCategory] {
		c, err := parseCategory(f.value)
		if err != nil {
			return occi.Prefix(f.origin, err)
		}
		if err := c.addTo(&m.Categories); err != nil {
			return f.fail("Category %s: %s", short(f.value), err)
		}
	}
	return nil
}

// addTo adds the category, by its class, to a set of categories.
func (c *textCategory) addTo(cs *occi.Categories) error {
	scheme, term := occi.SplitID(c.id)
	cat := occi.Category{Scheme: scheme, Term: term, Title: c.title}
	attrs := c.attributes
	switch c.class {
	case classKind:
		k := &occi.Kind{Category: cat, Attributes: attrs, Actions: c.actions, Location: c.location}
		switch len(c.rel) {
		case 0:
		case 1:
			k.Parent = c.rel[0]
		default:
			return occi.Errorf(occi.InvalidArgument, "a kind has one parent; rel lists %d", len(c.rel))
		}
		cs.Kinds = append(cs.Kinds, k)
	case classMixin:
		// GFD.229 renders a mixin's first depends as rel; rOCCI lists
		// several identifiers there. All are read as depends.
		cs.Mixins = append(cs.Mixins, &occi.Mixin{Category: cat, Attributes: attrs, Actions: c.actions, Depends: c.rel, Location: c.location})
	case classAction:
		switch {
		case c.rel != nil:
			return occi.Errorf(occi.InvalidArgument, "an action has no rel")
		case c.location != "":
			return occi.Errorf(occi.InvalidArgument, "an action has no location")
		case c.actions != nil:
			return occi.Errorf(occi.InvalidArgument, "an action has no actions")
		}
		cs.Actions = append(cs.Actions, &occi.Action{Category: cat, Attributes: attrs})
	default:
		return occi.Errorf(occi.InvalidArgument, `no class: say class="kind", class="mixin" or class="action"`)
	}
	return nil
}

// decodeAttributes reads X-OCCI-Attribute items into a map.
func decodeAttributes(fields []textField) (map[string]any, error) {
	var out map[string]any
	for _, f := range fields {
		name, v, err := parseAttribute(f.value)
		if err != nil {
			return nil, occi.Prefix(f.origin, err)
		}
		if _, dup := out[name]; dup {
			return nil, f.fail("attribute %s is given twice", name)
		}
		if out == nil {
			out = map[string]any{}
		}
		out[name] = v
	}
	return out, nil
}

func (d textDoc) invocation(m *occi.ActionInvocation) error {
	if err := d.only("an action invocation", fieldCategory, fieldAttribute); err != nil {
		return err
	}
	cats := d[fieldCategory]
	if len(cats) != 1 {
		return occi.Errorf(occi.InvalidArgument, "an action invocation names its action in exactly one Category; this one has %d", len(cats))
	}
	c, err := parseCategory(cats[0].value)
	if err != nil {
		return occi.Prefix(cats[0].origin, err)
	}
	if c.class != "" && c.class != classAction {
		return cats[0].fail(`Category %s is a %s; an action invocation names an action (class="action")`, short(cats[0].value), c.class)
	}
	attrs, err := decodeAttributes(d[fieldAttribute])
	if err != nil {
		return err
	}
	*m = occi.ActionInvocation{Action: c.id, Attributes: attrs}
	return nil
}

// entity decodes an entity rendering: a resource, or a link when its
// attributes name a source or a target (the codec does not know the
// kind's class; a link kind's instances carry those attributes).
func (d textDoc) entity() (*occi.Resource, *occi.Link, error) {
	if err := d.only("an entity rendering", fieldCategory, fieldLink, fieldAttribute); err != nil {
		return nil, nil, err
	}
	var e occi.Entity
	for _, f := range d[fieldCategory] {
		c, err := parseCategory(f.value)
		if err != nil {
			return nil, nil, occi.Prefix(f.origin, err)
		}
		switch c.class {
		case classKind:
			if e.Kind != "" {
				return nil, nil, f.fail("a second kind %s: the entity is a %s", c.id, e.Kind)
			}
			e.Kind = c.id
		case classMixin:
			e.Mixins = append(e.Mixins, c.id)
		case classAction:
			return nil, nil, f.fail("Category %s is an action; invoke actions with POST ?action=", short(f.value))
		default:
			return nil, nil, f.fail(`Category %s has no class; an entity rendering names its kind with class="kind" and its mixins with class="mixin"`, short(f.value))
		}
	}
	attrs, err := decodeAttributes(d[fieldAttribute])
	if err != nil {
		return nil, nil, err
	}
	e.Attributes = attrs
	if err := coreMembers(&e, attrs); err != nil {
		return nil, nil, err
	}
	var inline []*occi.Link
	for _, f := range d[fieldLink] {
		tl, err := parseLink(f.value)
		if err != nil {
			return nil, nil, occi.Prefix(f.origin, err)
		}
		if tl.action != "" {
			// The entity's location is in its action links' URIs: one
			// path, which every action link must give.
			p := actionPath(tl.target)
			switch {
			case p == "":
				return nil, nil, f.fail("the action link %s names no entity path", short(f.value))
			case e.Location != "" && p != e.Location:
				return nil, nil, f.fail("the action link %s names %s; an earlier one names %s", short(f.value), short(p), short(e.Location))
			}
			e.Location = p
			e.Actions = append(e.Actions, tl.rel[0])
			continue
		}
		l, err := tl.inline()
		if err != nil {
			return nil, nil, occi.Prefix(f.origin, err)
		}
		inline = append(inline, l)
	}
	_, hasSource := attrs[occi.AttrSource]
	_, hasTarget := attrs[occi.AttrTarget]
	if hasSource || hasTarget {
		if len(inline) > 0 {
			return nil, nil, d[fieldLink][0].fail("the entity is a link (it has %s or %s), and a link cannot carry links", occi.AttrSource, occi.AttrTarget)
		}
		l := &occi.Link{Entity: e}
		if err := linkEnds(l, attrs); err != nil {
			return nil, nil, err
		}
		return nil, l, nil
	}
	r := &occi.Resource{Entity: e, Links: inline}
	if err := stringAttr(attrs, occi.AttrSummary, &r.Summary); err != nil {
		return nil, nil, err
	}
	return r, nil, nil
}

// actionPath is the path of an action link's URI.
func actionPath(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return ""
	}
	// Only an absolute path says where the entity is; "//x" would be read
	// back as a host, and a relative path as something else again.
	p := u.EscapedPath()
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
		return ""
	}
	return p
}

// inline turns a Link item into the inline link it describes.
func (tl *textLink) inline() (*occi.Link, error) {
	l := &occi.Link{Entity: occi.Entity{Attributes: tl.attrs, Location: tl.self}}
	if len(tl.category) > 0 {
		l.Kind = tl.category[0]
		if len(tl.category) > 1 {
			l.Mixins = tl.category[1:]
		}
	}
	if err := coreMembers(&l.Entity, tl.attrs); err != nil {
		return nil, err
	}
	if err := linkEnds(l, tl.attrs); err != nil {
		return nil, err
	}
	where := "Link <" + tl.target + ">"
	if l.Target.Location != "" && l.Target.Location != tl.target {
		return nil, occi.Errorf(occi.InvalidArgument, "%s: %s %s is another target", where, occi.AttrTarget, short(l.Target.Location))
	}
	if l.Target.Kind != "" && l.Target.Kind != tl.rel[0] {
		return nil, occi.Errorf(occi.InvalidArgument, "%s: %s %s contradicts rel %s", where, occi.AttrTargetKind, short(l.Target.Kind), tl.rel[0])
	}
	l.Target = occi.LinkEnd{Location: tl.target, Kind: tl.rel[0]}
	// The core attributes mirror the members, as in the server's renderings.
	if l.Attributes == nil {
		l.Attributes = map[string]any{}
	}
	l.Attributes[occi.AttrTarget] = l.Target.Location
	l.Attributes[occi.AttrTargetKind] = l.Target.Kind
	return l, nil
}

// coreMembers fills an entity's id and title from its core attributes.
func coreMembers(e *occi.Entity, attrs map[string]any) error {
	if err := stringAttr(attrs, occi.AttrID, &e.ID); err != nil {
		return err
	}
	return stringAttr(attrs, occi.AttrTitle, &e.Title)
}

// linkEnds fills a link's source and target from its core attributes.
func linkEnds(l *occi.Link, attrs map[string]any) error {
	for _, a := range []struct {
		name string
		dst  *string
	}{
		{occi.AttrSource, &l.Source.Location}, {occi.AttrSourceKind, &l.Source.Kind},
		{occi.AttrTarget, &l.Target.Location}, {occi.AttrTargetKind, &l.Target.Kind},
	} {
		if err := stringAttr(attrs, a.name, a.dst); err != nil {
			return err
		}
	}
	// The ends are locations: parsed, not copied.
	for _, end := range []struct{ name, loc string }{{occi.AttrSource, l.Source.Location}, {occi.AttrTarget, l.Target.Location}} {
		if end.loc == "" {
			continue // absent: whether an end is required is the engine's rule
		}
		if err := occi.CheckURI(end.loc); err != nil {
			return occi.Prefix("attribute "+end.name, err)
		}
	}
	return nil
}

func stringAttr(attrs map[string]any, name string, dst *string) error {
	v, ok := attrs[name]
	if !ok {
		return nil
	}
	s, ok := v.(string)
	if !ok {
		return occi.Errorf(occi.InvalidArgument, "attribute %s must be a quoted string", name)
	}
	*dst = s
	return nil
}

// The encoders write some values raw: a location inside <…> and as an
// X-OCCI-Location item, category terms, attribute names. Client input is
// checked on the way in (occi.CheckURI, the model's rules), so a value
// that would break the grammar here was stored before those checks, or by
// a bug: it is refused, never written. Everything else is a quoted string,
// which quote escapes.

// unrenderable is the error for such a value: the client can still read
// the message in JSON, which escapes everything.
func unrenderable(what string, err error) error {
	return occi.Errorf(occi.NotAcceptable, "%s cannot be written in the text renderings without breaking them (%v); ask for %s", what, err, JSONMediaType)
}

// rawLocation checks a location written raw.
func rawLocation(what, loc string) error {
	if err := occi.CheckURI(loc); err != nil {
		return unrenderable(what, err)
	}
	return nil
}

// rawPath checks a path on this server (an entity's or a category's
// location), written raw or read back as a path.
func rawPath(what, p string) error {
	if err := rawLocation(what, p); err != nil {
		return err
	}
	if !strings.HasPrefix(p, "/") {
		return unrenderable(what, occi.Errorf(occi.InvalidArgument, "%s is not an absolute path", short(p)))
	}
	return nil
}

// rawIDs checks category identifiers written in a quoted, space-separated
// list (rel, actions, category).
func rawIDs(what string, ids ...string) error {
	for _, id := range ids {
		if err := occi.ValidID(id); err != nil {
			return unrenderable(what, err)
		}
	}
	return nil
}

// rawHeads checks the identifiers of Category items: the term is written
// raw, and read back with the scheme as one identifier split at its one
// '#'.
func rawHeads(what string, ids ...string) error {
	if err := rawIDs(what, ids...); err != nil {
		return err
	}
	for _, id := range ids {
		if strings.Count(id, "#") != 1 {
			return unrenderable(what, occi.Errorf(occi.InvalidArgument, "identifier %s has more than one '#'", short(id)))
		}
	}
	return nil
}

// rawAttrName checks an attribute name, written raw before its '='.
func rawAttrName(name string) error {
	if err := checkAttrName(name); err != nil {
		return unrenderable("an attribute name", err)
	}
	return nil
}

// renderText renders a message as the fields of a text rendering. occi11
// leaves out what OCCI 1.1 clients do not know.
func renderText(v any, occi11 bool) ([]textField, error) {
	var out []textField
	add := func(name, value string) { out = append(out, textField{name: name, value: value}) }
	switch m := v.(type) {
	case *QueryInterface:
		if m.Categories == nil {
			return nil, nil
		}
		for _, k := range m.Categories.Kinds {
			var rel []string
			if k.Parent != "" {
				rel = []string{k.Parent}
			}
			c, err := renderCategory(&k.Category, classKind, rel, k.Location, k.Attributes, k.Actions)
			if err != nil {
				return nil, err
			}
			add(fieldCategory, c)
		}
		for _, mx := range m.Categories.Mixins {
			var rel []string
			if len(mx.Depends) > 0 {
				rel = mx.Depends[:1] // GFD.229 §5.7.2: the first depends only
			}
			c, err := renderCategory(&mx.Category, classMixin, rel, mx.Location, mx.Attributes, mx.Actions)
			if err != nil {
				return nil, err
			}
			add(fieldCategory, c)
		}
		for _, a := range m.Categories.Actions {
			c, err := renderCategory(&a.Category, classAction, nil, "", a.Attributes, nil)
			if err != nil {
				return nil, err
			}
			add(fieldCategory, c)
		}
	case *occi.Resource:
		return renderEntity(&m.Entity, m, nil, occi11)
	case *occi.Link:
		return renderEntity(&m.Entity, nil, m, occi11)
	case *occi.ActionInvocation:
		if err := rawHeads("the action", m.Action); err != nil {
			return nil, err
		}
		scheme, term := occi.SplitID(m.Action)
		add(fieldCategory, term+"; scheme="+quote(scheme)+`; class="action"`)
		attrs, err := renderAttributes(m.Attributes, nil)
		if err != nil {
			return nil, err
		}
		for _, a := range attrs {
			add(fieldAttribute, a)
		}
	case *Collection:
		at := func(loc string) string {
			if strings.HasPrefix(loc, "/") {
				return m.Base + loc
			}
			return loc
		}
		for i, r := range m.Resources {
			if r.Location == "" {
				return nil, occi.Errorf(occi.Internal, "the text renderings list a collection by location; resource %d has none", i)
			}
			add(fieldLocation, at(r.Location))
		}
		for i, l := range m.Links {
			if l.Location == "" {
				return nil, occi.Errorf(occi.Internal, "the text renderings list a collection by location; link %d has none", i)
			}
			add(fieldLocation, at(l.Location))
		}
	case Locations:
		for _, l := range m {
			add(fieldLocation, l)
		}
	default:
		return nil, occi.Errorf(occi.Internal, "the text renderings cannot encode %T", v)
	}
	for i, f := range out {
		if f.name == fieldLocation {
			if err := rawLocation("location "+strconv.Itoa(i), f.value); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// renderCategory renders a category as a Category item.
func renderCategory(c *occi.Category, class string, rel []string, location string, attrs occi.Attributes, actions []string) (string, error) {
	what := "category " + short(c.ID())
	if err := rawHeads(what, c.ID()); err != nil {
		return "", err
	}
	if scheme, term := occi.SplitID(c.ID()); scheme != c.Scheme || term != c.Term {
		return "", unrenderable(what, occi.Errorf(occi.InvalidArgument, "its scheme does not end with its only '#'"))
	}
	if location != "" {
		// Quoted, but read back as a path (a URL's path, for pyssf).
		if err := rawPath(what+": location", location); err != nil {
			return "", err
		}
	}
	if err := rawIDs(what+": rel", rel...); err != nil {
		return "", err
	}
	if err := rawIDs(what+": actions", actions...); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(c.Term)
	b.WriteString("; scheme=" + quote(c.Scheme))
	b.WriteString(`; class="` + class + `"`)
	if c.Title != "" {
		b.WriteString("; title=" + quote(c.Title))
	}
	if len(rel) > 0 {
		b.WriteString("; rel=" + quote(joinIDs(rel...)))
	}
	if location != "" {
		b.WriteString("; location=" + quote(location))
	}
	if len(attrs) > 0 {
		defs := make([]string, 0, len(attrs))
		for _, name := range attrs.Names() {
			// The names are space-separated inside the quoted list.
			if err := rawAttrName(name); err != nil {
				return "", occi.Prefix(what, err)
			}
			d := attrs[name]
			var props []string
			if d != nil && !d.Mutable {
				props = append(props, "immutable")
			}
			if d != nil && d.Required {
				props = append(props, "required")
			}
			if props != nil {
				name += "{" + strings.Join(props, " ") + "}"
			}
			defs = append(defs, name)
		}
		b.WriteString("; attributes=" + quote(strings.Join(defs, " ")))
	}
	if len(actions) > 0 {
		b.WriteString("; actions=" + quote(joinIDs(actions...)))
	}
	return b.String(), nil
}

// coreOrder is the order in which the core attributes open an entity's
// attributes; the others follow by name.
var coreOrder = []string{occi.AttrID, occi.AttrTitle, occi.AttrSummary, occi.AttrSource, occi.AttrSourceKind, occi.AttrTarget, occi.AttrTargetKind}

// renderEntity renders a resource (r) or a link (l): Category for the kind
// and the mixins, Link for the actions and the inline links, and
// X-OCCI-Attribute for the attributes, the core ones included.
func renderEntity(e *occi.Entity, r *occi.Resource, l *occi.Link, occi11 bool) ([]textField, error) {
	var out []textField
	add := func(name, value string) { out = append(out, textField{name: name, value: value}) }
	if e.Kind != "" {
		if err := rawHeads("the kind", e.Kind); err != nil {
			return nil, err
		}
		scheme, term := occi.SplitID(e.Kind)
		add(fieldCategory, term+"; scheme="+quote(scheme)+`; class="kind"`)
	}
	if err := rawHeads("a mixin", e.Mixins...); err != nil {
		return nil, err
	}
	for _, m := range e.Mixins {
		scheme, term := occi.SplitID(m)
		add(fieldCategory, term+"; scheme="+quote(scheme)+`; class="mixin"`)
	}
	if len(e.Actions) > 0 {
		// An action link is the entity's location with ?action=TERM.
		if err := rawIDs("an action", e.Actions...); err != nil {
			return nil, err
		}
		if err := rawPath("the entity's location in its action links", e.Location); err != nil {
			return nil, err
		}
	}
	for _, a := range e.Actions {
		_, term := occi.SplitID(a)
		add(fieldLink, "<"+e.Location+"?action="+term+">; rel="+quote(a))
	}
	if r != nil {
		for i, il := range r.Links {
			v, err := renderInlineLink(il, occi11)
			if err != nil {
				return nil, occi.Prefix("link "+strconv.Itoa(i), err)
			}
			add(fieldLink, v)
		}
	}
	values := entityAttributes(e, r, l, occi11)
	if l != nil {
		if err := endAttributes(values); err != nil {
			return nil, err
		}
	}
	attrs, err := renderAttributes(values, coreOrder)
	if err != nil {
		return nil, err
	}
	for _, a := range attrs {
		add(fieldAttribute, a)
	}
	return out, nil
}

// endAttributes checks the locations in a link's core attributes: they are
// quoted, but read back as locations, so what would not be is refused.
func endAttributes(values map[string]any) error {
	for _, name := range []string{occi.AttrSource, occi.AttrTarget} {
		if s, ok := values[name].(string); ok && s != "" {
			if err := rawLocation("attribute "+name, s); err != nil {
				return err
			}
		}
	}
	return nil
}

// entityAttributes returns an entity's attributes completed with its core
// members, for the ones its attribute map lacks.
func entityAttributes(e *occi.Entity, r *occi.Resource, l *occi.Link, occi11 bool) map[string]any {
	attrs := make(map[string]any, len(e.Attributes)+4)
	for k, v := range e.Attributes {
		attrs[k] = v
	}
	set := func(name, v string) {
		if _, ok := attrs[name]; !ok && v != "" {
			attrs[name] = v
		}
	}
	set(occi.AttrID, e.ID)
	set(occi.AttrTitle, e.Title)
	if r != nil {
		set(occi.AttrSummary, r.Summary)
	}
	if l != nil {
		set(occi.AttrSource, l.Source.Location)
		set(occi.AttrSourceKind, l.Source.Kind)
		set(occi.AttrTarget, l.Target.Location)
		set(occi.AttrTargetKind, l.Target.Kind)
	}
	if occi11 {
		// OCCI 1.1's core has no kinds for a link's ends.
		delete(attrs, occi.AttrSourceKind)
		delete(attrs, occi.AttrTargetKind)
	}
	return attrs
}

// renderInlineLink renders a resource's link as a Link item.
func renderInlineLink(l *occi.Link, occi11 bool) (string, error) {
	if err := rawLocation("the target", l.Target.Location); err != nil {
		return "", err
	}
	rel := l.Target.Kind
	if rel == "" {
		// rel is mandatory; the kind of a remote target is not known.
		rel = occi.ResourceKindID
	}
	if err := rawIDs("the target's kind", rel); err != nil {
		return "", err
	}
	if l.Location != "" {
		// Quoted, but read back as a location: refuse what would not be.
		if err := rawLocation("self", l.Location); err != nil {
			return "", err
		}
	}
	var category []string
	if l.Kind != "" {
		category = append([]string{l.Kind}, l.Mixins...)
	}
	if err := rawIDs("category", category...); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("<" + l.Target.Location + ">")
	b.WriteString("; rel=" + quote(rel))
	if l.Location != "" {
		b.WriteString("; self=" + quote(l.Location))
	}
	if len(category) > 0 {
		b.WriteString("; category=" + quote(joinIDs(category...)))
	}
	values := entityAttributes(&l.Entity, nil, l, occi11)
	if err := endAttributes(values); err != nil {
		return "", err
	}
	attrs, err := renderAttributes(values, coreOrder)
	if err != nil {
		return "", err
	}
	for _, a := range attrs {
		b.WriteString("; " + a)
	}
	return b.String(), nil
}

// renderAttributes renders attributes as name=value items: the names of
// first, in that order, then the others by name. A null value is left out:
// the text renderings have no null.
func renderAttributes(attrs map[string]any, first []string) ([]string, error) {
	names := make([]string, 0, len(attrs))
	for name := range attrs {
		if !slices.Contains(first, name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for i := len(first) - 1; i >= 0; i-- {
		if _, ok := attrs[first[i]]; ok {
			names = append([]string{first[i]}, names...)
		}
	}
	out := make([]string, 0, len(names))
	for _, name := range names {
		v := attrs[name]
		if v == nil {
			continue
		}
		if err := rawAttrName(name); err != nil {
			return nil, err
		}
		s, err := renderValue(v)
		if err != nil {
			return nil, occi.Prefix("attribute "+name, err)
		}
		out = append(out, name+"="+s)
	}
	return out, nil
}

// renderValue renders an attribute value: a string quoted, a number and a
// boolean bare, anything else (arrays, objects) as a quoted JSON string.
func renderValue(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return quote(x), nil
	case bool:
		return strconv.FormatBool(x), nil
	case float64, float32, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, json.Number:
		b, err := json.Marshal(x)
		if err != nil {
			return "", occi.Errorf(occi.Internal, "cannot render the number %v: %v", x, err)
		}
		return string(b), nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", occi.Errorf(occi.Internal, "cannot render the value %v: %v", v, err)
	}
	return quote(strings.TrimSuffix(buf.String(), "\n")), nil
}

// TypeAttributes gives the attribute values of a message decoded by a text
// codec the types their definitions in cats declare. The text renderings
// write arrays and objects as quoted JSON, and clients quote numbers and
// booleans too: a quoted value whose text is a value of its attribute's
// type becomes that value. Entity attributes are looked up in the entity's
// kind (and its ancestors) and mixins, then, for a partial rendering that
// names neither, in every kind and mixin that defines the name with a
// single type; action parameters in the action. What cannot be converted is
// left as it is for the engine's validation to report. Messages decoded by
// other codecs are left alone.
func TypeAttributes(c Codec, v any, cats *occi.Categories) {
	if _, ok := c.(untypedCodec); !ok || cats == nil {
		return
	}
	t := newTyper(cats)
	switch m := v.(type) {
	case *Collection:
		for _, r := range m.Resources {
			t.resource(r)
		}
		for _, l := range m.Links {
			CoerceAttributes(l.Attributes, t.forEntity(&l.Entity))
		}
	case *occi.Resource:
		t.resource(m)
	case *occi.Link:
		CoerceAttributes(m.Attributes, t.forEntity(&m.Entity))
	case *Entity:
		if m.Resource != nil {
			t.resource(m.Resource)
		}
		if m.Link != nil {
			CoerceAttributes(m.Link.Attributes, t.forEntity(&m.Link.Entity))
		}
	case *occi.ActionInvocation:
		a := t.actions[m.Action]
		if a == nil {
			return
		}
		CoerceAttributes(m.Attributes, func(name string) (occi.AttributeType, bool) {
			if d := a.Attributes[name]; d != nil {
				return d.Type, true
			}
			return "", false
		})
	}
}

// untypedCodec marks the codecs whose values carry no type of their own.
type untypedCodec interface{ untyped() }

// CoerceAttributes converts, in place, the string values of attributes
// whose type (as typeOf reports it) is number, boolean, array or object
// and whose text is a value of that type: "2" becomes 2, "true" true,
// "[1,2]" []any{1, 2}. Other values are left as they are.
func CoerceAttributes(values map[string]any, typeOf func(name string) (occi.AttributeType, bool)) {
	for name, v := range values {
		s, ok := v.(string)
		if !ok {
			continue
		}
		t, ok := typeOf(name)
		if !ok {
			continue
		}
		switch t {
		case occi.TypeNumber:
			if f, ok := parseNumber(strings.TrimSpace(s)); ok {
				values[name] = f
			}
		case occi.TypeBoolean:
			if s == "true" || s == "false" {
				values[name] = s == "true"
			}
		case occi.TypeArray:
			var a []any
			if json.Unmarshal([]byte(s), &a) == nil && a != nil {
				values[name] = a
			}
		case occi.TypeObject:
			var o map[string]any
			if json.Unmarshal([]byte(s), &o) == nil && o != nil {
				values[name] = o
			}
		}
	}
}

// typer finds attribute definitions in a set of categories.
type typer struct {
	kinds   map[string]*occi.Kind
	mixins  map[string]*occi.Mixin
	actions map[string]*occi.Action
	global  map[string]occi.AttributeType // names defined with one type
}

func newTyper(cats *occi.Categories) *typer {
	t := &typer{kinds: map[string]*occi.Kind{}, mixins: map[string]*occi.Mixin{}, actions: map[string]*occi.Action{}, global: map[string]occi.AttributeType{}}
	ambiguous := map[string]bool{}
	note := func(as occi.Attributes) {
		for name, d := range as {
			if d == nil || ambiguous[name] {
				continue
			}
			if prev, ok := t.global[name]; ok && prev != d.Type {
				delete(t.global, name)
				ambiguous[name] = true
				continue
			}
			t.global[name] = d.Type
		}
	}
	for _, k := range cats.Kinds {
		t.kinds[k.ID()] = k
		note(k.Attributes)
	}
	for _, m := range cats.Mixins {
		t.mixins[m.ID()] = m
		note(m.Attributes)
	}
	for _, a := range cats.Actions {
		t.actions[a.ID()] = a
	}
	return t
}

func (t *typer) resource(r *occi.Resource) {
	CoerceAttributes(r.Attributes, t.forEntity(&r.Entity))
	for _, l := range r.Links {
		CoerceAttributes(l.Attributes, t.forEntity(&l.Entity))
	}
}

// forEntity looks an attribute up in the entity's kind and its ancestors,
// then its mixins, then across the model.
func (t *typer) forEntity(e *occi.Entity) func(string) (occi.AttributeType, bool) {
	return func(name string) (occi.AttributeType, bool) {
		k, steps := t.kinds[e.Kind], 0
		for ; k != nil && steps < 64; k, steps = t.kinds[k.Parent], steps+1 {
			if d := k.Attributes[name]; d != nil {
				return d.Type, true
			}
		}
		for _, id := range e.Mixins {
			if m := t.mixins[id]; m != nil {
				if d := m.Attributes[name]; d != nil {
					return d.Type, true
				}
			}
		}
		typ, ok := t.global[name]
		return typ, ok
	}
}

// The HTTP header fields of text/occi.
func headerFields(h http.Header) ([]textField, error) {
	var out []textField
	for _, name := range fieldNames {
		var keys []string
		for k := range h {
			if canonicalField(k) == name {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			for _, v := range h[k] {
				if err := checkUTF8([]byte(v)); err != nil {
					return nil, occi.Prefix(name+" header", err)
				}
				out = appendItems(out, name, v, name+" header")
			}
		}
	}
	return out, nil
}
