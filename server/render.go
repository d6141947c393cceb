package server

import (
	"github.com/ocni/ocni/engine"
	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/store"
)

// render turns an engine view into the model message a codec encodes.
func (s *Server) render(v *engine.View) any {
	if v.IsLink() {
		return linkOf(v.Entity, v.Actions)
	}
	return resourceOf(v)
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

func resourceOf(v *engine.View) *occi.Resource {
	summary, _ := v.Attributes[occi.AttrSummary].(string)
	r := &occi.Resource{Entity: entityOf(v.Entity, v.Actions), Summary: summary}
	for _, l := range v.Links {
		r.Links = append(r.Links, linkOf(l, nil))
	}
	return r
}

func linkOf(e *store.Entity, actions []string) *occi.Link {
	l := &occi.Link{Entity: entityOf(e, actions)}
	if e.Source != nil {
		l.Source = *e.Source
	}
	if e.Target != nil {
		l.Target = *e.Target
	}
	return l
}
