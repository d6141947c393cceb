package occi

import (
	"context"
	"errors"
	"path"
	"slices"
	"strings"

	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/occi/client"
)

// The instance tag. List must report only what this ocni made, and the
// remote is shared: its other clients, other ocni servers among them, make
// entities in the same collections. The id alone does not tell whose an
// entity is, and the remote refuses attributes its model does not define,
// while a mixin would have to be registered on the remote first (and be
// visible to all its clients as a category). The least invasive mark every
// OCCI server keeps is a core attribute: a resource's occi.core.summary and
// a link's occi.core.title (links have no summary) end with
// " [ocni:<instance>]". The engine never sees it: core attributes are not
// reported back, and every write puts it back.
const (
	tagOpen  = "[ocni:"
	tagClose = "]"
)

// tag is the mark of an instance's entities.
func tag(instance string) string { return tagOpen + instance + tagClose }

// withTag returns s ending with the instance's tag, any earlier tag
// removed.
func withTag(s, instance string) string {
	s = strings.TrimSpace(withoutTag(s))
	if s == "" {
		return tag(instance)
	}
	return s + " " + tag(instance)
}

// withoutTag removes a trailing tag.
func withoutTag(s string) string {
	if !strings.HasSuffix(s, tagClose) {
		return s
	}
	if i := strings.LastIndex(s, tagOpen); i >= 0 {
		return strings.TrimRight(s[:i], " ")
	}
	return s
}

// tagged reports whether an entity read from the remote carries the
// instance's tag, in its title or summary.
func tagged(e *client.Entity, instance string) bool {
	core := e.Core()
	if core == nil {
		return false
	}
	want := tag(instance)
	values := []string{core.Title, stringOf(core.Attributes[occi.AttrTitle]), stringOf(core.Attributes[occi.AttrSummary])}
	if e.Resource != nil {
		values = append(values, e.Resource.Summary)
	}
	for _, v := range values {
		if strings.HasSuffix(v, want) {
			return true
		}
	}
	return false
}

// idOf is a remote entity's id: its member, its attribute, or the last
// segment of its location.
func idOf(e *client.Entity) string {
	core := e.Core()
	switch {
	case core.ID != "":
		return core.ID
	case stringOf(core.Attributes[occi.AttrID]) != "":
		return stringOf(core.Attributes[occi.AttrID])
	case core.Location != "":
		return path.Base(core.Location)
	}
	return ""
}

// List implements backends.Provider: it walks the remote's collections of
// the served kinds and keeps the entities with the instance's tag. It
// cannot see an entity whose tag was removed on the remote by another
// client (recovery then does not clean it up), and it reads every entity of
// those collections: in the text renderings, one request each.
func (p *Provider) List(ctx context.Context, instance string) ([]string, error) {
	var ids []string
	for _, kind := range p.caps.Kinds {
		coll := p.collections[kind]
		if coll == "" {
			coll = kindTerm(kind) + "/"
		}
		found, err := p.tagged(ctx, coll, instance)
		if err != nil {
			return nil, err
		}
		ids = append(ids, found...)
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// maxPages bounds a walk of one collection, against a remote whose pages
// never end.
const maxPages = 100000

// tagged walks one remote collection, page by page, and returns the ids of
// the entities with the instance's tag. The text renderings list locations
// only: each is read, and one deleted meanwhile is skipped (client.All
// would stop there).
func (p *Provider) tagged(ctx context.Context, coll, instance string) ([]string, error) {
	var ids []string
	keep := func(e *client.Entity) {
		if e != nil && e.Core() != nil && tagged(e, instance) {
			if id := idOf(e); id != "" {
				ids = append(ids, id)
			}
		}
	}
	page, err := p.c.List(ctx, coll, client.ListOptions{})
	for range maxPages {
		if err != nil {
			return nil, p.remoteError("list "+coll, err)
		}
		for _, e := range page.Entities {
			keep(e)
		}
		for _, loc := range page.Locations {
			e, err := p.c.Get(ctx, loc)
			if errors.Is(err, occi.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, p.remoteError("list "+coll, err)
			}
			keep(e)
		}
		if page.Next == "" || page.Len() == 0 {
			return ids, nil
		}
		page, err = p.c.List(ctx, page.Next, client.ListOptions{})
	}
	return nil, occi.Errorf(occi.Unavailable, "occi provider %s: list %s: the remote %s still had pages after %d", p.name, coll, p.endpoint, maxPages)
}
