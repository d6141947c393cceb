package server

import (
	"github.com/ocni/ocni/engine"
	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/store"
	"maps"
	"strings"
)

// render turns an engine view into the model message a codec encodes.
// render turns a view into its message. Link ends are rendered as absolute
// URLs (base + path for this server's entities), as listings and Location
// headers are: a client sends back what it reads.
func (s *Server) render(r *request, v *engine.View) any {
	base := s.absolute(r, "")
	if v.IsLink() {
		return linkOf(base, v.Entity, v.Actions)
	}
	return resourceOf(base, v)
}

func entityOf(e *store.Entity, actions []string) occi.Entity {
	title, _ := e.Attributes[occi.AttrTitle].(string)
	return occi.Entity{
		Kind:       e.Kind,
		Mixins:     e.Mixins,
		Attributes: e.Attributes,
		Actions:    actions,
		ID:         e.ID,
		Title:      title,
		Location:   e.Location,
	}
}

func resourceOf(base string, v *engine.View) *occi.Resource {
	summary, _ := v.Attributes[occi.AttrSummary].(string)
	r := &occi.Resource{Entity: entityOf(v.Entity, v.Actions), Summary: summary}
	for _, l := range v.Links {
		r.Links = append(r.Links, linkOf(base, l, nil))
	}
	return r
}

func linkOf(base string, e *store.Entity, actions []string) *occi.Link {
	l := &occi.Link{Entity: entityOf(e, actions)}
	l.Attributes = maps.Clone(e.Attributes)
	if e.Source != nil {
		l.Source = *e.Source
		l.Source.Location = absoluteEnd(base, l.Source.Location)
		if _, ok := l.Attributes[occi.AttrSource]; ok {
			l.Attributes[occi.AttrSource] = l.Source.Location
		}
	}
	if e.Target != nil {
		l.Target = *e.Target
		l.Target.Location = absoluteEnd(base, l.Target.Location)
		if _, ok := l.Attributes[occi.AttrTarget]; ok {
			l.Attributes[occi.AttrTarget] = l.Target.Location
		}
	}
	return l
}

// absoluteEnd makes a link end of this server an absolute URL; another
// endpoint's is one already.
func absoluteEnd(base, loc string) string {
	if strings.HasPrefix(loc, "/") {
		return base + loc
	}
	return loc
}
