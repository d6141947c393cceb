package renderers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"unicode/utf8"

	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/schemas"
)

// JSONMediaType is the OCCI JSON rendering's media type.
const JSONMediaType = "application/occi+json"

// JSON is the application/occi+json codec. Every request body is checked
// against the OCCI JSON schema before it is decoded, so that a client learns
// the path of what is wrong rather than a Go type error.
type JSON struct{}

// MediaType implements Codec.
func (JSON) MediaType() string { return JSONMediaType }

// ProviderExtension is the member ocni adds to kinds in the query interface
// to show the provider bound to them.
const ProviderExtension = "x-ocni-provider"

type kindWire struct {
	*occi.Kind
	Provider string `json:"x-ocni-provider,omitempty"`
}

type queryInterfaceWire struct {
	Kinds   []kindWire     `json:"kinds"`
	Mixins  []*occi.Mixin  `json:"mixins"`
	Actions []*occi.Action `json:"actions"`
}

// Encode implements Codec.
func (JSON) Encode(h http.Header, w io.Writer, v any) error {
	var out any
	switch m := v.(type) {
	case *QueryInterface:
		if m.Categories == nil {
			m = &QueryInterface{Categories: &occi.Categories{}, Bindings: m.Bindings}
		}
		q := queryInterfaceWire{
			Kinds:   make([]kindWire, len(m.Categories.Kinds)),
			Mixins:  m.Categories.Mixins,
			Actions: m.Categories.Actions,
		}
		for i, k := range m.Categories.Kinds {
			q.Kinds[i] = kindWire{Kind: k, Provider: m.Bindings[k.ID()]}
		}
		if q.Mixins == nil {
			q.Mixins = []*occi.Mixin{}
		}
		if q.Actions == nil {
			q.Actions = []*occi.Action{}
		}
		out = q
	case *occi.Resource, *occi.Link, *occi.ActionInvocation, *Problem:
		out = m
	case *Collection:
		c := map[string]any{}
		if m.Resources != nil || m.Links == nil {
			c["resources"] = nonNil(m.Resources)
		}
		if m.Links != nil {
			c["links"] = m.Links
		}
		out = c
	case Locations:
		out = map[string]any{"locations": nonNil([]string(m))}
	default:
		return occi.Errorf(occi.Internal, "the JSON rendering cannot encode %T", v)
	}
	h.Set("Content-Type", JSONMediaType)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Decode implements Codec.
func (JSON) Decode(_ http.Header, body []byte, v any) error {
	name, ok := schemaFor(v)
	if !ok {
		return occi.Errorf(occi.Internal, "the JSON rendering cannot decode %T", v)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return occi.Errorf(occi.InvalidArgument, "the request body is empty; an %s document is expected", JSONMediaType)
	}
	if err := checkUTF8(body); err != nil {
		return err
	}
	if _, isOne := v.(*Collection); isOne && looksSingle(body) {
		name = ""
	}
	if name != "" {
		if err := schemas.Validate(name, body); err != nil {
			return err
		}
	}
	var err error
	switch m := v.(type) {
	case *CategoryRequest:
		err = decodeCategoryRequest(body, m)
	case *CategoryRefs:
		err = decodeCategoryRefs(body, m)
	case *occi.Resource:
		err = unmarshal(body, m)
	case *occi.Link:
		err = unmarshal(body, m)
	case *Entity:
		err = decodeEntity(body, m)
	case *occi.ActionInvocation:
		err = unmarshal(body, m)
	case *Collection:
		if one, isOne, derr := decodeSingle(body); isOne {
			if derr == nil {
				// The body is one entity: pointers start at its root.
				if derr = checkOne(one); derr == nil {
					*m = *one
				}
			}
			return derr
		}
		var w struct {
			Resources []*occi.Resource `json:"resources"`
			Links     []*occi.Link     `json:"links"`
		}
		if err = unmarshal(body, &w); err == nil {
			m.Resources, m.Links = w.Resources, w.Links
		}
	case *Locations:
		err = decodeLocations(body, m)
	}
	if err != nil {
		return err
	}
	return checkLocations(v)
}

// checkLocations checks every location a decoded message holds (link ends,
// items of a list of locations) with occi.CheckURI; an error names the
// member by its JSON Pointer.
func checkLocations(v any) error {
	switch m := v.(type) {
	case *occi.Resource:
		return checkResourceLinks("", m)
	case *occi.Link:
		return checkLinkEnds("", m)
	case *Entity:
		if m.Link != nil {
			return checkLinkEnds("", m.Link)
		}
		if m.Resource != nil {
			return checkResourceLinks("", m.Resource)
		}
	case *Collection:
		for i, r := range m.Resources {
			if err := checkResourceLinks(fmt.Sprintf("/resources/%d", i), r); err != nil {
				return err
			}
		}
		for i, l := range m.Links {
			if err := checkLinkEnds(fmt.Sprintf("/links/%d", i), l); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkOne checks a collection decoded from a body holding one entity.
func checkOne(c *Collection) error {
	for _, r := range c.Resources {
		if err := checkResourceLinks("", r); err != nil {
			return err
		}
	}
	for _, l := range c.Links {
		if err := checkLinkEnds("", l); err != nil {
			return err
		}
	}
	return nil
}

func checkResourceLinks(at string, r *occi.Resource) error {
	for i, l := range r.Links {
		if err := checkLinkEnds(fmt.Sprintf("%s/links/%d", at, i), l); err != nil {
			return err
		}
	}
	return nil
}

// checkLinkEnds checks a link's source and target, as members and as the
// core attributes that may repeat them.
func checkLinkEnds(at string, l *occi.Link) error {
	for _, end := range []struct{ at, loc string }{
		{at + "/source", l.Source.Location},
		{at + "/target", l.Target.Location},
		{at + "/attributes/" + occi.AttrSource, stringValue(l.Attributes[occi.AttrSource])},
		{at + "/attributes/" + occi.AttrTarget, stringValue(l.Attributes[occi.AttrTarget])},
	} {
		if end.loc == "" {
			continue // absent: whether an end is required is the engine's rule
		}
		if err := occi.CheckURI(end.loc); err != nil {
			return occi.Prefix(end.at, err)
		}
	}
	return nil
}

func stringValue(v any) string {
	s, _ := v.(string)
	return s
}

// checkUTF8 refuses a body that is not UTF-8: JSON must be, and decoding
// would otherwise replace the bad bytes silently and store something the
// client never sent.
func checkUTF8(body []byte) error {
	if utf8.Valid(body) {
		return nil
	}
	off := 0
	for off < len(body) {
		r, size := utf8.DecodeRune(body[off:])
		if r == utf8.RuneError && size <= 1 {
			break
		}
		off += size
	}
	return occi.Errorf(occi.InvalidArgument, "the body is not valid UTF-8: bad byte 0x%02x at offset %d", body[off], off)
}

func schemaFor(v any) (schemas.Name, bool) {
	switch v.(type) {
	case *CategoryRequest:
		return schemas.Categories, true
	case *CategoryRefs:
		return schemas.CategoryRefs, true
	case *occi.Resource:
		return schemas.Resource, true
	case *occi.Link:
		return schemas.Link, true
	case *Entity:
		return schemas.EntityUpdate, true
	case *occi.ActionInvocation:
		return schemas.ActionInvocation, true
	case *Collection:
		return schemas.Collection, true
	case *Locations:
		return schemas.Locations, true
	}
	return "", false
}

// unmarshal decodes a body the schema has accepted. What can still fail here
// is what JSON Schema cannot express (an attribute definition's own checks),
// and the message says so.
func unmarshal(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return occi.Errorf(occi.InvalidArgument, "the body cannot be read: %v", err)
	}
	return nil
}

// looksSingle reports whether a body meant as a collection is one entity:
// an object with a "kind" member. Creation requests come both ways.
func looksSingle(body []byte) bool {
	var probe struct {
		Kind *json.RawMessage `json:"kind"`
	}
	return json.Unmarshal(body, &probe) == nil && probe.Kind != nil
}

// decodeSingle decodes one resource or link (a link has a "target") as a
// collection of one.
func decodeSingle(body []byte) (*Collection, bool, error) {
	if !looksSingle(body) {
		return nil, false, nil
	}
	var probe struct {
		Source *json.RawMessage `json:"source"`
		Target *json.RawMessage `json:"target"`
	}
	_ = json.Unmarshal(body, &probe)
	if probe.Target != nil || probe.Source != nil {
		if err := schemas.Validate(schemas.Link, body); err != nil {
			return nil, true, err
		}
		l := new(occi.Link)
		if err := unmarshal(body, l); err != nil {
			return nil, true, err
		}
		return &Collection{Links: []*occi.Link{l}}, true, nil
	}
	if err := schemas.Validate(schemas.Resource, body); err != nil {
		return nil, true, err
	}
	r := new(occi.Resource)
	if err := unmarshal(body, r); err != nil {
		return nil, true, err
	}
	return &Collection{Resources: []*occi.Resource{r}}, true, nil
}

// decodeEntity decodes one entity, its kind optional: a link when it has a
// source or a target, else a resource.
func decodeEntity(body []byte, m *Entity) error {
	var probe struct {
		Source *json.RawMessage `json:"source"`
		Target *json.RawMessage `json:"target"`
	}
	_ = json.Unmarshal(body, &probe)
	if probe.Source != nil || probe.Target != nil {
		l := new(occi.Link)
		if err := unmarshal(body, l); err != nil {
			return err
		}
		*m = Entity{Link: l}
		return nil
	}
	r := new(occi.Resource)
	if err := unmarshal(body, r); err != nil {
		return err
	}
	*m = Entity{Resource: r}
	return nil
}

func decodeCategoryRequest(body []byte, m *CategoryRequest) error {
	var w struct {
		Kinds     []kindWire        `json:"kinds"`
		Mixins    []*occi.Mixin     `json:"mixins"`
		Actions   []*occi.Action    `json:"actions"`
		Providers []json.RawMessage `json:"providers"`
	}
	if err := unmarshal(body, &w); err != nil {
		return err
	}
	for _, k := range w.Kinds {
		if k.Kind == nil {
			k.Kind = new(occi.Kind)
		}
		m.Categories.Kinds = append(m.Categories.Kinds, k.Kind)
		// A kind that carries the provider extension, as the query
		// interface renders it, asks for that binding: what GET /-/
		// answers can be sent back as it is.
		if k.Provider != "" {
			m.Bindings = append(m.Bindings, occi.Binding{Kind: k.ID(), Provider: k.Provider})
		}
	}
	m.Categories.Mixins, m.Categories.Actions = w.Mixins, w.Actions
	for i, raw := range w.Providers {
		b, err := decodeBinding(raw)
		if err != nil {
			return occi.Prefix(fmt.Sprintf("/providers/%d", i), err)
		}
		m.Bindings = append(m.Bindings, b)
	}
	return nil
}

// decodeBinding reads one provider binding, in ocni's form or in pyOCNI's
// ({"OCCI_ID": kind, "Provider": {"local": [name], "remote": [...]}}).
func decodeBinding(raw json.RawMessage) (occi.Binding, error) {
	var w struct {
		Kind     string `json:"kind"`
		Provider string `json:"provider"`
		OCCIID   string `json:"OCCI_ID"`
		PyOCNI   *struct {
			Local  []string `json:"local"`
			Remote []string `json:"remote"`
		} `json:"Provider"`
	}
	if err := unmarshal(raw, &w); err != nil {
		return occi.Binding{}, err
	}
	if w.PyOCNI == nil {
		return occi.Binding{Kind: w.Kind, Provider: w.Provider}, nil
	}
	if len(w.PyOCNI.Remote) > 0 {
		return occi.Binding{}, occi.Errorf(occi.InvalidArgument, "remote providers cannot be bound this way; declare the remote endpoint as a provider in the config and bind to it by name")
	}
	if len(w.PyOCNI.Local) != 1 {
		return occi.Binding{}, occi.Errorf(occi.InvalidArgument, "Provider.local must name exactly one provider, got %d", len(w.PyOCNI.Local))
	}
	return occi.Binding{Kind: w.OCCIID, Provider: w.PyOCNI.Local[0]}, nil
}

func decodeCategoryRefs(body []byte, m *CategoryRefs) error {
	var w struct {
		Kinds, Mixins, Actions []occi.Category
	}
	if err := unmarshal(body, &w); err != nil {
		return err
	}
	for _, list := range [][]occi.Category{w.Kinds, w.Mixins, w.Actions} {
		for _, c := range list {
			m.IDs = append(m.IDs, c.ID())
		}
	}
	return nil
}

func decodeLocations(body []byte, m *Locations) error {
	trimmed := bytes.TrimSpace(body)
	var locs []string
	var at string // the JSON Pointer of the list
	if len(trimmed) > 0 && trimmed[0] == '[' {
		if err := unmarshal(body, &locs); err != nil {
			return err
		}
	} else {
		var w struct {
			Locations  []string `json:"locations"`
			XOCCIStyle []string `json:"X-OCCI-Location"`
		}
		if err := unmarshal(body, &w); err != nil {
			return err
		}
		// The schema lets exactly one of the two through.
		locs, at = w.Locations, "/locations"
		if w.XOCCIStyle != nil {
			locs, at = w.XOCCIStyle, "/X-OCCI-Location"
		}
	}
	for i, l := range locs {
		if err := occi.CheckURI(l); err != nil {
			return occi.Prefix(fmt.Sprintf("%s/%d", at, i), err)
		}
	}
	*m = append(Locations{}, locs...)
	return nil
}

var _ Codec = JSON{}
