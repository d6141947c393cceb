package occi

import "encoding/json"

// Names of the core attributes as rendered.
const (
	AttrID         = "occi.core.id"
	AttrTitle      = "occi.core.title"
	AttrSummary    = "occi.core.summary"
	AttrSource     = "occi.core.source"
	AttrSourceKind = "occi.core.source.kind"
	AttrTarget     = "occi.core.target"
	AttrTargetKind = "occi.core.target.kind"
)

// Entity is what Resource and Link share.
type Entity struct {
	Kind       string         `json:"kind"`
	Mixins     []string       `json:"mixins,omitempty"`
	Attributes map[string]any `json:"attributes,omitempty"`
	Actions    []string       `json:"actions,omitempty"`
	ID         string         `json:"id,omitempty"`
	Title      string         `json:"title,omitempty"`
	// Location is the entity's path on this server; it is not part of the
	// JSON rendering of an entity, which carries only the id.
	Location string `json:"-"`
}

// Resource is an entity that can be linked.
type Resource struct {
	Entity
	Summary string  `json:"summary,omitempty"`
	Links   []*Link `json:"links,omitempty"`
}

// Link joins a source resource to a target.
type Link struct {
	Entity
	Source LinkEnd `json:"source"`
	Target LinkEnd `json:"target"`
}

// LinkEnd is one end of a link: a location and, optionally, the kind of the
// resource found there.
type LinkEnd struct {
	Location string `json:"location"`
	Kind     string `json:"kind,omitempty"`
}

// UnmarshalJSON accepts a link end as an object or, as the JSON rendering's
// drafts write it, as a bare location string.
func (e *LinkEnd) UnmarshalJSON(b []byte) error {
	var loc string
	if err := json.Unmarshal(b, &loc); err == nil {
		*e = LinkEnd{Location: loc}
		return nil
	}
	type plain LinkEnd
	return json.Unmarshal(b, (*plain)(e))
}

// ActionInvocation is the body of an action request.
type ActionInvocation struct {
	Action     string         `json:"action"`
	Attributes map[string]any `json:"attributes,omitempty"`
}

// Binding binds a kind to the backend provider that serves its entities. It
// is ocni's extension to the query interface (pyOCNI's "update provider").
type Binding struct {
	Kind     string `json:"kind"`
	Provider string `json:"provider"`
}
